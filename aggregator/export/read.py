"""Reading an export: gzip-compressed JSON Lines checked line by line as they arrive.

The reader holds one line at a time (at most :data:`~.format.MAX_LINE_BYTES`), so an export of
any size, or a hostile stream, costs bounded memory here. It yields the header first, then
each offer and interruption-rate line as a plain mapping (the sync engine validates those as
it validates any feed's rows), and raises :class:`~aggregator.errors.ExportFormatError` the
moment the stream stops being a complete export of a format it knows: what the caller
collected from it must then be thrown away.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import pydantic

from aggregator.errors import ExportFormatError
from aggregator.export.format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MAX_LINE_BYTES,
    MAX_LINES,
    ExportEnd,
    ExportHeader,
)

__all__ = ["ExportItem", "read_export"]

ExportItem = ExportHeader | dict[str, Any]
"""What :func:`read_export` yields: the header, then offer and rate lines (with ``kind``)."""
_ITEM_KINDS = frozenset({"offer", "interruption_rate"})


async def read_export(chunks: AsyncIterator[bytes], where: str) -> AsyncGenerator[ExportItem, None]:
    """The lines of the export arriving as ``chunks``; ``where`` names it in messages."""
    lines = _lines(chunks, where)
    number = 0
    counts = {"offer": 0, "interruption_rate": 0}
    header: ExportHeader | None = None
    async for raw in lines:
        number += 1
        item = _parse(raw, number, where)
        if header is None:
            header = _header(item, where)
            yield header
            continue
        kind = item.get("kind")
        if kind in _ITEM_KINDS:
            counts[str(kind)] += 1
            yield item
        elif kind == "end":
            _check_end(item, counts, where)
            async for _extra in lines:
                raise ExportFormatError(f"{where}: lines follow the end line; corrupted export")
            return
        else:
            raise ExportFormatError(
                f"{where}: line {number} is of unknown kind {str(kind)[:40]!r}; corrupted export"
            )
    if header is None:
        raise ExportFormatError(f"{where} is empty: not a gpuhours export")
    raise ExportFormatError(
        f"{where} is truncated: it ends after line {number} without its end line; "
        "nothing from it was used"
    )


async def _lines(chunks: AsyncIterator[bytes], where: str) -> AsyncIterator[bytes]:
    """Decompressed lines of a gzip stream, each checked for length; raises on a cut stream.

    Each chunk is inflated at most :data:`MAX_LINE_BYTES` at a time, so a small chunk that
    inflates enormously (a "zip bomb") never sits in memory whole.
    """
    inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    pending = b""
    count = 0
    received = False
    try:
        async for chunk in chunks:
            received = received or bool(chunk)
            data = chunk
            while data:
                if inflate.eof:
                    raise ExportFormatError(f"{where}: data after the gzip stream; corrupted")
                pending += inflate.decompress(data, MAX_LINE_BYTES)
                data = inflate.unconsumed_tail or inflate.unused_data
                *complete, pending = pending.split(b"\n")
                count += len(complete)
                if count > MAX_LINES:
                    raise ExportFormatError(f"{where}: more than {MAX_LINES:,} lines; refused")
                for line in complete:
                    yield line
                if len(pending) > MAX_LINE_BYTES:
                    raise ExportFormatError(
                        f"{where}: a line longer than {MAX_LINE_BYTES:,} bytes; corrupted"
                    )
    except zlib.error as exc:
        raise ExportFormatError(f"{where} is not valid gzip data ({exc}); corrupted") from None
    if not received:
        raise ExportFormatError(f"{where} is empty: not a gpuhours export")
    if not inflate.eof:
        raise ExportFormatError(
            f"{where} is truncated: its gzip stream ends early; nothing from it was used"
        )
    if pending:
        raise ExportFormatError(f"{where}: the last line has no newline; truncated")


def _parse(raw: bytes, number: int, where: str) -> dict[str, Any]:
    try:
        item = json.loads(raw)
    except ValueError:
        raise ExportFormatError(f"{where}: line {number} is not JSON; corrupted") from None
    if not isinstance(item, dict):
        raise ExportFormatError(f"{where}: line {number} is not a JSON object; corrupted")
    return item


def _header(item: dict[str, Any], where: str) -> ExportHeader:
    if item.get("kind") != "header" or item.get("format") != FORMAT_NAME:
        raise ExportFormatError(f"{where} is not a gpuhours export (its first line is no header)")
    version = item.get("format_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise ExportFormatError(
            f"{where} is in export format version {version}, written by gpuhours "
            f"{str(item.get('gpuhours_version'))[:40]}; this gpuhours reads format version "
            f"{FORMAT_VERSION} only: upgrade gpuhours here to mirror it"
        )
    try:
        return ExportHeader.model_validate(item)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ExportFormatError(f"{where}: bad header field {field}: {first['msg']}") from None


def _check_end(item: dict[str, Any], counts: dict[str, int], where: str) -> None:
    try:
        end = ExportEnd.model_validate(item)
    except pydantic.ValidationError:
        raise ExportFormatError(f"{where}: a malformed end line; corrupted") from None
    if (end.offers, end.interruption_rates) != (counts["offer"], counts["interruption_rate"]):
        raise ExportFormatError(
            f"{where}: the end line counts {end.offers} offers and {end.interruption_rates} "
            f"interruption rates but {counts['offer']} and {counts['interruption_rate']} came; "
            "corrupted export"
        )
