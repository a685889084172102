"""Streaming reader for AWS price-list CSV files: bytes in, the few rows that matter out.

:class:`CsvStream` is a push parser (:meth:`~CsvStream.feed` each chunk, then
:meth:`~CsvStream.close`) so that one object serves a response body and a file read in a loop
(the benchmark); :func:`drive` and :func:`adrive` are the two drivers. Memory stays bounded by
the longest line plus one chunk, and most lines are skipped unparsed by a byte-string
pre-filter that can never drop a line the full filter keeps. The layout it checks and why the
pre-filter is safe: docs/providers/aws.md, "Streaming a file of several hundred MB".
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Sequence
from typing import Protocol, TypeVar

from aggregator.errors import ProviderResponseError

__all__ = ["MAX_PREAMBLE_LINES", "CsvStream", "PushParser", "adrive", "drive"]

#: Lines allowed before the header row (AWS files have 5).
MAX_PREAMBLE_LINES = 20

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class _OneLine:
    """An iterator that hands the csv reader the one line pushed into it, then ends.

    Lets one ``csv.reader`` parse lines pushed to it one at a time (a new reader per line would
    cost a Python object per candidate row). Ending after each line means a line with an
    unbalanced quote cannot make the reader swallow the next one.
    """

    __slots__ = ("line",)

    def __init__(self) -> None:
        self.line: str | None = None

    def __iter__(self) -> _OneLine:
        return self

    def __next__(self) -> str:
        line, self.line = self.line, None
        if line is None:
            raise StopIteration
        return line


class CsvStream:
    """Push parser of one price-list CSV body (see docs/providers/aws.md).

    ``required`` are the pre-filter byte strings (empty: parse every line); ``what`` names the
    file in error messages (typically its URL).
    """

    def __init__(self, *, required: Iterable[bytes] = (), what: str = "price list") -> None:
        self._required = tuple(required)
        self._what = what
        self._tail = b""
        self._line = _OneLine()
        self._reader = csv.reader(self._line, strict=True)
        self._closed = False
        self.metadata: dict[str, str] = {}
        self.header: tuple[str, ...] | None = None
        self.bytes_read = 0
        self.lines_read = 0
        self.candidates = 0

    # --- public ---------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> list[list[str]]:
        """Take the next piece of the body; return the rows it completed that passed the
        pre-filter, each as a list of field values (the header is not among them)."""
        if self._closed:
            raise RuntimeError("feed() after close()")
        self.bytes_read += len(chunk)
        data = self._tail + chunk if self._tail else chunk
        lines = data.split(b"\n")
        self._tail = lines.pop()
        if not lines:
            return []
        self.lines_read += len(lines)
        start = 0
        if self.header is None:
            start = self._read_header(lines)
            if self.header is None:
                return []
        required = self._required
        if len(required) == 1:
            (marker,) = required
            candidates = [line for line in lines[start:] if marker in line]
        elif required:
            candidates = [line for line in lines[start:] if all(m in line for m in required)]
        else:
            candidates = [line for line in lines[start:] if line.strip()]
        self.candidates += len(candidates)
        return [self._parse(line) for line in candidates]

    def close(self) -> list[list[str]]:
        """End of body: return the last row (if the body lacked a final newline) or raise if
        the body ended inside a row or never reached its header."""
        if self._closed:
            return []
        self._closed = True
        tail, self._tail = self._tail, b""
        rows: list[list[str]] = []
        if tail.strip():
            self.lines_read += 1
            if self.header is None:
                self._read_header([tail])
            else:
                row = self._parse(tail)
                if len(row) != len(self.header):
                    raise ProviderResponseError(
                        f"{self._what} ended in the middle of a row ({len(row)} of "
                        f"{len(self.header)} fields, no final newline): the download was cut "
                        "short; nothing from it is used"
                    )
                if all(m in tail for m in self._required):
                    self.candidates += 1
                    rows.append(row)
        if self.header is None:
            raise ProviderResponseError(
                f"{self._what} has no header row (a line starting with SKU) after "
                f"{self.lines_read} lines: it is empty, cut short or not a price-list CSV"
            )
        return rows

    def column_index(self, names: Iterable[str]) -> dict[str, int]:
        """Positions of ``names`` in the header; raises naming any column that is missing."""
        if self.header is None:
            raise RuntimeError("column_index() before the header was read")
        where = {name: i for i, name in enumerate(self.header)}
        missing = [n for n in names if n not in where]
        if missing:
            raise ProviderResponseError(
                f"{self._what} lacks the column(s) {', '.join(missing)}: the price-list "
                "format has changed; update gpuhours"
            )
        return {n: where[n] for n in names}

    # --- internals ------------------------------------------------------------------------

    def _parse(self, line: bytes) -> list[str]:
        """The fields of one line; a line the csv module cannot parse (an unbalanced quote)
        comes back as its raw text in a single field, so the caller's field count check
        reports it."""
        text = line.decode("utf-8", errors="replace").rstrip("\r")
        self._line.line = text
        try:
            return next(self._reader)
        except (csv.Error, StopIteration):
            self._line.line = None
            return [text]

    def _read_header(self, lines: list[bytes]) -> int:
        """Consume preamble lines from ``lines``; return the index after the header, if seen."""
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            row = self._parse(line)
            if row and row[0].lstrip("\ufeff") == "SKU":
                row[0] = "SKU"
                self.header = tuple(row)
                return i + 1
            if len(self.metadata) >= MAX_PREAMBLE_LINES:
                raise ProviderResponseError(
                    f"{self._what} has no header row (a line starting with SKU) within its "
                    f"first {MAX_PREAMBLE_LINES} lines: not a price-list CSV"
                )
            if len(row) >= 2:
                self.metadata[row[0]] = row[1]
            else:
                self.metadata[f"line {len(self.metadata) + 1}"] = ",".join(row)
        return len(lines)


class PushParser(Protocol[T_co]):
    """Anything fed a body chunk by chunk: :class:`CsvStream` and the parsers built on it."""

    def feed(self, chunk: bytes) -> Sequence[T_co]: ...

    def close(self) -> Sequence[T_co]: ...


def drive(parser: PushParser[T], chunks: Iterable[bytes]) -> Iterator[T]:
    """Everything ``parser`` makes of a synchronous chunk source (a file read in a loop)."""
    for chunk in chunks:
        yield from parser.feed(chunk)
    yield from parser.close()


async def adrive(parser: PushParser[T], chunks: AsyncIterable[bytes]) -> AsyncIterator[T]:
    """Everything ``parser`` makes of an asynchronous chunk source (an httpx response body)."""
    async for chunk in chunks:
        for item in parser.feed(chunk):
            yield item
    for item in parser.close():
        yield item
