"""What is wrong with a price sheet: each problem names its line and field.

A sheet with any problem is refused as a whole (:class:`SheetError`), so a typo in one rate
never silently drops that rate while the others are stored. ``SheetError`` is a
:class:`~aggregator.errors.ProviderResponseError`: the sync engine records the feed's run as
failed with this message and leaves the stored prices as they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aggregator.errors import ProviderResponseError

__all__ = ["MAX_LISTED", "Problem", "SheetError"]

#: How many problems one message lists; the rest are counted.
MAX_LISTED = 10


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a sheet. ``line`` is 1-based (a CSV's header is line 1)."""

    message: str
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class SheetError(ProviderResponseError):
    """A price sheet that cannot be read or has rows that are not valid rates.

    ``problems`` lists everything found (in line order); ``line`` and ``field`` are those of
    the first one, for callers that only look at one.
    """

    def __init__(
        self,
        sheet: str,
        problems: Sequence[Problem],
        *,
        provider: str | None = None,
        feed: str | None = None,
        url: str | None = None,
    ) -> None:
        self.sheet = sheet
        self.problems = sorted(problems, key=lambda p: (p.line or 0, p.field or ""))
        first = self.problems[0] if self.problems else Problem("unknown problem")
        self.line = first.line
        self.field = first.field
        super().__init__(_message(sheet, self.problems), provider=provider, feed=feed, url=url)


def _message(sheet: str, problems: Sequence[Problem]) -> str:
    if len(problems) <= 1:
        return f"price sheet {sheet}: {problems[0] if problems else 'unknown problem'}"
    listed = "; ".join(str(p) for p in problems[:MAX_LISTED])
    more = len(problems) - MAX_LISTED
    tail = f"; and {more} more" if more > 0 else ""
    return (
        f"price sheet {sheet} has {len(problems)} problems, so none of its rates were used: "
        f"{listed}{tail}"
    )
