"""Reading Cloud Billing SKUs: which part of a GPU machine a SKU prices, and at what hourly rate.

A Compute Engine SKU is one price for one resource ("A3 Instance Core running in Americas": per
vCPU-hour in three regions). :func:`parse_sku` makes a :class:`PricedSku` of one or says why it
is skipped (:class:`Skipped`). Only exact, known names are used: a small grammar takes the
description apart and the name must be in :data:`PAYG_NAMES` / :data:`COMMITMENT_NAMES`, so
"Nvidia Tesla A100 GPU" and "Nvidia Tesla A100 80GB GPU" cannot be confused; variants whose
price is not a predefined machine's (:data:`VARIANT_MARKERS`) are refused before that. Usage
types, tiers, units, currencies and regions: docs/providers/gcp.md, "Reading a SKU".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from aggregator.models import HOURS_PER_YEAR, PurchaseOption

__all__ = [
    "COMMITMENT_NAMES",
    "GPU_SKU_NAMES",
    "LOCAL_SSD_KEY",
    "PAYG_NAMES",
    "SERVICE_ID",
    "VARIANT_MARKERS",
    "Component",
    "PricedSku",
    "Resource",
    "SkipKind",
    "Skipped",
    "classify",
    "hours_per_usage_unit",
    "money",
    "ordinary_rate",
    "parse_sku",
]

#: The Compute Engine service in the Cloud Billing catalog.
SERVICE_ID = "6F81-5844-456A"


class Resource(StrEnum):
    """What a SKU's rate is per: a vCPU-hour, a GiB-hour of RAM, a GPU-hour, a GiB of SSD."""

    CORE = "core"
    RAM = "ram"
    GPU = "gpu"
    LOCAL_SSD = "local_ssd"


@dataclass(frozen=True, slots=True)
class Component:
    """The part of a machine a SKU prices.

    ``key`` is the host family for cores and RAM (``"A3"``, ``"N1"``), the GCE accelerator
    type for GPUs (``"nvidia-h100-80gb"``) and ``"local-ssd"`` for local SSD.
    """

    resource: Resource
    key: str
    option: PurchaseOption
    term_hours: int = 0


class SkipKind(StrEnum):
    """Why a SKU is not used. Only MALFORMED and CURRENCY are rejects (counted as bad rows)."""

    IRRELEVANT = "irrelevant"  # prices nothing a GPU machine we know is made of
    USAGE_TYPE = "usage_type"  # CmtCudPremium, 5-year commitments, ...
    VARIANT = "variant"  # a variant that must never be used (custom, DWS, sole tenancy, ...)
    UNKNOWN_GPU = "unknown_gpu"  # a GPU SKU our tables do not know: reported, never guessed
    MALFORMED = "malformed"  # a SKU we would use, but cannot read or that contradicts itself
    CURRENCY = "currency"  # priced in another currency than the one requested


@dataclass(frozen=True, slots=True)
class Skipped:
    kind: SkipKind
    reason: str
    subject: str = ""  # the SKU name without location, for de-duplicated reports
    component: Component | None = None  # of a SKU we would use whose price is unusable
    regions: tuple[str, ...] = ()  # where that SKU applies

    @property
    def is_reject(self) -> bool:
        return self.kind in (SkipKind.MALFORMED, SkipKind.CURRENCY)


@dataclass(frozen=True, slots=True)
class PricedSku:
    """A usable SKU: its component, the regions it applies to and its rate per hour.

    ``price_per_hour`` is per vCPU-hour (CORE), GiB-hour (RAM and LOCAL_SSD) or GPU-hour.
    """

    sku_id: str
    description: str
    component: Component
    regions: tuple[str, ...]
    price_per_hour: float
    currency: str
    observed_at: datetime | None = None  # when the page it came on was received


# --- names ---------------------------------------------------------------------------------

#: GPU SKU names (description without location / spot / commitment words) -> accelerator type.
#: "H100 80GB Plus" and "H100 80GB Mega" are the same a3-megagpu GPU (docs/providers/gcp.md).
GPU_SKU_NAMES: dict[str, str] = {
    "Nvidia Tesla A100 GPU": "nvidia-tesla-a100",
    "Nvidia Tesla A100 80GB GPU": "nvidia-a100-80gb",
    "Nvidia H100 80GB GPU": "nvidia-h100-80gb",
    "Nvidia H100 80GB Mega GPU": "nvidia-h100-mega-80gb",
    "Nvidia H100 80GB Plus GPU": "nvidia-h100-mega-80gb",
    "H200 141GB GPU": "nvidia-h200-141gb",
    "A4 Nvidia B200 (1 gpu slice)": "nvidia-b200",
    "Nvidia L4 GPU": "nvidia-l4",
    "Nvidia Tesla T4 GPU": "nvidia-tesla-t4",
    "Nvidia Tesla V100 GPU": "nvidia-tesla-v100",
    "Nvidia Tesla P100 GPU": "nvidia-tesla-p100",
    "Nvidia Tesla P4 GPU": "nvidia-tesla-p4",
}
_HOST_FAMILIES = ("A2", "A3", "A3Plus", "A3Ultra", "G2")
LOCAL_SSD_KEY = "local-ssd"

#: Names of on-demand / spot SKUs -> (resource, key).
PAYG_NAMES: dict[str, tuple[Resource, str]] = {
    **{f"{f} Instance Core": (Resource.CORE, f) for f in _HOST_FAMILIES},
    **{f"{f} Instance Ram": (Resource.RAM, f) for f in _HOST_FAMILIES},
    "N1 Predefined Instance Core": (Resource.CORE, "N1"),
    "N1 Predefined Instance Ram": (Resource.RAM, "N1"),
    **{name: (Resource.GPU, accelerator) for name, accelerator in GPU_SKU_NAMES.items()},
    "SSD backed Local Storage": (Resource.LOCAL_SSD, LOCAL_SSD_KEY),
}
#: Names inside "Commitment v1: <name> in <location> for <n> Year(s)" -> (resource, key).
COMMITMENT_NAMES: dict[str, tuple[Resource, str]] = {
    **{f"{f} Cpu": (Resource.CORE, f) for f in (*_HOST_FAMILIES, "N1")},
    **{f"{f} Ram": (Resource.RAM, f) for f in (*_HOST_FAMILIES, "N1")},
    **{name: (Resource.GPU, accelerator) for name, accelerator in GPU_SKU_NAMES.items()},
    "Local SSD": (Resource.LOCAL_SSD, LOCAL_SSD_KEY),
}

#: Words that mark a SKU variant whose price is not the ordinary price of a predefined,
#: shared-tenancy machine. Any match and the SKU is not used.
VARIANT_MARKERS: dict[str, tuple[str, str]] = {
    "custom": (r"\bcustom\b", "custom machine shape (priced above predefined shapes)"),
    "extended": (r"\bextended\b", "extended memory"),
    "sole_tenancy": (r"\bsole[ -]?tenan", "sole-tenant node"),
    "dws": (
        r"\bdws\b|dynamic workload scheduler|defined duration",
        "Dynamic Workload Scheduler capacity",
    ),
    "flex": (r"\bflex\b|flex[ -]?start", "flex-start capacity"),
    "calendar": (r"calendar mode", "calendar-mode reservation"),
    "reserved": (r"\breserved\b|\breservation", "capacity reservation"),
    "premium": (r"\bpremium\b|\bupgrade\b|\bsurcharge\b", "premium or surcharge"),
    "vws": (r"virtual workstation|\bvws\b", "virtual workstation (includes an RTX vWS licence)"),
}
_VARIANTS = re.compile(
    "|".join(f"(?P<{name}>{pattern})" for name, (pattern, _) in VARIANT_MARKERS.items()),
    re.IGNORECASE,
)

_USAGE_TYPES: dict[str, tuple[PurchaseOption, int]] = {
    "OnDemand": (PurchaseOption.ON_DEMAND, 0),
    "Preemptible": (PurchaseOption.SPOT, 0),
    "Commit1Yr": (PurchaseOption.COMMITTED, HOURS_PER_YEAR),
    "Commit3Yr": (PurchaseOption.COMMITTED, 3 * HOURS_PER_YEAR),
}
_COMMITMENT = re.compile(
    r"^Commitment v1: (?P<what>.+?) in (?P<where>.+) for (?P<years>\d+) Years?$"
)
_SPOT_PREFIX = "Spot Preemptible "
_SPOT_INFIX = re.compile(r" attached to (?:Spot )?Preemptible VMs", re.IGNORECASE)
_LOCATED = re.compile(r"^(?P<what>.+?)(?: running)? in (?P<where>.+)$")

_RESOURCE_GROUPS: dict[Resource, frozenset[str]] = {
    Resource.CORE: frozenset({"CPU", "N1Standard"}),
    Resource.RAM: frozenset({"RAM", "N1Standard"}),
    Resource.GPU: frozenset({"GPU"}),
    Resource.LOCAL_SSD: frozenset({"LocalSSD"}),
}
_USAGE_UNITS: dict[Resource, frozenset[str]] = {
    Resource.CORE: frozenset({"h"}),
    Resource.RAM: frozenset({"GiBy.h"}),
    Resource.GPU: frozenset({"h"}),
    Resource.LOCAL_SSD: frozenset({"GiBy.mo", "GiBy.h"}),
}


# --- classification ------------------------------------------------------------------------


def classify(description: str, usage_type: str, resource_group: str = "") -> Component | Skipped:
    """The component a SKU description and usage type name, or why the SKU is not used.

    ``resource_group`` (``category.resourceGroup``) only decides whether a name we do not
    know is an unknown GPU (reported) or simply irrelevant.
    """
    if _VARIANTS.search(description):
        markers = dict.fromkeys(m.lastgroup or "" for m in _VARIANTS.finditer(description))
        reason = ", ".join(VARIANT_MARKERS[marker][1] for marker in markers)
        return Skipped(SkipKind.VARIANT, reason, description)
    usage = _USAGE_TYPES.get(usage_type)
    if usage is None:
        return Skipped(SkipKind.USAGE_TYPE, f"usage type {usage_type!r} is not used")
    option, term_hours = usage

    years = 0
    if commitment := _COMMITMENT.match(description):
        what = commitment["what"].removesuffix(" running")
        names, described = COMMITMENT_NAMES, PurchaseOption.COMMITTED
        if "preemptible" in what.lower() or "spot" in what.lower():
            return Skipped(SkipKind.VARIANT, "a commitment on spot capacity", description)
        years = int(commitment["years"])
    else:
        spot = description.startswith(_SPOT_PREFIX) or _SPOT_INFIX.search(description) is not None
        text = _SPOT_INFIX.sub("", description.removeprefix(_SPOT_PREFIX))
        located = _LOCATED.match(text)
        what = located["what"] if located else text
        names = PAYG_NAMES
        described = PurchaseOption.SPOT if spot else PurchaseOption.ON_DEMAND
        if spot and option is PurchaseOption.COMMITTED:
            return Skipped(SkipKind.VARIANT, "a commitment on spot capacity", description)
        if spot and option is PurchaseOption.ON_DEMAND:
            option = PurchaseOption.SPOT  # the real A4 spot SKUs are tagged OnDemand

    found = names.get(what)
    if found is None:
        kind = SkipKind.UNKNOWN_GPU if resource_group == "GPU" else SkipKind.IRRELEVANT
        return Skipped(kind, f"{what!r} is not a SKU name gpuhours uses", what)
    if described is not option:
        return Skipped(
            SkipKind.MALFORMED,
            f"description says {described.value} but usage type is {usage_type}",
            what,
        )
    if years and years * HOURS_PER_YEAR != term_hours:
        return Skipped(
            SkipKind.MALFORMED, f"says {years} years but usage type is {usage_type}", what
        )
    resource, key = found
    return Component(resource, key, option, term_hours)


# --- prices --------------------------------------------------------------------------------


def money(unit_price: Mapping[str, Any]) -> float:
    """A ``google.type.Money`` as a number: ``units`` (int64, sent as a string) + ``nanos``.

    Computed as one division of an exact integer, so ``units "2", nanos 933908000`` is the
    float nearest to 2.933908. Raises ``ValueError`` for nanos out of range or with a sign
    that disagrees with units.
    """
    units = int(unit_price.get("units") or 0)
    nanos = int(unit_price.get("nanos") or 0)
    if not -999_999_999 <= nanos <= 999_999_999:
        raise ValueError(f"nanos {nanos} out of range")
    if units and nanos and (units > 0) != (nanos > 0):
        raise ValueError(f"units {units} and nanos {nanos} have different signs")
    return (units * 1_000_000_000 + nanos) / 1e9


def ordinary_rate(tiered_rates: Sequence[Mapping[str, Any]]) -> tuple[float, str]:
    """The rate and currency that ordinary, sustained usage pays.

    Tiers are ordered by ``startUsageAmount``. Compute Engine's core, RAM and GPU SKUs have a
    single tier starting at 0. Where there are more, the first tiers are free allowances (the
    recorded catalog's only 2-tier SKUs are "Storage PD Capacity" / "Storage PD Snapshot":
    $0 for the first 30 / 5 GiB-months, then the list price). So the rate is that of the
    first tier with a price above zero: free allowances are not mistaken for the price, and
    volume discounts that only large usage reaches (later, cheaper tiers) are not assumed.
    Returns 0.0 when every tier is free.
    """
    if not tiered_rates:
        raise ValueError("no tiered rates")
    tiers = sorted(tiered_rates, key=lambda tier: float(tier.get("startUsageAmount") or 0))
    currency = ""
    for tier in tiers:
        unit_price = tier["unitPrice"]
        currency = str(unit_price.get("currencyCode", ""))
        price = money(unit_price)
        if price > 0:
            return price, currency
    return 0.0, currency


_GIB = 2**30
_SECONDS_PER_HOUR = 3600


def hours_per_usage_unit(expression: Mapping[str, Any]) -> float:
    """How many hours one ``usageUnit`` of a pricing expression spans.

    ``h`` and ``GiBy.h`` span one hour; if the expression carries ``baseUnitConversionFactor``
    it must say so (3,600 s; 2^30 B x 3,600 s). ``GiBy.mo`` is defined by its factor: the
    catalog's 2783138807808000 byte-seconds are 2^30 bytes x 2,592,000 s, i.e. a 720-hour
    (30-day) month, not the 730 hours pricing pages use. A month without a factor is refused
    rather than guessed. Raises ``ValueError`` for anything else.
    """
    unit = expression.get("usageUnit")
    factor = expression.get("baseUnitConversionFactor")
    if unit == "h":
        expected = float(_SECONDS_PER_HOUR)
    elif unit == "GiBy.h":
        expected = float(_GIB * _SECONDS_PER_HOUR)
    elif unit == "GiBy.mo":
        if factor is None or expression.get("baseUnit") != "By.s":
            raise ValueError("a GiBy.mo price without a byte-second conversion factor")
        hours = float(factor) / _GIB / _SECONDS_PER_HOUR
        if not 600 <= hours <= 800:
            raise ValueError(f"a month of {hours:g} hours")
        return hours
    else:
        raise ValueError(f"unsupported usage unit {unit!r}")
    if factor is not None and float(factor) != expected:
        raise ValueError(f"{unit} with conversion factor {factor}, expected {expected:g}")
    return 1.0


def _latest(pricing_info: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    # The API returns the current price only, but a list allows history: take the newest.
    def when(info: Mapping[str, Any]) -> str:
        return str(info.get("effectiveTime") or info.get("EffectiveTime") or "")

    return max(reversed(pricing_info), key=when)


def parse_sku(raw: Mapping[str, Any], *, currency: str = "USD") -> PricedSku | Skipped:
    """A SKU object from the API as a :class:`PricedSku`, or why it is not used.

    SKUs priced in another currency than ``currency`` (the one requested) are rejected, not
    converted: ``currencyConversionRate`` "includes any surcharge collected for billing in
    non USD currency", so dividing by it does not give back the list price, and the feed
    always asks for USD, the currency Google publishes list prices in. Such a SKU means a
    mirror or proxy ignored ``currencyCode``, which should be seen, not papered over.
    """
    try:
        description = str(raw["description"])
        category = raw["category"]
        usage_type = str(category["usageType"])
        resource_group = str(category.get("resourceGroup", ""))
    except (KeyError, TypeError, AttributeError):
        return Skipped(SkipKind.MALFORMED, "no description or category")
    provider = raw.get("serviceProviderName")
    if provider is not None and provider != "Google":
        return Skipped(SkipKind.IRRELEVANT, f"sold by {provider!r}, not Google")

    found = classify(description, usage_type, resource_group)
    if isinstance(found, Skipped):
        return found
    if resource_group not in _RESOURCE_GROUPS[found.resource]:
        return Skipped(
            SkipKind.MALFORMED, f"a {found.resource.value} SKU in resource group {resource_group!r}"
        )
    try:
        listed = raw.get("serviceRegions") or (raw.get("geoTaxonomy") or {}).get("regions") or []
        if not isinstance(listed, list):
            raise TypeError("serviceRegions is not a list")
        regions = tuple(listed)
    except (TypeError, AttributeError) as exc:
        return Skipped(SkipKind.MALFORMED, f"unreadable regions: {type(exc).__name__}: {exc}")
    if not regions or not all(isinstance(region, str) and region for region in regions):
        return Skipped(SkipKind.MALFORMED, "names no region")
    try:
        sku_id = str(raw["skuId"])
        info = _latest(raw["pricingInfo"])
        expression = info["pricingExpression"]
        if expression.get("usageUnit") not in _USAGE_UNITS[found.resource]:
            raise ValueError(f"a {found.resource.value} priced per {expression.get('usageUnit')!r}")
        price, price_currency = ordinary_rate(expression["tieredRates"])
        price_per_hour = price / hours_per_usage_unit(expression)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        reason = f"unreadable price: {type(exc).__name__}: {exc}"
        return Skipped(SkipKind.MALFORMED, reason, component=found, regions=regions)
    if price_currency != currency:
        return Skipped(
            SkipKind.CURRENCY, f"priced in {price_currency!r}, not the requested {currency}"
        )
    if not price_per_hour > 0:  # also NaN
        reason = "no tier has a price above zero"
        return Skipped(SkipKind.MALFORMED, reason, component=found, regions=regions)
    return PricedSku(sku_id, description, found, regions, price_per_hour, price_currency)
