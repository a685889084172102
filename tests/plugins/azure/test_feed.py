"""The ``azure/retail`` feed end to end: paging, 429s, rate-limit pauses, through the shared client.

Every response body is the real recorded eastus2 page (or a split of its real items across
pages, with the real ``NextPageLink``), served by respx routes (paging and 429 sequences) or a
plain handler, through an ``httpx.MockTransport`` injected into the same client
``aggregator.http.make_client`` builds in production.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

import plugins.azure
from aggregator.errors import ConfigurationError, ProviderRateLimited, ProviderResponseError
from aggregator.http import make_client
from aggregator.models import Offer, SyncStatus
from aggregator.plugins import load_registry
from aggregator.providers import FetchContext
from aggregator.settings import Settings
from plugins.azure import AzureProvider, RetailFeed
from plugins.azure.pages import RATELIMIT_HEADER
from plugins.azure.retail import classify
from plugins.azure.settings import AzureSettings
from tests import paths

FIXTURES = paths.FIXTURES / "azure"
EASTUS2 = json.loads((FIXTURES / "virtual_machines_eastus2.json").read_bytes())
REAL_NEXT_LINK: str = EASTUS2["NextPageLink"]
BASE = "https://prices.azure.com/api/retail/prices"

Handler = Callable[[httpx.Request], httpx.Response]


def page(items: list[Any], next_link: str | None, **headers: str) -> httpx.Response:
    """A page in the real envelope (BillingCurrency, CustomerEntity*, Items, NextPageLink)."""
    body = {**EASTUS2, "Items": items, "NextPageLink": next_link, "Count": len(items)}
    return httpx.Response(
        200,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json", **headers},
    )


def two_pages(first: httpx.Response, second: httpx.Response) -> respx.MockRouter:
    """The first URL answers ``first``, the real ``NextPageLink`` answers ``second``.

    Routes are tried in order: the link's comes first, as the first URL's matches any query.
    """
    router = respx.MockRouter()
    router.get(REAL_NEXT_LINK, name="next").mock(return_value=second)
    router.get(BASE, name="first").mock(return_value=first)
    return router


class Run:
    """One fetch of the feed: what it yielded, what it reported, what it asked for and waited."""

    def __init__(self) -> None:
        self.offers: list[dict[str, Any]] = []
        self.requests: list[httpx.Request] = []
        self.client_sleeps: list[float] = []
        self.feed_sleeps: list[float] = []
        self.ctx: FetchContext | None = None

    @property
    def keys(self) -> list[tuple[str, str, str, int]]:
        return sorted(
            (o["region"], o["instance_type"], o["purchase_option"], o["term_hours"])
            for o in self.offers
        )


def fetch(handler: Handler, *, retries: int = 0, **azure: Any) -> Run:
    run = Run()

    def recording(request: httpx.Request) -> httpx.Response:
        run.requests.append(request)
        return handler(request)

    async def client_sleep(seconds: float) -> None:
        run.client_sleeps.append(seconds)

    async def feed_sleep(seconds: float) -> None:
        run.feed_sleeps.append(seconds)

    async def go() -> None:
        client = make_client(
            Settings(http_retries=retries),
            transport=httpx.MockTransport(recording),
            sleep=client_sleep,
        )
        async with client:
            run.ctx = FetchContext(
                client=client, feed_id="azure/retail", settings=AzureSettings(**azure)
            )
            async for offer in RetailFeed(sleep=feed_sleep).fetch(run.ctx):
                run.offers.append(dict(offer))

    asyncio.run(go())
    return run


def expected_keys(items: list[Any]) -> list[tuple[str, str, str, int]]:
    return sorted(p.key for item in items for p in classify(item).offers)


ALL_ITEMS: list[Any] = EASTUS2["Items"]
ALL_KEYS = expected_keys(ALL_ITEMS)


# --- paging --------------------------------------------------------------------------------


def test_pages_are_followed_through_the_real_next_page_link_exactly() -> None:
    first, second = ALL_ITEMS[:400], ALL_ITEMS[400:]
    router = two_pages(page(first, REAL_NEXT_LINK), page(second, None))

    run = fetch(router.handler)
    assert (router["first"].call_count, router["next"].call_count) == (1, 1)
    assert len(router.calls) == 2
    first_request, second_request = (call.request for call in router.calls)
    assert first_request.url.params["api-version"] == "2023-01-01-preview"
    assert first_request.url.params["$filter"] == (
        "serviceName eq 'Virtual Machines' and startswith(armSkuName, 'Standard_N')"
    )
    # The link is sent as given: same encoded query, odd $top=-980 included.
    assert second_request.url.query == httpx.URL(REAL_NEXT_LINK).query
    assert second_request.url.query.endswith(b"&$top=-980&$skip=1000")
    assert run.keys == ALL_KEYS and len(ALL_KEYS) == 12
    for offer in run.offers:
        Offer.model_validate(offer)


def test_page_sizes_are_not_assumed() -> None:
    links = [f"{BASE}?page={n}" for n in range(3)]
    sizes = {
        None: ALL_ITEMS[:1],
        links[0]: [],
        links[1]: ALL_ITEMS[1:999],
        links[2]: ALL_ITEMS[999:],
    }
    chain = {None: links[0], links[0]: links[1], links[1]: links[2], links[2]: None}
    router = respx.MockRouter()  # the links' routes first: the first URL's matches any query
    link_routes = [
        router.get(link).mock(return_value=page(sizes[link], chain[link])) for link in links
    ]
    first_route = router.get(BASE).mock(return_value=page(sizes[None], chain[None]))

    run = fetch(router.handler)
    assert [route.call_count for route in (first_route, *link_routes)] == [1, 1, 1, 1]
    assert len(router.calls) == 4 and run.keys == ALL_KEYS


def test_a_next_page_link_seen_before_ends_the_fetch_instead_of_looping() -> None:
    router = respx.MockRouter()
    route = router.get(BASE).mock(return_value=page(ALL_ITEMS[:10], REAL_NEXT_LINK))

    with pytest.raises(ProviderResponseError, match="already sent"):
        fetch(router.handler)
    assert route.call_count == 2  # the first URL and the link, which is not sent again


def test_paging_stops_with_an_error_after_max_pages() -> None:
    router = respx.MockRouter()
    route = router.get(BASE).mock(side_effect=[page([], f"{BASE}?n={n}") for n in (1, 2, 3)])

    with pytest.raises(ProviderResponseError, match="GPUHOURS_AZURE_MAX_PAGES"):
        fetch(router.handler, max_pages=3)
    assert route.call_count == 3


def test_a_body_that_is_not_the_page_envelope_fails_the_fetch() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"<html>maintenance</html>")

    with pytest.raises(ProviderResponseError, match="not JSON"):
        fetch(handler)


# --- 429 and the rate-limit budget -----------------------------------------------------------


def test_429_with_retry_after_is_retried_after_the_asked_wait() -> None:
    router = respx.MockRouter()
    route = router.get(BASE).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "3"}, json={"Error": "Too many requests"}),
            page(ALL_ITEMS, None),
        ]
    )
    run = fetch(router.handler, retries=2)
    assert route.call_count == 2 and run.client_sleeps == [3.0]
    assert run.keys == ALL_KEYS


def test_429_without_retry_after_backs_off_then_succeeds() -> None:
    router = respx.MockRouter()
    route = router.get(BASE).mock(side_effect=[httpx.Response(429), page(ALL_ITEMS, None)])
    run = fetch(router.handler, retries=2)
    assert route.call_count == 2 and len(run.client_sleeps) == 1
    assert 0.25 <= run.client_sleeps[0] <= 0.5  # first backoff step, with jitter
    assert run.keys == ALL_KEYS


def test_429_that_outlasts_the_retries_is_a_rate_limited_error() -> None:
    router = respx.MockRouter()
    route = router.get(BASE).respond(429, headers={"Retry-After": "2"})  # every attempt

    with pytest.raises(ProviderRateLimited) as caught:
        fetch(router.handler, retries=2)
    assert route.call_count == 3
    assert caught.value.retry_after == 2.0


@pytest.mark.parametrize(
    ("remaining", "settings", "pauses"),
    [
        ("2", {}, [10.0]),
        ("5", {"ratelimit_low_water": 5, "ratelimit_pause_seconds": 1.5}, [1.5]),
        ("100", {}, []),
        ("not-a-number", {}, []),
    ],
)
def test_a_low_rate_limit_budget_slows_the_next_page(
    remaining: str, settings: dict[str, Any], pauses: list[float]
) -> None:
    router = two_pages(
        page(ALL_ITEMS[:500], REAL_NEXT_LINK, **{RATELIMIT_HEADER: remaining}),
        page(ALL_ITEMS[500:], None, **{RATELIMIT_HEADER: "0"}),  # the last page: nothing follows
    )

    run = fetch(router.handler, **settings)
    assert (router["first"].call_count, router["next"].call_count) == (1, 1)
    assert run.feed_sleeps == pauses and run.client_sleeps == []
    assert run.keys == ALL_KEYS


# --- what the feed yields and reports -----------------------------------------------------------


def test_unknown_gpu_sizes_are_reported_once_per_size_and_duplicates_merge() -> None:
    # The same real items twice (two pages): every offer once, every unknown size once.
    router = two_pages(page(ALL_ITEMS, REAL_NEXT_LINK), page(ALL_ITEMS, None))

    run = fetch(router.handler)
    assert (router["first"].call_count, router["next"].call_count) == (1, 1)
    assert run.keys == ALL_KEYS
    assert run.ctx is not None and run.ctx.rejects == []
    assert sorted(what for what, _ in run.ctx.unknowns) == [
        "Azure VM size Standard_ND128isr_GB300_v6",
        "Azure VM size Standard_ND96is_MI300X_v5",
    ]


def test_two_prices_for_one_offer_are_rejected_not_picked() -> None:
    row = next(
        i
        for i in ALL_ITEMS
        if i["armSkuName"] == "Standard_NC48ads_A100_v4" and i["type"] == "Consumption"
    )
    clash = {**row, "retailPrice": 9.99, "meterId": "clash"}

    def handler(request: httpx.Request) -> httpx.Response:
        return page([*ALL_ITEMS, clash], None)

    run = fetch(handler)
    assert ("eastus2", "Standard_NC48ads_A100_v4", "on_demand", 0) not in run.keys
    assert run.ctx is not None and len(run.ctx.rejects) == 2
    assert ("eastus2", "Standard_NC48ads_A100_v4", "savings_plan", 8760) in run.keys


def test_region_allowlist_narrows_the_query_and_is_enforced_on_the_rows() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return page(ALL_ITEMS, None)  # a server that ignores the region filter

    run = fetch(handler, regions="westus, eastus2")
    filters = [r.url.params["$filter"] for r in run.requests]
    assert [f.rsplit(" and ", 1)[1] for f in filters] == [
        "armRegionName eq 'westus'",
        "armRegionName eq 'eastus2'",
    ]
    assert run.keys == ALL_KEYS  # eastus2 rows only, each once

    run = fetch(handler, regions="westus")
    assert run.offers == []


# --- registration, settings and the sync engine ---------------------------------------------------


def test_the_provider_registers_through_its_hook() -> None:
    registry = load_registry(
        Settings(), load_entrypoints=False, extra_plugins=[("azure", plugins.azure)]
    )
    ref = registry.feeds["azure/retail"]
    assert isinstance(ref.provider, AzureProvider) and ref.provider.settings_class is AzureSettings
    assert ref.feed.default_interval.days == 1
    assert ref.provider.not_configured_reason(AzureSettings()) is None


def test_settings_come_from_gpuhours_azure_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPUHOURS_AZURE_PRICES_URL", "http://mirror.test/prices")
    monkeypatch.setenv("GPUHOURS_AZURE_REGIONS", "eastus2,,westeurope,eastus2")
    settings = AzureSettings()
    assert settings.prices_url == "http://mirror.test/prices"
    assert settings.region_allowlist == ("eastus2", "westeurope")
    monkeypatch.setenv("GPUHOURS_AZURE_PRICES_URL", "prices.azure.com")
    with pytest.raises(ConfigurationError, match="GPUHOURS_AZURE_PRICES_URL"):
        AzureSettings()


def test_a_sync_stores_the_real_page_offers(tmp_path: Path) -> None:
    from aggregator.sync import sync_feed
    from db import migrate
    from db.engine import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'gpuhours.db'}")
    migrate.upgrade(engine)
    settings = Settings(http_retries=0)
    registry = load_registry(
        settings, load_entrypoints=False, extra_plugins=[("azure", plugins.azure)]
    )

    async def go() -> Any:
        transport = httpx.MockTransport(lambda request: page(ALL_ITEMS, None))
        async with make_client(settings, transport=transport) as client:
            return await sync_feed(
                registry.feeds["azure/retail"], registry, engine, client, settings
            )

    try:
        outcome = asyncio.run(go())
    finally:
        engine.dispose()
    assert outcome.run.status is SyncStatus.OK, outcome.run.error
    assert (outcome.run.seen, outcome.run.rejected, outcome.run.unknown) == (12, 0, 2)
