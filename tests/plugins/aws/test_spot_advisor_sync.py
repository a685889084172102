"""``aws/spot-advisor`` end to end through the sync engine into a real store (SQLite and
PostgreSQL), from the real recording served by a mock host: stored, refused, recorded and
replayed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

import plugins.aws
from aggregator.http import RECEIVED_AT_HEADER
from aggregator.models import SyncRun, SyncStatus
from aggregator.plugins import load_registry
from aggregator.settings import Settings
from aggregator.sync import sync_feeds
from db import store
from tests import paths
from tests.fake_plugins import dump_tables

FEED = "aws/spot-advisor"
URL = "https://advisor.test/spot-advisor-data.json"
RECORDING = (paths.FIXTURES / "aws" / "spot-advisor-data.json").read_bytes()
TABLES = ("interruption_rates", "feed_state")
P5_CANADA = ("aws", "ca-central-1", "p5.48xlarge")
KEYS = [
    ("aws", region, instance_type)
    for region, systems in json.loads(RECORDING)["spot_advisor"].items()
    for instance_type in systems["Linux"]
]

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def advisor_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPUHOURS_AWS_SPOT_ADVISOR_URL", URL)


def serving(body: bytes, **headers: str) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if str(request.url) != URL:
            return httpx.Response(404)
        stamp = {RECEIVED_AT_HEADER: "2025-06-28T00:00:00+00:00"}
        return httpx.Response(200, content=body, headers={**stamp, **headers})

    return handler


def sync(engine: Engine, handler: Handler | None = None, **kw: Any) -> SyncRun:
    settings = Settings(http_retries=0)
    registry = load_registry(settings, load_entrypoints=False, extra_plugins=[("aws", plugins.aws)])
    refs = registry.select_feeds([FEED])
    if handler is not None:
        kw["transport"] = httpx.MockTransport(handler)
    (outcome,) = asyncio.run(sync_feeds(refs, registry, engine, settings, **kw))
    return outcome.run


def with_rows(**rows: dict[str, Any]) -> bytes:
    """The recording with some us-east-1 Linux rows replaced (keyword: instance type)."""
    data = json.loads(RECORDING)
    for instance_type, row in rows.items():
        data["spot_advisor"]["us-east-1"]["Linux"][instance_type.replace("_", ".")] = row
    return json.dumps(data).encode()


def test_a_sync_stores_every_gpu_rate_of_the_recording(engine: Engine) -> None:
    run = sync(engine, serving(RECORDING, ETag='"abc"'))
    assert run.status is SyncStatus.OK, run.error
    assert (run.seen, run.new, run.rejected, run.unknown) == (682, 682, 0, 0)
    rates = store.interruption_rates(engine, KEYS)
    assert len(rates) == 682
    p5 = rates[P5_CANADA]
    assert (p5.savings_percent, p5.bucket_label, p5.interruption_max_percent) == (-62, "<5%", 5)
    assert p5.observed_at is not None and p5.observed_at.isoformat() == "2025-06-28T00:00:00+00:00"
    assert store.load_feed_state(engine, FEED) == {"spot-advisor:etag": '"abc"'}
    assert store.live_offer_count(engine) == 0


def test_a_broken_answer_fails_the_feed_and_keeps_the_stored_rates(engine: Engine) -> None:
    sync(engine, serving(RECORDING))
    before = dump_tables(engine, *TABLES)
    for body in (b"<Error>AccessDenied</Error>", b'{"spot_advisor": {}}', b"[]"):
        run = sync(engine, serving(body))
        assert run.status is SyncStatus.FAILED and "nothing was changed" in (run.error or "")
        assert "Traceback" not in (run.error or "")
        assert dump_tables(engine, *TABLES) == before


def test_a_server_error_fails_the_feed_and_keeps_the_stored_rates(engine: Engine) -> None:
    sync(engine, serving(RECORDING))
    before = dump_tables(engine, *TABLES)
    run = sync(engine, lambda request: httpx.Response(403, text="<Error>AccessDenied</Error>"))
    assert run.status is SyncStatus.FAILED and "403" in (run.error or "")
    assert dump_tables(engine, *TABLES) == before


def test_an_empty_answer_fails_and_keeps_the_stored_rates(engine: Engine) -> None:
    sync(engine, serving(RECORDING))
    before = dump_tables(engine, *TABLES)
    data = json.loads(RECORDING)
    data["spot_advisor"] = {region: {"Linux": {}} for region in data["spot_advisor"]}
    run = sync(engine, serving(json.dumps(data).encode()))
    assert run.status is SyncStatus.FAILED and "no interruption rates" in (run.error or "")
    assert dump_tables(engine, *TABLES) == before


def test_a_rejected_row_keeps_its_stored_rate(engine: Engine) -> None:
    sync(engine, serving(RECORDING))
    before = store.interruption_rates(engine, [("aws", "us-east-1", "p5.48xlarge")])
    body = with_rows(p5_48xlarge={"s": 30, "r": 9}, g5_xlarge={"s": 2000, "r": 1})
    run = sync(engine, serving(body))
    assert run.status is SyncStatus.OK
    assert (run.seen, run.rejected, run.withdrawn) == (680, 2, 0)
    assert store.interruption_rates(engine, [("aws", "us-east-1", "p5.48xlarge")]) == before
    assert len(store.interruption_rates(engine, KEYS)) == 682


def test_not_modified_keeps_the_rates_and_records_an_unchanged_run(engine: Engine) -> None:
    sync(engine, serving(RECORDING, ETag='"v1"'))

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["If-None-Match"] == '"v1"'
        return httpx.Response(304)

    run = sync(engine, handler)
    assert (run.status, run.unchanged) == (SyncStatus.UNCHANGED, 682)
    assert len(store.interruption_rates(engine, KEYS)) == 682


def test_record_then_replay_stores_the_same_rates(engine: Engine, tmp_path: Path) -> None:
    recording = tmp_path / "recording"
    assert sync(engine, serving(RECORDING), record_dir=recording).status is SyncStatus.OK
    stored = store.interruption_rates(engine, KEYS)
    version = store.data_version(engine)

    run = sync(engine, replay_dir=recording)
    assert run.status is SyncStatus.OK and (run.seen, run.changed) == (682, 0)
    assert store.interruption_rates(engine, KEYS) == stored  # dated by the recorded stamp
    assert store.data_version(engine) == version  # nothing changed: cached plans stay valid


def test_the_feed_is_listed_by_providers_with_its_last_sync(engine: Engine) -> None:
    from aggregator.catalog import providers_report

    sync(engine, serving(RECORDING))
    registry = load_registry(
        Settings(), load_entrypoints=False, extra_plugins=[("aws", plugins.aws)]
    )
    (feed,) = [f for f in providers_report(registry, engine).feeds if f.id == FEED]
    assert feed.interruption_rates == 682 and feed.last_run is not None
    assert feed.last_run.status is SyncStatus.OK and feed.interval_seconds == 86400
