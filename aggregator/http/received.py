"""When a response was received: the time an offer made from it was seen at the source.

The live network layer stamps every response with :data:`RECEIVED_AT_HEADER`. A recording
keeps the stamp like any other header, so a replayed response carries the time it was first
received, not the time of the replay; a recording made before stamps existed has none, and
its offers then take the sync's own time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import httpx

__all__ = ["RECEIVED_AT_HEADER", "ReceivedAtTransport", "received_at"]

RECEIVED_AT_HEADER: Final = "x-gpuhours-received-at"


class ReceivedAtTransport(httpx.AsyncBaseTransport):
    """Stamps each response of ``inner`` with the time its headers arrived (ISO 8601, UTC)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if RECEIVED_AT_HEADER not in response.headers:
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            response.headers[RECEIVED_AT_HEADER] = stamp
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def received_at(response: httpx.Response) -> datetime | None:
    """When ``response`` was received (its stamp), or ``None`` if it carries no valid one."""
    text = response.headers.get(RECEIVED_AT_HEADER)
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None
