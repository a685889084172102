"""The RunPod parser and feed on the real recordings (docs/providers/runpod.md).

``gpuTypes-2025-06-21`` is the bare ``data.gpuTypes`` array its recorder wrote (the envelope
was dropped there), so the tests put it back in the envelope the API sends; the 2026 capture
is the API's whole answer. Both are replayed through the shared client exactly as a sync runs.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

import plugins.runpod
from aggregator.errors import ConfigurationError, ProviderResponseError
from aggregator.gpus import default_vocabulary
from aggregator.http import make_client
from aggregator.models import Offer, PurchaseOption, SyncStatus
from aggregator.planner import plan_from_store
from aggregator.plans import PlanRequest
from aggregator.plugins import load_registry
from aggregator.providers import FetchContext
from aggregator.settings import Settings
from aggregator.sync import sync_feed
from db import store
from plugins.runpod import GpuTypesFeed, RunpodProvider
from plugins.runpod.gpu_types import gpu_counts
from plugins.runpod.settings import RunpodSettings
from tests import paths
from tests.recorded import cli_for, write_response

FIXTURES = paths.FIXTURES / "runpod"
URL = "https://api.runpod.io/graphql"
TYPES_2025 = json.loads((FIXTURES / "gpuTypes-2025-06-21-jumbo2020.json").read_bytes())
BODY_2025 = json.dumps({"data": {"gpuTypes": TYPES_2025}}).encode()
BODY_2026 = (FIXTURES / "gputypes-trimmed-2026-08-22-gpu-index.json").read_bytes()


def fetch(body: bytes, status: int = 200) -> tuple[list[Offer], FetchContext]:
    """Run the feed against one answer; returns its validated offers and the context."""

    async def go() -> tuple[list[Offer], FetchContext]:
        transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body))
        async with make_client(Settings(http_retries=0), transport=transport) as client:
            ctx = FetchContext(client=client, feed_id="runpod/gpu-types")
            offers = [Offer.model_validate(o) async for o in GpuTypesFeed().fetch(ctx)]
            return offers, ctx

    return asyncio.run(go())


def by_type(offers: list[Offer]) -> dict[tuple[str, str], Offer]:
    return {(o.instance_type, o.purchase_option.value): o for o in offers}


def test_the_2025_recording_prices_both_clouds_per_pod_size() -> None:
    offers, ctx = fetch(BODY_2025)
    found = by_type(offers)
    h100 = found[("secure 8x NVIDIA H100 80GB HBM3", "on_demand")]
    assert (h100.gpu, h100.gpu_count, h100.gpu_memory_gb) == ("H100", 8, 80)
    assert h100.price_per_hour == pytest.approx(8 * 2.99)
    assert h100.source == {"gpu_type_id": "NVIDIA H100 80GB HBM3", "price_field": "securePrice"}
    assert h100.region == "global" and h100.currency == "USD"
    assert found[("community 1x NVIDIA H100 80GB HBM3", "spot")].price_per_hour == 1.5
    assert found[("community 1x NVIDIA H100 80GB HBM3", "on_demand")].price_per_hour == 2.69
    assert found[("secure 1x NVIDIA A100-SXM4-80GB", "spot")].price_per_hour == 0.95
    assert found[("secure 1x NVIDIA H100 NVL", "on_demand")].gpu == "H100NVL"
    assert found[("secure 1x AMD Instinct MI300X OAM", "on_demand")].gpu == "MI300X"
    assert found[("community 4x Tesla V100-SXM2-32GB", "on_demand")].gpu_memory_gb == 32
    # A40 goes up to 10 GPUs a pod: 1, 2, 4, 8 and 10.
    assert {o.gpu_count for o in offers if "NVIDIA A40" in o.instance_type} == {1, 2, 4, 8, 10}
    assert ctx.rejects == []
    assert "RunPod GPU type NVIDIA GeForce RTX 3090 Ti" in ctx.unknown_names
    assert found[("community 1x NVIDIA GeForce RTX 4090", "on_demand")].gpu == "RTX4090"
    assert found[("secure 1x NVIDIA RTX 6000 Ada Generation", "on_demand")].gpu == "RTX6000ADA"


def test_a_price_in_a_cloud_the_type_is_not_offered_in_is_not_an_offer() -> None:
    """Real quirks of 2025: the MI300X's ``communityPrice: 0.5`` with ``communityCloud:
    false`` is a placeholder, and so is the L4's community price above its secure one."""
    found = by_type(fetch(BODY_2025)[0])
    assert not [k for k in found if k[0].startswith("community") and "MI300X" in k[0]]
    assert not [k for k in found if k[0].startswith("community") and k[0].endswith("NVIDIA L4")]
    assert not [k for k in found if k[0].startswith("secure") and "Tesla V100-SXM2-16GB" in k[0]]
    # B200: secure only, and no spot price (null).
    assert ("secure 1x NVIDIA B200", "on_demand") in found
    assert ("secure 1x NVIDIA B200", "spot") not in found
    assert ("community 1x NVIDIA B200", "on_demand") not in found


def test_the_2026_recording_offers_no_spot_where_spot_repeats_on_demand() -> None:
    offers, ctx = fetch(BODY_2026)
    assert offers and all(o.purchase_option is PurchaseOption.ON_DEMAND for o in offers)
    found = by_type(offers)
    assert found[("community 1x NVIDIA H100 80GB HBM3", "on_demand")].price_per_hour == 2.69
    assert found[("secure 1x NVIDIA H200", "on_demand")].price_per_hour == 4.59
    assert found[("community 1x NVIDIA B200", "on_demand")].price_per_hour == 5.98
    assert found[("secure 8x NVIDIA B300 SXM6 AC", "on_demand")].gpu == "B300"
    # A100 SXM 40GB: community only, at most two a pod.
    assert {k for k in found if "A100-SXM4-40GB" in k[0]} == {
        ("community 1x NVIDIA A100-SXM4-40GB", "on_demand"),
        ("community 2x NVIDIA A100-SXM4-40GB", "on_demand"),
    }
    assert ctx.rejects == []


def test_pod_sizes_stop_at_the_types_maximum() -> None:
    assert gpu_counts(1) == (1,)
    assert gpu_counts(2) == (1, 2)
    assert gpu_counts(6) == (1, 2, 4, 6)
    assert gpu_counts(12) == (1, 2, 4, 8, 12)


def test_an_offered_cloud_without_a_usable_price_is_rejected_and_held() -> None:
    broken = [{**t, "securePrice": "2.99"} for t in TYPES_2025 if t["displayName"] == "H100 SXM"]
    offers, ctx = fetch(json.dumps({"data": {"gpuTypes": broken}}).encode())
    assert {o.instance_type for o in offers} == {
        f"community {n}x NVIDIA H100 80GB HBM3" for n in (1, 2, 4, 8)
    }
    assert len(ctx.rejects) == 4 and "securePrice is not a price" in ctx.rejects[0][0]
    assert {h["instance_type"] for h in ctx.held} == {
        f"secure {n}x NVIDIA H100 80GB HBM3" for n in (1, 2, 4, 8)
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>502</html>", "not JSON"),
        (b"[]", "JSON list, not an object"),
        (b'{"data": {"gpuTypes": null}}', "without a data.gpuTypes list"),
        (b'{"errors": [{"message": "Something went wrong"}]}', "Something went wrong"),
    ],
)
def test_a_malformed_answer_is_a_clear_response_error(body: bytes, message: str) -> None:
    with pytest.raises(ProviderResponseError, match=message):
        fetch(body)


def test_settings_come_from_gpuhours_runpod_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPUHOURS_RUNPOD_API_URL", "http://mirror.test/runpod/")
    monkeypatch.setenv("GPUHOURS_RUNPOD_API_KEY", "rp-secret")
    settings = RunpodSettings()
    assert settings.api_url == "http://mirror.test/runpod"
    assert "rp-secret" not in repr(settings)
    monkeypatch.setenv("GPUHOURS_RUNPOD_API_URL", "api.runpod.io")
    with pytest.raises(ConfigurationError, match="GPUHOURS_RUNPOD_API_URL"):
        RunpodSettings()


def test_the_key_is_sent_as_a_bearer_token_to_the_configured_base() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=BODY_2026)

    async def go() -> None:
        settings = RunpodSettings(api_url="http://mirror.test/rp", api_key="rp-secret")
        async with make_client(
            Settings(http_retries=0), transport=httpx.MockTransport(answer)
        ) as c:
            ctx = FetchContext(client=c, feed_id="runpod/gpu-types", settings=settings)
            assert [o async for o in GpuTypesFeed().fetch(ctx)]

    asyncio.run(go())
    (request,) = seen
    assert (request.method, str(request.url)) == ("POST", "http://mirror.test/rp/graphql")
    assert request.headers["authorization"] == "Bearer rp-secret"
    assert b"gpuTypes" in request.content


def recording(tmp_path: Path, body: bytes) -> Path:
    return write_response(
        tmp_path / "responses", "POST", URL, body, received_at="2026-08-22T12:00:00+00:00"
    )


@pytest.mark.parametrize("body", [BODY_2025, BODY_2026], ids=["2025", "2026"])
def test_runpod_passes_the_gpuhours_kit(gpuhours_check: Any, tmp_path: Path, body: bytes) -> None:
    report = gpuhours_check(RunpodProvider(), responses=recording(tmp_path, body))
    assert report.feeds["runpod/gpu-types"].offers > 0


def test_the_provider_registers_through_its_hook() -> None:
    registry = load_registry(
        Settings(), load_entrypoints=False, extra_plugins=[("runpod", plugins.runpod)]
    )
    ref = registry.feeds["runpod/gpu-types"]
    assert isinstance(ref.provider, RunpodProvider)
    assert ref.provider.settings_class is RunpodSettings
    assert ref.provider.not_configured_reason(RunpodSettings()) is None


def sync(engine: Engine, body: bytes, status: int = 200) -> Any:
    settings = Settings(http_retries=0)
    registry = load_registry(
        settings, load_entrypoints=False, extra_plugins=[("runpod", plugins.runpod)]
    )

    async def go() -> Any:
        transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body))
        async with make_client(settings, transport=transport) as client:
            return await sync_feed(
                registry.feeds["runpod/gpu-types"], registry, engine, client, settings
            )

    return asyncio.run(go())


def test_a_sync_stores_the_offers_and_plans_use_them(engine: Engine) -> None:
    outcome = sync(engine, BODY_2025)
    assert outcome.run.status is SyncStatus.OK, outcome.run.error
    request = PlanRequest(gpu_hours=100, gpus=["h100"], providers=["runpod"])
    plan = plan_from_store(engine, request, gpus=default_vocabulary())
    # The cheapest on-demand H100 of 2025-06-21: community H100 PCIe at 1.99 per GPU-hour.
    assert plan.total_cost == pytest.approx(199)
    assert {line.provider for line in plan.lines} == {"runpod"}
    assert all("H100 PCIe" in line.instance_type for line in plan.lines)


def test_a_broken_answer_fails_the_sync_and_keeps_the_stored_prices(engine: Engine) -> None:
    assert sync(engine, BODY_2025).run.status is SyncStatus.OK
    before = sorted(o.id for o in store.query_offers(engine, store.OfferQuery()))
    for body in (b"not json", b'{"errors": [{"message": "down"}]}'):
        outcome = sync(engine, body)
        assert outcome.run.status is SyncStatus.FAILED and outcome.run.error
    absurd = [{**t, "securePrice": 1e9, "communityPrice": 1e9} for t in TYPES_2025]
    outcome = sync(engine, json.dumps({"data": {"gpuTypes": absurd}}).encode())
    assert outcome.run.status is SyncStatus.FAILED
    after = store.query_offers(engine, store.OfferQuery())
    assert sorted(o.id for o in after) == before
    assert max(o.price_per_gpu_hour for o in after) < 10


def test_gpuhours_cheapest_plans_with_replayed_runpod_offers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = cli_for(tmp_path, monkeypatch, "runpod")
    synced = cli("sync", "runpod", "--replay", str(recording(tmp_path, BODY_2026)))
    assert synced.exit_code == 0, synced.output
    result = cli("cheapest", "--gpu", "H200", "--gpu-hours", "16", "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    # community H200 at 3.59 per GPU-hour (2026-08-22), cheaper than secure at 4.59
    assert plan["total_cost"] == pytest.approx(16 * 3.59)
    assert {line["instance_type"].split()[0] for line in plan["lines"]} == {"community"}


def test_a_type_listed_twice_or_out_of_range_is_rejected_not_picked() -> None:
    (h100,) = [t for t in TYPES_2025 if t["displayName"] == "H100 SXM"]
    (a40,) = [t for t in TYPES_2025 if t["displayName"] == "A40"]
    types = [h100, {**h100, "securePrice": 0.01}, {**a40, "maxGpuCount": 10_000}, {"id": ""}]
    offers, ctx = fetch(json.dumps({"data": {"gpuTypes": types}}).encode())
    assert {o.price_per_gpu_hour for o in offers if o.source["price_field"] == "securePrice"} == {
        2.99
    }
    assert [r[0] for r in ctx.rejects] == [
        "GPU type listed twice",
        "GPU type NVIDIA A40: maxGpuCount 10000 out of range",
        "GPU type without an id",
    ]


def test_secure_offers_name_the_data_centers_the_2026_recording_lists_with_stock() -> None:
    """The 2026 capture's ``dataCenters``: H100 available in AP-IN-1 (listed) and not in
    AP-IN-2 (unlisted) nor EU-NL-1 (``available: false``); B300 in three; MI300X in none."""
    found = by_type(fetch(BODY_2026)[0])
    h100 = found[("secure 8x NVIDIA H100 80GB HBM3", "on_demand")]
    assert (h100.available_in, h100.available_now) == (("AP-IN-1",), True)
    b300 = found[("secure 1x NVIDIA B300 SXM6 AC", "on_demand")].available_in
    assert b300 == ("EU-NL-1", "EUR-IS-1", "US-WA-2")
    assert found[("secure 1x AMD Instinct MI300X OAM", "on_demand")].available_in == ()
    assert found[("secure 1x NVIDIA H200", "on_demand")].available_now is False
    # Community hosts are no data center: their capacity is not listed, so none is claimed.
    assert found[("community 1x NVIDIA H100 80GB HBM3", "on_demand")].available_in is None


def test_an_answer_without_data_centers_claims_no_capacity() -> None:
    offers, _ = fetch(BODY_2025)  # the 2025 recorder did not ask for dataCenters
    assert offers and all(o.available_in is None for o in offers)
    broken = json.loads(BODY_2026)
    broken["data"]["dataCenters"] = [
        {"id": "bad id, with a comma", "listed": True, "gpuAvailability": [
            {"gpuTypeId": "NVIDIA H100 80GB HBM3", "available": True}]},
        {"id": "US-OK-1", "listed": True, "gpuAvailability": "none"},
        "not a data center",
    ]  # fmt: skip
    found = by_type(fetch(json.dumps(broken).encode())[0])
    assert found[("secure 1x NVIDIA H100 80GB HBM3", "on_demand")].available_in == ()


def test_the_query_asks_for_the_data_centers_stock() -> None:
    from plugins.runpod.gpu_types import GPU_TYPES_QUERY

    assert "dataCenters { id listed gpuAvailability { gpuTypeId available } }" in GPU_TYPES_QUERY


def test_available_now_plans_only_with_secure_stock(engine: Engine) -> None:
    assert sync(engine, BODY_2026).run.status is SyncStatus.OK
    request = PlanRequest(gpu_hours=80, gpus=["h100"], providers=["runpod"], available_now=True)
    plan = plan_from_store(engine, request, gpus=default_vocabulary())
    assert {line.instance_type.split()[0] for line in plan.lines} == {"secure"}
    assert all(line.available_in == ["AP-IN-1"] for line in plan.lines)
    assert any(note.startswith("capacity: runpod secure") for note in plan.notes)
