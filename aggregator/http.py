"""The one HTTP client of gpuhours: timeouts, retries, typed errors, record and replay.

Every feed fetches through the client :func:`make_client` builds (it arrives as
``FetchContext.client``). What that client promises:

* Every request has a timeout: ``GPUHOURS_HTTP_CONNECT_TIMEOUT`` to connect,
  ``GPUHOURS_HTTP_READ_TIMEOUT`` for reading, writing and waiting for a pooled connection.
  Redirects are followed. The User-Agent names gpuhours, so a provider can tell who calls.
* GET and HEAD are retried on connection errors, timeouts, 429 and 500/502/503/504, at most
  ``GPUHOURS_HTTP_RETRIES`` times. Between attempts it waits what ``Retry-After`` asks for
  (seconds or an HTTP date), else exponential backoff with jitter. All waits of one request
  together stay within ``GPUHOURS_HTTP_MAX_RETRY_WAIT``: when the next wait would not fit, it
  gives up at once rather than sleeping. Other methods are sent once (they may not be safe to
  repeat).
* Requests raise gpuhours errors, not httpx ones. A final status >= 400 raises
  :class:`ProviderAuthError` (401, 403), :class:`ProviderRateLimited` (429, with
  ``retry_after``), :class:`ProviderUnavailable` (5xx) or :class:`ProviderResponseError` (other
  4xx); transport failures raise :class:`ProviderUnavailable`, also when they happen while the
  body is being read. Status errors carry ``status_code`` and all carry ``attempts`` (``None``
  when unknown). :func:`translate_error` maps what httpx raises outside the transports (too
  many redirects, undecodable bodies) for the sync engine's backstop.
* Responses stay streamed: a successful body is never read here, so a feed can walk a
  several-hundred-MB AWS offer file line by line. Error bodies are small; up to 64 KiB is read
  to quote the server's explanation in the message.
* Secrets stay out of messages, logs and recordings: URLs pass through :func:`redact_url`,
  and httpx's own ``HTTP Request: GET ...`` log line is redacted as well.

Layers, outermost first::

    _RetryingTransport     retries, waits, typed errors
      RecordTransport      only with --record DIR: tees every response into DIR
        network            the ``transport`` given, or httpx.AsyncHTTPTransport through the
                           proxy that HTTP(S)_PROXY / ALL_PROXY / NO_PROXY name;
                           with --replay DIR: ReplayTransport answers from DIR instead

Why not httpx-retries (already a dependency; its source was read first): its
``total_timeout`` shortens the last wait to fit the budget and retries anyway, and
``max_backoff_wait`` cuts a server's ``Retry-After`` short, so a server asking for 1000 s is
asked again after 120 s and answers with another 429. Its sleep is always
``asyncio.sleep``, and its ``Retry`` copies itself through a constructor that a subclass
cannot extend. When an exception ends the retries, it does not report how many attempts were
made. The loop below is short enough to own.

Record directory layout (the format :class:`ReplayTransport` reads)::

    DIR/<host>/<hash>.json     {"method", "url", "key", "status", "headers", "body"}
    DIR/<host>/<hash>.body     the decoded body bytes (or <hash>.body.gz, gzip-compressed)

``key`` is ``"<METHOD> <url>"`` where url is the redacted URL without fragment and with its
query parameters sorted (name, then value) and re-encoded; ``<hash>`` is the first 16 hex
digits of the SHA-256 of the key. Because secrets are redacted before keying, a replay matches
whatever API key it is run with. ``url`` is the redacted URL as requested; ``headers`` is a
list of ``[name, value]`` pairs (a plain object is accepted too) without cookies,
credentials, headers that echo a secret, and the wire-framing headers ``content-encoding``,
``content-length`` and ``transfer-encoding``, which would not describe the stored bytes.
The body is stored decoded (httpx undoes a gzip content-encoding), so any ``.body`` file can
be gzipped into ``.body.gz`` for a bundled snapshot. Request bodies are not part of the key.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import gzip
import hashlib
import io
import json
import logging
import math
import os
import random
import re
import tempfile
import urllib.parse
import urllib.request
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import IO, Any, Final, cast

import httpx

from aggregator.errors import (
    ConfigurationError,
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderResponseError,
    ProviderUnavailable,
    ReplayMiss,
)
from aggregator.settings import Settings

__all__ = [
    "USER_AGENT",
    "RecordTransport",
    "ReplayTransport",
    "make_client",
    "redact_url",
    "translate_error",
]

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


def _version() -> str:
    try:
        return metadata.version("gpuhours")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


USER_AGENT: Final = f"gpuhours/{_version()} (+https://github.com/gpuhours/gpuhours)"

REDACTED: Final = "REDACTED"
# Exact names only, compared case-insensitively. Not "anything containing token": pagination
# cursors such as GCP's pageToken must stay, or every page would share one recording.
_SECRET_PARAMS: Final = frozenset(
    {
        "key",
        "api_key",
        "apikey",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "sig",
        "signature",
        "x-amz-signature",
        "x-amz-security-token",
        "password",
        "secret",
        "code",
    }
)
_MIN_SECRET_LENGTH: Final = 4  # shorter values are scrubbed from URLs, not searched for in text

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
_ERROR_BODY_LIMIT: Final = 64 * 1024
_CHUNK: Final = 64 * 1024


# --- redaction ---------------------------------------------------------------------------


def redact_url(url: str | httpx.URL) -> str:
    """``url`` as text that is safe to show, log or store.

    Values of secret-looking query parameters (``key``, ``api_key``, ``token``, ``sig``, ...,
    case-insensitive) and any user info become ``REDACTED``; everything else is kept. A URL
    that cannot be parsed is not echoed at all.
    """
    try:
        return str(_redacted(httpx.URL(url)))
    except httpx.InvalidURL:
        return "<unparseable URL>"


def _is_secret(name: str) -> bool:
    return name.lower() in _SECRET_PARAMS


def _redacted(url: httpx.URL) -> httpx.URL:
    if url.userinfo:
        url = url.copy_with(username=REDACTED, password=None)
    pairs = url.params.multi_items()
    if any(_is_secret(name) for name, _ in pairs):
        url = url.copy_with(params=[(n, REDACTED if _is_secret(n) else v) for n, v in pairs])
    return url


def _secrets_in(url: httpx.URL) -> set[str]:
    """The secret values ``url`` carries, raw and percent-encoded, to scrub from any text."""
    values = {v for n, v in url.params.multi_items() if _is_secret(n)}
    values |= {v for v in (url.username, url.password) if v}
    values = {v for v in values if len(v) >= _MIN_SECRET_LENGTH}
    encoded = {urllib.parse.quote(v, safe="") for v in values}
    encoded |= {urllib.parse.quote_plus(v, safe="") for v in values}
    return values | encoded


def _scrub(text: str, secrets: set[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


class _RedactUrlsInLogs(logging.Filter):
    """httpx logs every request's full URL at INFO; an API key must not reach the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, httpx.URL) for a in record.args):
            record.args = tuple(
                redact_url(a) if isinstance(a, httpx.URL) else a for a in record.args
            )
        return True


def _redact_httpx_logs() -> None:
    httpx_log = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactUrlsInLogs) for f in httpx_log.filters):
        httpx_log.addFilter(_RedactUrlsInLogs())


# --- errors ------------------------------------------------------------------------------


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
    # errors.py declares no such attributes; they are set per instance (read with getattr).
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


# --- retries -----------------------------------------------------------------------------


class _RetryingTransport(httpx.AsyncBaseTransport):
    """Retries, waits and typed errors around ``inner`` (see the module docstring)."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, *, retries: int, max_wait: float, sleep: Sleep
    ) -> None:
        self._inner = inner
        self._retries = retries
        self._max_wait = max_wait
        self._sleep = sleep

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        attempts = 0
        waited = 0.0
        while True:
            attempts += 1
            failure: httpx.Response | httpx.HTTPError
            try:
                response = await self._inner.handle_async_request(request)
            except _RETRY_EXCEPTIONS as exc:
                failure = exc
            except httpx.HTTPError as exc:
                raise _transport_error(request, exc, attempts=attempts) from exc
            else:
                if response.status_code not in _RETRY_STATUSES:
                    return await self._final(request, response, attempts)
                failure = response

            delay = self._delay(failure, attempts)
            why_stopped = self._why_stop(request.method, attempts, waited, delay)
            if why_stopped:
                if isinstance(failure, httpx.Response):
                    return await self._final(request, failure, attempts, why_stopped)
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

    def _why_stop(self, method: str, attempts: int, waited: float, delay: float) -> str:
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
        return ""

    async def _final(
        self, request: httpx.Request, response: httpx.Response, attempts: int, why_stopped: str = ""
    ) -> httpx.Response:
        """Pass on a response we keep, or raise the typed error for a failed one."""
        if response.status_code >= 400:
            body = await _read_prefix(response)
            raise _status_error(
                request,
                response,
                attempts=attempts,
                why_stopped=why_stopped,
                server_said=_server_said(request, response, body),
            )
        if not isinstance(response.stream, httpx.AsyncByteStream):
            raise TypeError("an async transport returned a response with a sync stream")
        response.stream = _TranslatingStream(response.stream, request)
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


# --- recording ---------------------------------------------------------------------------

_FRAMING_HEADERS: Final = frozenset({"content-encoding", "content-length", "transfer-encoding"})
_CREDENTIAL_HEADERS: Final = frozenset(
    {"set-cookie", "set-cookie2", "cookie", "authorization", "proxy-authorization"}
)
_SECRET_HEADER_NAME: Final = re.compile(r"token|secret|api-?key|password|signature", re.I)
_URL_HEADERS: Final = frozenset({"location", "content-location"})


def _recording_key(request: httpx.Request) -> tuple[str, str, str]:
    """(host folder name, key, file stem) under which a response to ``request`` is stored.

    Secret query parameters are left out of the key altogether, so a recording answers the
    same request whether or not (and with whichever) credentials it is replayed with.
    """
    url = _redacted(request.url)
    kept = [(n, v) for n, v in url.params.multi_items() if not _is_secret(n)]
    query = str(httpx.QueryParams(sorted(kept)))
    base = str(url.copy_with(query=None, fragment=None))
    key = f"{request.method.upper()} {base}{'?' + query if query else ''}"
    folder = re.sub(r"[^A-Za-z0-9.-]", "_", url.host) or "_"
    return folder, key, hashlib.sha256(key.encode()).hexdigest()[:16]


def _storable_headers(request: httpx.Request, headers: httpx.Headers) -> list[list[str]]:
    """Response headers fit to be written to disk: no credentials, no echoed secrets."""
    secrets = _secrets_in(request.url)
    kept: list[list[str]] = []
    for name, value in headers.multi_items():
        if name in _FRAMING_HEADERS or name in _CREDENTIAL_HEADERS:
            continue
        if _SECRET_HEADER_NAME.search(name):
            continue
        if name in _URL_HEADERS:
            value = _scrub(redact_url(value), secrets)
        elif _scrub(value, secrets) != value:
            continue
        kept.append([name, value])
    return kept


class RecordTransport(httpx.AsyncBaseTransport):
    """Passes requests to ``inner`` and saves each response into ``directory`` (layout above).

    A response is saved once its body has been read to the end, by teeing the chunks to a
    temporary file as the caller consumes them (memory stays bounded whatever the size); the
    meta file is renamed into place last, so a reader never sees half a recording. A body
    that is abandoned or fails part-way is not saved. When the same key is requested again,
    the later response replaces the earlier one: with retries, what is left is the answer the
    sync finally got. 304 Not Modified is not saved, since it carries no body and would
    replace the recording that has one. What the caller gets back has the body
    decoded and the framing headers removed, exactly as a replay will return it.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, directory: Path | str) -> None:
        self._inner = inner
        self._directory = Path(directory)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if response.status_code == 304:
            return response
        folder, key, stem = _recording_key(request)
        meta = {
            "method": request.method.upper(),
            "url": redact_url(request.url),
            "key": key,
            "status": response.status_code,
            "headers": _storable_headers(request, response.headers),
            "body": f"{stem}.body",
        }
        # A second Response over the same stream: its aiter_bytes() undoes content-encoding.
        decoder = httpx.Response(
            response.status_code, headers=response.headers, stream=response.stream
        )
        passed_on = [
            (name, value)
            for name, value in response.headers.multi_items()
            if name not in _FRAMING_HEADERS
        ]
        return httpx.Response(
            response.status_code,
            headers=passed_on,
            stream=_RecordingStream(decoder, self._directory / folder, stem, meta),
            extensions=response.extensions,
            request=request,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


class _RecordingStream(httpx.AsyncByteStream):
    def __init__(
        self, decoder: httpx.Response, folder: Path, stem: str, meta: dict[str, Any]
    ) -> None:
        self._decoder = decoder
        self._folder = folder
        self._stem = stem
        self._meta = meta
        self._file: IO[bytes] | None = None
        self._part: Path | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self._folder.mkdir(parents=True, exist_ok=True)
        fd, part = tempfile.mkstemp(dir=self._folder, prefix=f".{self._stem}.", suffix=".part")
        self._file, self._part = os.fdopen(fd, "wb"), Path(part)
        try:
            async for chunk in self._decoder.aiter_bytes():
                self._file.write(chunk)
                yield chunk
        except BaseException:  # incl. GeneratorExit when abandoned: no half recordings
            self._discard()
            raise
        self._commit()

    def _commit(self) -> None:
        assert self._file is not None and self._part is not None
        self._file.close()
        os.replace(self._part, self._folder / f"{self._stem}.body")
        self._part = None
        (self._folder / f"{self._stem}.body.gz").unlink(missing_ok=True)  # superseded
        fd, meta_part = tempfile.mkstemp(dir=self._folder, prefix=f".{self._stem}.", suffix=".part")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(self._meta, out, indent=2)
            out.write("\n")
        os.replace(meta_part, self._folder / f"{self._stem}.json")

    def _discard(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._part is not None:
            self._part.unlink(missing_ok=True)
            self._part = None

    async def aclose(self) -> None:
        await self._decoder.aclose()
        self._discard()


# --- replay ------------------------------------------------------------------------------


class ReplayTransport(httpx.AsyncBaseTransport):
    """Answers every request from a record directory (layout above); never touches the network.

    The recorded status and headers come back with the body streamed from its file
    (``.body``, or ``.body.gz`` decompressed on the fly). Like the real server, a conditional
    GET whose ``If-None-Match`` matches the recorded ``ETag`` (or whose ``If-Modified-Since``
    is not older than ``Last-Modified``) gets 304. A request that was never recorded raises
    :class:`ReplayMiss`.
    """

    def __init__(self, directory: Path | str) -> None:
        self._directory = Path(directory)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        folder, _, stem = _recording_key(request)
        meta_path = self._directory / folder / f"{stem}.json"
        target = f"{request.method} {redact_url(request.url)}"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            status = int(meta["status"])
            raw_headers = meta.get("headers", [])
            pairs = raw_headers.items() if isinstance(raw_headers, dict) else raw_headers
            headers = httpx.Headers([(str(n), str(v)) for n, v in pairs])
            body_name = str(meta["body"])
        except FileNotFoundError:
            raise _annotate(
                ReplayMiss(
                    f"no recorded response for {target} in {self._directory} (looked for "
                    f"{meta_path}). Record it first: gpuhours sync --record DIR.",
                    url=redact_url(request.url),
                ),
                status_code=None,
                attempts=None,
            ) from None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise _annotate(
                ReplayMiss(
                    f"the recording {meta_path} of {target} is unreadable "
                    f"({type(exc).__name__}: {exc}). Record it again: gpuhours sync --record DIR.",
                    url=redact_url(request.url),
                ),
                status_code=None,
                attempts=None,
            ) from exc
        for name in _FRAMING_HEADERS:
            headers.pop(name, None)
        if status == 200 and _not_modified(request, headers):
            return httpx.Response(304, headers=headers, request=request)
        body = self._body_path(meta_path.parent, body_name)
        if body is None:
            raise _annotate(
                ReplayMiss(
                    f"the recording {meta_path} of {target} has no body file {body_name!r} "
                    "(nor .gz). Record it again: gpuhours sync --record DIR.",
                    url=redact_url(request.url),
                ),
                status_code=None,
                attempts=None,
            )
        return httpx.Response(status, headers=headers, stream=_FileStream(body), request=request)

    @staticmethod
    def _body_path(folder: Path, name: str) -> Path | None:
        if Path(name).name != name:  # a recording may only point next to itself
            return None
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
        return None


def _not_modified(request: httpx.Request, recorded: httpx.Headers) -> bool:
    if request.method.upper() not in _RETRY_METHODS:
        return False
    if (if_none_match := request.headers.get("if-none-match")) is not None:
        etag = recorded.get("etag")
        wanted = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return etag is not None and ("*" in wanted or etag.strip().removeprefix("W/") in wanted)
    since, modified = request.headers.get("if-modified-since"), recorded.get("last-modified")
    if not since or not modified:
        return False
    try:
        return email.utils.parsedate_to_datetime(modified) <= email.utils.parsedate_to_datetime(
            since
        )
    except (TypeError, ValueError):
        return False


class _FileStream(httpx.AsyncByteStream):
    """A recorded body, read in chunks; ``.gz`` files are decompressed as they are read."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: io.BufferedIOBase | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with self._open() as self._file:
            while chunk := self._read(self._file):
                yield chunk

    def _open(self) -> io.BufferedIOBase:
        return gzip.open(self._path, "rb") if self._path.suffix == ".gz" else self._path.open("rb")

    def _read(self, file: io.BufferedIOBase) -> bytes:
        try:
            return file.read(_CHUNK)
        except (OSError, EOFError, zlib.error) as exc:
            raise ProviderResponseError(
                f"the recorded body {self._path} cannot be read ({exc}); record it again"
            ) from exc

    async def aclose(self) -> None:
        if self._file is not None:
            self._file.close()


# --- the network -------------------------------------------------------------------------


class _NetworkTransport(httpx.AsyncBaseTransport):
    """httpx's own transport, through the proxy the environment names.

    httpx honours HTTP_PROXY / HTTPS_PROXY / ALL_PROXY / NO_PROXY only when the client builds
    its transport itself; because ours wraps the transport, this puts that behaviour back.
    """

    def __init__(self) -> None:
        self._proxies = urllib.request.getproxies()
        self._transports: dict[str | None, httpx.AsyncHTTPTransport] = {}

    def proxy_for(self, url: httpx.URL) -> str | None:
        proxy = self._proxies.get(url.scheme) or self._proxies.get("all")
        if not proxy or _no_proxy(url.host, self._proxies.get("no", "")):
            return None
        return proxy if "://" in proxy else f"http://{proxy}"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        proxy = self.proxy_for(request.url)
        if proxy not in self._transports:
            self._transports[proxy] = httpx.AsyncHTTPTransport(proxy=proxy)
        return await self._transports[proxy].handle_async_request(request)

    async def aclose(self) -> None:
        for transport in self._transports.values():
            await transport.aclose()


def _no_proxy(host: str, no_proxy: str) -> bool:
    """curl's NO_PROXY rule: ``*``, or the host equals or ends in ``.`` + an entry."""
    host = host.lower()
    for entry in (e.strip().lower().lstrip(".") for e in no_proxy.split(",")):
        if entry == "*" or (entry and (host == entry or host.endswith("." + entry))):
            return True
    return False


# --- the client --------------------------------------------------------------------------


def make_client(
    settings: Settings | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    record_dir: Path | None = None,
    replay_dir: Path | None = None,
    sleep: Sleep | None = None,
) -> httpx.AsyncClient:
    """The client every feed uses; see the module docstring for what it promises.

    ``transport`` replaces the network (tests pass ``httpx.MockTransport`` or a respx mock);
    ``record_dir`` saves every response there; ``replay_dir`` answers from such a directory
    instead of the network (retries and typed errors still apply). ``sleep`` waits between
    retries (``asyncio.sleep`` by default; tests pass a recorder). The caller closes the
    client (``async with``).
    """
    settings = settings if settings is not None else Settings()
    network: httpx.AsyncBaseTransport
    if replay_dir is not None:
        if record_dir is not None:
            raise ConfigurationError(
                "--record and --replay cannot be used together: replaying answers from a "
                "recording, so there would be nothing new to record"
            )
        if transport is not None:
            raise ConfigurationError("replay_dir replaces the network; do not pass a transport")
        if not Path(replay_dir).is_dir():
            raise ConfigurationError(f"replay directory {replay_dir} does not exist")
        network = ReplayTransport(replay_dir)
    else:
        network = transport if transport is not None else _NetworkTransport()
        if record_dir is not None:
            try:
                Path(record_dir).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigurationError(
                    f"cannot create the record directory {record_dir}: {exc}"
                ) from exc
            network = RecordTransport(network, record_dir)
    _redact_httpx_logs()
    return httpx.AsyncClient(
        transport=_RetryingTransport(
            network,
            retries=settings.http_retries,
            max_wait=settings.http_max_retry_wait,
            sleep=sleep if sleep is not None else asyncio.sleep,
        ),
        timeout=httpx.Timeout(settings.http_read_timeout, connect=settings.http_connect_timeout),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=True,
    )
