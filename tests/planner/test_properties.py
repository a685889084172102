"""The planner against an independent brute force on random small catalogs (hypothesis).

The brute force knows nothing of pruning or the MILP: it enumerates every integer number of
instances (pay-as-you-go) and units (commitments) within bounds that provably contain an
optimum, and for each combination fills the demand optimally (commitment capacity first: it
is already paid for; then pay-as-you-go, cheapest delivered GPU-hour first). The planner's
cost must equal its optimum, and every plan must meet every constraint.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.errors import NoFeasiblePlan
from aggregator.models import Offer, PurchaseOption
from aggregator.planner import solve
from aggregator.plans import Plan, PlanRequest
from tests.offers import build_offer

NOW = datetime(2025, 6, 1, tzinfo=UTC)
REL = 1e-6


@dataclass(frozen=True)
class Item:
    gpus: float
    rate: float  # GPU-hours delivered per instance-hour
    price: float
    commitment: bool
    unit_cost: float
    unit_capacity: float  # commitments: per unit; pay-as-you-go: per instance (inf: no deadline)
    most: int  # instances / units worth trying


def _items(offers: list[Offer], request: PlanRequest) -> list[Item]:
    n, d, g_max = request.gpu_hours, request.deadline_hours, request.max_gpus
    items: list[Item] = []
    for offer in offers:
        g = offer.gpu_count
        if offer.purchase_option.is_commitment:
            capacity = g * (offer.term_hours if d is None else min(offer.term_hours, d))
            most = math.ceil(n / capacity)  # a further unit only adds cost
            item = Item(
                g,
                g,
                offer.price_per_hour,
                True,
                offer.price_per_hour * offer.term_hours,
                capacity,
                most,
            )
        else:
            rate = g / (1 + request.spot_overhead) if offer.interruptible else g
            if d is None:
                capacity, most = math.inf, 1  # one instance can run as long as needed
            else:
                capacity, most = rate * d, math.ceil(n / (rate * d))
            item = Item(g, rate, offer.price_per_hour, False, 0.0, capacity, most)
        if g_max is not None:
            item = Item(**{**item.__dict__, "most": min(item.most, math.floor(g_max / g + 1e-9))})
        items.append(item)
    return items


def _fill_cost(items: list[Item], counts: tuple[int, ...], demand: float) -> float | None:
    remaining = demand
    cost = 0.0
    for item, count in zip(items, counts, strict=True):
        if item.commitment:
            cost += count * item.unit_cost
            remaining -= count * item.unit_capacity
    payg = sorted(
        (item.price / item.rate, count * item.unit_capacity)
        for item, count in zip(items, counts, strict=True)
        if not item.commitment and count > 0
    )
    for per_gpu_hour, capacity in payg:
        if remaining <= 0:
            break
        take = min(capacity, remaining)
        cost += take * per_gpu_hour
        remaining -= take
    return cost if remaining <= 1e-9 * demand else None


def _combinations(items: list[Item], budget: float | None) -> Iterator[tuple[int, ...]]:
    def walk(index: int, left: float | None) -> Iterator[tuple[int, ...]]:
        if index == len(items):
            yield ()
            return
        item = items[index]
        for count in range(item.most + 1):
            spent = count * item.gpus
            if left is not None and spent > left + 1e-9:
                break
            for rest in walk(index + 1, None if left is None else left - spent):
                yield (count, *rest)

    return walk(0, budget)


def brute_force(offers: list[Offer], request: PlanRequest) -> float | None:
    """The cheapest cost over every combination of counts, or None if none is feasible."""
    items = _items(offers, request)
    if request.max_gpus is None:
        # No cap on GPUs at once: more pay-as-you-go instances are free, so give each
        # pay-as-you-go offer all the instances it could use.
        items = [
            item
            if item.commitment
            else Item(**{**item.__dict__, "unit_capacity": math.inf, "most": 1})
            for item in items
        ]
    best: float | None = None
    for counts in _combinations(items, request.max_gpus):
        cost = _fill_cost(items, counts, request.gpu_hours)
        if cost is not None and (best is None or cost < best):
            best = cost
    return best


def _offer(index: int, kind: str, gpus: float, price: int, term: int) -> Offer:
    fields: dict[str, Any] = {
        "instance_type": f"it{index}",
        "gpu_count": gpus,
        "price_per_hour": float(price),
        "observed_at": NOW,
        "purchase_option": PurchaseOption(kind),
    }
    if kind == "reserved":
        fields["term_hours"] = term
    return build_offer(**fields)


offer_spec = st.tuples(
    st.sampled_from(["on_demand", "on_demand", "spot", "reserved"]),
    st.sampled_from([0.5, 1, 2, 4, 8]),
    st.integers(min_value=1, max_value=40),
    st.sampled_from([4, 10, 25, 60]),
)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Offer], PlanRequest]:
    specs = draw(st.lists(offer_spec, min_size=2, max_size=5))
    if sum(1 for s in specs if s[0] == "reserved") > 2:  # keeps the enumeration small
        specs = [s for s in specs if s[0] != "reserved"] + [s for s in specs if s[0] == "reserved"][
            :2
        ]
    offers = [_offer(i, *spec) for i, spec in enumerate(specs)]
    request = PlanRequest(
        gpu_hours=draw(st.integers(min_value=1, max_value=120)) / draw(st.sampled_from([1, 4])),
        deadline_hours=draw(st.sampled_from([None, 2.0, 5.0, 12.5, 40.0])),
        max_gpus=draw(st.one_of(st.none(), st.integers(min_value=1, max_value=14))),
        spot_overhead=draw(st.sampled_from([0.0, 0.25, 1.0])),
        purchase_options=["on_demand", "spot", "reserved"],
        allow_fractional=True,
        top=0,
    )
    return offers, request


def _single_offer_costs(offers: list[Offer], request: PlanRequest) -> list[float]:
    costs = []
    for offer in offers:
        cost = brute_force([offer], request)
        if cost is not None:
            costs.append(cost)
    return costs


def _check_constraints(plan: Plan, request: PlanRequest) -> None:
    n, d, g_max = request.gpu_hours, request.deadline_hours, request.max_gpus
    assert plan.gpu_hours >= n * (1 - 1e-9)
    assert sum(line.gpu_hours for line in plan.lines) == pytest.approx(plan.gpu_hours)
    assert plan.total_cost == pytest.approx(sum(line.cost for line in plan.lines))
    if g_max is not None:
        assert plan.gpus_at_once <= g_max + 1e-9
    for line in plan.lines:
        assert line.instances >= 1
        if line.term_hours:
            assert line.cost == pytest.approx(line.instances * line.term_hours * line.unit_price)
            assert line.hours_per_instance <= min(line.term_hours, d or math.inf) * (1 + 1e-9)
        else:
            assert line.cost == pytest.approx(line.instance_hours * line.unit_price)
            overhead = 1 + request.spot_overhead if line.interruptible else 1
            assert line.gpu_hours == pytest.approx(
                line.instance_hours * line.gpus_per_instance / overhead
            )
            if d is not None:
                assert line.hours_per_instance <= d * (1 + 1e-9)
            else:
                assert line.instances == 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_planner_matches_brute_force(scenario: tuple[list[Offer], PlanRequest]) -> None:
    offers, request = scenario
    expected = brute_force(offers, request)
    if expected is None:
        with pytest.raises(NoFeasiblePlan):
            solve(offers, request, now=NOW)
        return
    plan = solve(offers, request, now=NOW)
    assert plan.optimal
    assert plan.total_cost == pytest.approx(expected, rel=REL, abs=1e-6)
    assert plan.total_cost <= min(_single_offer_costs(offers, request), default=math.inf) * (
        1 + REL
    )
    _check_constraints(plan, request)


def test_brute_force_agrees_with_a_hand_computed_case() -> None:
    # The worked example of test_planner_examples: 1,040 with both offers under max_gpus 12.
    offers = [_offer(0, "on_demand", 8, 80, 0), _offer(1, "on_demand", 4, 48, 0)]
    request = PlanRequest(gpu_hours=100, deadline_hours=10, max_gpus=12)
    assert brute_force(offers, request) == pytest.approx(1040)
    assert brute_force(offers, request.model_copy(update={"max_gpus": 4})) is None
