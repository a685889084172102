"""What each Azure Retail Prices row is: offers, skipped, an unknown size, or malformed.

:func:`classify` judges every row as if the server-side ``$filter`` had not narrowed the
download: only a Linux, shared-tenancy, hourly machine price of a GPU size in
:mod:`plugins.azure.skus` becomes offers. A reservation's ``retailPrice`` is the whole term's,
so it is divided by the term's hours, and ``payment`` stays unset because Azure charges the
same total upfront or monthly; an on-demand row's ``savingsPlan`` entries become savings-plan
offers. :class:`OfferSet` keeps one offer per natural key when a price is listed twice. The
rules field by field: docs/providers/azure.md, "Which rows become offers".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from aggregator.models import HOURS_PER_YEAR, PurchaseOption
from plugins.azure.skus import looks_like_gpu, lookup

__all__ = [
    "PROVIDER",
    "TERM_HOURS",
    "OfferSet",
    "PricedOffer",
    "Verdict",
    "classify",
]

PROVIDER: Final = "azure"


TERM_HOURS: Final[dict[str, int]] = {
    "1 Year": HOURS_PER_YEAR,
    "3 Years": 3 * HOURS_PER_YEAR,
    "5 Years": 5 * HOURS_PER_YEAR,
}


# --- rows --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PricedOffer:
    """An offer built from one row, with what is needed to pick between duplicates."""

    key: tuple[str, str, str, int]  # region, instance type, purchase option, term hours
    offer: dict[str, Any]
    effective_start: str

    @property
    def price(self) -> float:
        value = self.offer["price_per_hour"]
        assert isinstance(value, float)
        return value


@dataclass
class Verdict:
    """What one row is: offers, or why it is not (skipped, unknown size, or malformed)."""

    offers: list[PricedOffer] = field(default_factory=list)
    skipped: str | None = None  # not a Linux GPU machine price: silently left out
    unknown: str | None = None  # a GPU-family size the table does not know: reported
    rejected: str | None = None  # should have been an offer but is malformed: counted
    unpriced: list[dict[str, Any]] = field(default_factory=list)  # keys of rejected prices


def _text(item: Mapping[str, Any], name: str) -> str:
    value = item.get(name)
    return value.strip() if isinstance(value, str) else ""


def _price(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number > 0 else None


def _interruptible_option(sku_name: str, meter_name: str) -> tuple[PurchaseOption | None, str]:
    """(spot / low_priority / None, "") from the name suffixes, or (None, why) on a conflict."""
    names = (sku_name, meter_name)
    spot = any(n.endswith(" Spot") for n in names)
    low = any(n.endswith(" Low Priority") for n in names)
    if spot and low:
        return (
            None,
            f"skuName {sku_name!r} and meterName {meter_name!r} disagree on spot/low priority",
        )
    if spot:
        return PurchaseOption.SPOT, ""
    if low:
        return PurchaseOption.LOW_PRIORITY, ""
    return None, ""


def _not_a_machine_price(product_name: str) -> str | None:
    if product_name.endswith(" Windows"):
        return "windows"
    if "Dedicated Host" in product_name or "DedicatedHost" in product_name:
        return "dedicated host"
    if "Cloud Services" in product_name or "CloudServices" in product_name:
        return "cloud services"
    return None


def classify(item: object) -> Verdict:
    """Judge one API item (the rules are in docs/providers/azure.md)."""
    if not isinstance(item, dict):
        return Verdict(rejected=f"an item is not an object: {item!r:.80}")
    if item.get("serviceName") != "Virtual Machines":
        return Verdict(skipped="not a virtual machine")
    arm_sku_name = _text(item, "armSkuName")
    if not arm_sku_name:
        return Verdict(skipped="no armSkuName")
    price_type = item.get("type")
    if price_type not in ("Consumption", "Reservation"):
        return Verdict(skipped=f"price type {price_type!r}")
    if reason := _not_a_machine_price(_text(item, "productName")):
        return Verdict(skipped=reason)
    if item.get("unitOfMeasure") != "1 Hour":
        return Verdict(skipped=f"unit {item.get('unitOfMeasure')!r} is not hourly")
    if item.get("tierMinimumUnits") not in (None, 0):
        return Verdict(skipped=f"a volume tier from {item.get('tierMinimumUnits')!r} units")
    if not looks_like_gpu(arm_sku_name):
        return Verdict(skipped="not a GPU size")

    interruptible, conflict = _interruptible_option(
        _text(item, "skuName"), _text(item, "meterName")
    )
    if conflict:
        return Verdict(rejected=conflict)
    if price_type == "Reservation" and interruptible is not None:
        return Verdict(rejected=f"a reservation of an interruptible meter: {arm_sku_name}")

    sku = lookup(arm_sku_name)
    if sku is None:
        return Verdict(unknown=arm_sku_name)

    region = _text(item, "armRegionName")
    currency = _text(item, "currencyCode")
    if not region:
        return Verdict(rejected=f"{arm_sku_name}: no armRegionName")
    if not currency:
        return Verdict(rejected=f"{arm_sku_name}: no currencyCode")
    option = interruptible or PurchaseOption.ON_DEMAND
    term_name = _text(item, "reservationTerm")
    if price_type == "Reservation":
        option, hours = PurchaseOption.RESERVED, TERM_HOURS.get(term_name)
        if hours is None:
            return Verdict(rejected=f"{arm_sku_name}: unknown reservationTerm {term_name!r}")
    else:
        hours = 0
    retail_price = _price(item.get("retailPrice"))
    if retail_price is None:
        unpriced = [_key(region, sku.name, option, hours)]
        if option is PurchaseOption.ON_DEMAND:  # its savings plans are priced on the same row
            unpriced += [
                _key(region, sku.name, PurchaseOption.SAVINGS_PLAN, h) for h in _plan_terms(item)
            ]
        return Verdict(
            rejected=f"{arm_sku_name}: retailPrice {item.get('retailPrice')!r} is not a price",
            unpriced=unpriced,
        )

    source = {
        "meter_id": _text(item, "meterId"),
        "sku_id": _text(item, "skuId"),
        "product_id": _text(item, "productId"),
        "arm_sku_name": arm_sku_name,
    }
    base: dict[str, Any] = {
        "provider": PROVIDER,
        "region": region,
        "instance_type": sku.name,
        "gpu": sku.gpu,
        "gpu_count": sku.gpu_count,
        "gpu_memory_gb": sku.gpu_memory_gb,
        "vcpus": float(sku.vcpus),
        "memory_gb": sku.memory_gb,
        "interconnect": sku.fabric.name if sku.fabric else None,
        "interconnect_gbps": sku.fabric.gbps if sku.fabric else None,
        "currency": currency,
    }
    effective = _text(item, "effectiveStartDate")

    def priced(option: PurchaseOption, term: int, price: float, **extra: str) -> PricedOffer:
        offer = {
            **base,
            "purchase_option": option.value,
            "term_hours": term,
            "price_per_hour": price,
            "source": {**source, **extra},
        }
        return PricedOffer((region, sku.name, option.value, term), offer, effective)

    if option is PurchaseOption.RESERVED:
        return Verdict(
            offers=[
                priced(
                    option,
                    hours,
                    retail_price / hours,
                    reservation_term=term_name,
                    term_price=repr(retail_price),
                )
            ]
        )
    verdict = Verdict(offers=[priced(option, 0, retail_price)])
    if option is PurchaseOption.ON_DEMAND:
        _add_savings_plans(verdict, item.get("savingsPlan"), arm_sku_name, priced)
    return verdict


def _key(region: str, size: str, option: PurchaseOption, term: int) -> dict[str, Any]:
    """The natural-key fields of an offer, for one the sync keeps at its last good price."""
    return {
        "region": region,
        "instance_type": size,
        "purchase_option": option.value,
        "term_hours": term,
    }


def _plan_terms(item: Mapping[str, Any]) -> list[int]:
    """The term hours of the savings plans a row lists, whatever their rates."""
    plans = item.get("savingsPlan")
    terms = (
        (plan.get("term") for plan in plans if isinstance(plan, dict))
        if isinstance(plans, list)
        else ()
    )
    return [TERM_HOURS[t] for t in terms if isinstance(t, str) and t in TERM_HOURS]


def _add_savings_plans(
    verdict: Verdict,
    plans: object,
    arm_sku_name: str,
    priced: Callable[..., PricedOffer],
) -> None:
    """One savings_plan offer per entry of the row's ``savingsPlan`` array (hourly rates)."""
    if plans is None:
        return
    if not isinstance(plans, list):
        verdict.rejected = f"{arm_sku_name}: savingsPlan is not a list: {plans!r:.80}"
        return
    for plan in plans:
        term_name = plan.get("term") if isinstance(plan, dict) else None
        hours = TERM_HOURS.get(term_name) if isinstance(term_name, str) else None
        rate = _price(plan.get("retailPrice")) if isinstance(plan, dict) else None
        if hours is None or rate is None or not isinstance(term_name, str):
            verdict.rejected = f"{arm_sku_name}: unusable savingsPlan entry {plan!r:.120}"
            if hours is not None:
                first = verdict.offers[0].offer
                verdict.unpriced.append(
                    _key(
                        first["region"], first["instance_type"], PurchaseOption.SAVINGS_PLAN, hours
                    )
                )
            continue
        verdict.offers.append(
            priced(PurchaseOption.SAVINGS_PLAN, hours, rate, savings_plan_term=term_name)
        )


# --- one offer per natural key -------------------------------------------------------------


class OfferSet:
    """Keeps one offer per (region, instance type, purchase option, term) across all pages.

    The API can list the same machine price twice (a meter reissued with a new
    ``effectiveStartDate``, or two spellings of one size). Equal prices merge; otherwise the
    row that took effect later wins. Two rows that took effect at the same time with different
    prices cannot be told apart, so neither is kept: :meth:`add` returns both as conflicts for
    the caller to count as rejected.
    """

    def __init__(self) -> None:
        self._offers: dict[tuple[str, str, str, int], PricedOffer] = {}
        self._conflicted: set[tuple[str, str, str, int]] = set()

    def add(self, new: PricedOffer) -> list[PricedOffer]:
        """Add ``new``; returns the offers dropped because of an unresolvable conflict."""
        if new.key in self._conflicted:
            return [new]
        old = self._offers.get(new.key)
        if old is None or new.effective_start > old.effective_start:
            self._offers[new.key] = new
            return []
        if new.price == old.price or new.effective_start < old.effective_start:
            return []
        del self._offers[new.key]
        self._conflicted.add(new.key)
        return [old, new]

    def offers(self) -> list[dict[str, Any]]:
        return [priced.offer for priced in self._offers.values()]

    def __len__(self) -> int:
        return len(self._offers)
