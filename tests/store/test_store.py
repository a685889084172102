"""The price store: what one feed sync writes, what it refuses, and what readers get back.

Every test runs against SQLite and PostgreSQL (the ``engine`` fixture).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, select, text

import db.store as store
import db.store.write as store_write
from aggregator.errors import StoreError, SyncRejected
from aggregator.models import (
    Billing,
    Offer,
    OfferingClass,
    Payment,
    PurchaseOption,
    StoredOffer,
    SyncRun,
    SyncStatus,
)
from db.engine import write_transaction
from db.store import (
    FeedSnapshot,
    OfferQuery,
    OfferRecord,
    apply_snapshot,
    get_offer,
    last_good_run,
    latest_runs,
    live_offer_count,
    live_offer_counts,
    load_feed_state,
    price_history,
    query_offer_records,
    query_offers,
    record_failed_run,
)
from db.tables import metadata

OfferFactory = Callable[..., Offer]  # the make_offer fixture (tests/conftest.py)
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
T2 = T0 + timedelta(hours=2)
T3 = T0 + timedelta(hours=3)
FEED = "aws/on-demand"


def apply(
    engine: Engine,
    offers: Sequence[Offer],
    *,
    now: datetime,
    feed: str = FEED,
    unchanged: Sequence[Mapping[str, str]] = (),
    state: dict[str, str] | None = None,
    min_share_of_live: float | None = None,
) -> SyncRun:
    snap = FeedSnapshot(
        feed=feed,
        provider=feed.split("/")[0],
        offers=list(offers),
        unchanged=list(unchanged),
        state=dict(state or {}),
        started_at=now - timedelta(minutes=5),
    )
    return apply_snapshot(engine, snap, now=now, min_share_of_live=min_share_of_live)


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every gpuhours table, in primary-key order."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            stmt = select(table).order_by(*table.primary_key.columns)
            tables[table.name] = [tuple(row) for row in conn.execute(stmt)]
    return tables


def three_offers(make_offer: OfferFactory) -> list[Offer]:
    return [
        make_offer(region="us-east-1"),
        make_offer(region="us-west-2", price_per_hour=99.0),
        make_offer(region="eu-west-1", price_per_hour=110.5),
    ]


# --- apply_snapshot ------------------------------------------------------------------------


def test_first_apply_inserts_offers_and_opens_history(
    engine: Engine, make_offer: OfferFactory
) -> None:
    offers = three_offers(make_offer)

    run = apply(engine, offers, now=T0, state={"etag": "v1"})

    assert run.id is not None
    assert run.status is SyncStatus.OK
    assert (run.seen, run.new, run.changed, run.unchanged, run.withdrawn) == (3, 3, 0, 0, 0)
    assert run.finished_at == T0
    stored = query_offers(engine, OfferQuery(sort="price_per_hour"))
    assert [s.id for s in stored] == [o.id for o in offers]
    for offer, got in zip(offers, stored, strict=True):
        assert got.model_dump(exclude={"feed", "first_seen", "withdrawn_at", "observed_at"}) == (
            offer.model_dump(exclude={"observed_at"})
        )
        assert (got.feed, got.first_seen, got.observed_at, got.withdrawn_at) == (FEED, T0, T0, None)
    history = price_history(engine, [o.id for o in offers])
    assert sorted((h.offer_id, h.price_per_hour, h.valid_from, h.valid_to) for h in history) == (
        sorted((o.id, o.price_per_hour, T0, None) for o in offers)
    )
    assert history[0].source == next(o.source for o in offers if o.id == history[0].offer_id)


def test_same_prices_again_write_no_history_and_count_unchanged(
    engine: Engine, make_offer: OfferFactory
) -> None:
    offers = three_offers(make_offer)
    apply(engine, offers, now=T0)

    run = apply(engine, offers, now=T1)

    assert run.status is SyncStatus.OK
    assert (run.seen, run.new, run.changed, run.unchanged, run.withdrawn) == (3, 0, 0, 3, 0)
    assert len(price_history(engine, [o.id for o in offers])) == 3
    for got in query_offers(engine, OfferQuery()):
        assert (got.first_seen, got.observed_at) == (T0, T1)


def test_price_change_closes_the_open_interval_and_opens_a_new_one(
    engine: Engine, make_offer: OfferFactory
) -> None:
    offers = three_offers(make_offer)
    apply(engine, offers, now=T0)
    cheaper = make_offer(region="us-east-1", price_per_hour=90.0, source={"sku": "NEW"})

    run = apply(engine, [cheaper, *offers[1:]], now=T1)

    assert (run.new, run.changed, run.unchanged) == (0, 1, 2)
    history = price_history(engine, [cheaper.id])
    assert [(h.price_per_hour, h.valid_from, h.valid_to, h.source) for h in history] == [
        (98.32, T0, T1, offers[0].source),
        (90.0, T1, None, {"sku": "NEW"}),
    ]
    stored = get_offer(engine, cheaper.id)
    assert stored is not None
    assert stored.price_per_hour == 90.0
    assert stored.price_per_gpu_hour == pytest.approx(90.0 / 8)


@pytest.mark.parametrize(
    "change",
    [{"upfront": 1000.0}, {"currency": "EUR"}],
    ids=["upfront", "currency"],
)
def test_upfront_or_currency_change_is_a_price_change(
    engine: Engine, make_offer: OfferFactory, change: dict[str, Any]
) -> None:
    reserved = {
        "purchase_option": PurchaseOption.RESERVED,
        "term_hours": 8760,
        "payment": Payment.PARTIAL_UPFRONT,
        "offering_class": OfferingClass.STANDARD,
        "price_per_hour": 60.0,
    }
    apply(engine, [make_offer(**reserved)], now=T0)

    run = apply(engine, [make_offer(**reserved | change)], now=T1)

    assert run.changed == 1
    assert len(price_history(engine, [make_offer(**reserved).id])) == 2


def test_unseen_offers_are_withdrawn_and_their_interval_closed(
    engine: Engine, make_offer: OfferFactory
) -> None:
    offers = three_offers(make_offer)
    apply(engine, offers, now=T0)

    run = apply(engine, offers[:2], now=T1)

    assert (run.seen, run.unchanged, run.withdrawn) == (2, 2, 1)
    gone = get_offer(engine, offers[2].id)
    assert gone is not None
    assert (gone.withdrawn_at, gone.observed_at) == (T1, T0)
    assert [(h.valid_from, h.valid_to) for h in price_history(engine, [gone.id])] == [(T0, T1)]
    assert [o.id for o in query_offers(engine, OfferQuery())] == [o.id for o in offers[:2]]
    assert live_offer_count(engine, FEED) == 2

    again = apply(engine, offers[:2], now=T2)  # already withdrawn: not withdrawn twice
    assert again.withdrawn == 0
    gone_again = get_offer(engine, offers[2].id)
    assert gone_again is not None and gone_again.withdrawn_at == T1


def test_withdrawn_offer_reappearing_is_new_and_opens_a_new_interval(
    engine: Engine, make_offer: OfferFactory
) -> None:
    offers = three_offers(make_offer)
    apply(engine, offers, now=T0)
    apply(engine, offers[:2], now=T1)

    run = apply(engine, offers, now=T2)

    assert (run.new, run.changed, run.unchanged, run.withdrawn) == (1, 0, 2, 0)
    back = get_offer(engine, offers[2].id)
    assert back is not None
    assert (back.withdrawn_at, back.observed_at, back.first_seen) == (None, T2, T0)
    assert [(h.valid_from, h.valid_to) for h in price_history(engine, [back.id])] == [
        (T0, T1),
        (T2, None),
    ]


def test_unchanged_region_match_keeps_that_region_and_withdraws_the_rest(
    engine: Engine, make_offer: OfferFactory
) -> None:
    offers = three_offers(make_offer)
    spot = make_offer(region="us-west-2", purchase_option=PurchaseOption.SPOT, price_per_hour=30)
    apply(engine, [*offers, spot], now=T0)

    run = apply(engine, [offers[0]], now=T1, unchanged=[{"region": "us-west-2"}])

    assert run.status is SyncStatus.OK
    assert (run.seen, run.unchanged, run.withdrawn) == (1, 3, 1)
    by_id = {o.id: o for o in query_offers(engine, OfferQuery(include_withdrawn=True))}
    assert by_id[offers[1].id].observed_at == T1 and by_id[offers[1].id].withdrawn_at is None
    assert by_id[spot.id].observed_at == T1 and by_id[spot.id].withdrawn_at is None
    assert by_id[offers[2].id].withdrawn_at == T1
    assert len(price_history(engine, [offers[1].id, spot.id])) == 2  # kept: no new interval


def test_unchanged_match_on_all_its_columns(engine: Engine, make_offer: OfferFactory) -> None:
    on_demand = make_offer(region="us-west-2")
    spot = make_offer(region="us-west-2", purchase_option=PurchaseOption.SPOT, price_per_hour=30)
    apply(engine, [on_demand, spot], now=T0)

    run = apply(engine, [], now=T1, unchanged=[{"region": "us-west-2", "purchase_option": "spot"}])

    assert (run.unchanged, run.withdrawn) == (1, 1)
    assert [o.id for o in query_offers(engine, OfferQuery())] == [spot.id]


def test_whole_feed_unchanged_keeps_everything_and_is_recorded_as_unchanged(
    engine: Engine, make_offer: OfferFactory
) -> None:
    offers = three_offers(make_offer)
    apply(engine, offers, now=T0)
    apply(engine, offers[:2], now=T1)  # one withdrawn

    run = apply(engine, [], now=T2, unchanged=[{}], state={"etag": "same"})

    assert run.status is SyncStatus.UNCHANGED
    assert (run.seen, run.new, run.changed, run.unchanged, run.withdrawn) == (0, 0, 0, 2, 0)
    stored = {o.id: o for o in query_offers(engine, OfferQuery(include_withdrawn=True))}
    assert [stored[o.id].observed_at for o in offers] == [T2, T2, T0]
    assert stored[offers[2].id].withdrawn_at == T1  # a withdrawn offer is not brought back
    assert len(price_history(engine, [o.id for o in offers])) == 3
    assert last_good_run(engine, FEED) == run


def test_feed_state_is_replaced_as_a_whole(engine: Engine, make_offer: OfferFactory) -> None:
    apply(engine, [make_offer()], now=T0, state={"etag": "a", "version": "1"})
    apply(engine, [make_offer()], now=T0, feed="aws/spot", state={"etag": "spot"})
    assert load_feed_state(engine, FEED) == {"etag": "a", "version": "1"}

    apply(engine, [make_offer()], now=T1, state={"etag": "b"})

    assert load_feed_state(engine, FEED) == {"etag": "b"}
    assert load_feed_state(engine, "aws/spot") == {"etag": "spot"}
    assert load_feed_state(engine, "gcp/catalog") == {}


def test_other_feeds_are_not_touched(engine: Engine, make_offer: OfferFactory) -> None:
    spot = make_offer(purchase_option=PurchaseOption.SPOT, price_per_hour=30)
    apply(engine, [spot], now=T0, feed="aws/spot")

    run = apply(engine, [make_offer()], now=T1)
    apply(engine, [], now=T2)  # this feed now has nothing: only its own offer goes

    assert run.withdrawn == 0
    kept = get_offer(engine, spot.id)
    assert kept is not None
    assert (kept.feed, kept.observed_at, kept.withdrawn_at) == ("aws/spot", T0, None)
    assert live_offer_count(engine) == 1
    assert live_offer_count(engine, "aws/spot") == 1
    assert live_offer_count(engine, FEED) == 0


def test_an_offer_seen_by_another_feed_moves_to_it_and_keeps_its_history(
    engine: Engine, make_offer: OfferFactory
) -> None:
    offer = make_offer()
    apply(engine, [offer], now=T0, feed="aws/old-feed")

    run = apply(engine, [make_offer(price_per_hour=95.0)], now=T1, feed="aws/new-feed")

    assert (run.new, run.changed) == (0, 1)
    moved = get_offer(engine, offer.id)
    assert moved is not None and moved.feed == "aws/new-feed" and moved.first_seen == T0
    assert [(h.valid_from, h.valid_to) for h in price_history(engine, [offer.id])] == [
        (T0, T1),
        (T1, None),
    ]
    assert apply(engine, [], now=T2, feed="aws/old-feed").withdrawn == 0


def test_shrink_guard_rejects_and_leaves_the_database_exactly_as_it_was(
    engine: Engine, make_offer: OfferFactory
) -> None:
    offers = [make_offer(region=f"region-{i}") for i in range(10)]
    apply(engine, offers, now=T0, state={"etag": "v1"})
    before = dump(engine)

    with pytest.raises(SyncRejected) as excinfo:
        apply(engine, offers[:4], now=T1, state={"etag": "v2"}, min_share_of_live=0.5)

    assert dump(engine) == before
    message = str(excinfo.value)
    assert "4 offers" in message and "10 were live" in message and "--force" in message


def test_shrink_guard_counts_kept_unchanged_offers(
    engine: Engine, make_offer: OfferFactory
) -> None:
    offers = [make_offer(region=f"region-{i}") for i in range(10)]
    apply(engine, offers, now=T0)

    run = apply(
        engine, offers[:4], now=T1, unchanged=[{"region": "region-9"}], min_share_of_live=0.5
    )
    assert (run.withdrawn, run.unchanged) == (5, 5)

    # Without the guard (--force), shrinking is applied.
    assert apply(engine, offers[:1], now=T2).withdrawn == 4


def test_duplicate_offers_are_rejected(engine: Engine, make_offer: OfferFactory) -> None:
    before = dump(engine)
    with pytest.raises(SyncRejected, match="more than once"):
        apply(engine, [make_offer(), make_offer(price_per_hour=1.0)], now=T0)
    assert dump(engine) == before


def test_unchanged_match_on_an_unknown_column_is_rejected(engine: Engine) -> None:
    with pytest.raises(SyncRejected, match="regoin"):
        apply(engine, [], now=T0, unchanged=[{"regoin": "us-east-1"}])
    assert dump(engine)["sync_runs"] == []


def _bad_sql(conn: Connection, feed: str, state: Mapping[str, str]) -> None:
    conn.execute(text("SELECT * FROM no_such_table"))


def _boom(conn: Connection, feed: str, state: Mapping[str, str]) -> None:
    raise RuntimeError("boom")


@pytest.mark.parametrize(
    ("replacement", "error"),
    [(_boom, RuntimeError), (_bad_sql, StoreError)],
    ids=["python-error", "database-error"],
)
def test_a_failure_after_the_upsert_rolls_everything_back(
    engine: Engine,
    make_offer: OfferFactory,
    monkeypatch: pytest.MonkeyPatch,
    replacement: Any,
    error: type[Exception],
) -> None:
    offers = three_offers(make_offer)
    apply(engine, offers, now=T0, state={"etag": "v1"})
    before = dump(engine)
    upserted: list[int] = []
    real_upsert = store_write._upsert_offers

    def upsert_then_count(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
        real_upsert(conn, rows)
        upserted.append(len(rows))

    monkeypatch.setattr(store_write, "_upsert_offers", upsert_then_count)
    monkeypatch.setattr(store_write, "replace_feed_state", replacement)
    changed = [make_offer(region="us-east-1", price_per_hour=1.0), make_offer(region="x")]

    with pytest.raises(error):
        apply(engine, changed, now=T1, state={"etag": "v2"})

    assert upserted == [2]  # the failure came after rows had been written
    assert dump(engine) == before


def test_database_errors_name_the_database_without_secrets(tmp_path: Any) -> None:
    from db.engine import make_engine

    unmigrated = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with pytest.raises(StoreError, match=r"sqlite:///.*empty\.db.*no such table"):
            live_offer_count(unmigrated)
    finally:
        unmigrated.dispose()


def test_readers_see_all_old_or_all_new_never_half_a_sync(
    engine: Engine, make_offer: OfferFactory
) -> None:
    offers = three_offers(make_offer)
    apply(engine, offers, now=T0)

    def snapshot() -> tuple[list[tuple[str, float]], int]:
        live = [(o.id, o.price_per_hour) for o in query_offers(engine, OfferQuery())]
        return live, len(price_history(engine, [o.id for o in offers] + [new.id]))

    new = make_offer(region="ap-south-1")
    old_state = snapshot()
    seen_before_commit: list[tuple[list[tuple[str, float]], int]] = []

    def before_commit(conn: Connection) -> None:
        # Runs on the writer's connection just before COMMIT: every write has been executed.
        seen_before_commit.append(snapshot())

    event.listen(engine, "commit", before_commit)
    try:
        apply(engine, [make_offer(region="us-east-1", price_per_hour=1.0), new], now=T1)
    finally:
        event.remove(engine, "commit", before_commit)

    assert seen_before_commit == [old_state]
    live, history_rows = snapshot()
    assert sorted(live) == sorted([(offers[0].id, 1.0), (new.id, 98.32)])
    assert history_rows == 3 + 2


def test_a_second_writer_waits_for_the_first_instead_of_failing(
    engine: Engine, make_offer: OfferFactory
) -> None:
    apply(engine, [make_offer()], now=T0)
    errors: list[BaseException] = []
    runs: list[SyncRun] = []

    def second_writer() -> None:
        try:
            runs.append(apply(engine, [make_offer(region="eu-west-1")], now=T1, feed="aws/spot"))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    with write_transaction(engine) as conn:
        conn.execute(text("UPDATE feed_state SET value = 'x' WHERE feed = 'none'"))
        conn.execute(text("SELECT count(*) FROM offers")).scalar_one()
        writer = threading.Thread(target=second_writer)
        writer.start()
        time.sleep(0.3)  # the second writer is now waiting for the lock (or has read)
        conn.execute(
            text("INSERT INTO feed_state (feed, key, value) VALUES ('aws/on-demand', 'k', 'v')")
        )
    writer.join(timeout=30)

    assert not writer.is_alive()
    assert errors == []
    assert runs[0].new == 1
    assert live_offer_count(engine) == 2


def test_naive_timestamps_are_refused(engine: Engine, make_offer: OfferFactory) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        apply(engine, [make_offer()], now=datetime(2025, 3, 1, 12))


def test_timestamps_come_back_timezone_aware_in_utc(
    engine: Engine, make_offer: OfferFactory
) -> None:
    paris = timezone(timedelta(hours=2))
    now = datetime(2025, 3, 1, 14, 0, tzinfo=paris)  # = T0
    run = apply(engine, [make_offer()], now=now)

    stored = get_offer(engine, make_offer().id)
    (interval,) = price_history(engine, [make_offer().id])
    good = last_good_run(engine, FEED)
    assert stored is not None and good is not None
    for value in (
        stored.first_seen,
        stored.observed_at,
        interval.valid_from,
        good.started_at,
        good.finished_at,
    ):
        assert value is not None
        assert value.tzinfo is UTC
    assert stored.observed_at == T0 and interval.valid_from == T0
    assert good == run


def test_offer_fields_round_trip(engine: Engine, make_offer: OfferFactory) -> None:
    offers = [
        make_offer(
            zone="us-east-1a",
            billing=Billing(increment_seconds=1, minimum_seconds=60),
            source={"sku": 'ÄÖ "quoted" \\ back', "b": "2", "a": "1"},
            available_in=("us-east-1", "US-TX-3"),
        ),
        make_offer(
            purchase_option=PurchaseOption.RESERVED,
            term_hours=26280,
            payment=Payment.ALL_UPFRONT,
            offering_class=OfferingClass.CONVERTIBLE,
            price_per_hour=40.0,
            upfront=40.0 * 26280,
        ),
        make_offer(
            provider="azure",
            region="eastus",
            instance_type="NV6ads_A10_v5",
            gpu="A10",
            gpu_count=1 / 6,
            gpu_memory_gb=24,
            vcpus=None,
            memory_gb=None,
            available_in=(),
        ),
    ]
    apply(engine, offers, now=T0)

    for offer in offers:
        got = get_offer(engine, offer.id)
        assert got is not None
        assert got.model_dump(exclude={"feed", "first_seen", "withdrawn_at", "observed_at"}) == (
            offer.model_dump(exclude={"observed_at"})
        )
        # Read back without validation (the store validated on the way in): the same model,
        # field types included, as validating the row's values gives.
        computed = {"id", "interruptible", "available_now", "price_per_gpu_hour"}
        validated = StoredOffer.model_validate(got.model_dump(exclude=computed))
        assert got == validated and got.model_dump_json() == validated.model_dump_json()
        assert {k: type(v) for k, v in vars(got).items()} == {
            k: type(v) for k, v in vars(validated).items()
        }
    assert get_offer(engine, "0" * 20) is None


# --- sync runs -----------------------------------------------------------------------------


def _failed(feed: str, started_at: datetime, error: str = "timeout") -> SyncRun:
    return SyncRun(
        feed=feed,
        provider=feed.split("/")[0],
        started_at=started_at,
        finished_at=started_at + timedelta(seconds=3),
        status=SyncStatus.FAILED,
        error=error,
    )


def test_record_failed_run_writes_only_the_run(engine: Engine, make_offer: OfferFactory) -> None:
    apply(engine, [make_offer()], now=T0, state={"etag": "v1"})
    before = dump(engine)

    recorded = record_failed_run(engine, _failed(FEED, T1, "fewer offers than last time"))

    after = dump(engine)
    assert recorded.id is not None and recorded.error == "fewer offers than last time"
    assert {k: v for k, v in after.items() if k != "sync_runs"} == {
        k: v for k, v in before.items() if k != "sync_runs"
    }
    assert len(after["sync_runs"]) == len(before["sync_runs"]) + 1
    assert latest_runs(engine)[FEED] == recorded


def test_record_failed_run_refuses_successful_statuses(engine: Engine) -> None:
    ok = _failed(FEED, T0).model_copy(update={"status": SyncStatus.OK})
    with pytest.raises(ValueError, match="apply_snapshot"):
        record_failed_run(engine, ok)


def test_last_good_run_skips_failures_and_latest_runs_has_the_newest_per_feed(
    engine: Engine, make_offer: OfferFactory
) -> None:
    assert last_good_run(engine, FEED) is None
    assert latest_runs(engine) == {}
    good = apply(engine, [make_offer()], now=T1)
    failed_later = record_failed_run(engine, _failed(FEED, T2))
    record_failed_run(engine, _failed("gcp/catalog", T0))
    not_configured = record_failed_run(
        engine,
        _failed("gcp/catalog", T3).model_copy(
            update={"status": SyncStatus.NOT_CONFIGURED, "error": "set GPUHOURS_GCP_API_KEY"}
        ),
    )
    record_failed_run(engine, _failed("azure/retail", T0))
    spot_good = apply(
        engine, [make_offer(purchase_option=PurchaseOption.SPOT)], now=T0, feed="aws/spot"
    )

    assert last_good_run(engine, FEED) == good
    assert last_good_run(engine, "gcp/catalog") is None
    assert last_good_run(engine, "aws/spot") == spot_good
    latest = latest_runs(engine)
    assert set(latest) == {FEED, "gcp/catalog", "azure/retail", "aws/spot"}
    assert latest[FEED] == failed_later
    assert latest["gcp/catalog"] == not_configured
    assert latest["aws/spot"] == spot_good
    assert latest_runs(engine, good_only=True) == {FEED: good, "aws/spot": spot_good}


def test_live_offer_counts_per_feed_leave_out_withdrawn_offers(
    engine: Engine, make_offer: OfferFactory
) -> None:
    assert live_offer_counts(engine) == {}
    apply(engine, [make_offer(), make_offer(region="us-west-2")], now=T1)
    apply(engine, [make_offer(purchase_option=PurchaseOption.SPOT)], now=T1, feed="aws/spot")
    apply(engine, [make_offer()], now=T2)  # us-west-2 withdrawn
    assert live_offer_counts(engine) == {FEED: 1, "aws/spot": 1}
    assert live_offer_counts(engine)[FEED] == live_offer_count(engine, FEED)


# --- query_offers ----------------------------------------------------------------------------


_CATALOG: list[dict[str, Any]] = [  # price per GPU-hour in the comments
    {"region": "us-east-1", "price_per_hour": 98.32},  # 12.29
    {"region": "us-east-1", "instance_type": "p4d.24xlarge", "gpu": "A100", "gpu_memory_gb": 40,
     "price_per_hour": 32.77},  # 4.10
    {"region": "us-west-2", "instance_type": "p4de.24xlarge", "gpu": "A100", "gpu_memory_gb": 80,
     "price_per_hour": 40.97},  # 5.12
    {"region": "us-west-2", "purchase_option": PurchaseOption.SPOT, "price_per_hour": 30.0},  # 3.75
    {"region": "eu-west-1", "instance_type": "g6.xlarge", "gpu": "L4", "gpu_count": 1,
     "gpu_memory_gb": 24, "price_per_hour": 0.80},  # 0.80
    {"provider": "azure", "region": "eastus", "instance_type": "ND96isr_H100_v5",
     "price_per_hour": 88.0},  # 11.00
    {"provider": "azure", "region": "eastus", "instance_type": "ND96isr_H100_v5",
     "purchase_option": PurchaseOption.LOW_PRIORITY, "price_per_hour": 40.0},  # 5.00
    {"provider": "gcp", "region": "us-central1", "instance_type": "a3-highgpu-8g",
     "purchase_option": PurchaseOption.COMMITTED, "term_hours": 8760,
     "price_per_hour": 70.0},  # 8.75
    # 5.00 an hour: cheaper per hour than the p4d above, dearer per GPU-hour.
    {"region": "eu-west-1", "instance_type": "g5.xlarge", "gpu": "A10G", "gpu_count": 1,
     "gpu_memory_gb": 24, "price_per_hour": 5.0},
]  # fmt: skip


def _catalog(make_offer: OfferFactory) -> list[Offer]:
    return [make_offer(**fields) for fields in _CATALOG]


def _ids(result: Sequence[Offer | OfferRecord]) -> list[str]:
    return [o.id for o in result]


def test_query_filters(engine: Engine, make_offer: OfferFactory) -> None:
    catalog = _catalog(make_offer)
    apply(engine, [*catalog[:5], catalog[8]], now=T0)
    apply(engine, catalog[5:7], now=T0, feed="azure/retail")
    apply(engine, [catalog[7]], now=T0, feed="gcp/catalog")

    def ids(**kw: Any) -> set[str]:
        return set(_ids(query_offers(engine, OfferQuery(**kw))))

    def where(pred: Any) -> set[str]:
        return {o.id for o in catalog if pred(o)}

    assert ids() == where(lambda o: True)
    assert ids(gpus=["A100"]) == where(lambda o: o.gpu == "A100")
    assert ids(gpus=["A100", "L4"]) == where(lambda o: o.gpu in {"A100", "L4"})
    assert ids(min_gpu_memory_gb=80) == where(lambda o: o.gpu_memory_gb >= 80)
    assert ids(gpus=["A100"], min_gpu_memory_gb=80) == {catalog[2].id}
    assert ids(providers=["azure", "gcp"]) == where(lambda o: o.provider != "aws")
    assert ids(purchase_options=[PurchaseOption.SPOT, PurchaseOption.LOW_PRIORITY]) == (
        where(lambda o: o.interruptible)
    )
    assert ids(interruptible=True) == where(lambda o: o.interruptible)
    assert ids(interruptible=False) == where(lambda o: not o.interruptible)
    assert ids(ids=[catalog[0].id, catalog[4].id, "no-such-id"]) == {catalog[0].id, catalog[4].id}
    assert ids(gpus=["B200"]) == set()
    assert ids(gpu_variants=[("A100", 80)]) == {catalog[2].id}
    assert ids(gpu_variants=[("A100", 40.2), ("L4", None)]) == {catalog[1].id, catalog[4].id}
    assert ids(gpus=["A10G"], gpu_variants=[("A100", 80)]) == {catalog[2].id, catalog[8].id}
    assert ids(gpu_variants=[("A100", 48)]) == set()


def test_query_sorts_by_price_per_gpu_hour_or_per_hour_then_id(
    engine: Engine, make_offer: OfferFactory
) -> None:
    catalog = _catalog(make_offer)
    twin = make_offer(region="us-east-2", price_per_hour=98.32)  # ties with catalog[0]
    apply(engine, [*catalog, twin], now=T0)

    by_gpu_hour = query_offers(engine, OfferQuery())
    by_hour = query_offers(engine, OfferQuery(sort="price_per_hour"))

    expected_gpu = sorted([*catalog, twin], key=lambda o: (o.price_per_gpu_hour, o.id))
    expected_hour = sorted([*catalog, twin], key=lambda o: (o.price_per_hour, o.id))
    assert _ids(by_gpu_hour) == _ids(expected_gpu)
    assert _ids(by_hour) == _ids(expected_hour)
    assert _ids(by_gpu_hour) != _ids(by_hour)
    assert _ids(query_offers(engine, OfferQuery(limit=3))) == _ids(expected_gpu[:3])
    assert _ids(query_offers(engine, OfferQuery(gpus=["H100"], limit=1))) == [catalog[3].id]


def test_query_leaves_withdrawn_offers_out_unless_asked(
    engine: Engine, make_offer: OfferFactory
) -> None:
    catalog = _catalog(make_offer)[:5]
    apply(engine, catalog, now=T0)
    apply(engine, catalog[1:], now=T1)

    assert catalog[0].id not in _ids(query_offers(engine, OfferQuery()))
    withdrawn = [
        o for o in query_offers(engine, OfferQuery(include_withdrawn=True)) if o.withdrawn_at
    ]
    assert _ids(withdrawn) == [catalog[0].id]
    assert _ids(query_offers(engine, OfferQuery(ids=[catalog[0].id]))) == []


def test_offer_records_are_query_offers_without_the_models(
    engine: Engine, make_offer: OfferFactory
) -> None:
    catalog = [
        *_catalog(make_offer),
        make_offer(region="us-east-2", price_per_hour=98.32),  # ties catalog[0] per GPU-hour
        make_offer(zone="us-east-1a", price_per_hour=97.0),
        make_offer(
            purchase_option=PurchaseOption.RESERVED,
            term_hours=26280,
            payment=Payment.ALL_UPFRONT,
            offering_class=OfferingClass.CONVERTIBLE,
            price_per_hour=40.0,
            upfront=40.0 * 26280,
        ),
        make_offer(
            purchase_option=PurchaseOption.SAVINGS_PLAN,
            term_hours=8760,
            payment=Payment.NO_UPFRONT,
            price_per_hour=60.0,
        ),
        make_offer(
            provider="azure",
            region="westeurope",
            instance_type="NV6ads_A10_v5",
            gpu="A10",
            gpu_count=1 / 6,
            gpu_memory_gb=24,
            price_per_hour=0.41,
            currency="EUR",
        ),
    ]
    aws = [o for o in catalog if o.provider == "aws"]
    azure = [o for o in catalog if o.provider == "azure"]
    apply(engine, aws, now=T0)
    apply(engine, azure, now=T1, feed="azure/retail")
    apply(engine, [o for o in catalog if o.provider == "gcp"], now=T2, feed="gcp/catalog")
    apply(engine, aws[1:], now=T3)  # withdraws aws[0]; the other offers now have 4 timestamps
    if engine.dialect.name == "postgresql":  # timestamps arrive in the session's time zone

        @event.listens_for(engine, "connect")
        def _kolkata(dbapi_connection: Any, _record: Any) -> None:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET TIME ZONE 'Asia/Kolkata'")
            dbapi_connection.commit()

        engine.dispose()

    queries = [
        OfferQuery(),
        OfferQuery(sort="price_per_hour"),
        OfferQuery(limit=3),
        OfferQuery(sort="price_per_hour", limit=4),
        OfferQuery(include_withdrawn=True),
        OfferQuery(gpus=["H100"], providers=["aws"]),
        OfferQuery(gpu_variants=[("A100", 80), ("A10", None)], min_gpu_memory_gb=20),
        OfferQuery(regions=["us-*", "EAST*"], interruptible=False),
        OfferQuery(purchase_options=[PurchaseOption.RESERVED, PurchaseOption.SAVINGS_PLAN]),
        OfferQuery(ids=[aws[0].id, aws[1].id, azure[0].id]),
        OfferQuery(gpus=["B200"]),
    ]
    names = [f.name for f in dataclasses.fields(OfferRecord)] + [
        "interruptible",
        "price_per_gpu_hour",
    ]
    for query in queries:
        models = query_offers(engine, query)
        records = query_offer_records(engine, query)
        assert _ids(records) == _ids(models), query
        for model, record in zip(models, records, strict=True):
            assert {n: getattr(record, n) for n in names} == {n: getattr(model, n) for n in names}
            assert type(record.purchase_option) is PurchaseOption
            assert record.observed_at.tzinfo is UTC
    every = query_offer_records(engine, OfferQuery(include_withdrawn=True))
    assert len(every) == len(catalog)
    assert aws[0].id not in _ids(query_offer_records(engine, OfferQuery()))
    assert {r.observed_at for r in every} == {T0, T1, T2, T3}
    assert {(r.zone, r.payment, r.offering_class) for r in every} >= {
        (None, None, None),
        ("us-east-1a", None, None),
        (None, Payment.ALL_UPFRONT, OfferingClass.CONVERTIBLE),
    }
    with pytest.raises(AttributeError):
        every[0].price_per_hour = 0.0  # type: ignore[misc]


REGIONS = [
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "ap-south-1",
    "us_east",
    "usxeast",
    "50%off",
    "50xoff",
    "back\\slash",
    "backxslash",
]


@pytest.mark.parametrize(
    ("globs", "expected"),
    [
        (["us-*"], {"us-east-1", "us-west-2"}),
        (["*east*"], {"us-east-1", "us_east", "usxeast"}),
        (["us_east"], {"us_east"}),
        (["us?east"], {"us_east", "usxeast"}),
        (["50%off"], {"50%off"}),
        (["50?off"], {"50%off", "50xoff"}),
        (["back\\slash"], {"back\\slash"}),
        (["US-EAST-?"], {"us-east-1"}),
        (["eu-west-1", "ap-*"], {"eu-west-1", "ap-south-1"}),
        (["us-east"], set()),
        (["*"], set(REGIONS)),
    ],
)
def test_region_globs_match_whole_codes_with_literal_percent_and_underscore(
    engine: Engine, make_offer: OfferFactory, globs: list[str], expected: set[str]
) -> None:
    apply(engine, [make_offer(region=r) for r in REGIONS], now=T0)

    got = {o.region for o in query_offers(engine, OfferQuery(regions=globs))}

    assert got == expected
    # The same answer as shell globbing (ignoring case), on every dialect.
    assert got == {
        r for r in REGIONS if any(fnmatch.fnmatchcase(r.lower(), g.lower()) for g in globs)
    }


def test_price_history_is_ordered_by_offer_then_valid_from(
    engine: Engine, make_offer: OfferFactory
) -> None:
    a, b = make_offer(region="us-east-1"), make_offer(region="us-west-2")
    apply(engine, [a, b], now=T0)
    apply(engine, [make_offer(region="us-east-1", price_per_hour=90), b], now=T1)
    apply(engine, [make_offer(region="us-east-1", price_per_hour=80)], now=T2)
    apply(engine, [make_offer(region="us-east-1", price_per_hour=80), b], now=T3)

    history = price_history(engine, [b.id, a.id, b.id])

    assert [(h.offer_id, h.valid_from, h.valid_to, h.price_per_hour) for h in history] == sorted(
        [
            (a.id, T0, T1, 98.32),
            (a.id, T1, T2, 90.0),
            (a.id, T2, None, 80.0),
            (b.id, T0, T2, 98.32),
            (b.id, T3, None, 98.32),
        ],
        key=lambda t: (t[0], t[1]),
    )
    assert price_history(engine, []) == []


def test_a_runs_unknown_names_are_stored_sorted_unique_and_bounded(engine: Any) -> None:
    from datetime import UTC, datetime

    now = datetime(2025, 6, 1, tzinfo=UTC)
    names = [f"size {i:03d}" for i in range(80)] + ["size 000"]
    snapshot = store.FeedSnapshot(
        feed="aws/test",
        provider="aws",
        offers=[],
        unchanged=[],
        state={},
        started_at=now,
        unknown=81,
        unknown_names=list(reversed(names)),
    )
    run = store.apply_snapshot(engine, snapshot, now=now)
    assert run.unknown_names == [f"size {i:03d}" for i in range(store.MAX_UNKNOWN_NAMES)]
    assert store.latest_runs(engine)["aws/test"].unknown_names == run.unknown_names


def test_an_offer_is_stored_with_the_time_its_response_was_received(engine: Any) -> None:
    from datetime import UTC, datetime

    from tests.offers import build_offer

    now = datetime(2025, 6, 1, tzinfo=UTC)
    seen = datetime(2025, 5, 30, 8, 15, tzinfo=UTC)
    dated = build_offer(observed_at=seen)
    undated = build_offer(instance_type="p4d.24xlarge")
    snapshot = store.FeedSnapshot(
        feed="aws/test",
        provider="aws",
        offers=[dated, undated],
        unchanged=[],
        state={},
        started_at=now,
    )
    store.apply_snapshot(engine, snapshot, now=now)
    stored = {o.instance_type: o for o in store.query_offers(engine, store.OfferQuery())}
    assert stored["p5.48xlarge"].observed_at == seen
    assert stored["p4d.24xlarge"].observed_at == now  # no date of its own: the sync's
    assert stored["p5.48xlarge"].first_seen == now
