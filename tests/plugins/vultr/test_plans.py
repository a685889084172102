"""The Vultr parser and feed on the stored plan excerpts (docs/providers/vultr.md).

The two bodies are the only public copies of ``/v2/plans`` and ``/v2/plans-metal`` answers
found: excerpts from gpuhunt's tests whose authenticity is not confirmed
(tests/fixtures/vultr/PROVENANCE.md). They are served through the shared client as a sync
runs; paging is tested on a split of the same plans with a constructed ``meta`` block.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

import plugins.vultr
from aggregator.errors import ConfigurationError, ProviderResponseError
from aggregator.gpus import default_vocabulary
from aggregator.http import make_client
from aggregator.models import Offer, SyncStatus
from aggregator.planner import plan_from_store
from aggregator.plans import PlanRequest
from aggregator.plugins import load_registry
from aggregator.providers import FetchContext
from aggregator.settings import Settings
from aggregator.sync import sync_feed
from db import store
from plugins.vultr import PlansFeed, VultrProvider
from plugins.vultr.settings import VultrSettings
from tests import paths
from tests.recorded import cli_for, write_response

FIXTURES = paths.FIXTURES / "vultr"
API = "https://api.vultr.com"
PLANS = json.loads((FIXTURES / "plans-vcg-excerpt-gpuhunt-test.json").read_bytes())
METAL = json.loads((FIXTURES / "plans-metal-excerpt-gpuhunt-test.json").read_bytes())

Handler = Callable[[httpx.Request], httpx.Response]


def serve(plans: Any = PLANS, metal: Any = METAL) -> Handler:
    """Answers ``/v2/plans`` with ``plans`` and ``/v2/plans-metal`` with ``metal``."""

    def answer(request: httpx.Request) -> httpx.Response:
        body = metal if request.url.path.endswith("/plans-metal") else plans
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.Response(200, content=content)

    return answer


def fetch(
    handler: Handler, settings: VultrSettings | None = None
) -> tuple[list[Offer], FetchContext]:
    async def go() -> tuple[list[Offer], FetchContext]:
        transport = httpx.MockTransport(handler)
        async with make_client(Settings(http_retries=0), transport=transport) as client:
            ctx = FetchContext(client=client, feed_id="vultr/plans", settings=settings)
            offers = [Offer.model_validate(o) async for o in PlansFeed().fetch(ctx)]
            return offers, ctx

    return asyncio.run(go())


def by_key(offers: list[Offer]) -> dict[tuple[str, str, str], Offer]:
    return {(o.instance_type, o.region, o.purchase_option.value): o for o in offers}


def test_bare_metal_plans_take_gpu_and_count_from_the_id() -> None:
    found = by_key(fetch(serve())[0])
    h100 = found[("vbm-112c-2048gb-8-h100-gpu", "sea", "on_demand")]
    assert (h100.gpu, h100.gpu_count, h100.gpu_memory_gb) == ("H100", 8, 80)
    assert h100.price_per_hour == 23.92 and h100.price_per_gpu_hour == pytest.approx(2.99)
    assert (h100.vcpus, h100.memory_gb) == (224, 2048)  # cpu_threads; ram in MB
    assert h100.source == {"plan_id": "vbm-112c-2048gb-8-h100-gpu", "price_field": "hourly_cost"}
    spot = found[("vbm-112c-2048gb-8-h100-gpu", "sea", "spot")]
    assert spot.interruptible and spot.price_per_hour == 18.4
    mi300x = found[("vbm-256c-2048gb-8-mi300x-gpu", "ord", "spot")]
    assert (mi300x.gpu, mi300x.gpu_count, mi300x.price_per_hour) == ("MI300X", 8, 14.72)


def test_cloud_gpu_plans_are_fractions_of_a_whole_gpu_by_their_vram() -> None:
    offers, ctx = fetch(serve())
    found = by_key(offers)
    slice_ = found[("vcg-a100-1c-6g-4vram", "ewr", "on_demand")]
    assert (slice_.gpu, slice_.gpu_count, slice_.gpu_memory_gb) == ("A100", 0.05, 80)
    assert slice_.price_per_hour == 0.123 and slice_.memory_gb == 6
    whole = found[("vcg-a100-12c-120g-80vram", "ewr", "on_demand")]
    assert (whole.gpu_count, whole.price_per_hour, whole.vcpus) == (1, 2.397, 12)
    # The excerpt's vcpu_count of 12 on a "6c" plan is taken as published, not from the id.
    assert found[("vcg-a100-6c-60g-40vram", "ewr", "on_demand")].vcpus == 12
    assert not [k for k in found if k[0].startswith("vcg") and k[2] == "spot"]
    assert len(offers) == 3 + 4 and ctx.rejects == [] and ctx.unknowns == []


def test_plans_without_a_gpu_and_unknown_gpus_are_left_out() -> None:
    cpu = {
        "id": "vc2-1c-1gb",
        "vcpu_count": 1,
        "ram": 1024,
        "hourly_cost": 0.007,
        "type": "vc2",
        "locations": ["ewr"],
    }
    a16 = {**PLANS["plans"][0], "id": "vcg-a16-2c-8g-2vram", "gpu_type": "NVIDIA_A16"}
    storage = {"id": "vbm-4c-32gb", "hourly_cost": 0.5, "locations": ["ewr"]}
    offers, ctx = fetch(serve({"plans": [cpu, a16]}, {"plans_metal": [storage]}))
    assert offers == [] and ctx.rejects == []
    assert ctx.unknown_names == ["Vultr GPU NVIDIA_A16"]


def test_a_plan_without_a_usable_hourly_price_is_rejected_and_held() -> None:
    broken = {**PLANS["plans"][1], "hourly_cost": "2.397", "locations": ["ewr", "lax"]}
    odd_spot = {**METAL["plans_metal"][1], "hourly_cost_preemptible": -1}
    offers, ctx = fetch(serve({"plans": [broken]}, {"plans_metal": [odd_spot]}))
    assert [(o.instance_type, o.purchase_option.value) for o in offers] == [
        ("vbm-112c-2048gb-8-h100-gpu", "on_demand")
    ]
    assert [r[0] for r in ctx.rejects] == [
        "plan vcg-a100-12c-120g-80vram: hourly_cost is not a price",
        "plan vcg-a100-12c-120g-80vram: hourly_cost is not a price",
        "plan vbm-112c-2048gb-8-h100-gpu: hourly_cost_preemptible is not a price",
    ]
    assert {(h["region"], h["purchase_option"]) for h in ctx.held} == {
        ("ewr", "on_demand"),
        ("lax", "on_demand"),
        ("sea", "spot"),
    }


def test_pages_are_followed_through_the_meta_next_cursor() -> None:
    seen: list[str] = []
    first, second = PLANS["plans"][:1], PLANS["plans"][1:]

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.path.endswith("/plans-metal"):
            return httpx.Response(
                200, json={**METAL, "meta": {"total": 2, "links": {"next": "", "prev": ""}}}
            )
        if request.url.params.get("cursor") == "bmV4dF9fMQ==":
            page = {"plans": second, "meta": {"total": 3, "links": {"next": "", "prev": "x"}}}
        else:
            page = {
                "plans": first,
                "meta": {"total": 3, "links": {"next": "bmV4dF9fMQ==", "prev": ""}},
            }
        return httpx.Response(200, json=page)

    offers, _ = fetch(answer)
    assert len(offers) == 7
    assert seen == [
        f"{API}/v2/plans?type=all&per_page=500",
        f"{API}/v2/plans?type=all&per_page=500&cursor=bmV4dF9fMQ%3D%3D",
        f"{API}/v2/plans-metal?per_page=500",
    ]


def test_a_cursor_that_comes_back_ends_the_fetch_instead_of_looping() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"plans": [], "meta": {"links": {"next": "same"}}})

    with pytest.raises(ProviderResponseError, match="came back a second time"):
        fetch(answer)


@pytest.mark.parametrize(
    ("plans", "message"),
    [
        (b"<html>503</html>", "not JSON"),
        (b'["vcg"]', "JSON list, not an object"),
        ({"error": "Invalid API token.", "status": 401}, "without a 'plans' list"),
        ({"plans": [], "meta": {"links": {"next": 5}}}, "meta.links.next that is not a string"),
    ],
)
def test_a_malformed_answer_is_a_clear_response_error(plans: Any, message: str) -> None:
    with pytest.raises(ProviderResponseError, match=message):
        fetch(serve(plans=plans))


def test_settings_come_from_gpuhours_vultr_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPUHOURS_VULTR_API_URL", "http://mirror.test/vultr/")
    monkeypatch.setenv("GPUHOURS_VULTR_MAX_PAGES", "3")
    settings = VultrSettings()
    assert (settings.api_url, settings.max_pages) == ("http://mirror.test/vultr", 3)
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url.copy_with(query=None)))
        return serve()(request)

    fetch(answer, settings)
    assert seen == ["http://mirror.test/vultr/v2/plans", "http://mirror.test/vultr/v2/plans-metal"]
    monkeypatch.setenv("GPUHOURS_VULTR_API_URL", "api.vultr.com")
    with pytest.raises(ConfigurationError, match="GPUHOURS_VULTR_API_URL"):
        VultrSettings()


def recording(tmp_path: Path) -> Path:
    directory = tmp_path / "responses"
    stamp = "2025-01-08T12:00:00+00:00"
    write_response(
        directory,
        "GET",
        f"{API}/v2/plans",
        json.dumps(PLANS).encode(),
        params={"type": "all", "per_page": "500"},
        received_at=stamp,
    )
    write_response(
        directory,
        "GET",
        f"{API}/v2/plans-metal",
        json.dumps(METAL).encode(),
        params={"per_page": "500"},
        received_at=stamp,
    )
    return directory


def test_vultr_passes_the_gpuhours_kit(gpuhours_check: Any, tmp_path: Path) -> None:
    report = gpuhours_check(VultrProvider(), responses=recording(tmp_path))
    assert report.feeds["vultr/plans"].offers == 7


def test_the_provider_registers_through_its_hook() -> None:
    registry = load_registry(
        Settings(), load_entrypoints=False, extra_plugins=[("vultr", plugins.vultr)]
    )
    ref = registry.feeds["vultr/plans"]
    assert isinstance(ref.provider, VultrProvider) and ref.provider.settings_class is VultrSettings


def sync(engine: Engine, handler: Handler) -> Any:
    settings = Settings(http_retries=0)
    registry = load_registry(
        settings, load_entrypoints=False, extra_plugins=[("vultr", plugins.vultr)]
    )

    async def go() -> Any:
        async with make_client(settings, transport=httpx.MockTransport(handler)) as client:
            return await sync_feed(
                registry.feeds["vultr/plans"], registry, engine, client, settings
            )

    return asyncio.run(go())


def test_a_sync_stores_the_offers_and_plans_use_them(engine: Engine) -> None:
    outcome = sync(engine, serve())
    assert outcome.run.status is SyncStatus.OK, outcome.run.error
    request = PlanRequest(
        gpu_hours=80, gpus=["h100"], providers=["vultr"], purchase_options=["on_demand", "spot"]
    )
    plan = plan_from_store(engine, request, gpus=default_vocabulary())
    (line,) = plan.lines
    assert (line.provider, line.region, line.instance_type) == (
        "vultr",
        "sea",
        "vbm-112c-2048gb-8-h100-gpu",
    )
    assert line.unit_price == 18.4  # the preemptible price, 10 hours of 8 GPUs
    assert plan.total_cost == pytest.approx(184)


def test_a_broken_answer_fails_the_sync_and_keeps_the_stored_prices(engine: Engine) -> None:
    assert sync(engine, serve()).run.status is SyncStatus.OK
    before = sorted(
        (o.id, o.price_per_hour) for o in store.query_offers(engine, store.OfferQuery())
    )
    assert sync(engine, serve(plans=b"{")).run.status is SyncStatus.FAILED
    absurd = {"plans_metal": [{**p, "hourly_cost": 9e9} for p in METAL["plans_metal"]]}
    outcome = sync(engine, serve(metal=absurd))
    assert outcome.run.status is SyncStatus.FAILED
    after = sorted((o.id, o.price_per_hour) for o in store.query_offers(engine, store.OfferQuery()))
    assert after == before


def test_gpuhours_cheapest_plans_with_replayed_vultr_offers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = cli_for(tmp_path, monkeypatch, "vultr")
    synced = cli("sync", "vultr", "--replay", str(recording(tmp_path)))
    assert synced.exit_code == 0, synced.output
    result = cli("cheapest", "--gpu", "MI300X", "--gpu-hours", "80", "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    (line,) = plan["lines"]
    assert (line["instance_type"], line["region"]) == ("vbm-256c-2048gb-8-mi300x-gpu", "ord")
    assert plan["total_cost"] == pytest.approx(10 * 17.52)  # on demand: no --spot


def test_a_plan_listed_twice_is_rejected_not_picked() -> None:
    twice = {"plans": [PLANS["plans"][1], {**PLANS["plans"][1], "hourly_cost": 0.01}]}
    offers, ctx = fetch(serve(plans=twice, metal={"plans_metal": []}))
    assert [(o.instance_type, o.price_per_hour) for o in offers] == [
        ("vcg-a100-12c-120g-80vram", 2.397)
    ]
    assert [r[0] for r in ctx.rejects] == ["plan listed twice"]
