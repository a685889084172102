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

from aggregator.gpus import default_vocabulary
from aggregator.models import Offer, PurchaseOption
from aggregator.planner import solve
from aggregator.planner.candidates import cheapest_per_shape, make_candidates, prune
from aggregator.planner.cluster import clusters
from aggregator.planner.core import shape_refinement
from aggregator.planner.problem import Problem
from aggregator.planner.throughput import work_scale
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


cluster_offer_spec = st.tuples(
    st.sampled_from(["aws", "azure"]),
    st.sampled_from(["on_demand", "spot", "reserved", "committed"]),
    st.sampled_from([("t8", "H100", 8), ("t4", "A100", 4), ("t1", "L4", 1)]),
    st.sampled_from(["r0", "r1"]),
    st.sampled_from([None, "a", "b"]),
    st.integers(min_value=1, max_value=12),
    st.sampled_from([8760, 26280]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(cluster_offer_spec, min_size=1, max_size=40), requests, st.booleans())
def test_refined_shapes_keep_what_pruning_keeps_in_each_cluster(
    specs: list[tuple[str, str, tuple[str, str, int], str, str | None, int, int]],
    request: PlanRequest,
    equivalent: bool,
) -> None:
    # One-cluster and work-normalized plans reduce per shape *and* cluster / work per GPU-hour;
    # pruning within each cluster must keep the same offers either way.
    training = request.model_copy(
        update={"one_cluster": True, "equivalent_gpu": "H100" if equivalent else None}
    )
    scale = work_scale(training, default_vocabulary())
    offers: dict[str, Offer] = {}
    for i, (provider, kind, (instance_type, gpu, gpus), region, zone, price, term) in enumerate(
        specs
    ):
        option = PurchaseOption(kind)
        offer = build_offer(
            provider=provider, region=region, zone=zone, instance_type=instance_type, gpu=gpu,
            gpu_count=gpus, price_per_hour=float(price * gpus), purchase_option=option,
            term_hours=term if option.is_commitment else 0, source={"sku": f"S{i}"},
            observed_at=NOW,
        )  # fmt: skip
        offers.setdefault(offer.id, offer)
    problem = Problem.of(training, scale.unit)
    refine = shape_refinement(training, scale)
    everything = clusters(make_candidates(list(offers.values()), training, scale))
    candidates = make_candidates(cheapest_per_shape(list(offers.values()), refine), training, scale)
    reduced = {cluster.key: cluster for cluster in clusters(candidates)}
    assert {cluster.key for cluster in everything} == set(reduced)
    for cluster in everything:
        assert [c.offer.id for c in prune(reduced[cluster.key].candidates, problem)] == [
            c.offer.id for c in prune(cluster.candidates, problem)
        ]
