"""Offers as the optimizer sees them, and the pruning of offers that can never help.

A :class:`Candidate` reduces an offer to the cost model: a pay-as-you-go instance-hour costs
``price`` and delivers ``rate`` units of work (GPU-hours, or GPU-hours of the reference GPU's
work); a commitment unit costs ``unit_cost`` whatever is used and delivers at most
``unit_capacity``. :func:`prune` drops an offer only when an offer it already kept
:func:`dominates` it, or when its unit costs more than a plan known to be possible
(:func:`upper_bound`, or the caller's ceiling), so the optimum never changes;
:func:`~aggregator.shapes.cheapest_per_shape` drops same-shape offers first, only to spare
building thousands of candidates. The dominance rules and why they are sound: docs/planner.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aggregator.offer_view import PlannableOffer
from aggregator.planner.problem import Problem
from aggregator.planner.throughput import RAW, WorkScale
from aggregator.plans import PlanRequest
from aggregator.shapes import KINDS as _KINDS
from aggregator.shapes import cheapest_per_shape

__all__ = [
    "Candidate",
    "cheapest_per_shape",
    "count_bound",
    "dominates",
    "lost_share",
    "make_candidates",
    "prune",
    "upper_bound",
]


@dataclass(slots=True)
class Candidate:
    """One offer in the optimizer's terms (the cost model of docs/planner.md).

    Not frozen: a plan builds one per matching offer, and a frozen dataclass costs five times
    as much to construct; nothing changes a candidate once made.
    """

    offer: PlannableOffer
    gpus: float
    work: float
    """What one GPU-hour of the offer counts (1 unless the request is work-normalized)."""
    rate: float
    price: float
    commitment: bool
    interruptible: bool
    unit_cost: float
    unit_capacity: float
    cost_per_gpu_hour: float
    """Pay-as-you-go: price per delivered GPU-hour; commitment: per GPU-hour of capacity."""


def lost_share(
    offer: PlannableOffer, request: PlanRequest, overheads: Mapping[str, float] | None = None
) -> float:
    """The extra GPU-hours bought per GPU-hour an offer delivers: its own figure in
    ``overheads`` (``spot_overhead: auto``; none listed, nothing lost), else the request's
    ``spot_overhead`` for an interruptible offer and nothing for others. Every delivery rate
    goes through here."""
    if overheads is not None:
        return overheads.get(offer.id, 0.0)
    if not offer.purchase_option.interruptible:
        return 0.0
    assert not isinstance(request.spot_overhead, str), "auto overheads are priced per offer"
    return request.spot_overhead


def make_candidates(
    offers: Sequence[PlannableOffer],
    request: PlanRequest,
    scale: WorkScale = RAW,
    overheads: Mapping[str, float] | None = None,
) -> list[Candidate]:
    """Candidates for offers that already passed the request's filters (``scale`` among them:
    every offer's work per GPU-hour is known); ``overheads`` as in :func:`lost_share`."""
    deadline = request.deadline_hours
    candidates: list[Candidate] = []
    for offer in offers:
        gpus = float(offer.gpu_count)
        work = scale.of(offer)
        assert work is not None, "offers of unknown throughput are filtered out first"
        price = float(offer.price_per_hour)
        interruptible, commitment = _KINDS[offer.purchase_option]
        lost = lost_share(offer, request, overheads) if interruptible or overheads else 0.0
        rate = gpus * work / (1.0 + lost) if lost else gpus * work
        if commitment:
            hours = float(offer.term_hours) if deadline is None else min(offer.term_hours, deadline)
            unit_cost = price * offer.term_hours
            unit_capacity = rate * hours
            per_unit = unit_cost / unit_capacity
        else:
            unit_cost = 0.0
            unit_capacity = math.inf if deadline is None else rate * deadline
            per_unit = price / rate
        candidates.append(
            Candidate(
                offer,
                gpus,
                work,
                rate,
                price,
                commitment,
                interruptible,
                unit_cost,
                unit_capacity,
                per_unit,
            )
        )
    return candidates


def dominates(a: Candidate, b: Candidate, *, max_gpus: int | None, deadline: float | None) -> bool:
    """Whether ``a`` can stand in for every use of ``b`` (rules 1-3 of docs/planner.md)."""
    if a.commitment:
        if not b.commitment:
            return False
        k = math.ceil(b.unit_capacity / a.unit_capacity)
        if k * a.unit_cost > b.unit_cost:
            return False
        return max_gpus is None or k * a.gpus <= b.gpus
    if b.commitment:
        if a.cost_per_gpu_hour * b.unit_capacity > b.unit_cost:
            return False
        if max_gpus is None:
            return True
        m = 1 if deadline is None else math.ceil(b.unit_capacity / (a.rate * deadline))
        return m * a.gpus <= b.gpus
    if a.cost_per_gpu_hour > b.cost_per_gpu_hour:
        return False
    if max_gpus is None:
        return True
    m = 1 if deadline is None else math.ceil(b.rate / a.rate)
    return m * a.gpus <= b.gpus


def count_bound(
    candidate: Candidate,
    demand: float,
    *,
    max_gpus: int | None,
    deadline: float | None,
    budget: float | None = None,
) -> int:
    """The most instances (units) of a candidate any optimal plan can use.

    Commitments: ``ceil(N / unit_capacity)`` (one more only adds cost); pay-as-you-go with a
    deadline: ``ceil(N / (rate x D))``, without one: 1; never more than ``max_gpus`` allows.
    With a ``budget`` (``demand`` then the most any plan can deliver), never more than it pays
    for: ``floor(budget / unit_cost)`` units, instances for ``budget / cost_per_gpu_hour``.
    """
    if candidate.commitment:
        bound = math.ceil(demand / candidate.unit_capacity)
        if budget is not None:
            bound = min(bound, math.floor(budget / candidate.unit_cost * (1 + 1e-12)))
    elif deadline is None:
        bound = 1
    else:
        if budget is not None:
            demand = min(demand, budget / candidate.cost_per_gpu_hour)
        bound = math.ceil(demand / (candidate.rate * deadline))
    if max_gpus is not None:
        bound = min(bound, math.floor(max_gpus / candidate.gpus + 1e-9))
    return max(bound, 0)


def upper_bound(candidates: Sequence[Candidate], problem: Problem) -> float:
    """The cost of the cheapest plan that uses one pay-as-you-go offer alone (inf if none can);
    with no demand, the budget (no plan may cost more)."""
    demand, deadline, max_gpus = problem.demand, problem.deadline, problem.max_gpus
    if demand is None:
        return math.inf if problem.budget is None else problem.budget
    best = math.inf
    for c in candidates:
        if c.commitment:
            continue
        if max_gpus is not None:
            most = count_bound(c, demand, max_gpus=max_gpus, deadline=deadline)
            if most < 1 or (deadline is not None and most * c.rate * deadline < demand):
                continue
        best = min(best, c.cost_per_gpu_hour * demand)
    return best


def _order(item: tuple[int, Candidate]) -> tuple[bool, float, bool, float, int]:
    # Pay-as-you-go first (they can prune commitments), cheapest first; on ties prefer
    # uninterruptible capacity and smaller instances, then input order for determinism.
    index, c = item
    return (c.commitment, c.cost_per_gpu_hour, c.interruptible, c.gpus, index)


def prune(
    candidates: Sequence[Candidate], problem: Problem, *, ceiling: float = math.inf
) -> list[Candidate]:
    """The candidates no kept candidate dominates and the cost bound does not exclude.

    A commitment whose unit costs more than :func:`upper_bound` or ``ceiling`` (the cost of a
    plan found elsewhere, which a plan using it could never beat) is dropped.
    """
    limit = min(upper_bound(candidates, problem), ceiling) * (1 + 1e-9)
    kept: list[Candidate] = []
    for _, candidate in sorted(enumerate(candidates), key=_order):
        if candidate.commitment and candidate.unit_cost > limit:
            continue
        if not any(
            dominates(k, candidate, max_gpus=problem.max_gpus, deadline=problem.deadline)
            for k in kept
        ):
            kept.append(candidate)
    return kept
