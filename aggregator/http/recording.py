"""``--record DIR``: tee every response into a record directory.

Also what the directory layout is keyed by (:func:`_recording_key`, shared with replay) and
which response headers may be written to disk. The layout is described in
:mod:`aggregator.http`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any, Final

import httpx

from aggregator.http.redaction import _is_secret, _redacted, _scrub, _secrets_in, redact_url

__all__ = ["RecordTransport"]

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
    """Passes requests to ``inner`` and saves each response into ``directory``.

    The layout is the one described in :mod:`aggregator.http`.

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
