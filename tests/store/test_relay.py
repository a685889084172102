"""A relay feed (the mirror) and a direct feed holding the same offer: the newer observation
wins, nothing is doubled, and a relay's rates are stored with its offers or not at all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from aggregator.errors import SyncRejected
from aggregator.models import Offer, SyncRun
from db import store
from tests.offers import OfferFactory
from tests.rates import build_rate

T0 = datetime(2026, 5, 1, tzinfo=UTC)
MIRROR = "mirror/export"
DIRECT = "aws/on-demand"


def apply(engine: Engine, feed: str, offers: list[Offer], now: datetime, **extra: Any) -> SyncRun:
    snapshot = store.FeedSnapshot(
        feed=feed,
        provider=feed.split("/")[0],
        offers=offers,
        unchanged=[],
        state={},
        started_at=now,
        **extra,
    )
    return store.apply_snapshot(engine, snapshot, now=now, min_share_of_live=0.5)


def held_by(engine: Engine, offer: Offer) -> tuple[str, datetime | None, float]:
    stored = store.get_offer(engine, offer.id)
    assert stored is not None
    return stored.feed, stored.observed_at, stored.price_per_hour


def test_a_mirrored_observation_older_than_the_direct_one_leaves_it(
    engine: Engine, make_offer: OfferFactory
) -> None:
    apply(engine, DIRECT, [make_offer(price_per_hour=90.0, observed_at=T0)], T0)
    old = make_offer(price_per_hour=99.0, observed_at=T0 - timedelta(days=1))
    run = apply(engine, MIRROR, [old], T0 + timedelta(minutes=5))
    assert (run.seen, run.new, run.unchanged) == (1, 0, 1)
    assert held_by(engine, old) == (DIRECT, T0, 90.0)
    assert store.live_offer_count(engine) == 1


def test_a_newer_mirrored_observation_takes_the_offer_over_and_back(
    engine: Engine, make_offer: OfferFactory
) -> None:
    apply(engine, DIRECT, [make_offer(price_per_hour=90.0, observed_at=T0)], T0)
    newer = make_offer(price_per_hour=95.0, observed_at=T0 + timedelta(hours=1))
    apply(engine, MIRROR, [newer], T0 + timedelta(hours=2))
    assert held_by(engine, newer) == (MIRROR, T0 + timedelta(hours=1), 95.0)
    assert store.live_offer_count(engine) == 1  # one offer, never two
    latest = make_offer(price_per_hour=91.0, observed_at=T0 + timedelta(hours=3))
    apply(engine, DIRECT, [latest], T0 + timedelta(hours=3))
    assert held_by(engine, latest) == (DIRECT, T0 + timedelta(hours=3), 91.0)
    intervals = store.price_history(engine, [latest.id])
    assert [i.price_per_hour for i in intervals] == [90.0, 95.0, 91.0]


def test_a_withdrawal_newer_than_the_mirrored_observation_stands(
    engine: Engine, make_offer: OfferFactory
) -> None:
    gone, other = make_offer(), make_offer(region="eu-west-1")
    apply(engine, DIRECT, [gone, other], T0)
    apply(engine, DIRECT, [other], T0 + timedelta(hours=2))  # gone withdrawn at T0+2h
    stale = make_offer(observed_at=T0 + timedelta(hours=1))
    apply(engine, MIRROR, [stale], T0 + timedelta(hours=3))
    stored = store.get_offer(engine, gone.id)
    assert stored is not None and stored.withdrawn_at == T0 + timedelta(hours=2)


def test_an_unconfirmed_unchanged_match_keeps_observation_times(
    engine: Engine, make_offer: OfferFactory
) -> None:
    offer = make_offer(observed_at=T0)
    apply(engine, MIRROR, [offer], T0 + timedelta(minutes=1))
    version = store.data_version(engine)
    run = apply(engine, MIRROR, [], T0 + timedelta(hours=5), unconfirmed=[{}])
    assert (run.status.value, run.unchanged, run.withdrawn) == ("unchanged", 1, 0)
    assert held_by(engine, offer)[1] == T0
    assert store.data_version(engine) == version


def test_relayed_rates_are_stored_with_the_offers_in_one_transaction(
    engine: Engine, make_offer: OfferFactory
) -> None:
    rate = build_rate(observed_at=T0)
    apply(engine, MIRROR, [make_offer(observed_at=T0)], T0, rates=[rate])
    assert store.interruption_rate_counts(engine) == {MIRROR: 1}
    many = [make_offer(region=f"r-{i}", observed_at=T0) for i in range(4)]
    apply(engine, MIRROR, many, T0 + timedelta(hours=1), rates=[rate])
    with pytest.raises(SyncRejected):  # the rates shrink to nothing: neither part is applied
        apply(engine, MIRROR, many, T0 + timedelta(hours=2), rates=[])
    assert store.interruption_rate_counts(engine) == {MIRROR: 1}
    assert store.live_offer_count(engine, MIRROR) == 4
