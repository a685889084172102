"""Interruption feeds through the sync engine, on SQLite and PostgreSQL: a third-party-style
plugin publishes its own interruption data, registered as a throw-away plugin per test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from aggregator import InterruptionFeed, Provider, hookimpl
from aggregator.interruptions import InterruptionRate
from aggregator.models import SyncRun, SyncStatus
from aggregator.plugins import Registry, load_registry
from aggregator.providers import FetchContext
from aggregator.settings import Settings
from aggregator.sync import sync_feeds
from db import store
from tests.fake_plugins import dump_tables
from tests.rates import rate_fields

FEED = "fakerates/advisor"
TABLES = ("interruption_rates", "feed_state", "offers")


def rate_row(**overrides: Any) -> dict[str, Any]:
    """A rate as the throw-away feed yields it: a mapping, validated by the sync engine."""
    fake = {"provider": "fakerates", "instance_type": "fk.8xh100", "source": {"path": "fk"}}
    return rate_fields(**{**fake, **overrides})


def many(n: int) -> list[dict[str, Any]]:
    return [rate_row(instance_type=f"fk.{i}") for i in range(n)]


class AdvisorFeed(InterruptionFeed):
    """Yields ``items``; ``{"__raise__": ...}`` fails the fetch there, ``{"__unchanged__": m}``
    marks a part unchanged, ``{"__reject__": reason, "key": {...}}`` rejects a row."""

    name = "advisor"

    def __init__(self) -> None:
        self.items: list[Mapping[str, Any]] = []

    async def fetch(self, ctx: FetchContext) -> AsyncIterator[InterruptionRate | Mapping[str, Any]]:
        ctx.state["fetched"] = str(len(self.items))
        for item in self.items:
            if "__raise__" in item:
                raise RuntimeError(item["__raise__"])
            if "__unchanged__" in item:
                ctx.mark_unchanged("not modified", **item["__unchanged__"])
                continue
            if "__reject__" in item:
                ctx.reject(item["__reject__"], item, offer=item.get("key"))
                continue
            yield item


class FakeRates(Provider):
    name = "fakerates"

    def __init__(self, feed: AdvisorFeed) -> None:
        self.feed = feed

    def feeds(self) -> Sequence[InterruptionFeed]:
        return [self.feed]


Sync = Callable[..., SyncRun]


@pytest.fixture
def advisor() -> AdvisorFeed:
    return AdvisorFeed()


@pytest.fixture
def registry(advisor: AdvisorFeed) -> Registry:
    class Plugin:
        @hookimpl
        def register_providers(self, register: Callable[[Provider], None]) -> None:
            register(FakeRates(advisor))

    return load_registry(
        Settings(), load_entrypoints=False, extra_plugins=[("fakerates", Plugin())]
    )


@pytest.fixture
def sync(engine: Any, registry: Registry, advisor: AdvisorFeed) -> Sync:
    """Sync the feed with ``items`` as what it yields; returns the run."""

    def run(items: list[Mapping[str, Any]], **kw: Any) -> SyncRun:
        advisor.items = items
        settings = Settings(http_retries=0)
        refs = registry.select_feeds([FEED])
        (outcome,) = asyncio.run(sync_feeds(refs, registry, engine, settings, **kw))
        return outcome.run

    return run


def stored(engine: Any, rows: Sequence[Mapping[str, Any]]) -> dict[str, InterruptionRate]:
    keys = [(r["provider"], r["region"], r["instance_type"]) for r in rows]
    return {key[2]: rate for key, rate in store.interruption_rates(engine, keys).items()}


def test_a_sync_stores_the_feeds_rates_and_logs_the_run(engine: Any, sync: Sync) -> None:
    rows = [rate_row(), rate_row(instance_type="fk.1xh100", savings_percent=-12)]
    run = sync(rows)
    assert run.status is SyncStatus.OK
    assert (run.seen, run.new, run.changed, run.withdrawn, run.rejected) == (2, 2, 0, 0, 0)
    rates = stored(engine, rows)
    assert rates["fk.1xh100"].savings_percent == -12
    assert all(r.observed_at is not None for r in rates.values())
    assert store.latest_runs(engine)[FEED].status is SyncStatus.OK
    assert store.load_feed_state(engine, FEED) == {"fetched": "2"}
    assert store.interruption_rate_counts(engine) == {FEED: 2}
    assert store.live_offer_count(engine) == 0  # rates are not offers


def test_the_next_sync_replaces_the_rates(engine: Any, sync: Sync) -> None:
    sync([rate_row(), rate_row(instance_type="fk.1xh100")])
    run = sync([rate_row(bucket=4, bucket_label=">20%", interruption_min_percent=20,
                         interruption_max_percent=100)], force=True)  # fmt: skip
    assert (run.seen, run.changed, run.withdrawn) == (1, 1, 1)
    assert {k: r.bucket for k, r in stored(engine, [*many(2), rate_row()]).items()} == {
        "fk.8xh100": 4
    }


def test_a_fetch_that_fails_changes_nothing(engine: Any, sync: Sync) -> None:
    sync([rate_row()])
    before = dump_tables(engine, *TABLES)
    run = sync([rate_row(bucket=3, bucket_label="x"), {"__raise__": "connection reset"}])
    assert run.status is SyncStatus.FAILED
    assert "connection reset" in run.error and "nothing was changed" in run.error
    assert dump_tables(engine, *TABLES) == before
    assert store.last_good_run(engine, FEED) is not None


def test_an_empty_result_fails_and_keeps_the_rates(engine: Any, sync: Sync) -> None:
    sync([rate_row()])
    before = dump_tables(engine, *TABLES)
    run = sync([])
    assert run.status is SyncStatus.FAILED
    assert "returned no interruption rates" in run.error
    assert dump_tables(engine, *TABLES) == before


def test_far_fewer_rates_than_stored_fail_unless_forced(engine: Any, sync: Sync) -> None:
    sync(many(10))
    before = dump_tables(engine, *TABLES)
    run = sync(many(2))
    assert run.status is SyncStatus.FAILED and "--force" in run.error
    assert dump_tables(engine, *TABLES) == before
    run = sync(many(2), force=True)
    assert run.status is SyncStatus.OK and run.withdrawn == 8


def test_too_many_bad_rows_fail_the_sync(engine: Any, sync: Sync) -> None:
    run = sync([rate_row(), rate_row(instance_type="a", bucket=-1),
                rate_row(instance_type="b", savings_percent=5000)])  # fmt: skip
    assert run.status is SyncStatus.FAILED and "2 of 3 rows were rejected" in run.error
    assert store.interruption_rate_counts(engine) == {}


def test_a_bad_row_is_rejected_with_its_reason_and_the_rest_stored(
    engine: Any, sync: Sync, caplog: pytest.LogCaptureFixture
) -> None:
    rows = many(9)
    run = sync([*rows, rate_row(instance_type="fk.bad", interruption_max_percent=float("nan"))])
    assert run.status is SyncStatus.OK and (run.seen, run.rejected) == (9, 1)
    assert any("interruption_max_percent" in r.getMessage() for r in caplog.records)


def test_a_rate_of_another_provider_is_rejected(engine: Any, sync: Sync) -> None:
    run = sync([*many(9), rate_row(provider="aws")])
    assert (run.seen, run.rejected) == (9, 1)
    assert store.interruption_rates(engine, [("aws", "us-east-1", "fk.8xh100")]) == {}


def test_a_rejected_row_that_names_its_key_keeps_the_stored_rate(engine: Any, sync: Sync) -> None:
    rows = many(9)
    sync([*rows, rate_row()])
    before = stored(engine, [rate_row()])
    later = datetime(2030, 1, 1, tzinfo=UTC)
    key = {"region": "us-east-1", "instance_type": "fk.8xh100"}
    run = sync(
        [*rows, {"__reject__": "unknown range index 9", "key": key}], observed_at={FEED: later}
    )
    assert run.status is SyncStatus.OK and (run.rejected, run.withdrawn) == (1, 0)
    assert stored(engine, [rate_row()]) == before


def test_a_source_that_says_not_modified_keeps_the_rates(engine: Any, sync: Sync) -> None:
    sync([rate_row()])
    run = sync([{"__unchanged__": {}}])
    assert run.status is SyncStatus.UNCHANGED and run.unchanged == 1
    assert len(stored(engine, [rate_row()])) == 1


def test_a_sync_that_changes_rates_moves_the_store_version(engine: Any, sync: Sync) -> None:
    version = store.data_version(engine)
    pinned = datetime(2025, 6, 28, tzinfo=UTC)
    sync([rate_row(observed_at=pinned.isoformat())])
    assert store.data_version(engine) == version + 1
    sync([rate_row(observed_at=pinned.isoformat())])  # the same rows again: nothing changed
    assert store.data_version(engine) == version + 1
    sync([rate_row(bucket=2, observed_at=pinned.isoformat())])
    assert store.data_version(engine) == version + 2


def test_a_replayed_recording_older_than_the_stored_rates_is_refused(
    engine: Any, sync: Sync
) -> None:
    sync([rate_row()])
    run = sync([rate_row()], observed_at={FEED: datetime(2020, 1, 1, tzinfo=UTC)})
    assert run.status is SyncStatus.FAILED and "older than the stored ones" in run.error


def test_providers_show_the_feed_with_its_rates_and_last_sync(
    engine: Any, sync: Sync, registry: Registry
) -> None:
    from aggregator.catalog import providers_report

    sync(many(3))
    (feed,) = [f for f in providers_report(registry, engine).feeds if f.id == FEED]
    assert (feed.interruption_rates, feed.live_offers) == (3, 0)
    assert feed.last_run is not None and feed.last_run.status is SyncStatus.OK
    assert feed.last_success_at is not None and not feed.stale


def test_offer_and_rate_feeds_sync_side_by_side(
    engine: Any, registry: Registry, advisor: AdvisorFeed, fake_catalog: Any
) -> None:
    from tests.fake_plugins import offer_row

    fake_catalog([offer_row()])
    both = load_registry(Settings())
    both.providers.update(registry.providers)
    both.feeds.update(registry.feeds)
    advisor.items = [rate_row()]
    refs = both.select_feeds(["fakecloud/static", FEED])
    outcomes = asyncio.run(sync_feeds(refs, both, engine, Settings(http_retries=0)))
    assert [(o.run.feed, o.run.status, o.run.seen) for o in outcomes] == [
        ("fakecloud/static", SyncStatus.OK, 1),
        (FEED, SyncStatus.OK, 1),
    ]
    assert store.live_offer_counts(engine) == {"fakecloud/static": 1}
    assert store.interruption_rate_counts(engine) == {FEED: 1}
