"""A cap on request bodies: larger than ``MAX_REQUEST_BODY_BYTES`` is 413, never read whole.

A declared ``Content-Length`` over the cap is refused before anything is read; a body without
one (chunked) is counted as it arrives, and reading stops at the first chunk past the cap.
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aggregator.api.errors import error_response
from aggregator.limits import MAX_REQUEST_BODY_BYTES

__all__ = ["BodyLimit", "too_large_message"]


def too_large_message(limit: int) -> str:
    return f"the request body is larger than {limit} bytes; send a smaller request"


class BodyLimit:
    """Pure ASGI middleware enforcing ``limit`` bytes per request body."""

    def __init__(self, app: ASGIApp, limit: int = MAX_REQUEST_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            response = error_response(413, "RequestTooLarge", too_large_message(self.limit))
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # FastAPI re-raises its own HTTPException from body reading; the API's
                    # handler turns it into the usual error body.
                    raise HTTPException(413, too_large_message(self.limit))
            return message

        await self.app(scope, counting_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = bytes(value).decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None
