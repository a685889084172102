"""The offline main job: `gpuhours sync --replay bundled` fills the store from the snapshot."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aggregator.cli import app
from plugins.snapshot import SNAPSHOT_DIR


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    monkeypatch.setenv("GPUHOURS_DATA_DIR", str(tmp_path / "data"))
    for name in ("GPUHOURS_DATABASE_URL", "GPUHOURS_PLUGINS", "GPUHOURS_GCP_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        result = runner.invoke(app, list(args))
        assert "Traceback" not in result.output, result.output
        return result

    return invoke


def test_bundled_replay_fills_the_store_with_all_three_providers(cli: Any) -> None:
    result = cli("sync", "--replay", "bundled", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    runs = {r["feed"]: r for r in document["runs"]}
    assert set(runs) == {
        "aws/on-demand",
        "aws/spot",
        "aws/savings-plan",
        "azure/retail",
        "gcp/catalog",
    }
    assert all(r["status"] == "ok" and r["seen"] > 0 for r in runs.values())
    assert "gpuhours sync" in document["note"]  # says how to get live prices

    offers = json.loads(cli("offers", "--limit", "1000", "--json").stdout)["offers"]
    assert {o["provider"] for o in offers} == {"aws", "azure", "gcp"}
    h100 = json.loads(cli("offers", "--gpu", "H100", "--no-spot", "--json").stdout)["offers"]
    assert h100 and all(o["gpu"] == "H100" and o["source"] for o in h100)


def test_bundled_prices_keep_the_age_of_their_recordings(cli: Any) -> None:
    cli("sync", "--replay", "bundled")
    observed = json.loads((SNAPSHOT_DIR / "OBSERVED_AT.json").read_text())
    offers = json.loads(cli("offers", "--provider", "azure", "--json").stdout)["offers"]
    assert {o["observed_at"][:10] for o in offers} == {observed["azure/retail"][:10]}
    feeds = {f["id"]: f for f in json.loads(cli("providers", "--json").stdout)["feeds"]}
    assert feeds["gcp/catalog"]["stale"] is True  # years old: never passes for fresh data


def test_a_recording_older_than_the_stored_prices_is_refused(cli: Any, tmp_path: Path) -> None:
    recording = tmp_path / "recording"
    shutil.copytree(SNAPSHOT_DIR, recording)
    observed = json.loads((recording / "OBSERVED_AT.json").read_text())
    assert cli("sync", "azure", "--replay", str(recording)).exit_code == 0
    observed["azure/retail"] = "2020-01-01T00:00:00+00:00"
    (recording / "OBSERVED_AT.json").write_text(json.dumps(observed))
    before = json.loads(cli("offers", "--provider", "azure", "--json").stdout)
    result = cli("sync", "azure", "--replay", str(recording), "--json")
    assert result.exit_code == 3
    assert "older than the stored ones" in json.loads(result.stdout)["runs"][0]["error"]
    assert json.loads(cli("offers", "--provider", "azure", "--json").stdout) == before


def test_replay_needs_no_credentials_but_live_gcp_does(cli: Any) -> None:
    result = cli("sync", "gcp", "--replay", "bundled", "--json")
    assert json.loads(result.stdout)["runs"][0]["status"] == "ok"


def test_the_snapshot_syncs_into_both_stores(engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from aggregator.models import SyncStatus
    from aggregator.plugins import load_registry
    from aggregator.settings import Settings
    from aggregator.sync import load_observed_at, sync_feeds
    from db import store

    monkeypatch.setenv("GPUHOURS_PLUGINS", "aws,azure,gcp")
    settings = Settings()
    registry = load_registry(settings)
    outcomes = asyncio.run(
        sync_feeds(
            registry.select_feeds([]),
            registry,
            engine,
            settings,
            replay_dir=SNAPSHOT_DIR,
            observed_at=load_observed_at(SNAPSHOT_DIR),
        )
    )
    assert [o.run.status for o in outcomes] == [SyncStatus.OK] * 5
    offers = store.query_offers(engine, store.OfferQuery())
    assert {o.provider for o in offers} == {"aws", "azure", "gcp"}
    assert len(offers) == sum(o.run.seen for o in outcomes)


@pytest.mark.parametrize(("gpu", "hours"), [("H100", "1000"), ("A100", "20000")])
def test_cheapest_after_a_replayed_sync_traces_to_stored_offers(
    cli: Any, gpu: str, hours: str
) -> None:
    assert cli("sync", "--replay", "bundled").exit_code == 0
    result = cli("cheapest", "--gpu", gpu, "--gpu-hours", hours, "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["gpu_hours"] >= float(hours) and plan["lines"]
    stored = json.loads(cli("offers", "--limit", "10000", "--json").stdout)["offers"]
    by_id = {o["id"]: o for o in stored}
    for line in plan["lines"]:
        offer = by_id[line["offer_id"]]
        assert (offer["provider"], offer["region"], offer["instance_type"], offer["gpu"]) == (
            line["provider"],
            line["region"],
            line["instance_type"],
            gpu,
        )
        assert offer["price_per_hour"] == line["unit_price"]
    assert sum(line["cost"] for line in plan["lines"]) == pytest.approx(plan["total_cost"])
