"""Capacity a seller lists (``Offer.available_in``): stored and read back on both databases,
kept up to date without a price interval, and ``available_now`` filtering in SQL exactly as the
planner's step does in Python; plans name what the seller said and when.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pydantic
import pytest
from sqlalchemy import Engine

from aggregator.errors import NoFeasiblePlan
from aggregator.gpus import default_vocabulary
from aggregator.models import GLOBAL_REGION, Offer
from aggregator.planner import plan_from_store, solve
from aggregator.plans import PlanRequest
from db import store
from db.offer_sql import OfferQuery
from tests.offers import build_offer, save_offers

NOW = datetime(2026, 9, 20, 12, tzinfo=UTC)


def _lambda(instance_type: str, price: float, places: tuple[str, ...] | None) -> Offer:
    return build_offer(
        provider="lambda",
        region=GLOBAL_REGION,
        instance_type=instance_type,
        price_per_hour=price,
        available_in=places,
        source={"instance_type": instance_type},
        observed_at=NOW,
    )


SOLD_OUT = _lambda("gpu_8x_h100_sold_out", 20.0, ())  # listed, but nowhere with capacity
IN_TWO = _lambda("gpu_8x_h100_sxm5", 31.92, ("us-east-1", "us-south-1"))
UNLISTED = build_offer(price_per_hour=10.0, observed_at=NOW)  # a seller that lists no capacity
OFFERS = [SOLD_OUT, IN_TWO, UNLISTED]


def test_an_offer_says_whether_capacity_was_listed() -> None:
    assert (UNLISTED.available_in, UNLISTED.available_now) == (None, None)
    assert (SOLD_OUT.available_in, SOLD_OUT.available_now) == ((), False)
    assert IN_TWO.available_now is True
    twice = build_offer(available_in=["us-east-1", "us-east-1", "us-west-1"])
    assert twice.available_in == ("us-east-1", "us-west-1")


@pytest.mark.parametrize("place", ["us-east-1,us-west-1", "", " us-east-1", "a" * 41])
def test_a_place_that_could_not_be_stored_as_listed_is_refused(place: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="available_in"):
        build_offer(available_in=[place])


def test_capacity_round_trips_and_filters_in_sql(engine: Engine) -> None:
    save_offers(engine, OFFERS, now=NOW)
    for offer in OFFERS:
        stored = store.get_offer(engine, offer.id)
        assert stored is not None and stored.available_in == offer.available_in
    records = {r.id: r.available_in for r in store.query_offer_records(engine, OfferQuery())}
    assert records == {o.id: o.available_in for o in OFFERS}

    available = OfferQuery(available_now=True)
    assert [o.id for o in store.query_offers(engine, available)] == [IN_TWO.id]
    assert [r.id for r in store.query_offer_records(engine, available)] == [IN_TWO.id]
    reduced = OfferQuery(available_now=True, cheapest_per_shape=True)
    assert [r.id for r in store.query_offer_records(engine, reduced)] == [IN_TWO.id]


def test_changed_capacity_is_stored_without_a_price_interval(engine: Engine) -> None:
    save_offers(engine, [IN_TWO], now=NOW)
    later = NOW + timedelta(hours=6)
    sold_out = IN_TWO.model_copy(update={"available_in": (), "observed_at": later})
    snapshot = store.FeedSnapshot(
        feed="lambda/test", provider="lambda", offers=[sold_out], unchanged=[], state={},
        started_at=later,
    )  # fmt: skip
    run = store.apply_snapshot(engine, snapshot, now=later)

    assert (run.new, run.changed, run.unchanged) == (0, 0, 1)
    stored = store.get_offer(engine, IN_TWO.id)
    assert stored is not None
    assert (stored.available_in, stored.available_now, stored.observed_at) == ((), False, later)
    assert len(store.price_history(engine, [IN_TWO.id])) == 1


def test_available_now_plans_only_with_listed_capacity_and_says_where() -> None:
    assert solve(OFFERS, PlanRequest(gpu_hours=800)).lines[0].offer_id == UNLISTED.id

    plan = solve(OFFERS, PlanRequest(gpu_hours=800, available_now=True), now=NOW)

    (line,) = plan.lines
    assert (line.offer_id, line.available_in) == (IN_TWO.id, ["us-east-1", "us-south-1"])
    assert (
        "capacity: lambda gpu_8x_h100_sxm5 listed capacity in us-east-1, us-south-1 when last "
        "seen (2026-09-20 12:00 UTC); a snapshot, which may have changed since"
    ) in plan.notes


def test_a_plan_on_a_sold_out_offer_says_so() -> None:
    plan = solve([SOLD_OUT], PlanRequest(gpu_hours=800), now=NOW)
    assert any("listed no capacity anywhere" in note for note in plan.notes)
    assert not any(
        n.startswith("capacity:") for n in solve([UNLISTED], PlanRequest(gpu_hours=8)).notes
    )


def test_when_nothing_is_listed_available_the_error_says_why() -> None:
    with pytest.raises(NoFeasiblePlan) as sold_out:
        solve([SOLD_OUT, UNLISTED], PlanRequest(gpu_hours=800, available_now=True))
    assert str(sold_out.value) == (
        "no matching offers were listed as available now (lambda listed none for them when "
        "their prices were last seen)"
    )
    with pytest.raises(NoFeasiblePlan, match="their sellers publish no capacity"):
        solve([UNLISTED], PlanRequest(gpu_hours=800, available_now=True))


def test_the_store_plans_like_memory_with_available_now(engine: Engine) -> None:
    save_offers(engine, OFFERS, now=NOW)
    gpus = default_vocabulary()
    for request in (
        PlanRequest(gpu_hours=800),
        PlanRequest(gpu_hours=800, available_now=True),
        PlanRequest(gpu_hours=800, available_now=True, one_cluster=True),
    ):
        stored = plan_from_store(engine, request, gpus=gpus, now=NOW)
        memory = solve(OFFERS, request, now=NOW)
        assert [ln.offer_id for ln in stored.lines] == [ln.offer_id for ln in memory.lines]
        assert stored.notes == memory.notes
    only_unlisted = PlanRequest(gpu_hours=800, available_now=True, regions=["us-*"])
    with pytest.raises(NoFeasiblePlan, match="their sellers publish no capacity"):
        plan_from_store(engine, only_unlisted, gpus=gpus)


def test_a_one_cluster_plan_on_a_one_price_seller_names_no_fake_region() -> None:
    plan = solve([IN_TWO], PlanRequest(gpu_hours=8000, one_cluster=True, deadline_hours=100))
    assert (
        "one cluster: every line runs on lambda gpu_8x_h100_sxm5 in one lambda region of your "
        "choice (the price is the same in each)"
    ) in plan.notes
