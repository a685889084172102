"""The sync engine, end to end through a test plugin, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from fake_plugins import STORE_TABLES, dump_tables, offer_row

from aggregator.errors import StoreError
from aggregator.models import SyncStatus
from aggregator.plugins import load_registry
from aggregator.settings import Settings
from aggregator.sync import SyncOutcome, sync_feeds
from db import store

Catalog = Callable[[list[dict[str, Any]]], Path]


def run_sync(
    engine: Any,
    feeds: list[str] | None = None,
    *,
    settings: Settings | None = None,
    **kw: Any,
) -> list[SyncOutcome]:
    settings = settings or Settings(http_retries=0)
    registry = load_registry(settings)
    refs = registry.select_feeds(feeds or ["fakecloud/static"])
    return asyncio.run(sync_feeds(refs, registry, engine, settings, **kw))


def only(outcomes: list[SyncOutcome]) -> Any:
    assert len(outcomes) == 1
    return outcomes[0].run


def prices(engine: Any) -> dict[str, float]:
    return {
        o.instance_type: o.price_per_hour
        for o in store.query_offers(engine, store.OfferQuery(include_withdrawn=True))
    }


def test_first_sync_stores_offers_and_history(engine: Any, fake_catalog: Catalog) -> None:
    fake_catalog(
        [offer_row(), offer_row(instance_type="fk.1xh100", gpu_count=1, price_per_hour=13)]
    )
    run = only(run_sync(engine))
    assert run.status is SyncStatus.OK
    assert (run.seen, run.new, run.changed, run.withdrawn, run.rejected) == (2, 2, 0, 0, 0)
    stored = store.query_offers(engine, store.OfferQuery())
    assert [o.instance_type for o in stored] == ["fk.8xh100", "fk.1xh100"]  # per GPU-hour
    assert all(o.feed == "fakecloud/static" and o.observed_at is not None for o in stored)
    history = store.price_history(engine, [o.id for o in stored])
    assert len(history) == 2 and all(h.valid_to is None for h in history)


def _has_statistics(engine: Any) -> bool:
    """Whether PostgreSQL has analyzed ``offers`` (``reltuples`` is -1 until then)."""
    with engine.connect() as conn:
        tuples = conn.exec_driver_sql(
            "SELECT reltuples FROM pg_class WHERE oid = 'offers'::regclass"
        ).scalar_one()
    return bool(tuples >= 0)


def test_a_sync_that_writes_offers_leaves_postgresql_statistics_for_the_plan_read(
    engine: Any, fake_catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    refreshed: list[Any] = []
    refresh = store.refresh_statistics
    monkeypatch.setattr(store, "refresh_statistics", lambda e: refreshed.append(e) or refresh(e))
    fake_catalog([offer_row()])
    if engine.dialect.name == "postgresql":
        assert not _has_statistics(engine)
    run_sync(engine)
    assert refreshed == [engine]
    if engine.dialect.name == "postgresql":
        assert _has_statistics(engine)
    run_sync(engine)  # the same prices again: nothing written, nothing to refresh
    assert refreshed == [engine]


def test_statistics_that_cannot_be_refreshed_leave_the_sync_standing(
    engine: Any, fake_catalog: Catalog, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    def refuse(_engine: Any) -> None:
        raise StoreError("refreshing the offers table's statistics failed: permission denied")

    monkeypatch.setattr(store, "refresh_statistics", refuse)
    fake_catalog([offer_row()])
    run = only(run_sync(engine))
    assert run.status is SyncStatus.OK and run.new == 1
    assert [o.instance_type for o in store.query_offers(engine, store.OfferQuery())] == [
        "fk.8xh100"
    ]
    assert any(
        r.levelname == "WARNING" and "permission denied" in r.getMessage() for r in caplog.records
    )


def test_price_change_opens_a_new_interval_and_same_price_does_not(
    engine: Any, fake_catalog: Catalog
) -> None:
    fake_catalog([offer_row(), offer_row(instance_type="fk.1xh100", price_per_hour=13)])
    run_sync(engine)
    run = only(run_sync(engine))
    assert (run.new, run.changed, run.unchanged) == (0, 0, 2)
    fake_catalog(
        [offer_row(price_per_hour=90.0), offer_row(instance_type="fk.1xh100", price_per_hour=13)]
    )
    run = only(run_sync(engine))
    assert (run.new, run.changed, run.unchanged) == (0, 1, 1)
    assert prices(engine)["fk.8xh100"] == 90.0
    changed = next(
        o for o in store.query_offers(engine, store.OfferQuery()) if o.price_per_hour == 90
    )
    intervals = store.price_history(engine, [changed.id])
    assert [i.price_per_hour for i in intervals] == [98.32, 90.0]
    assert intervals[0].valid_to == intervals[1].valid_from
    assert intervals[1].valid_to is None


def test_offers_no_longer_published_are_withdrawn(engine: Any, fake_catalog: Catalog) -> None:
    fake_catalog([offer_row(), offer_row(instance_type="fk.1xh100", price_per_hour=13)])
    run_sync(engine)
    fake_catalog([offer_row()])
    run = only(run_sync(engine, force=True))
    assert run.withdrawn == 1
    live = store.query_offers(engine, store.OfferQuery())
    assert [o.instance_type for o in live] == ["fk.8xh100"]
    gone = store.query_offers(engine, store.OfferQuery(include_withdrawn=True))
    withdrawn = next(o for o in gone if o.instance_type == "fk.1xh100")
    assert withdrawn.withdrawn_at is not None
    assert store.price_history(engine, [withdrawn.id])[-1].valid_to == withdrawn.withdrawn_at


def test_fetch_failing_half_way_changes_nothing(engine: Any, fake_catalog: Catalog) -> None:
    fake_catalog([offer_row(), offer_row(instance_type="fk.1xh100", price_per_hour=13)])
    run_sync(engine)
    before = dump_tables(engine, *STORE_TABLES)
    fake_catalog([offer_row(price_per_hour=1.0), {"__raise__": "connection reset by peer"}])
    run = only(run_sync(engine))
    assert run.status is SyncStatus.FAILED
    assert "connection reset by peer" in run.error and "nothing was changed" in run.error
    assert dump_tables(engine, *STORE_TABLES) == before
    assert store.latest_runs(engine)["fakecloud/static"].status is SyncStatus.FAILED
    assert store.last_good_run(engine, "fakecloud/static").status is SyncStatus.OK


def test_too_many_rejected_rows_fail_the_sync(engine: Any, fake_catalog: Catalog) -> None:
    fake_catalog(
        [
            offer_row(),
            offer_row(instance_type="a", price_per_hour=-1),
            offer_row(instance_type="b", currency="XYZ"),
        ]
    )
    run = only(run_sync(engine))
    assert run.status is SyncStatus.FAILED
    assert "2 of 3 rows were rejected" in run.error
    assert store.query_offers(engine, store.OfferQuery()) == []


def test_a_few_bad_rows_are_rejected_and_the_rest_stored(
    engine: Any, fake_catalog: Catalog
) -> None:
    rows = [offer_row(instance_type=f"fk.{i}", price_per_hour=10 + i) for i in range(9)]
    fake_catalog([*rows, offer_row(instance_type="bad", gpu_count=0)])
    run = only(run_sync(engine))
    assert run.status is SyncStatus.OK and (run.seen, run.rejected) == (9, 1)
    assert "bad" not in prices(engine)


def test_far_fewer_offers_than_last_time_fails_unless_forced(
    engine: Any, fake_catalog: Catalog
) -> None:
    fake_catalog([offer_row(instance_type=f"fk.{i}", price_per_hour=10 + i) for i in range(10)])
    run_sync(engine)
    before = dump_tables(engine, *STORE_TABLES)
    fake_catalog([offer_row(instance_type="fk.0", price_per_hour=10)])
    run = only(run_sync(engine))
    assert run.status is SyncStatus.FAILED and "--force" in run.error
    assert dump_tables(engine, *STORE_TABLES) == before
    run = only(run_sync(engine, force=True))
    assert run.status is SyncStatus.OK and run.withdrawn == 9


def test_a_feed_without_the_shrink_guard_applies_a_shorter_or_empty_list(
    engine: Any, fake_catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gh_fake_cloud import StaticFeed

    monkeypatch.setattr(StaticFeed, "shrink_guard", False)
    fake_catalog([offer_row(instance_type=f"fk.{i}", price_per_hour=10 + i) for i in range(10)])
    run_sync(engine)
    fake_catalog([offer_row(instance_type="fk.0", price_per_hour=10)])
    run = only(run_sync(engine))
    assert run.status is SyncStatus.OK and run.withdrawn == 9
    fake_catalog([])
    run = only(run_sync(engine))
    assert run.status is SyncStatus.OK and run.withdrawn == 1
    assert store.query_offers(engine, store.OfferQuery()) == []


def test_feeds_resolve_gpu_names_with_every_loaded_plugins_vocabulary(
    engine: Any, fake_catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gh_fake_cloud import StaticFeed

    seen: list[str | None] = []
    original = StaticFeed.fetch

    async def fetch(self: StaticFeed, ctx: Any) -> Any:
        seen.append(ctx.gpus.canonical("fakegpu"))  # registered by the plugin, not built in
        async for item in original(self, ctx):
            yield item

    monkeypatch.setattr(StaticFeed, "fetch", fetch)
    fake_catalog([offer_row()])
    assert only(run_sync(engine)).status is SyncStatus.OK
    assert seen == ["FAKEGPU"]


def test_an_empty_feed_fails(engine: Any, fake_catalog: Catalog) -> None:
    fake_catalog([])
    run = only(run_sync(engine))
    assert run.status is SyncStatus.FAILED and "no offers" in run.error


def test_gpu_names_are_canonicalized_and_unknown_ones_rejected(
    engine: Any, fake_catalog: Catalog
) -> None:
    rows = [offer_row(instance_type=f"fk.{i}", price_per_hour=10 + i) for i in range(8)]
    rows.append(offer_row(instance_type="alias", gpu="NVIDIA A100 80GB"))
    rows.append(offer_row(instance_type="mystery", gpu="Quantum Q9000"))
    fake_catalog(rows)
    run = only(run_sync(engine))
    assert run.status is SyncStatus.OK and run.rejected == 1
    stored = {o.instance_type: o for o in store.query_offers(engine, store.OfferQuery())}
    assert stored["alias"].gpu == "A100"
    assert "mystery" not in stored


def test_unknown_instance_types_are_counted_not_stored(engine: Any, fake_catalog: Catalog) -> None:
    fake_catalog([offer_row(), {"__unknown__": "fk.weird-99"}])
    run = only(run_sync(engine))
    assert run.status is SyncStatus.OK and (run.seen, run.unknown) == (1, 1)


def test_unchanged_parts_of_a_feed_are_kept(engine: Any, fake_catalog: Catalog) -> None:
    fake_catalog([offer_row(region="us-east-1"), offer_row(region="eu-west-1")])
    run_sync(engine)
    fake_catalog([{"__unchanged__": {"region": "us-east-1"}}, offer_row(region="eu-west-1")])
    run = only(run_sync(engine))
    assert run.status is SyncStatus.OK and run.withdrawn == 0
    assert len(store.query_offers(engine, store.OfferQuery())) == 2


def test_duplicate_offers_in_one_feed_are_rejected(engine: Any, fake_catalog: Catalog) -> None:
    rows = [offer_row(instance_type=f"fk.{i}", price_per_hour=10 + i) for i in range(8)]
    fake_catalog([*rows, offer_row(instance_type="fk.0", price_per_hour=99)])
    run = only(run_sync(engine))
    assert (run.seen, run.rejected) == (8, 1)
    assert prices(engine)["fk.0"] == 10


def test_provider_without_settings_is_reported_not_configured(
    engine: Any, fake_plugins: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GPUHOURS_FAKE_CATALOG", raising=False)
    run = only(run_sync(engine))
    assert run.status is SyncStatus.NOT_CONFIGURED
    assert "GPUHOURS_FAKE_CATALOG" in run.error


def _paged_api(second_page: bytes | None = None) -> respx.Router:
    """The fake feed's two pages, the first linking to the second; ``second_page`` replaces the
    second page's body (a truncated one, say)."""
    api = respx.Router(assert_all_called=False)
    first = {
        "items": [offer_row(instance_type="fk.page1", source={"sku": "P1"})],
        "next": "https://prices.fake.invalid/v1/prices/2",
    }
    second = {"items": [offer_row(instance_type="fk.page2", source={"sku": "P2"})]}
    api.get(path="/v1/prices", name="first").respond(200, json=first)
    page2 = api.get(path="/v1/prices/2", name="second")
    if second_page is None:
        page2.respond(200, json=second)
    else:
        page2.respond(200, content=second_page)
    return api


def _transport(api: respx.Router) -> httpx.MockTransport:
    return httpx.MockTransport(api.handler)


def test_record_then_replay_yields_identical_offers(
    engine: Any, fake_catalog: Catalog, tmp_path: Path
) -> None:
    api = _paged_api()
    record_dir = tmp_path / "recorded"
    run = only(
        run_sync(engine, ["fakecloud/http"], transport=_transport(api), record_dir=record_dir)
    )
    assert run.status is SyncStatus.OK and run.seen == 2 and len(api.calls) == 2
    assert api["first"].call_count == api["second"].call_count == 1
    recorded = {
        o.id: o.model_dump(exclude={"observed_at"})
        for o in store.query_offers(engine, store.OfferQuery())
    }

    run = only(run_sync(engine, ["fakecloud/http"], replay_dir=record_dir))
    assert run.status is SyncStatus.OK
    assert (run.seen, run.new, run.changed, run.withdrawn) == (2, 0, 0, 0)
    replayed = {
        o.id: o.model_dump(exclude={"observed_at"})
        for o in store.query_offers(engine, store.OfferQuery())
    }
    assert replayed == recorded
    files = [p for p in record_dir.rglob("*") if p.is_file()]
    assert files and not any(b"SECRET-KEY-123" in p.read_bytes() for p in files)


def test_truncated_response_changes_nothing(engine: Any, fake_catalog: Catalog) -> None:
    run_sync(engine, ["fakecloud/http"], transport=_transport(_paged_api()))
    before = dump_tables(engine, *STORE_TABLES)
    truncated = json.dumps({"items": [offer_row(instance_type="fk.page2")]}).encode()[:40]
    run = only(run_sync(engine, ["fakecloud/http"], transport=_transport(_paged_api(truncated))))
    assert run.status is SyncStatus.FAILED
    assert dump_tables(engine, *STORE_TABLES) == before


def test_one_failing_feed_does_not_stop_the_others_and_no_raw_httpx_error_escapes(
    engine: Any, fake_catalog: Catalog
) -> None:
    fake_catalog([offer_row()])

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    outcomes = run_sync(
        engine, ["fakecloud/static", "fakecloud/http"], transport=httpx.MockTransport(refuse)
    )
    by_feed = {o.run.feed: o.run for o in outcomes}
    assert by_feed["fakecloud/static"].status is SyncStatus.OK
    failed = by_feed["fakecloud/http"]
    assert failed.status is SyncStatus.FAILED
    assert "prices.fake.invalid" in failed.error
    assert "SECRET-KEY-123" not in failed.error


def test_report_unknown_once_counts_each_key_a_single_time() -> None:
    from aggregator.providers import FetchContext

    ctx = FetchContext(client=httpx.AsyncClient(), feed_id="x/y")
    for region in ("a", "b", "c"):
        ctx.report_unknown("instance type", f"zz.1 in {region}", once="zz.1")
    ctx.report_unknown("instance type", "yy.2 in a", once="yy.2")
    ctx.report_unknown("instance type", "no key")
    ctx.report_unknown("instance type", "no key")
    assert [raw for _, raw in ctx.unknowns] == ["zz.1 in a", "yy.2 in a", "no key", "no key"]
