"""Rows of AWS price-list CSVs: a row by column name, which rows to keep, what was wrong.

Shared by the offer-file, savings-plan and spot parsers. A row that should have been a price
but cannot be read is returned as a :class:`RowProblem`, not raised, so one odd row never ends
a sync.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

__all__ = ["Row", "RowProblem", "RowSelector", "named_rows", "parse_price"]

Row = Mapping[str, str]


@dataclass(frozen=True)
class RowSelector:
    """Which rows of a price file matter: a raw-line pre-filter plus a full predicate.

    ``required`` byte strings must all occur in a raw line for it to be parsed at all; they must
    be values that ``keep`` demands, so the pre-filter can never drop a row ``keep`` would keep
    (see :mod:`plugins.aws.csv_stream`). ``keep`` sees the row as ``{column: value}`` for the
    columns the parser reads (``COLUMNS`` for offer files, ``SP_COLUMNS`` for savings-plan
    files).
    """

    required: tuple[bytes, ...]
    keep: Callable[[Row], bool]


@dataclass(frozen=True)
class RowProblem:
    """A row that passed the filter but could not become a price; ``raw`` says which."""

    reason: str
    raw: str
    offer: Mapping[str, object] | None = None  # the key of the offer it prices, when known


def named_rows(
    rows: list[list[str]], width: int, columns: Mapping[str, int]
) -> Iterator[Row | RowProblem]:
    """Each CSV row as a mapping of the wanted columns, or a problem if its width is wrong."""
    for fields in rows:
        if len(fields) != width:
            yield RowProblem(
                f"malformed row: {len(fields)} fields where the header has {width}",
                ",".join(fields)[:300],
            )
            continue
        yield {name: fields[i] for name, i in columns.items()}


def parse_price(text: str) -> float | None:
    """A price column as a finite number of at least 0, or None."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None
