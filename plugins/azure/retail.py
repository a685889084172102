"""Reading the Azure Retail Prices API: the query, the pages, and what each row is.

Paging (:func:`iter_pages`): the first request is built by :func:`first_urls`; after that every
request is exactly the ``NextPageLink`` the previous page returned (the API emits odd links such
as ``$top=-980&$skip=1000`` and page sizes vary, so nothing is rebuilt or assumed) until the link
is null. The chain is guarded by :class:`aggregator.http.paging.PageChain`: a link seen twice,
20 empty pages in a row that still link onward, far more pages than the chain has sent in any
good sync (4 x the most, at least 50; the most is kept per region in the feed's state), or more
than ``max_pages`` end the fetch with an error rather than loop. Setting
``GPUHOURS_AZURE_MAX_PAGES`` explicitly lifts the learned limit, for a feed that really grew
(the API sends 1000 items a page, so all GPU sizes are some tens of pages).

HTTP 429 is retried by the shared client (honouring ``Retry-After``); on top of that, when
``x-ms-ratelimit-remaining-retailPrices-requests`` says the budget is nearly spent, the next page
waits a little.

Rows (:func:`classify`): the server-side ``$filter`` only narrows the download; every row is
judged here as if it were unfiltered. A row becomes offers only if it is a Linux,
shared-tenancy, pay-for-the-machine hourly price of a GPU VM size in :mod:`plugins.azure.skus`:

============================  ==========================================================
``serviceName``               must be ``Virtual Machines`` (other services: skipped)
``armSkuName``                must be present and in an Azure GPU family (NC/ND/NG/NV);
                              a GPU-family size the table does not know is *unknown*
``type``                      ``Consumption`` -> on_demand / spot / low_priority;
                              ``Reservation`` -> reserved; ``DevTestConsumption`` and
                              anything else: skipped
``productName``               ending ``Windows`` (licence included), containing
                              ``Dedicated Host`` / ``DedicatedHost`` (whole host) or
                              ``Cloud Services`` / ``CloudServices`` (PaaS role price): skipped
``unitOfMeasure``             must be ``1 Hour``; ``tierMinimumUnits`` must be 0 (a higher
                              tier is a volume discount, not the machine's list price)
``skuName`` / ``meterName``   ending `` Spot`` -> spot, `` Low Priority`` -> low_priority
============================  ==========================================================

Prices: a Consumption row's ``retailPrice`` is per hour. A Reservation row's ``retailPrice`` is
the price of the **whole term**, so ``price_per_hour = retailPrice / term hours`` (1 Year =
8760, 3 Years = 26280, 5 Years = 43800). Azure bills the same total whether a reservation is
paid upfront or monthly, so the payment choice does not change the price: reserved offers carry
``payment=None`` and ``upfront=0`` ("price of the commitment, payment schedule not
distinguished"), and the exact whole-term figure stays in ``source["term_price"]``. The
``savingsPlan`` array of an on-demand row holds *hourly* rates per term; each becomes a
``savings_plan`` offer. Nothing here is billed per second or minute by a documented rule, so
``billing`` is left unset.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import httpx

from aggregator.errors import ProviderResponseError
from aggregator.http.paging import PageChain
from aggregator.http.received import received_at
from aggregator.models import HOURS_PER_YEAR, PurchaseOption
from plugins.azure.skus import looks_like_gpu, lookup

__all__ = [
    "API_VERSION",
    "BASE_FILTER",
    "PROVIDER",
    "RATELIMIT_HEADER",
    "TERM_HOURS",
    "OfferSet",
    "Page",
    "PricedOffer",
    "Sleep",
    "Verdict",
    "classify",
    "first_urls",
    "iter_pages",
    "page_chain",
    "parse_page",
    "remaining_requests",
]

API_VERSION: Final = "2023-01-01-preview"
RATELIMIT_HEADER: Final = "x-ms-ratelimit-remaining-retailPrices-requests"
PROVIDER: Final = "azure"

# Only the download is narrowed by this; classify() judges every row on its own.
BASE_FILTER: Final = "serviceName eq 'Virtual Machines' and startswith(armSkuName, 'Standard_N')"

TERM_HOURS: Final[dict[str, int]] = {
    "1 Year": HOURS_PER_YEAR,
    "3 Years": 3 * HOURS_PER_YEAR,
    "5 Years": 5 * HOURS_PER_YEAR,
}

_REGION_NAME: Final = re.compile(r"^[a-z0-9]+$")

Sleep = Callable[[float], Awaitable[None]]


# --- requests and pages ------------------------------------------------------------------


def first_urls(base_url: str, regions: tuple[str, ...] = ()) -> list[str]:
    """The first request of each page chain: one for all regions, or one per listed region.

    The filter is percent-encoded here (``%20``, ``%27``) as the API's own links are; region
    names are checked so nothing can be injected into the OData expression.
    """
    filters = [BASE_FILTER]
    if regions:
        bad = [r for r in regions if not _REGION_NAME.match(r)]
        if bad:
            raise ValueError(
                f"GPUHOURS_AZURE_REGIONS: {', '.join(map(repr, bad))} is not an Azure "
                "armRegionName (lower-case letters and digits, e.g. eastus2)"
            )
        filters = [f"{BASE_FILTER} and armRegionName eq '{region}'" for region in regions]
    separator = "&" if "?" in base_url else "?"
    return [
        f"{base_url}{separator}api-version={API_VERSION}"
        f"&$filter={urllib.parse.quote(expression, safe='')}"
        for expression in filters
    ]


@dataclass(frozen=True)
class Page:
    """One page of the API: its items (not yet judged) and the link to the next page."""

    items: list[Any]
    next_link: str | None
    received_at: datetime | None = None  # when the response was received (its stamp)


def parse_page(body: bytes, *, url: str = "") -> Page:
    """Decode one response body; anything but the documented envelope is an error."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProviderResponseError(
            f"Azure Retail Prices answered with a body that is not JSON ({exc})", url=url or None
        ) from exc
    if not isinstance(document, dict) or not isinstance(document.get("Items"), list):
        raise ProviderResponseError(
            "Azure Retail Prices answered without an 'Items' list; the API may have changed, "
            "or GPUHOURS_AZURE_PRICES_URL points at something else",
            url=url or None,
        )
    next_link = document.get("NextPageLink")
    if next_link is not None and not isinstance(next_link, str):
        raise ProviderResponseError(
            f"Azure Retail Prices sent a NextPageLink that is not a string: {next_link!r}",
            url=url or None,
        )
    return Page(items=document["Items"], next_link=next_link or None)


def remaining_requests(headers: httpx.Headers) -> int | None:
    """The rate-limit budget the API reports, or None when it does not say (or says nonsense)."""
    value = headers.get(RATELIMIT_HEADER)
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


async def iter_pages(
    client: httpx.AsyncClient,
    url: str,
    *,
    max_pages: int,
    low_water: int,
    pause_seconds: float,
    sleep: Sleep,
    on_pause: Callable[[int, float], None] | None = None,
    chain: PageChain | None = None,
) -> AsyncIterator[Page]:
    """Every page of one chain, following ``NextPageLink`` exactly as given until it is null.

    ``chain`` guards the chain (see :func:`page_chain`); without one, only a repeated link, a
    run of empty pages and ``max_pages`` stop it.
    """
    chain = chain if chain is not None else page_chain(max_pages)
    next_url: str | None = url
    while next_url is not None:
        chain.before_page(next_url, next_url)
        response = await client.get(next_url)
        page = parse_page(response.content, url=str(response.request.url))
        page = dataclasses.replace(page, received_at=received_at(response))
        yield page
        chain.after_page(len(page.items), links_onward=page.next_link is not None, url=next_url)
        remaining = remaining_requests(response.headers)
        if page.next_link is not None and remaining is not None and remaining <= low_water:
            if on_pause is not None:
                on_pause(remaining, pause_seconds)
            await sleep(pause_seconds)
        next_url = page.next_link
    chain.finished()


def page_chain(
    max_pages: int,
    *,
    state: MutableMapping[str, str] | None = None,
    region: str = "",
    learned: bool = True,
) -> PageChain:
    """The guard of one chain: the most pages it sent is kept in ``state`` per region (or all)."""
    return PageChain(
        "Azure Retail Prices",
        link_name="NextPageLink",
        max_pages=max_pages,
        max_pages_hint="GPUHOURS_AZURE_MAX_PAGES",
        state=state,
        state_key=f"pages:{region or 'all'}",
        learned=learned,
        provider=PROVIDER,
    )


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
    """Judge one API item (see the module docstring for the rules)."""
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
