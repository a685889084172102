"""How the CLI writes amounts and purchase options, the same in every command's tables."""

from __future__ import annotations

from aggregator.models import HOURS_PER_YEAR, PurchaseOption

__all__ = ["money", "option_text"]


def money(value: float) -> str:
    """Small amounts (prices per hour) with 4 decimals, larger ones (totals) with 2."""
    return f"{value:,.4f}" if abs(value) < 100 else f"{value:,.2f}"


def option_text(option: PurchaseOption, term_hours: int) -> str:
    """``on_demand``, or a commitment with its term in years: ``reserved 3y``."""
    if term_hours:
        return f"{option.value} {term_hours / HOURS_PER_YEAR:g}y"
    return option.value
