"""``--replay DIR``: answer every request from a record directory instead of the network."""

from __future__ import annotations

import email.utils
import gzip
import io
import json
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

import httpx

from aggregator.errors import ProviderResponseError, ReplayMiss
from aggregator.http.failures import _annotate
from aggregator.http.recording import _FRAMING_HEADERS, _recording_key
from aggregator.http.redaction import redact_url
from aggregator.http.retry import _RETRY_METHODS

__all__ = ["ReplayTransport"]

_CHUNK: Final = 64 * 1024


class ReplayTransport(httpx.AsyncBaseTransport):
    """Answers every request from a record directory; never touches the network.

    The layout is the one described in :mod:`aggregator.http`.

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
