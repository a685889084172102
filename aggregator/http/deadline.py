"""The total deadline of one request: connect to last byte, every attempt and wait included.

httpx's timeouts bound each connect and each read, so a server that sends one byte just
before every read timeout keeps a request alive for ever. A :class:`Deadline` bounds the
whole request instead: :class:`DeadlineClient` starts one when a request is sent (so the
redirects it follows share it), the retrying transport bounds each attempt and each wait by
what is left of it, and :class:`DeadlineStream` bounds every chunk of a streamed body by it
while the caller iterates, however long after ``send`` returned that is.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import httpx

from aggregator.errors import ProviderUnavailable
from aggregator.http.failures import _annotate, _attempts_text
from aggregator.http.redaction import redact_url

__all__ = ["SETTING", "Deadline", "DeadlineClient", "DeadlineStream"]

T = TypeVar("T")

SETTING: Final = "GPUHOURS_HTTP_TOTAL_TIMEOUT"

# The deadline of the request being sent, set by DeadlineClient.send for the transports below.
_CURRENT: ContextVar[Deadline | None] = ContextVar("gpuhours_http_deadline", default=None)


@dataclass(frozen=True)
class Deadline:
    """``seconds`` from ``started`` (``time.monotonic()``) for one request, all attempts."""

    seconds: float
    started: float

    @classmethod
    def start(cls, seconds: float) -> Deadline:
        return cls(seconds=seconds, started=time.monotonic())

    @classmethod
    def current(cls, seconds: float) -> Deadline:
        """The deadline of the request being sent, or a new one of ``seconds``."""
        return _CURRENT.get() or cls.start(seconds)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining(self) -> float:
        return self.seconds - self.elapsed()

    async def run(
        self,
        step: Callable[[], Awaitable[T]],
        request: httpx.Request,
        *,
        during: str,
        attempts: int | None = None,
    ) -> T:
        """Await ``step()``, cut off when the deadline passes (raising :meth:`error`)."""
        remaining = self.remaining()
        if remaining <= 0:
            raise self.error(request, during=during, attempts=attempts)
        if math.isinf(remaining):  # no deadline (a transport used without make_client)
            return await step()
        try:
            async with asyncio.timeout(remaining):
                return await step()
        except TimeoutError:
            raise self.error(request, during=during, attempts=attempts) from None

    def error(
        self, request: httpx.Request, *, during: str, attempts: int | None = None
    ) -> ProviderUnavailable:
        """The error of a request that ran out of time, naming its URL and the time spent."""
        url = redact_url(request.url)
        error = ProviderUnavailable(
            f"{request.method} {url} did not finish within {SETTING}={self.seconds:g} s: "
            f"stopped after {self.elapsed():.1f} s while {during}"
            f"{_attempts_text(attempts, '')}. The server is answering too slowly or not at "
            f"all; try again later, or on a slow link raise {SETTING}.",
            url=url,
        )
        _annotate(error, status_code=None, attempts=attempts)
        return error


class DeadlineClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` whose every ``send`` (redirects included) has one deadline."""

    def __init__(self, *, total_timeout: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.total_timeout = total_timeout

    async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        if _CURRENT.get() is not None:  # a send inside a send: the outer deadline holds
            return await super().send(request, **kwargs)
        token = _CURRENT.set(Deadline.start(self.total_timeout))
        try:
            return await super().send(request, **kwargs)
        finally:
            _CURRENT.reset(token)


class DeadlineStream(httpx.AsyncByteStream):
    """A response body whose every chunk waits at most what is left of the deadline."""

    def __init__(
        self, inner: httpx.AsyncByteStream, request: httpx.Request, deadline: Deadline
    ) -> None:
        self._inner = inner
        self._request = request
        self._deadline = deadline

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = aiter(self._inner)
        try:
            while True:
                try:
                    chunk = await self._deadline.run(
                        lambda: anext(chunks), self._request, during="reading the body"
                    )
                except StopAsyncIteration:
                    return
                yield chunk
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:  # an abandoned body: end the inner generator now, not at GC
                await close()

    async def aclose(self) -> None:
        await self._inner.aclose()
