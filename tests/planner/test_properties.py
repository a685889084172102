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
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from aggregator.errors import NoFeasiblePlan
from aggregator.gpus import default_vocabulary
from aggregator.interruptions import InterruptionRate
from aggregator.models import Offer, PurchaseOption
from aggregator.planner import solve
from aggregator.planner.core import plan_matching
from aggregator.planner.spot_loss import (
    SpotLoss,
    monthly_interruption_percent,
    spot_overheads,
)
from aggregator.plans import Plan, PlanRequest
from tests.offers import build_offer
from tests.rates import build_rate

NOW = datetime(2025, 6, 1, tzinfo=UTC)
REL = 1e-6
VOCABULARY = default_vocabulary()
TFLOPS = {spec.name: spec.bf16_tflops for spec in VOCABULARY.specs()}


@dataclass(frozen=True)
class Item:
    gpus: float
    rate: float  # work delivered per instance-hour
    price: float
    commitment: bool
    unit_cost: float
    unit_capacity: float  # commitments: per unit; pay-as-you-go: per instance (inf: no deadline)
    most: int  # instances / units worth trying

    @property
    def per_unit_of_work(self) -> float:
        return self.unit_cost / self.unit_capacity if self.commitment else self.price / self.rate


def work_of(offer: Offer, request: PlanRequest) -> float | None:
    """What one GPU-hour of ``offer`` counts, from the request and the data sheets alone."""
    if request.equivalent_gpu is None:
        return 1.0
    given = {VOCABULARY.canonical(name): ratio for name, ratio in request.throughput.items()}
    reference = VOCABULARY.canonical(request.equivalent_gpu)
    if offer.gpu in given:
        return given[offer.gpu] / given.get(reference, 1.0)
    if offer.gpu == reference:
        return 1.0
    ours, theirs = TFLOPS[offer.gpu], TFLOPS[reference]
    return ours / theirs if ours and theirs else None


def _items(
    offers: list[Offer],
    request: PlanRequest,
    reach: float | None = None,
    overheads: dict[str, float] | None = None,
) -> list[Item]:
    """Items with the counts worth trying: for a demand, or (``reach``) for a budget;
    ``overheads`` are per-offer overheads (``spot_overhead: auto``; an offer not listed loses
    nothing), which a commitment's capacity loses too."""
    d, g_max, budget = request.deadline_hours, request.max_gpus, request.budget
    n = request.gpu_hours if reach is None else reach
    assert n is not None
    items: list[Item] = []
    for offer in offers:
        g, w = offer.gpu_count, work_of(offer, request)
        if w is None:
            continue  # no known throughput: not plannable
        lost = (
            overheads.get(offer.id, 0.0)
            if overheads is not None
            else float(request.spot_overhead)
            if offer.interruptible
            else 0.0
        )
        if offer.purchase_option.is_commitment:
            hours = offer.term_hours if d is None else min(offer.term_hours, d)
            capacity = g * w * hours / (1 + lost)
            unit_cost = offer.price_per_hour * offer.term_hours
            most = math.ceil(n / capacity)  # a further unit only adds cost
            if reach is not None:
                most = min(most, math.floor(budget / unit_cost + 1e-9))
            item = Item(g, g * w, offer.price_per_hour, True, unit_cost, capacity, most)
        else:
            rate = g * w / (1 + lost)
            if d is None:
                capacity, most = math.inf, 1  # one instance can run as long as needed
            else:
                worth = n if reach is None else min(n, budget / (offer.price_per_hour / rate))
                capacity, most = rate * d, math.ceil(worth / (rate * d))
            item = Item(g, rate, offer.price_per_hour, False, 0.0, capacity, most)
        if g_max is not None:
            item = Item(**{**item.__dict__, "most": min(item.most, math.floor(g_max / g + 1e-9))})
        else:
            # No cap on GPUs at once: more pay-as-you-go instances are free, so give each
            # pay-as-you-go offer all the instances it could use.
            if not item.commitment:
                item = Item(**{**item.__dict__, "unit_capacity": math.inf, "most": 1})
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


def _fill_work(items: list[Item], counts: tuple[int, ...], budget: float) -> float | None:
    """The most work ``counts`` buys within ``budget`` (None: the commitments cost more)."""
    left, work = budget, 0.0
    for item, count in zip(items, counts, strict=True):
        if item.commitment:
            left -= count * item.unit_cost
            work += count * item.unit_capacity
    if left < -1e-9 * budget:
        return None
    payg = sorted(
        (item.price / item.rate, count * item.unit_capacity)
        for item, count in zip(items, counts, strict=True)
        if not item.commitment and count > 0
    )
    for per_unit, capacity in payg:
        take = min(capacity, max(left, 0.0) / per_unit)
        work += take
        left -= take * per_unit
    return work


def _combinations(items: list[Item], max_gpus: int | None) -> Iterator[tuple[int, ...]]:
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

    return walk(0, max_gpus)


def clusters_of(offers: list[Offer]) -> list[list[Offer]]:
    """One cluster per provider, region and instance type, or per zone of one, where the
    offers priced for the whole region join every zone."""
    groups: dict[tuple[str, str, str], list[Offer]] = {}
    for offer in offers:
        groups.setdefault((offer.provider, offer.region, offer.instance_type), []).append(offer)
    found: list[list[Offer]] = []
    for group in groups.values():
        zones = sorted({o.zone for o in group if o.zone})
        found += [[o for o in group if o.zone in (zone, None)] for zone in zones] or [group]
    return found


def _groups(offers: list[Offer], request: PlanRequest) -> list[list[Offer]]:
    return clusters_of(offers) if request.one_cluster else [offers]


def brute_force(
    offers: list[Offer], request: PlanRequest, overheads: dict[str, float] | None = None
) -> float | None:
    """The cheapest cost over every combination of counts, or None if none is feasible."""
    assert request.gpu_hours is not None
    best: float | None = None
    for group in _groups(offers, request):
        items = _items(group, request, overheads=overheads)
        for counts in _combinations(items, request.max_gpus):
            cost = _fill_cost(items, counts, request.gpu_hours)
            if cost is not None and (best is None or cost < best):
                best = cost
    return best


def brute_force_budget(offers: list[Offer], request: PlanRequest) -> tuple[float, float] | None:
    """The most work within the budget and the least it costs, or None if it buys nothing."""
    assert request.budget is not None
    best: tuple[float, float] | None = None
    for group in _groups(offers, request):
        plannable = [o for o in group if work_of(o, request) is not None]
        if not plannable:
            continue
        cheapest = min(item.per_unit_of_work for item in _items(plannable, request, reach=1.0))
        items = _items(plannable, request, reach=request.budget / cheapest)
        for counts in _combinations(items, request.max_gpus):
            work = _fill_work(items, counts, request.budget)
            if not work:
                continue
            cost = _fill_cost(items, counts, work * (1 - 1e-12))
            assert cost is not None
            if best is None or work > best[0] * (1 + 1e-9):
                best = (work, cost)
            elif work >= best[0] * (1 - 1e-9):
                best = (max(best[0], work), min(best[1], cost))
    return best


def combinations_to_try(offers: list[Offer], request: PlanRequest) -> int:
    """How many count combinations the brute force would walk (to keep examples small)."""
    total = 0
    for group in _groups(offers, request):
        plannable = [o for o in group if work_of(o, request) is not None]
        if not plannable:
            continue
        if request.gpu_hours is not None:
            items = _items(plannable, request)
        else:
            per_unit = min(i.per_unit_of_work for i in _items(plannable, request, reach=1.0))
            items = _items(plannable, request, reach=(request.budget or 0.0) / per_unit)
        total += math.prod(item.most + 1 for item in items)
    return total


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


def _work(plan: Plan) -> float:
    return plan.gpu_hours if plan.equivalent_gpu_hours is None else plan.equivalent_gpu_hours


def _refused(offers: list[Offer], request: PlanRequest, reason: str | None = None) -> None:
    with pytest.raises(NoFeasiblePlan, match=reason):
        solve(offers, request, now=NOW)


def _check_constraints(plan: Plan, request: PlanRequest) -> None:
    n, d, g_max = request.gpu_hours, request.deadline_hours, request.max_gpus
    if n is not None:
        assert _work(plan) >= n * (1 - 1e-9)
    if request.budget is not None:
        assert plan.total_cost <= request.budget * (1 + 1e-9)
    if request.one_cluster:
        assert len({(ln.provider, ln.region, ln.instance_type) for ln in plan.lines}) == 1
        assert len({ln.zone for ln in plan.lines if ln.zone}) <= 1
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
            if line.equivalent_gpu_hours is not None:
                assert line.throughput_ratio is not None
                assert line.equivalent_gpu_hours == pytest.approx(
                    line.gpu_hours * line.throughput_ratio
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
        _refused(offers, request)
        return
    plan = solve(offers, request, now=NOW)
    assert plan.optimal
    assert plan.total_cost == pytest.approx(expected, rel=REL, abs=1e-6)
    assert plan.total_cost <= min(_single_offer_costs(offers, request), default=math.inf) * (
        1 + REL
    )
    _check_constraints(plan, request)


# Instance types of a training catalog: the GPU and count each carries.
TYPES = {"t1": ("L4", 1), "t2": ("A100", 4), "t3": ("H100", 8), "t4": ("K80", 2)}
training_offer_spec = st.tuples(
    st.sampled_from(["on_demand", "on_demand", "spot", "reserved"]),
    st.sampled_from(sorted(TYPES)),
    st.sampled_from(["aws", "gcp"]),
    st.sampled_from(["r1", "r2"]),
    st.sampled_from([None, None, "a", "b"]),
    st.integers(min_value=1, max_value=40),
    st.sampled_from([4, 10, 25, 60]),
)
THROUGHPUTS: list[dict[str, float]] = [{}, {"H100": 1, "A100": 0.5}, {"a100": 0.25, "K80": 0.05}]


def _training_offer(spec: tuple[str, str, str, str, str | None, int, int]) -> Offer:
    kind, instance_type, provider, region, zone, price, term = spec
    gpu, count = TYPES[instance_type]
    return build_offer(
        provider=provider,
        region=region,
        zone=zone,
        instance_type=instance_type,
        gpu=gpu,
        gpu_count=count,
        gpu_memory_gb=VOCABULARY.resolve(gpu).spec.memory_gb[-1],
        # Commitments at a discount, so that mixing them with pay-as-you-go pays off often.
        price_per_hour=float(price * count) / (4 if kind == "reserved" else 1),
        purchase_option=PurchaseOption(kind),
        term_hours=term if kind == "reserved" else 0,
        observed_at=NOW,
    )


@st.composite
def training_scenarios(draw: st.DrawFn) -> tuple[list[Offer], PlanRequest]:
    specs = draw(st.lists(training_offer_spec, min_size=2, max_size=7))
    if sum(1 for s in specs if s[0] == "reserved") > 2:  # keeps the enumeration small
        specs = [s for s in specs if s[0] != "reserved"] + [s for s in specs if s[0] == "reserved"][
            :2
        ]
    unique = {o.id: o for o in map(_training_offer, specs)}  # one price per natural key
    mode = draw(st.sampled_from(["demand", "budget", "both"]))
    equivalent = draw(st.booleans())
    # Mostly capped in GPUs and time, and often asking for most of what the caps allow: there
    # plans mix offers, and clusters differ in what they can do.
    deadline = draw(st.sampled_from([None, 2.0, 5.0, 5.0, 10.0, 40.0]))
    max_gpus = draw(st.one_of(st.none(), st.integers(1, 16), st.integers(6, 16)))
    demand = draw(st.integers(1, 240)) / 4
    if deadline is not None and max_gpus is not None and draw(st.booleans()):
        demand = deadline * max_gpus * draw(st.sampled_from([0.3, 0.6, 0.8, 0.95]))
    request = PlanRequest(
        gpu_hours=None if mode == "budget" else demand,
        budget=None if mode == "demand" else float(draw(st.sampled_from([3, 40, 300, 2500]))),
        equivalent_gpu="H100" if equivalent else None,
        throughput=draw(st.sampled_from(THROUGHPUTS)) if equivalent else {},
        one_cluster=draw(st.booleans()),
        deadline_hours=deadline,
        max_gpus=max_gpus,
        spot_overhead=draw(st.sampled_from([0.0, 0.25, 1.0])),
        purchase_options=["on_demand", "spot", "reserved"],
        top=0,
    )
    return list(unique.values()), request


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(training_scenarios())
def test_training_requests_match_brute_force(scenario: tuple[list[Offer], PlanRequest]) -> None:
    # One cluster, budgets (with and without a demand) and work-normalized requests, each
    # alone and combined: the planner's answer is the exhaustive search's.
    offers, request = scenario
    assume(combinations_to_try(offers, request) <= 20_000)
    kind = "budget" if request.gpu_hours is None else "demand"
    kind += " with a budget" if kind == "demand" and request.budget else ""
    event(
        kind
        + (", one cluster" if request.one_cluster else "")
        + (", equivalent" if request.equivalent_gpu else "")
    )
    if not any(work_of(o, request) is not None for o in offers):
        _refused(offers, request, "known throughput")
        return
    if request.gpu_hours is None:
        expected = brute_force_budget(offers, request)
        if expected is None:
            _refused(offers, request)
            return
        plan = solve(offers, request, now=NOW)
        event(f"budget plan of {len(plan.lines)} line(s)")
        assert _work(plan) == pytest.approx(expected[0], rel=REL)
        assert plan.total_cost == pytest.approx(expected[1], rel=REL, abs=1e-6)
    else:
        cheapest = brute_force(offers, request)
        budget = request.budget
        if cheapest is None or (budget is not None and cheapest > budget * (1 + 1e-7)):
            _refused(offers, request, "over the budget" if cheapest is not None else None)
            return
        if budget is not None and cheapest > budget * (1 - 1e-7):
            return  # at the budget to rounding: either answer is right
        plan = solve(offers, request, now=NOW)
        event(f"demand plan of {len(plan.lines)} line(s)")
        assert plan.total_cost == pytest.approx(cheapest, rel=REL, abs=1e-6)
    assert plan.optimal
    _check_constraints(plan, request)


def test_brute_force_agrees_with_a_hand_computed_case() -> None:
    # The worked example of test_planner_examples: 1,040 with both offers under max_gpus 12.
    offers = [_offer(0, "on_demand", 8, 80, 0), _offer(1, "on_demand", 4, 48, 0)]
    request = PlanRequest(gpu_hours=100, deadline_hours=10, max_gpus=12)
    assert brute_force(offers, request) == pytest.approx(1040)
    assert brute_force(offers, request.model_copy(update={"max_gpus": 4})) is None


AutoScenario = tuple[list[Offer], PlanRequest, dict[tuple[str, str, str], InterruptionRate]]
"""Offers, a ``spot_overhead: auto`` request, and the interruption rates of the offers."""

BUCKETS: list[dict[str, Any] | None] = [
    None,  # no data: the default
    {"bucket": 0, "bucket_label": "<5%", "interruption_min_percent": 0,
     "interruption_max_percent": 5},
    {"bucket": 2, "bucket_label": "10-15%", "interruption_min_percent": 11,
     "interruption_max_percent": 16},
    {"bucket": 4, "bucket_label": ">20%", "interruption_min_percent": 22,
     "interruption_max_percent": 100},
]  # fmt: skip


@st.composite
def auto_scenarios(
    draw: st.DrawFn,
) -> AutoScenario:
    offers, base = draw(scenarios())
    rates = {}
    for offer in offers:
        bucket = draw(st.sampled_from(BUCKETS))
        if offer.interruptible and bucket is not None:
            rate = build_rate(region=offer.region, instance_type=offer.instance_type, **bucket)
            rates[rate.key()] = rate
    fields = base.model_dump(exclude={"spot_overhead"}, exclude_unset=True)
    request = PlanRequest(
        **fields,
        spot_overhead="auto",
        checkpoint_minutes=draw(st.sampled_from([0, 30, 1440])),
        restart_minutes=draw(st.sampled_from([0, 10, 1440])),
    )
    return offers, request, rates


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(auto_scenarios())
def test_auto_spot_overheads_match_brute_force(
    scenario: AutoScenario,
) -> None:
    offers, request, rates = scenario
    loss = SpotLoss(request.checkpoint_minutes, request.restart_minutes)
    expected = brute_force(offers, request, overheads=spot_overheads(offers, loss, rates))
    if expected is None:
        with pytest.raises(NoFeasiblePlan):
            plan_matching(offers, request, now=NOW, interruptions=rates)
        return
    plan = plan_matching(offers, request, now=NOW, interruptions=rates)
    assert plan.optimal
    assert plan.total_cost == pytest.approx(expected, rel=REL, abs=1e-6)


@st.composite
def stall_scenarios(
    draw: st.DrawFn,
) -> AutoScenario:
    """One-cluster requests over clusters that mix spot with on-demand and reservations (one
    cluster always has both spot and a reservation)."""
    specs = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["on_demand", "spot", "spot", "reserved"]),
                st.sampled_from([(0, 2), (1, 4)]),  # instance type, GPUs per instance
                st.integers(min_value=1, max_value=40),
                st.sampled_from([10, 25, 60]),
            ),
            min_size=0,
            max_size=3,
        )
    )
    term = st.sampled_from([10, 25])
    cheap = st.integers(min_value=1, max_value=8)  # reservations worth buying, then topped up
    reserved = draw(cheap)
    spot = reserved + draw(cheap)  # dearer by the hour than the reservation, not by the unit
    mixed = [("spot", (0, 2), spot, 0), ("reserved", (0, 2), reserved, draw(term))]
    offers: dict[str, Offer] = {}
    for kind, (type_index, gpus), per_hour, hours in mixed + specs:
        offer = build_offer(
            instance_type=f"it{type_index}", gpu_count=gpus, price_per_hour=float(per_hour),
            purchase_option=PurchaseOption(kind), term_hours=hours if kind == "reserved" else 0,
            observed_at=NOW,
        )  # fmt: skip
        offers.setdefault(offer.id, offer)
    assume(sum(o.purchase_option.is_commitment for o in offers.values()) <= 2)
    rates = {}
    for instance_type in {o.instance_type for o in offers.values()}:
        bucket = draw(st.sampled_from(BUCKETS))
        if bucket is not None:
            rate = build_rate(instance_type=instance_type, **bucket)
            rates[rate.key()] = rate
    request = PlanRequest(
        gpu_hours=draw(st.integers(min_value=1, max_value=120)) / draw(st.sampled_from([1, 4])),
        deadline_hours=draw(st.sampled_from([2.0, 5.0, 12.5, 40.0])),
        max_gpus=draw(st.one_of(st.none(), st.integers(min_value=1, max_value=14))),
        one_cluster=True,
        spot_overhead="auto",
        checkpoint_minutes=draw(st.sampled_from([30, 1440])),
        restart_minutes=draw(st.sampled_from([10, 1440])),
        purchase_options=["on_demand", "spot", "reserved"],
        allow_fractional=True,
        top=0,
    )
    return list(offers.values()), request, rates


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stall_scenarios())
def test_one_cluster_spot_plans_are_consistent_and_between_the_bounds(
    scenario: AutoScenario,
) -> None:
    # Between the cheapest plan without spot (always a candidate answer) and the cheapest plan
    # if every instance lost only what one spot instance stalling it costs (no plan with spot
    # loses less); and the plan delivers the work at the loss of the spot instances it uses.
    offers, request, rates = scenario
    steady = [o for o in offers if not o.interruptible]
    without_spot = brute_force(steady, request, overheads={}) if steady else None
    loss = SpotLoss(request.checkpoint_minutes, request.restart_minutes)
    least = spot_overheads(offers, loss, rates, stalled_by=1, stalling=True)
    finite = [o for o in offers if not math.isinf(least.get(o.id, 0.0))]
    bounds = [c for c in (without_spot, brute_force(finite, request, overheads=least)) if c]
    try:
        plan = plan_matching(offers, request, now=NOW, interruptions=rates)
    except NoFeasiblePlan:
        assert without_spot is None
        return
    assert bounds and min(bounds) * (1 - REL) - 1e-6 <= plan.total_cost
    if without_spot is not None:
        assert plan.total_cost <= without_spot * (1 + REL) + 1e-6
    used = sum(line.instances for line in plan.lines if line.interruptible)
    mixed = used and any(not line.interruptible for line in plan.lines)
    event("spot mixed with other capacity" if mixed else f"{used} spot instance(s) only")
    assert len({line.instance_type for line in plan.lines}) == 1
    delivered = 0.0
    for line in plan.lines:
        rate = rates.get((line.provider, line.region, line.instance_type))
        share = loss.lost_share(monthly_interruption_percent(rate), stalled_by=used) if used else 0
        hours = line.instances * line.hours_per_instance
        assert line.gpu_hours <= hours * line.gpus_per_instance * (1 - share) * (1 + REL) + 1e-6
        delivered += line.gpu_hours
    assert request.gpu_hours is not None
    assert delivered >= request.gpu_hours * (1 - REL)
