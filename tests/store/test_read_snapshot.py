"""Every answer comes from one snapshot: reads racing syncs never see two syncs mixed.

A writer applies feed snapshots that change every price each round, the round encoded in the
price (``round * 1000 + offer index + 1``); readers meanwhile read an offer with its history,
pages of offers and the planner's reads (through the offer memo and the per-shape reduction),
and each answer must belong to one round. The loop is bounded by rounds, not by time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from aggregator.models import Offer
from db import read, store
from db.offer_cache import OfferRecordCache
from db.offer_sql import OfferQuery
from db.reader import Reader, open_reader
from tests.offers import build_offer

NOW = datetime(2025, 6, 1, tzinfo=UTC)
ROUNDS = 25
_COUNTS = (1, 2, 4, 8)  # four planner shapes ...
_REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-south-1")  # ... of four offers each


def _offers(round_: int) -> list[Offer]:
    return [
        build_offer(
            region=region,
            instance_type=f"p5.{count}x",
            gpu_count=count,
            price_per_hour=round_ * 1000 + index + 1,
        )
        for index, (count, region) in enumerate((c, r) for c in _COUNTS for r in _REGIONS)
    ]


def _apply(engine: Engine, round_: int) -> None:
    snapshot = store.FeedSnapshot(
        feed="aws/test", provider="aws", offers=_offers(round_), unchanged=[], state={},
        started_at=NOW,
    )  # fmt: skip
    store.apply_snapshot(engine, snapshot, now=NOW + timedelta(minutes=round_))


def _round(price: float) -> int:
    return int(price // 1000)


def _one_round(prices: list[float]) -> int:
    rounds = {_round(p) for p in prices}
    assert len(rounds) == 1, f"an answer mixes rounds {sorted(rounds)}: {sorted(prices)}"
    return rounds.pop()


def _check_history(source: Reader | Engine, offer_id: str) -> None:
    found = read.offer_histories(
        source,
        OfferQuery(ids=[offer_id], include_withdrawn=True, limit=1),
    )
    assert len(found) == 1
    offer, intervals = found[0]
    open_ = [i for i in intervals if i.valid_to is None]
    assert len(open_) == 1, f"{len(open_)} open intervals beside price {offer.price_per_hour}"
    assert open_[0].price_per_hour == offer.price_per_hour, (
        f"current price {offer.price_per_hour} beside open interval {open_[0].price_per_hour}"
    )
    assert intervals[-1] is open_[0]
    assert len(intervals) == _round(offer.price_per_hour) + 1  # one interval per round so far


def _checks(engine: Engine, offer_id: str) -> list[Callable[[], None]]:
    url = engine.url.render_as_string(hide_password=False)
    memo = OfferRecordCache()

    def history_engine() -> None:
        _check_history(engine, offer_id)

    def history_stdlib() -> None:
        with open_reader(url) as reader:
            _check_history(reader, offer_id)

    def page() -> None:
        offers = read.query_offers(engine, OfferQuery(limit=len(_COUNTS) * len(_REGIONS)))
        assert len(offers) == len(_COUNTS) * len(_REGIONS)
        _one_round([o.price_per_hour for o in offers])

    def plan_offers() -> None:
        records = read.query_offer_records(engine, OfferQuery(cheapest_per_shape=True))
        assert len(records) == len(_COUNTS)
        _one_round([r.price_per_hour for r in records])

    def memo_offers() -> None:
        version = read.data_version(engine)
        hits = memo.hits
        records = memo.read(engine, OfferQuery(), version)
        round_ = _one_round([r.price_per_hour for r in records])
        # round r is version r + 1 (the first sync is round 0): a memo hit must be exact
        if memo.hits > hits:
            assert round_ == version - 1, f"rows of round {round_} filed under version {version}"
        else:
            assert round_ >= version - 1

    return [history_engine, history_stdlib, page, plan_offers, memo_offers]


def test_reads_racing_syncs_never_mix_two_syncs(engine: Engine) -> None:
    _apply(engine, 0)
    offer_id = _offers(0)[5].id
    done = threading.Event()
    failures: list[BaseException] = []
    reads = [0]

    def writer() -> None:
        try:
            for round_ in range(1, ROUNDS + 1):
                _apply(engine, round_)
        except BaseException as exc:  # reported by the test thread
            failures.append(exc)
        finally:
            done.set()

    def reader(check: Callable[[], None]) -> None:
        while not done.is_set() and not failures:
            try:
                check()
            except BaseException as exc:
                failures.append(exc)
            reads[0] += 1

    checks = _checks(engine, offer_id)
    threads = [threading.Thread(target=writer)]
    threads += [threading.Thread(target=reader, args=(check,)) for check in checks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    assert reads[0] >= len(checks)
    for check in checks:  # and once more at rest, on the last round
        check()
    assert read.data_version(engine) == ROUNDS + 1
