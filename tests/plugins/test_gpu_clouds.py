"""The four GPU-cloud plugins side by side, loaded through their entry points as a user's
install loads them: each syncs from its recorded answer into the store (both databases), a
failing or unconfigured one leaves the others synced, ``providers`` shows each feed's state,
and plans compare the sellers.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from aggregator import catalog
from aggregator.gpus import default_vocabulary
from aggregator.models import SyncStatus
from aggregator.planner import plan_from_store
from aggregator.plans import PlanRequest
from aggregator.plugins import load_registry
from aggregator.settings import Settings
from aggregator.sync import sync_feeds
from tests import paths

FEEDS = ("oci/price-list", "lambda/instance-types", "runpod/gpu-types", "vultr/plans")
BODIES = {
    "apexapps.oracle.com": paths.FIXTURES
    / "oci"
    / "products_usd-gpu-rows-2026-08-22-gpu-index.json",
    "cloud.lambdalabs.com": paths.FIXTURES / "lambda" / "instance-types-constructed.json",
    "api.runpod.io": paths.FIXTURES / "runpod" / "gputypes-trimmed-2026-08-22-gpu-index.json",
}
VULTR = {
    "/v2/plans": paths.FIXTURES / "vultr" / "plans-vcg-excerpt-gpuhunt-test.json",
    "/v2/plans-metal": paths.FIXTURES / "vultr" / "plans-metal-excerpt-gpuhunt-test.json",
}


def _server(broken: str | None = None) -> httpx.MockTransport:
    """The recorded answers by host; ``broken`` answers 503 for that host."""

    def answer(request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host == broken:
            return httpx.Response(503, text="down for maintenance")
        if host == "api.vultr.com":
            return httpx.Response(200, content=VULTR[request.url.path].read_bytes())
        return httpx.Response(200, content=BODIES[host].read_bytes())

    return httpx.MockTransport(answer)


def _sync(engine: Engine, monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> dict[str, Any]:
    monkeypatch.setenv("GPUHOURS_PLUGINS", "oci,lambda,runpod,vultr")
    settings = Settings(http_retries=0)
    registry = load_registry(settings)
    refs = registry.select_feeds([])
    assert sorted(ref.id for ref in refs) == sorted(FEEDS)  # through the entry points

    async def go() -> Any:
        return await sync_feeds(refs, registry, engine, settings, transport=_server(**kwargs))

    outcomes = asyncio.run(go())
    report = catalog.providers_report(registry, engine)
    return {
        "runs": {o.run.feed: o.run for o in outcomes},
        "feeds": {f.id: f for f in report.feeds},
    }


def test_all_four_sync_and_plans_compare_them(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GPUHOURS_LAMBDA_API_KEY", "secret-test-key")
    synced = _sync(engine, monkeypatch)
    for feed in FEEDS:
        run = synced["runs"][feed]
        assert run.status is SyncStatus.OK, (feed, run.error)
        assert synced["feeds"][feed].live_offers > 0, feed
    request = PlanRequest(gpu_hours=1000, gpus=["H100"])
    plan = plan_from_store(engine, request, gpus=default_vocabulary())
    # RunPod's community H100 at 2.69 per GPU-hour (2026-08-22 capture) beats Lambda's 3.29
    # PCIe, Vultr's 2.99 bare metal and OCI's 10.00.
    assert {line.provider for line in plan.lines} == {"runpod"}
    assert plan.total_cost == pytest.approx(2690)
    others = {alt.lines[0].provider for alt in plan.alternatives}
    assert {"lambda", "oci", "vultr"} <= others


def test_an_unconfigured_and_a_failing_seller_leave_the_others_synced(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GPUHOURS_LAMBDA_API_KEY", raising=False)
    synced = _sync(engine, monkeypatch, broken="api.runpod.io")
    runs, feeds = synced["runs"], synced["feeds"]
    assert runs["lambda/instance-types"].status is SyncStatus.NOT_CONFIGURED
    assert "GPUHOURS_LAMBDA_API_KEY" in (runs["lambda/instance-types"].error or "")
    assert runs["runpod/gpu-types"].status is SyncStatus.FAILED
    assert "503" in (runs["runpod/gpu-types"].error or "")
    for feed in ("oci/price-list", "vultr/plans"):
        assert runs[feed].status is SyncStatus.OK and feeds[feed].live_offers > 0
    assert feeds["lambda/instance-types"].last_run is not None
    assert feeds["lambda/instance-types"].last_run.status is SyncStatus.NOT_CONFIGURED
    assert feeds["runpod/gpu-types"].live_offers == 0
    plan = plan_from_store(
        engine, PlanRequest(gpu_hours=100, gpus=["H100"]), gpus=default_vocabulary()
    )
    assert {line.provider for line in plan.lines} <= {"vultr", "oci"}
