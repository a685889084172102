"""How the CLI writes amounts, purchase options, durations and ages, the same in every table."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aggregator.models import PurchaseOption

__all__ = ["age", "duration", "money", "option_text"]


def money(value: float) -> str:
    """Small amounts (prices per hour) with 4 decimals, larger ones (totals) with 2."""
    return f"{value:,.4f}" if abs(value) < 100 else f"{value:,.2f}"


def option_text(option: PurchaseOption, term_hours: int) -> str:
    """``on_demand``, or a commitment with its term in years: ``reserved 3y``."""
    from aggregator.models import HOURS_PER_YEAR  # pydantic: not for `gpuhours --help`

    if term_hours:
        return f"{option.value} {term_hours / HOURS_PER_YEAR:g}y"
    return option.value


def duration(seconds: float) -> str:
    """The largest whole unit that fits: ``3d``, ``5h``, ``12m``, ``40s``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{max(seconds, 0):.0f}s"


def age(when: datetime | None, now: datetime | None = None) -> str:
    """How long ago ``when`` was (``never`` for ``None``)."""
    from aggregator.models import utcnow

    if when is None:
        return "never"
    return duration(((now or utcnow()) - when).total_seconds())
