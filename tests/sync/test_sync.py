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

from aggregator.errors import StoreError
from aggregator.models import SyncStatus
from aggregator.plugins import load_registry
from aggregator.settings import Settings
from aggregator.sync import SyncOutcome, sync_feeds
from db import store
from tests.fake_plugins import STORE_TABLES, dump_tables, offer_row
from tests.paths import FIXTURES

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


# --- hostile prices, jumps, deadlines and syncs that died --------------------------------------

AZURE_PAGE = FIXTURES / "azure" / "virtual_machines_eastus2.json"
AZURE_A100 = 8  # Standard_NC48ads_A100_v4, Linux on demand, 7.346 USD/h in the recording


def _azure_sync(engine: Any, retail_price: Any) -> Any:
    """Sync azure/retail from the recorded eastus2 page with the A100 row's price edited."""
    import plugins.azure
    from aggregator.http import make_client
    from aggregator.sync import sync_feed

    body = json.loads(AZURE_PAGE.read_bytes())
    body["NextPageLink"] = None
    if retail_price is not None:
        body["Items"][AZURE_A100].update(retailPrice=retail_price, unitPrice=retail_price)
    content = json.dumps(body).encode()  # NaN is written as the bare NaN token, as a bad API would
    settings = Settings(http_retries=0)
    registry = load_registry(
        settings, load_entrypoints=False, extra_plugins=[("azure", plugins.azure)]
    )

    async def go() -> Any:
        transport = httpx.MockTransport(lambda request: httpx.Response(200, content=content))
        async with make_client(settings, transport=transport) as client:
            return await sync_feed(
                registry.feeds["azure/retail"], registry, engine, client, settings
            )

    return asyncio.run(go()).run


def _a100(engine: Any) -> Any:
    (offer,) = [
        o
        for o in store.query_offers(engine, store.OfferQuery(include_withdrawn=True))
        if o.instance_type == "Standard_NC48ads_A100_v4" and o.purchase_option.value == "on_demand"
    ]
    return offer


@pytest.mark.parametrize("bad_price", [1e308, 1e-9, 0, -7.346, float("nan"), "abc"])
def test_an_absurd_azure_price_is_a_rejected_row_and_never_stored(
    engine: Any, bad_price: Any
) -> None:
    # The recorded Azure page, one real row's retailPrice edited (see the fixture PROVENANCE).
    assert _azure_sync(engine, None).status is SyncStatus.OK
    assert _a100(engine).price_per_hour == 7.346
    before = _a100(engine)
    run = _azure_sync(engine, bad_price)
    assert run.status is SyncStatus.OK, run.error
    assert run.rejected == 1
    # whether the plugin refuses the price or the engine finds it implausible, the last good
    # price stays with its real age: neither withdrawn nor confirmed
    assert _a100(engine) == before
    stored = store.query_offers(engine, store.OfferQuery(include_withdrawn=True))
    assert all(0.001 <= o.price_per_gpu_hour <= 1000 for o in stored)


def test_an_offer_whose_price_per_gpu_hour_overflows_is_rejected(
    engine: Any, fake_catalog: Catalog
) -> None:
    rows = [offer_row(instance_type=f"fk.{i}", price_per_hour=10 + i) for i in range(9)]
    fake_catalog([*rows, offer_row(instance_type="tiny", gpu_count=1e-308, price_per_hour=1e10)])
    run = only(run_sync(engine))
    assert run.status is SyncStatus.OK and run.rejected == 1
    assert "tiny" not in prices(engine)


def test_a_zero_price_is_rejected_per_row(engine: Any, fake_catalog: Catalog) -> None:
    rows = [offer_row(instance_type=f"fk.{i}", price_per_hour=10 + i) for i in range(9)]
    fake_catalog([*rows, offer_row(instance_type="free", price_per_hour=0)])
    run = only(run_sync(engine))
    assert run.status is SyncStatus.OK and run.rejected == 1 and "free" not in prices(engine)


@pytest.mark.parametrize("bad_price", [0, -3.0, "n/a", None, float("nan")])
def test_a_stored_offer_whose_row_comes_back_unpriced_keeps_its_last_good_price(
    engine: Any, fake_catalog: Catalog, bad_price: Any
) -> None:
    rows = [offer_row(instance_type=f"fk.{i}", price_per_hour=10 + i) for i in range(9)]
    fake_catalog(rows)
    run_sync(engine)
    before = {o.instance_type: o for o in store.query_offers(engine, store.OfferQuery())}
    broken = {**rows[0], "price_per_hour": bad_price}
    fake_catalog([broken, *rows[1:]])
    run = only(run_sync(engine))
    assert run.status is SyncStatus.OK and run.rejected == 1 and run.withdrawn == 0
    after = {o.instance_type: o for o in store.query_offers(engine, store.OfferQuery())}
    assert after["fk.0"] == before["fk.0"]  # same price, same last-seen time: not confirmed


def test_a_rejected_row_with_a_broken_key_holds_nothing(engine: Any, fake_catalog: Catalog) -> None:
    rows = [offer_row(instance_type=f"fk.{i}", price_per_hour=10 + i) for i in range(10)]
    fake_catalog(rows)
    run_sync(engine)
    broken = {**rows[0], "purchase_option": "someday", "price_per_hour": 0}
    fake_catalog([broken, *rows[1:]])
    run = only(run_sync(engine))
    assert run.status is SyncStatus.OK and run.withdrawn == 1
    live = store.query_offers(engine, store.OfferQuery())
    assert "fk.0" not in {o.instance_type for o in live}


def _ten_offers(jumped: int, factor: float = 100.0) -> list[dict[str, Any]]:
    return [
        offer_row(instance_type=f"fk.{i}", price_per_hour=(10 + i) * (factor if i < jumped else 1))
        for i in range(10)
    ]


def test_a_feed_moving_many_prices_a_hundredfold_is_refused_unless_forced(
    engine: Any, fake_catalog: Catalog
) -> None:
    fake_catalog(_ten_offers(0))
    run_sync(engine)
    before = dump_tables(engine, *STORE_TABLES)
    fake_catalog(_ten_offers(3))  # 30 % of the offers at 100x
    run = only(run_sync(engine))
    assert run.status is SyncStatus.FAILED
    assert "moved 3 of its 10 live offers' prices by more than 10x" in run.error
    assert "fk.0 us-east-1 on_demand: 10 -> 1000 USD/h" in run.error
    assert "gpuhours sync --force" in run.error
    assert dump_tables(engine, *STORE_TABLES) == before
    run = only(run_sync(engine, force=True))
    assert run.status is SyncStatus.OK and run.changed == 3
    assert prices(engine)["fk.0"] == 1000


@pytest.mark.parametrize("factor", [100.0, 0.01])
def test_a_few_large_moves_are_applied(engine: Any, fake_catalog: Catalog, factor: float) -> None:
    fake_catalog(_ten_offers(0))
    run_sync(engine)
    fake_catalog(_ten_offers(1, factor))  # 10 %: under the 20 % share
    run = only(run_sync(engine))
    assert run.status is SyncStatus.OK and run.changed == 1
    assert prices(engine)["fk.0"] == pytest.approx(10 * factor)


def test_the_jump_guard_follows_its_settings(engine: Any, fake_catalog: Catalog) -> None:
    fake_catalog(_ten_offers(0))
    run_sync(engine)
    fake_catalog(_ten_offers(1, 3.0))
    strict = Settings(http_retries=0, sync_price_jump_share=0.05, sync_price_jump_factor=2)
    run = only(run_sync(engine, settings=strict))
    assert run.status is SyncStatus.FAILED and "more than 2x" in run.error


def test_a_feed_past_its_deadline_fails_and_the_last_prices_stay(
    engine: Any, fake_catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gh_fake_cloud import StaticFeed

    fake_catalog([offer_row()])
    run_sync(engine)
    before = dump_tables(engine, *STORE_TABLES)
    original = StaticFeed.fetch

    async def slow(self: Any, ctx: Any) -> Any:
        async for item in original(self, ctx):
            yield item
        await asyncio.sleep(3600)  # a source that never finishes

    monkeypatch.setattr(StaticFeed, "fetch", slow)
    run = only(run_sync(engine, settings=Settings(http_retries=0, sync_feed_timeout=0.05)))
    assert run.status is SyncStatus.FAILED
    assert "feed fakecloud/static did not finish fetching within 0.05 s" in run.error
    assert "s spent" in run.error and "nothing was changed" in run.error
    assert dump_tables(engine, *STORE_TABLES) == before
    assert store.latest_runs(engine)["fakecloud/static"].id == run.id


def test_a_sync_is_recorded_as_running_then_finished_in_the_same_row(
    engine: Any, fake_catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gh_fake_cloud import StaticFeed

    fake_catalog([offer_row()])
    seen_during_fetch: list[Any] = []
    original = StaticFeed.fetch

    async def watched(self: Any, ctx: Any) -> Any:
        seen_during_fetch.append(store.latest_runs(engine)["fakecloud/static"])
        async for item in original(self, ctx):
            yield item

    monkeypatch.setattr(StaticFeed, "fetch", watched)
    run = only(run_sync(engine))
    (during,) = seen_during_fetch
    assert during.status is SyncStatus.RUNNING and during.finished_at is None
    assert run.status is SyncStatus.OK and run.id == during.id
    assert store.sync_run_counts(engine) == {("fakecloud/static", "ok"): 1}


def _died(engine: Any, started: Any) -> Any:
    """A sync whose process died (kill -9): its running row is recorded and never finished."""
    from aggregator.models import SyncRun

    running = SyncRun(
        feed="fakecloud/static",
        provider="fakecloud",
        started_at=started,
        status=SyncStatus.RUNNING,
    )
    return store.start_run(engine, running, lifetime=store.running_lifetime(60))


def test_a_sync_that_died_shows_as_interrupted_and_the_next_sync_records_it(
    engine: Any, fake_catalog: Catalog
) -> None:
    from datetime import timedelta

    from aggregator import catalog
    from aggregator.models import utcnow

    dead = _died(engine, utcnow() - timedelta(hours=3))
    assert store.latest_runs(engine)["fakecloud/static"].status is SyncStatus.RUNNING
    lifetime = store.running_lifetime(60)
    shown = store.latest_runs(engine, lifetime=lifetime)["fakecloud/static"]
    assert shown.id == dead.id and shown.status is SyncStatus.INTERRUPTED
    assert "never finished" in (shown.error or "")
    registry = load_registry(Settings(http_retries=0))
    report = catalog.providers_report(registry, engine, feed_timeout=60)
    (feed,) = [f for f in report.feeds if f.id == "fakecloud/static"]
    assert feed.last_run is not None and feed.last_run.status is SyncStatus.INTERRUPTED
    assert store.consecutive_failures(engine) == {}  # not yet recorded: the next sync does

    fake_catalog([offer_row(price_per_hour=1e308)])  # the next sync fails: the streak shows it
    run = only(run_sync(engine, settings=Settings(http_retries=0, sync_feed_timeout=60)))
    assert run.status is SyncStatus.FAILED
    counts = store.sync_run_counts(engine)
    assert counts[("fakecloud/static", "interrupted")] == 1
    assert ("fakecloud/static", "running") not in counts
    assert store.consecutive_failures(engine) == {"fakecloud/static": 2}


def test_a_sync_still_running_elsewhere_is_left_running(engine: Any, fake_catalog: Catalog) -> None:
    from aggregator.models import utcnow

    fake_catalog([offer_row()])
    other = _died(engine, utcnow())  # started just now in another process, may be alive
    assert (
        store.latest_runs(engine, lifetime=store.running_lifetime(60))["fakecloud/static"].status
        is SyncStatus.RUNNING
    )
    run = only(run_sync(engine))
    assert run.status is SyncStatus.OK
    assert store.sync_run_counts(engine)[("fakecloud/static", "running")] == 1
    assert store.consecutive_failures(engine) == {}
    assert other.id != run.id


@pytest.mark.parametrize(("spot", "kept"), [(98.32, False), (120.0, False), (98.31, True)])
def test_an_interruptible_price_not_below_on_demand_is_rejected(
    engine: Any, fake_catalog: Catalog, spot: float, kept: bool
) -> None:
    rows = [offer_row(instance_type=f"fk.{i}", price_per_hour=10 + i) for i in range(9)]
    fake_catalog([*rows, offer_row(), offer_row(purchase_option="spot", price_per_hour=spot)])
    run = only(run_sync(engine))
    assert run.status is SyncStatus.OK and run.rejected == (0 if kept else 1)
    options = {
        o.purchase_option.value
        for o in store.query_offers(engine, store.OfferQuery())
        if o.instance_type == "fk.8xh100"
    }
    assert options == ({"on_demand", "spot"} if kept else {"on_demand"})


def test_a_spot_feed_is_judged_against_the_on_demand_prices_another_feed_stored(
    engine: Any, fake_catalog: Catalog
) -> None:
    from datetime import UTC, datetime

    from tests.offers import build_offer, save_offers

    # the on-demand price comes from another feed of the same provider (as AWS's spot feed)
    on_demand = build_offer(provider="fakecloud", instance_type="fk.8xh100", price_per_hour=98.32)
    save_offers(engine, [on_demand], now=datetime(2025, 6, 1, tzinfo=UTC))
    assert store.on_demand_prices(engine, "fakecloud") == {("us-east-1", "fk.8xh100", "USD"): 98.32}
    rows = [offer_row(instance_type=f"fk.{i}", price_per_hour=10 + i) for i in range(9)]
    fake_catalog([*rows, offer_row(purchase_option="spot", price_per_hour=98.32)])
    run = only(run_sync(engine))
    assert run.status is SyncStatus.OK and run.rejected == 1
    assert store.on_demand_prices(engine, "aws") == {}
