"""Reading one item of Oracle's price list: a GPU rental part with its hourly rate, or why not.

Only rentals of OCI's own GPU shapes count: ``metricName`` "GPU Per Hour" in a
``serviceCategory`` starting "Compute - GPU" (Cloud@Customer, VMware and Roving Edge rows are
other services with other metrics or categories), and never a software licence billed in the
same category and metric ("NVIDIA AI Enterprise"). The rate is the single ``PAY_AS_YOU_GO``
price of the requested currency; a tiered or missing price is rejected, never picked from.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["GPU_METRIC", "PartPrice", "Skip", "SkipKind", "classify"]

GPU_METRIC = "GPU Per Hour"
_GPU_CATEGORY = "Compute - GPU"
_LICENCE_MARK = "nvidia ai enterprise"


class SkipKind(StrEnum):
    OTHER_SERVICE = "other service"
    LICENCE = "software licence"
    BAD_PRICE = "unusable price"
    MALFORMED = "malformed item"


@dataclass(frozen=True)
class PartPrice:
    """The hourly per-GPU rate of one part, in ``currency``."""

    part_number: str
    display_name: str
    per_gpu_hour: float
    currency: str


@dataclass(frozen=True)
class Skip:
    """An item that prices no offer: ``kind`` says why, ``reason`` in words."""

    kind: SkipKind
    reason: str
    part_number: str = ""

    @property
    def is_reject(self) -> bool:
        """Whether the item should have priced a rental but could not be read."""
        return self.kind in (SkipKind.BAD_PRICE, SkipKind.MALFORMED)


def classify(item: Any, currency: str) -> PartPrice | Skip:
    """What one item of ``items`` is (see the module docstring)."""
    if not isinstance(item, Mapping):
        return Skip(SkipKind.MALFORMED, "an item that is not a JSON object")
    part = item.get("partNumber")
    name = item.get("displayName")
    if not isinstance(part, str) or not part.strip() or not isinstance(name, str):
        return Skip(SkipKind.MALFORMED, "an item without partNumber or displayName")
    category = item.get("serviceCategory")
    if item.get("metricName") != GPU_METRIC or not (
        isinstance(category, str) and category.startswith(_GPU_CATEGORY)
    ):
        return Skip(SkipKind.OTHER_SERVICE, f"{category!r} / {item.get('metricName')!r}", part)
    if _LICENCE_MARK in name.lower():
        return Skip(SkipKind.LICENCE, name, part)
    rate = _pay_as_you_go(item.get("currencyCodeLocalizations"), currency)
    if isinstance(rate, str):
        return Skip(SkipKind.BAD_PRICE, f"part {part} ({name.strip()}): {rate}", part)
    return PartPrice(part, name, rate, currency)


def _pay_as_you_go(localizations: Any, currency: str) -> float | str:
    """The one pay-as-you-go rate in ``currency``, or what is wrong with it."""
    if not isinstance(localizations, list):
        return "no currencyCodeLocalizations list"
    matches = [
        loc
        for loc in localizations
        if isinstance(loc, Mapping) and loc.get("currencyCode") == currency
    ]
    if len(matches) != 1:
        return f"{len(matches)} price lists in {currency}, expected one"
    prices = matches[0].get("prices")
    if not isinstance(prices, list):
        return f"no prices in {currency}"
    payg = [p for p in prices if isinstance(p, Mapping) and p.get("model") == "PAY_AS_YOU_GO"]
    if len(payg) != 1:
        return f"{len(payg)} PAY_AS_YOU_GO prices (tiered or missing), expected one"
    value = payg[0].get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"price {value!r} is not a number"
    if not math.isfinite(value) or value <= 0:
        return f"price {value!r} is not above zero"
    return float(value)
