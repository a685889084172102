"""The ``gcp/catalog`` feed end to end through the production HTTP client: paging, the API key,
errors, accounting, and its place in the plugin system and the sync engine.

Pages are the fixture pages (``test_gcp_fixtures``); error bodies follow Google's documented
error format (no recording of an error response exists).
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

import plugins.gcp
from aggregator import Feed, FetchContext, Offer, Provider, hookimpl
from aggregator.errors import (
    ConfigurationError,
    ProviderAuthError,
    ProviderResponseError,
    ProviderUnavailable,
)
from aggregator.models import SyncStatus
from aggregator.plugins import load_registry
from aggregator.settings import Settings
from aggregator.sync import sync_feeds
from plugins.gcp import NOT_CONFIGURED, GcpProvider
from plugins.gcp.feed import CatalogFeed
from plugins.gcp.settings import DEFAULT_BILLING_URL, GcpSettings
from tests.plugins.gcp.test_fixtures import (
    API_KEY,
    BASE,
    PAGE_THREE_TOKEN,
    PAGE_TWO_TOKEN,
    SKUS_URL,
    CatalogServer,
    catalog_routes,
    constructed,
    fetch,
    fixture_run,
    json_response,
    page_bodies,
    real,
)

# --- paging ---------------------------------------------------------------------------------------


def test_pages_are_followed_until_the_token_is_empty() -> None:
    router = respx.MockRouter()
    pages = catalog_routes(router)
    run = fetch(router.handler)
    assert [page.call_count for page in pages] == [1, 1, 1]
    requests = [call.request for call in router.calls]
    assert [str(r.url.copy_with(query=None)) for r in requests] == [SKUS_URL] * 3
    assert [r.url.params.get("pageToken") for r in requests] == [
        None,
        PAGE_TWO_TOKEN,
        PAGE_THREE_TOKEN,
    ]
    for request in requests:
        assert request.method == "GET"
        assert request.url.params["key"] == API_KEY
        assert request.url.params["currencyCode"] == "USD"
        assert request.url.params["pageSize"] == "5000"
    # offers from each page: A100 machines need page 1 (real A100 SKU), a3 page 2, L4 page 3
    assert run.has("a2-highgpu-1g", "us-central1")
    assert run.has("a3-highgpu-8g", "us-east4")
    assert run.has("g2-standard-4", "us-central1")
    assert len(run.offers) == len(fixture_run().offers) == 598


def test_the_query_string_is_exactly_what_the_api_expects() -> None:
    router = respx.MockRouter()
    catalog_routes(router)
    fetch(router.handler)
    assert router.calls[0].request.url.query.decode() == (
        f"key={API_KEY}&currencyCode=USD&pageSize=5000"
    )
    assert (
        router.calls[1]
        .request.url.query.decode()
        .startswith(f"key={API_KEY}&currencyCode=USD&pageSize=5000&pageToken=")
    )


def test_a_mirror_base_url_is_used_as_given() -> None:
    server = CatalogServer()
    settings = GcpSettings(api_key=API_KEY, billing_url="http://mirror.test/gcp/")
    fetch(server, settings)
    assert str(server.requests[0].url).startswith(
        "http://mirror.test/gcp/v1/services/6F81-5844-456A/skus?"
    )


def test_a_page_token_that_comes_back_is_an_error_not_a_loop() -> None:
    bodies = page_bodies()
    bodies[PAGE_TWO_TOKEN] = b'{"skus": [], "nextPageToken": "%s"}' % PAGE_TWO_TOKEN.encode()
    router = respx.MockRouter()
    catalog_routes(router, bodies)
    with pytest.raises(ProviderResponseError, match="came back a second time"):
        fetch(router.handler)
    assert len(router.calls) == 2  # page 2 handed back page 2's own token


def test_an_empty_last_page_without_skus_is_fine() -> None:
    bodies = page_bodies()
    bodies[PAGE_THREE_TOKEN] = b"{}"  # the API leaves out empty fields
    router = respx.MockRouter()
    pages = catalog_routes(router, bodies)
    run = fetch(router.handler)
    assert [page.call_count for page in pages] == [1, 1, 1]
    assert run.has("a3-highgpu-8g", "us-east4") and not run.has("g2-standard-4", "us-central1")


@pytest.mark.parametrize(
    "body", [b"<html>proxy error</html>", b"[]", b'{"skus": {}, "nextPageToken": ""}']
)
def test_a_body_that_is_not_a_page_is_an_error(body: bytes) -> None:
    bodies = page_bodies()
    bodies[""] = body
    with pytest.raises(ProviderResponseError, match="cannot use") as info:
        fetch(CatalogServer(bodies=bodies))
    assert API_KEY not in str(info.value) and "key=REDACTED" in str(info.value)


def test_server_errors_surface_as_provider_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return json_response(503, {"error": {"code": 503, "message": "backend unavailable"}})

    with pytest.raises(ProviderUnavailable) as info:
        fetch(handler)
    assert API_KEY not in str(info.value)


# --- the API key ----------------------------------------------------------------------------------


def test_a_missing_key_answered_403_says_to_set_the_key() -> None:
    server = CatalogServer()
    with pytest.raises(ProviderAuthError) as info:
        fetch(server, GcpSettings(api_key=None, billing_url=BASE))
    message = str(info.value)
    assert "set GPUHOURS_GCP_API_KEY to a valid Cloud Billing API key" in message
    assert "403" in message
    assert "key" not in server.requests[0].url.params
    assert info.value.provider == "gcp" and info.value.feed == "gcp/catalog"
    assert getattr(info.value, "status_code", None) == 403


def test_a_bad_key_says_to_set_the_key_and_never_shows_it() -> None:
    bad = "AIzaSyWRONG-key-that-must-not-leak-000000"
    with pytest.raises(ProviderAuthError) as info:
        fetch(CatalogServer(), GcpSettings(api_key=bad, billing_url=BASE))
    message = str(info.value)
    assert "GPUHOURS_GCP_API_KEY" in message and "API key not valid" in message
    assert bad not in message and bad not in repr(info.value.__cause__)
    assert info.value.url is not None and "key=REDACTED" in info.value.url
    assert bad not in info.value.url


def test_a_403_for_a_key_without_the_api_is_an_auth_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return json_response(
            403,
            {
                "error": {
                    "code": 403,
                    "message": "Cloud Billing API has not been used in project 123 before or "
                    "it is disabled.",
                    "status": "PERMISSION_DENIED",
                }
            },
        )

    with pytest.raises(ProviderAuthError, match="GPUHOURS_GCP_API_KEY") as info:
        fetch(handler)
    assert API_KEY not in str(info.value)


def test_other_400s_are_not_blamed_on_the_key() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return json_response(400, {"error": {"code": 400, "message": "Invalid page size"}})

    with pytest.raises(ProviderResponseError) as info:
        fetch(handler)
    assert not isinstance(info.value, ProviderAuthError)


def test_the_key_never_reaches_the_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fetch(CatalogServer())
    with pytest.raises(ProviderAuthError):
        fetch(CatalogServer(valid_key="another"))
    assert caplog.records and API_KEY not in caplog.text


def test_settings_come_from_gpuhours_gcp_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GPUHOURS_GCP_API_KEY", raising=False)
    monkeypatch.delenv("GPUHOURS_GCP_BILLING_URL", raising=False)
    assert GcpSettings().billing_url == DEFAULT_BILLING_URL == "https://cloudbilling.googleapis.com"
    assert GcpSettings().api_key is None
    monkeypatch.setenv("GPUHOURS_GCP_API_KEY", API_KEY)
    monkeypatch.setenv("GPUHOURS_GCP_BILLING_URL", "http://mirror.test/")
    settings = GcpSettings()
    assert settings.api_key is not None and settings.api_key.get_secret_value() == API_KEY
    assert settings.billing_url == "http://mirror.test"
    assert API_KEY not in repr(settings) and API_KEY not in str(settings.model_dump())
    monkeypatch.setenv("GPUHOURS_GCP_API_KEY", "  ")
    assert GcpSettings().api_key is None
    monkeypatch.setenv("GPUHOURS_GCP_BILLING_URL", "cloudbilling.googleapis.com")
    with pytest.raises(ConfigurationError, match="GPUHOURS_GCP_BILLING_URL"):
        GcpSettings()


# --- accounting -----------------------------------------------------------------------------------


def test_rejects_and_unknowns_are_reported() -> None:
    run = fixture_run()
    # the IDR copy of an A2 RAM SKU is the one reject; the K80 the one unknown GPU
    assert [reason for reason, _ in run.ctx.rejects] == ["priced in 'IDR', not the requested USD"]
    assert run.ctx.unknowns == [
        ("GPU SKU", "FIXT-K80-OD-AMER 'Nvidia Tesla K80 GPU running in Americas'")
    ]


def test_an_unknown_gpu_is_reported_once_per_name() -> None:
    bodies = page_bodies()
    bodies[PAGE_THREE_TOKEN] = b'{"skus": [%s, %s], "nextPageToken": ""}' % tuple(
        _k80(location).encode() for location in ("Americas", "Virginia")
    )
    run = fetch(CatalogServer(bodies=bodies))
    assert [what for what, _ in run.ctx.unknowns] == ["GPU SKU"]


def _k80(location: str) -> str:
    # constructed: the real GPU SKU layout with a GPU gpuhours does not price
    sku = copy.deepcopy(constructed("FIXT-K80-OD-AMER"))
    sku["description"] = f"Nvidia Tesla K80 GPU running in {location}"
    return json.dumps(sku)


# --- plugin system and sync engine ----------------------------------------------------------------


def test_the_provider_registers_through_its_hook() -> None:
    registry = load_registry(
        Settings(), load_entrypoints=False, extra_plugins=[("gcp", plugins.gcp)]
    )
    ref = registry.feeds["gcp/catalog"]
    assert isinstance(ref.provider, GcpProvider) and ref.provider.settings_class is GcpSettings
    assert isinstance(ref.feed, CatalogFeed) and ref.feed.default_interval.days == 1
    assert ref.provider.missing_credentials(GcpSettings(api_key=None)) == NOT_CONFIGURED
    assert NOT_CONFIGURED == "set GPUHOURS_GCP_API_KEY to a Cloud Billing API key"
    assert ref.provider.missing_credentials(GcpSettings(api_key=API_KEY)) is None


class _OtherFeed(Feed):
    name = "static"

    async def fetch(self, ctx: FetchContext) -> AsyncIterator[Offer | Mapping[str, Any]]:
        yield Offer(
            provider="othercloud",
            region="r1",
            instance_type="x.8xh100",
            gpu="H100",
            gpu_count=8,
            gpu_memory_gb=80,
            purchase_option="on_demand",
            price_per_hour=50.0,
            source={"sku": "X1"},
        )


class _OtherProvider(Provider):
    name = "othercloud"

    def feeds(self) -> Sequence[Feed]:
        return [_OtherFeed()]


class _OtherPlugin:
    @hookimpl
    def register_providers(self, register: Callable[[Provider], None]) -> None:
        register(_OtherProvider())


def _sync(tmp_path: Path, handler: Callable[[httpx.Request], httpx.Response]) -> dict[str, Any]:
    from db import migrate
    from db.engine import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'gpuhours.db'}")
    migrate.upgrade(engine)
    settings = Settings(http_retries=0)
    registry = load_registry(
        settings,
        load_entrypoints=False,
        extra_plugins=[("gcp", plugins.gcp), ("othercloud", _OtherPlugin())],
    )
    refs = registry.select_feeds(["gcp/catalog", "othercloud/static"])
    try:
        outcomes = asyncio.run(
            sync_feeds(refs, registry, engine, settings, transport=httpx.MockTransport(handler))
        )
    finally:
        engine.dispose()
    return {outcome.feed.id: outcome.run for outcome in outcomes}


def test_without_a_key_the_feed_is_not_configured_and_others_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GPUHOURS_GCP_API_KEY", raising=False)
    server = CatalogServer()
    runs = _sync(tmp_path, server)
    assert runs["gcp/catalog"].status is SyncStatus.NOT_CONFIGURED
    assert runs["gcp/catalog"].error == NOT_CONFIGURED
    assert runs["othercloud/static"].status is SyncStatus.OK
    assert server.requests == []  # not even tried


def test_with_a_bad_key_the_sync_fails_clearly_and_others_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GPUHOURS_GCP_API_KEY", "AIzaSy-a-bad-key-that-must-not-leak")
    runs = _sync(tmp_path, CatalogServer())
    run = runs["gcp/catalog"]
    assert run.status is SyncStatus.FAILED and run.error is not None
    assert "GPUHOURS_GCP_API_KEY" in run.error and "a-bad-key" not in run.error
    assert runs["othercloud/static"].status is SyncStatus.OK


def test_with_a_key_the_fixture_pages_sync_into_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GPUHOURS_GCP_API_KEY", API_KEY)
    monkeypatch.delenv("GPUHOURS_GCP_BILLING_URL", raising=False)
    run = _sync(tmp_path, CatalogServer())["gcp/catalog"]
    assert run.status is SyncStatus.OK, run.error
    assert (run.seen, run.rejected, run.unknown) == (598, 1, 1)


def _fetch_with_a_mega_twin() -> Any:
    # Constructed: a "Mega" twin of the real Americas "Plus" SKU at another price.
    twin = copy.deepcopy(real("Nvidia H100 80GB Plus GPU running in Americas"))
    twin["skuId"] = "FIXT-MEGA-TWIN"
    twin["name"] = "services/6F81-5844-456A/skus/FIXT-MEGA-TWIN"
    twin["description"] = "Nvidia H100 80GB Mega GPU running in Americas"
    twin["pricingInfo"][0]["pricingExpression"]["tieredRates"][0]["unitPrice"]["units"] = "11"
    bodies = page_bodies()
    page = json.loads(bodies[PAGE_THREE_TOKEN])
    page["skus"].append(twin)
    bodies[PAGE_THREE_TOKEN] = json.dumps(page).encode()
    return fetch(CatalogServer(bodies=bodies))


def test_ambiguous_skus_are_rejected_once_and_price_nothing() -> None:
    run = _fetch_with_a_mega_twin()
    ambiguous = [r for r in run.ctx.rejects if r[0].startswith("ambiguous gpu")]
    assert len(ambiguous) == 1 and "FIXT-MEGA-TWIN" in ambiguous[0][1]
    assert not run.has("a3-megagpu-8g", "us-central1")
    assert run.has("a3-megagpu-8g", "us-east4")  # the Virginia Mega SKU is not in question


def _held(run: Any) -> set[tuple[str, str, str, int]]:
    return {
        (k["instance_type"], k["region"], k["purchase_option"], k["term_hours"])
        for k in run.ctx.held
    }


@pytest.mark.parametrize("units", ["0", "-3", "NaN"])
def test_a_gpu_sku_without_a_usable_price_holds_the_offers_it_prices(units: str) -> None:
    # The real Netherlands spot H100 SKU, its rate edited: the machines it prices keep their last
    # good price instead of being withdrawn as if they were no longer sold there.
    description = "Nvidia H100 80GB GPU attached to Spot Preemptible VMs running in Netherlands"
    good = fetch(CatalogServer())
    assert good.has("a3-highgpu-8g", "europe-west4", "spot")
    bodies = page_bodies()
    for token, body in bodies.items():
        page = json.loads(body)
        for s in page.get("skus", []):
            if s["description"] == description:
                rate = s["pricingInfo"][0]["pricingExpression"]["tieredRates"][-1]
                rate["unitPrice"] = {"currencyCode": "USD", "units": units, "nanos": 0}
        bodies[token] = json.dumps(page).encode()
    run = fetch(CatalogServer(bodies=bodies))
    assert not run.has("a3-highgpu-8g", "europe-west4", "spot")
    assert any(description in str(r) or "above zero" in r[0] for r in run.ctx.rejects)
    lost = {
        (o.instance_type, o.region, o.purchase_option.value, o.term_hours) for o in good.offers
    } - {(o.instance_type, o.region, o.purchase_option.value, o.term_hours) for o in run.offers}
    assert lost and _held(run) == lost


def test_ambiguous_skus_hold_the_offers_they_would_price() -> None:
    run = _fetch_with_a_mega_twin()
    assert ("a3-megagpu-8g", "us-central1", "on_demand", 0) in _held(run)
    assert not any(k[1] == "us-east4" and k[0] == "a3-megagpu-8g" for k in _held(run))
