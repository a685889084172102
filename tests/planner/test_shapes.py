"""Keeping only the cheapest offer of each shape changes nothing the planner decides.

``cheapest_per_shape`` runs before candidates are built; its justification (docs/planner.md,
"Pruning offers that can never help") is that pruning would drop the same offers. These tests
hold it to that: pruning all offers and pruning the representatives keep exactly the same offers, in
the same order, and the planner's answer on many same-shape offers is the one a plan over the
representatives alone gives.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.models import Offer, PurchaseOption
from aggregator.planner import solve
from aggregator.planner.candidates import cheapest_per_shape, make_candidates, prune
from aggregator.planner.problem import Problem
from aggregator.plans import PlanRequest
from tests.offers import build_offer

NOW = datetime(2025, 6, 1, tzinfo=UTC)

offer_spec = st.tuples(
    st.sampled_from(["aws", "azure"]),
    st.sampled_from(["USD", "EUR"]),
    st.sampled_from(["on_demand", "spot", "reserved", "committed"]),
    st.sampled_from([1, 2, 8]),
    st.integers(min_value=1, max_value=12),  # price: small range, so ties are common
    st.sampled_from([8760, 26280]),
)


def _offer(index: int, spec: tuple[str, str, str, int, int, int]) -> Offer:
    provider, currency, kind, gpus, price, term = spec
    fields: dict[str, Any] = {
        "provider": provider,
        "currency": currency,
        "region": f"r{index % 3}",
        "instance_type": f"it{index}",
        "gpu_count": gpus,
        "price_per_hour": float(price),
        "purchase_option": PurchaseOption(kind),
        "observed_at": NOW,
    }
    if PurchaseOption(kind).is_commitment:
        fields["term_hours"] = term
    return build_offer(**fields)


requests = st.builds(
    PlanRequest,
    gpu_hours=st.sampled_from([10.0, 500.0, 20_000.0]),
    deadline_hours=st.sampled_from([None, 24.0, 100.0]),
    max_gpus=st.sampled_from([None, 4, 16]),
    spot_overhead=st.sampled_from([0.0, 0.25]),
    purchase_options=st.just(["on_demand", "spot", "reserved", "committed"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(offer_spec, min_size=1, max_size=40), requests)
def test_pruning_keeps_the_same_offers_with_or_without_representatives(
    specs: list[tuple[str, str, str, int, int, int]], request: PlanRequest
) -> None:
    offers = [_offer(i, spec) for i, spec in enumerate(specs)]
    for currency in ("USD", "EUR"):
        mine = [o for o in offers if o.currency == currency]
        for group in (mine, [o for o in mine if o.provider == "aws"]):
            problem = Problem.of(request)
            everything = prune(make_candidates(group, request), problem)
            reduced = prune(make_candidates(cheapest_per_shape(group), request), problem)
            assert [c.offer.id for c in reduced] == [c.offer.id for c in everything]


def test_the_cheapest_of_a_shape_is_kept_and_the_first_wins_a_tie() -> None:
    specs = [
        ("aws", "USD", "on_demand", 8, 9, 0),
        ("aws", "USD", "on_demand", 8, 7, 0),  # cheapest of aws/8 GPUs/on-demand
        ("aws", "USD", "on_demand", 8, 7, 0),  # tie: the earlier one stays
        ("aws", "USD", "spot", 8, 7, 0),  # interruptible: another shape
        ("azure", "USD", "on_demand", 8, 8, 0),  # another provider: another shape
        ("aws", "USD", "reserved", 8, 5, 8760),
        ("aws", "USD", "committed", 8, 4, 8760),  # same term and size: same shape as above
        ("aws", "USD", "reserved", 8, 3, 26280),  # another term
    ]
    offers = [_offer(i, spec) for i, spec in enumerate(specs)]
    kept = cheapest_per_shape(offers)
    assert [o.instance_type for o in kept] == ["it1", "it3", "it4", "it6", "it7"]


def test_a_plan_over_thousands_of_same_shape_offers_picks_the_cheapest() -> None:
    offers = [_offer(i, ("aws", "USD", "on_demand", 8, 12 - (i % 11), 0)) for i in range(3000)]
    request = PlanRequest(gpu_hours=1000, deadline_hours=72, max_gpus=64)
    plan = solve(offers, request, now=NOW)
    assert {line.unit_price for line in plan.lines} == {2.0}
    assert plan.total_cost == 1000 / 8 * 2.0
