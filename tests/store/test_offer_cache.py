"""The store version and the planner's in-memory offer reads built on it (both dialects)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, Engine, event

from aggregator.errors import SyncRejected
from aggregator.models import Offer, SyncRun, SyncStatus
from db import store
from db.offer_cache import OfferRecordCache, cached_offer_records
from db.store import FeedSnapshot, OfferQuery, apply_snapshot, data_version
from tests.offers import OfferFactory

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def apply(
    engine: Engine, offers: Sequence[Offer], *, now: datetime, share: float | None = None
) -> SyncRun:
    snap = FeedSnapshot(
        feed="aws/on-demand",
        provider="aws",
        offers=list(offers),
        unchanged=[],
        state={},
        started_at=now - timedelta(minutes=1),
    )
    return apply_snapshot(engine, snap, now=now, min_share_of_live=share)


def test_every_stored_sync_raises_the_version_and_nothing_else_does(
    engine: Engine, make_offer: OfferFactory
) -> None:
    assert data_version(engine) == 0
    offers = [make_offer(region="us-east-1"), make_offer(region="us-west-2")]
    apply(engine, offers, now=T0)
    assert data_version(engine) == 1
    apply(engine, offers, now=T0 + timedelta(hours=1))  # same prices: observed_at still moves
    assert data_version(engine) == 2
    with pytest.raises(SyncRejected):
        apply(engine, [], now=T0 + timedelta(hours=2), share=0.5)
    store.record_failed_run(
        engine,
        SyncRun(feed="aws/spot", provider="aws", started_at=T0, finished_at=T0,
                status=SyncStatus.FAILED, error="boom"),
    )  # fmt: skip
    assert data_version(engine) == 2


def test_the_new_version_is_invisible_until_the_offers_are_committed(
    engine: Engine, make_offer: OfferFactory
) -> None:
    apply(engine, [make_offer()], now=T0)
    seen: list[int] = []

    def before_commit(conn: Connection) -> None:
        seen.append(data_version(engine))  # another connection, as a reader would

    event.listen(engine, "commit", before_commit)
    try:
        apply(engine, [make_offer(price_per_hour=50.0)], now=T0 + timedelta(hours=1))
    finally:
        event.remove(engine, "commit", before_commit)
    assert seen == [1]
    assert data_version(engine) == 2


def test_cached_reads_equal_store_reads_and_follow_every_sync(
    engine: Engine, make_offer: OfferFactory
) -> None:
    apply(engine, [make_offer(region="us-east-1"), make_offer(region="eu-west-1")], now=T0)
    cache = OfferRecordCache()
    query = OfferQuery(gpus=["H100"], regions=["us-*"])

    first = cache.read(engine, query)
    assert list(first) == store.query_offer_records(engine, query)
    assert cache.read(engine, query) is first
    assert (cache.hits, cache.misses) == (1, 1)

    apply(engine, [make_offer(region="us-east-1", price_per_hour=50.0)], now=T0 + timedelta(1))
    after = cache.read(engine, query)
    assert [r.price_per_hour for r in after] == [50.0]
    assert list(after) == store.query_offer_records(engine, query)

    everywhere = cache.read(engine, OfferQuery(gpus=["H100"], include_withdrawn=True))
    assert len(everywhere) == 2  # another query: its own entry, not the us-* one
    assert cache.misses == 3


def test_the_memo_drops_the_least_recently_used_queries_beyond_its_size(
    engine: Engine, make_offer: OfferFactory
) -> None:
    apply(engine, [make_offer(region=f"r{i}") for i in range(3)], now=T0)
    cache = OfferRecordCache(max_records=4)
    every, one = OfferQuery(), OfferQuery(regions=["r1"])
    cache.read(engine, every)  # 3 records
    cache.read(engine, one)  # 1 record: 4 held
    cache.read(engine, OfferQuery(regions=["r2"]))  # 5 > 4: the oldest (every) goes
    cache.read(engine, one)
    cache.read(engine, every)
    assert (cache.hits, cache.misses) == (1, 4)


def test_the_module_level_reader_keeps_one_memo_per_engine(
    engine: Engine, make_offer: OfferFactory
) -> None:
    apply(engine, [make_offer()], now=T0)
    assert cached_offer_records(engine, OfferQuery()) is cached_offer_records(engine, OfferQuery())
