"""Building the gpuhours error a failed request raises, with a message that says what to do.

The exception classes themselves live in :mod:`aggregator.errors`, the project's one
hierarchy; this module only builds them: from a final error status (quoting a short,
secret-free part of the server's explanation), from an httpx transport failure, or, in
:func:`translate_error`, from whatever httpx raised outside the transports.
"""

from __future__ import annotations

import contextlib
import email.utils
import math
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Final, cast

import httpx

from aggregator.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderResponseError,
    ProviderUnavailable,
)
from aggregator.http.redaction import _scrub, _secrets_in, redact_url

__all__ = ["translate_error"]

_ERROR_BODY_LIMIT: Final = 64 * 1024


def translate_error(exc: BaseException) -> ProviderError | None:
    """The :class:`ProviderError` for an exception raised by httpx, or ``None`` if not one.

    A :class:`ProviderError` is returned as it is. ``None`` also for httpx's stream misuse
    errors (``StreamConsumed``, ``StreamClosed``, ...): those are bugs in the calling code,
    not a provider's failure. Raise the result ``from exc`` to keep the cause.
    """
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, httpx.HTTPStatusError):
        return _status_error(exc.request, exc.response, attempts=None)
    if isinstance(exc, httpx.HTTPError):
        try:
            request: httpx.Request | None = exc.request
        except RuntimeError:  # httpx raises when no request was attached
            request = None
        return _transport_error(request, exc, attempts=None)
    if isinstance(exc, httpx.InvalidURL):
        return _annotate(
            ProviderError("a request URL is not valid; check the provider's URL setting"),
            status_code=None,
            attempts=None,
        )
    return None


def _annotate(error: ProviderError, **attrs: int | None) -> ProviderError:
    # aggregator.errors declares no such attributes; they are set per instance (read with getattr).
    for name, value in attrs.items():
        setattr(error, name, value)
    return error


def _attempts_text(attempts: int | None, why_stopped: str) -> str:
    if attempts is None:
        return ""
    text = f" after {attempts} attempt{'' if attempts == 1 else 's'}"
    return f"{text} ({why_stopped})" if why_stopped else text


def _status_error(
    request: httpx.Request,
    response: httpx.Response,
    *,
    attempts: int | None,
    why_stopped: str = "",
    server_said: str = "",
) -> ProviderError:
    url = redact_url(request.url)
    status = response.status_code
    what = f"{request.method} {url} answered HTTP {status} {response.reason_phrase}".rstrip()
    what += _attempts_text(attempts, why_stopped)
    if server_said:
        what += f"; the server said: {server_said}"
    error: ProviderError
    if status in (401, 403):
        error = ProviderAuthError(
            f"{what}. The API refused our credentials: check the API key or credentials this "
            "provider needs (its GPUHOURS_* settings) and that they may use this API.",
            url=url,
        )
    elif status == 429:
        retry_after = _retry_after_seconds(response)
        when = "later" if retry_after is None else f"in {math.ceil(retry_after)} s"
        error = ProviderRateLimited(
            f"{what}. The API is rate limiting us: try again {when}, or sync this feed less often.",
            retry_after=retry_after,
            url=url,
        )
    elif status >= 500:
        error = ProviderUnavailable(
            f"{what}. The provider's API is failing: try again later.", url=url
        )
    else:
        error = ProviderResponseError(
            f"{what}. The API did not accept the request: check the provider's URL setting "
            "(a mirror may lack this path), or update gpuhours if the API has changed.",
            url=url,
        )
    return _annotate(error, status_code=status, attempts=attempts)


def _transport_error(
    request: httpx.Request | None,
    exc: httpx.HTTPError,
    *,
    attempts: int | None,
    why_stopped: str = "",
    during: str = "",
) -> ProviderError:
    url = redact_url(request.url) if request is not None else None
    target = f"{request.method} {url}" if request is not None else "a request"
    secrets = _secrets_in(request.url) if request is not None else set()
    cause = f"{type(exc).__name__}: {_scrub(str(exc), secrets)}" if str(exc) else type(exc).__name__
    where = f" while {during}" if during else ""
    tries = _attempts_text(attempts, why_stopped)
    error: ProviderError
    if isinstance(exc, httpx.TimeoutException):
        error = ProviderUnavailable(
            f"{target} timed out{where}{tries} ({cause}). Check the network and proxy settings "
            "(HTTPS_PROXY, NO_PROXY); on a slow link raise GPUHOURS_HTTP_READ_TIMEOUT or "
            "GPUHOURS_HTTP_CONNECT_TIMEOUT; or try again later.",
            url=url,
        )
    elif isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        error = ProviderError(
            f"{target} could not be sent ({cause}). Check the provider's URL setting.", url=url
        )
    elif isinstance(exc, httpx.TransportError):
        error = ProviderUnavailable(
            f"{target} failed{where}{tries} ({cause}). Check the network connection and proxy "
            "settings (HTTPS_PROXY, NO_PROXY), or try again later.",
            url=url,
        )
    elif isinstance(exc, httpx.DecodingError):
        error = ProviderResponseError(
            f"{target} sent a body that could not be decoded ({cause}). Try again; if it "
            "persists, the server or a proxy on the way is corrupting responses.",
            url=url,
        )
    elif isinstance(exc, httpx.TooManyRedirects):
        error = ProviderResponseError(
            f"{target} was redirected too many times. Check the provider's URL setting.", url=url
        )
    else:
        error = ProviderError(f"{target} failed{where} ({cause}).", url=url)
    return _annotate(error, status_code=None, attempts=attempts)


def _retry_after_seconds(response: httpx.Response) -> float | None:
    """Seconds the server asks us to wait (``Retry-After``: seconds or HTTP date), or None."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


async def _read_prefix(response: httpx.Response, limit: int = _ERROR_BODY_LIMIT) -> bytes:
    """Up to ``limit`` bytes of the body, then close it (never raises for a broken body)."""
    data = bytearray()
    chunks = cast(AsyncGenerator[bytes, None], response.aiter_bytes())
    try:
        async with contextlib.aclosing(chunks):
            async for chunk in chunks:
                data += chunk
                if len(data) >= limit:
                    break
    except (httpx.HTTPError, ProviderError):
        pass
    finally:
        await response.aclose()
    return bytes(data[:limit])


def _server_said(request: httpx.Request, response: httpx.Response, body: bytes) -> str:
    """A short, secret-free quote of an error body when it is text (not an HTML page)."""
    content_type = response.headers.get("content-type", "").lower()
    if not body or not any(t in content_type for t in ("json", "xml", "text/plain")):
        return ""
    text = " ".join(body.decode("utf-8", errors="replace").split())
    text = _scrub(text, _secrets_in(request.url))
    return text if len(text) <= 300 else text[:297] + "..."
