"""The outermost transport: retries, waits between them, and typed errors.

Why a loop of our own rather than httpx-retries is explained in :mod:`aggregator.http`.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

import httpx

from aggregator.http.deadline import SETTING, Deadline, DeadlineStream
from aggregator.http.failures import (
    _read_prefix,
    _retry_after_seconds,
    _server_said,
    _status_error,
    _transport_error,
)
from aggregator.http.redaction import redact_url

__all__ = ["Sleep"]

# One logger per package, as elsewhere in gpuhours: the HTTP client logs as "aggregator.http".
log = logging.getLogger("aggregator.http")

Sleep = Callable[[float], Awaitable[None]]

_RETRY_METHODS: Final = frozenset({"GET", "HEAD"})
_RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
_RETRY_EXCEPTIONS: Final = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
)
_BACKOFF_FIRST: Final = 0.5  # seconds before the first retry (before jitter), then doubling
_BACKOFF_MAX: Final = 30.0  # one backoff wait never exceeds this (Retry-After may)


class _RetryingTransport(httpx.AsyncBaseTransport):
    """Retries, waits and typed errors around ``inner`` (see :mod:`aggregator.http`)."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        retries: int,
        max_wait: float,
        sleep: Sleep,
        total_timeout: float = math.inf,
    ) -> None:
        self._inner = inner
        self._retries = retries
        self._max_wait = max_wait
        self._sleep = sleep
        self._total_timeout = total_timeout

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        deadline = Deadline.current(self._total_timeout)
        attempts = 0
        waited = 0.0
        while True:
            attempts += 1
            failure: httpx.Response | httpx.HTTPError
            try:
                response = await deadline.run(
                    lambda: self._inner.handle_async_request(request),
                    request,
                    during="waiting for the response headers",
                    attempts=attempts,
                )
            except _RETRY_EXCEPTIONS as exc:
                failure = exc
            except httpx.HTTPError as exc:
                raise _transport_error(request, exc, attempts=attempts) from exc
            else:
                if response.status_code not in _RETRY_STATUSES:
                    return await self._final(request, response, attempts, deadline)
                failure = response

            delay = self._delay(failure, attempts)
            why_stopped = self._why_stop(request.method, attempts, waited, delay, deadline)
            if why_stopped:
                if isinstance(failure, httpx.Response):
                    return await self._final(request, failure, attempts, deadline, why_stopped)
                raise _transport_error(
                    request, failure, attempts=attempts, why_stopped=why_stopped
                ) from failure

            log.info(
                "%s %s: %s; retry %d of %d in %.1f s",
                request.method,
                redact_url(request.url),
                f"HTTP {failure.status_code}"
                if isinstance(failure, httpx.Response)
                else type(failure).__name__,
                attempts,
                self._retries,
                delay,
            )
            if isinstance(failure, httpx.Response):
                await failure.aclose()
            await self._sleep(delay)
            waited += delay

    def _delay(self, failure: httpx.Response | httpx.HTTPError, attempts: int) -> float:
        if isinstance(failure, httpx.Response):
            asked = _retry_after_seconds(failure)
            if asked is not None:
                return asked
        ceiling = min(_BACKOFF_MAX, _BACKOFF_FIRST * 2.0 ** min(attempts - 1, 32))
        return ceiling * random.uniform(0.5, 1.0)  # jitter keeps parallel feeds from lock-step

    def _why_stop(
        self, method: str, attempts: int, waited: float, delay: float, deadline: Deadline
    ) -> str:
        """Why not to retry now ("" to retry): the reason ends up in the error message."""
        if method.upper() not in _RETRY_METHODS:
            return f"{method} is not retried: it may not be safe to repeat"
        if attempts > self._retries:
            if self._retries == 0:
                return "retries are off: GPUHOURS_HTTP_RETRIES=0"
            return f"all {self._retries} retries used, GPUHOURS_HTTP_RETRIES"
        if waited + delay > self._max_wait:
            left = max(0.0, self._max_wait - waited)
            return (
                f"gave up: the next wait of {delay:g} s exceeds the {left:g} s left of the "
                f"{self._max_wait:g} s retry budget, GPUHOURS_HTTP_MAX_RETRY_WAIT"
            )
        if delay >= deadline.remaining():
            return (
                f"gave up: the next wait of {delay:g} s would pass the "
                f"{deadline.seconds:g} s deadline of the request "
                f"({max(0.0, deadline.remaining()):.1f} s left), {SETTING}"
            )
        return ""

    async def _final(
        self,
        request: httpx.Request,
        response: httpx.Response,
        attempts: int,
        deadline: Deadline,
        why_stopped: str = "",
    ) -> httpx.Response:
        """Pass on a response we keep, or raise the typed error for a failed one.

        Either way the body reads are bounded by the deadline: an error body that trickles
        in is quoted as far as it came.
        """
        if not isinstance(response.stream, httpx.AsyncByteStream):
            raise TypeError("an async transport returned a response with a sync stream")
        if response.status_code >= 400:
            response.stream = DeadlineStream(response.stream, request, deadline)
            body = await _read_prefix(response)
            raise _status_error(
                request,
                response,
                attempts=attempts,
                why_stopped=why_stopped,
                server_said=_server_said(request, response, body),
            )
        response.stream = DeadlineStream(
            _TranslatingStream(response.stream, request), request, deadline
        )
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class _TranslatingStream(httpx.AsyncByteStream):
    """Turns an httpx error raised while the body streams into a :class:`ProviderError`."""

    def __init__(self, inner: httpx.AsyncByteStream, request: httpx.Request) -> None:
        self._inner = inner
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except httpx.HTTPError as exc:
            raise _transport_error(
                self._request, exc, attempts=None, during="reading the body"
            ) from exc

    async def aclose(self) -> None:
        await self._inner.aclose()
