"""Plausible price bounds: a row outside them is a broken source, not a bargain or a rip-off.

Cloud price lists have shipped $0 rows and absurd ones (1e308 USD/h) before. The model only
asks prices to be finite and positive, so the sync engine also checks each collected row with
:func:`price_problem` and rejects it, with the reason, like any other bad row. The model itself
does not apply these bounds on purpose: stored offers are re-validated when read, and a store
that already holds an absurd row must still load.

The bounds, in US dollars:

* per GPU-hour: from :data:`MIN_USD_PER_GPU_HOUR` (0.001) to :data:`MAX_USD_PER_GPU_HOUR`
  (1000). The cheapest real rows (fractional GPUs, spot) are around 0.01-0.05, the dearest
  (8-GPU reserved machines per GPU) below 100.
* per instance-hour: at most :data:`MAX_USD_PER_INSTANCE_HOUR` (100,000).

Other currencies scale these by :data:`UNITS_PER_USD`: a generous (floor, ceiling) of how many
units of the currency one US dollar has bought, wide enough for years of exchange-rate moves.
The lower bound uses the floor and the upper bounds the ceiling, so a plausible price is never
refused because a rate moved. A currency without an entry is refused with a reason saying so:
add it here (with its range) when a seller prices in it.
"""

from __future__ import annotations

import math
from typing import Protocol

__all__ = [
    "MAX_USD_PER_GPU_HOUR",
    "MAX_USD_PER_INSTANCE_HOUR",
    "MIN_USD_PER_GPU_HOUR",
    "UNITS_PER_USD",
    "PricedOffer",
    "price_problem",
]

MIN_USD_PER_GPU_HOUR = 0.001
MAX_USD_PER_GPU_HOUR = 1000.0
MAX_USD_PER_INSTANCE_HOUR = 100_000.0

UNITS_PER_USD: dict[str, tuple[float, float]] = {
    "USD": (1.0, 1.0),
    "EUR": (0.5, 1.5),
    "GBP": (0.4, 1.2),
    "CHF": (0.5, 1.6),
    "CAD": (0.9, 2.2),
    "AUD": (1.0, 2.6),
    "NZD": (1.1, 2.9),
    "SGD": (1.0, 2.2),
    "HKD": (7.0, 8.5),
    "BRL": (2.0, 12.0),
    "MXN": (10.0, 35.0),
    "CNY": (5.0, 10.0),
    "DKK": (4.0, 11.0),
    "NOK": (6.0, 16.0),
    "SEK": (6.0, 16.0),
    "PLN": (2.5, 7.0),
    "CZK": (15.0, 40.0),
    "INR": (50.0, 150.0),
    "IDR": (10_000.0, 25_000.0),
    "JPY": (80.0, 250.0),
    "KRW": (900.0, 2_000.0),
    "TWD": (25.0, 45.0),
    "ZAR": (10.0, 30.0),
    "ILS": (2.5, 6.0),
    "AED": (3.6, 3.8),
    "SAR": (3.7, 3.8),
}
"""Per currency, the (floor, ceiling) of units one US dollar buys; see the module docstring."""


class PricedOffer(Protocol):
    """What the check needs of an offer (an :class:`aggregator.models.Offer` has it)."""

    @property
    def price_per_hour(self) -> float: ...

    @property
    def gpu_count(self) -> float: ...

    @property
    def currency(self) -> str: ...


def price_problem(offer: PricedOffer) -> str | None:
    """Why ``offer``'s prices are implausible, or ``None`` when they are within the bounds.

    The reason names the price, its currency and the bound it broke, so a rejected row's log
    line says what to check at the source.
    """
    price, gpus, currency = offer.price_per_hour, offer.gpu_count, offer.currency
    if not math.isfinite(price) or not math.isfinite(gpus) or gpus <= 0:
        return f"price_per_hour {price!r} over {gpus!r} GPUs is not a finite number"
    per_gpu = price / gpus
    if not math.isfinite(per_gpu):
        return f"price per GPU-hour ({price!r} / {gpus!r} GPUs) overflows"
    rates = UNITS_PER_USD.get(currency)
    if rates is None:
        return (
            f"no plausible price bounds for currency {currency!r} "
            "(add it to aggregator.price_sanity.UNITS_PER_USD)"
        )
    floor, ceiling = rates
    low, high = MIN_USD_PER_GPU_HOUR * floor, MAX_USD_PER_GPU_HOUR * ceiling
    if not low <= per_gpu <= high:
        return (
            f"price per GPU-hour {per_gpu:.6g} {currency} is outside the plausible "
            f"{low:g}-{high:g} {currency}"
        )
    most = MAX_USD_PER_INSTANCE_HOUR * ceiling
    if price > most:
        return f"price per instance-hour {price:.6g} {currency} is above the plausible {most:g}"
    return None
