"""Offers as the optimizer sees them, and the pruning of offers that can never help.

A :class:`Candidate` reduces an offer to the cost model: a pay-as-you-go instance-hour costs
``price`` and delivers ``rate`` GPU-hours; a commitment unit costs ``unit_cost`` whatever is
used and delivers at most ``unit_capacity``. :func:`prune` drops an offer only when an offer it
already kept :func:`dominates` it, or when one pay-as-you-go offer alone serves the request for
less than a commitment's unit (:func:`upper_bound`), so the optimum never changes;
:func:`cheapest_per_shape` drops same-shape offers first, only to spare building thousands of
candidates. The dominance rules and why they are sound: docs/planner.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from aggregator.offer_view import PlannableOffer
from aggregator.plans import PlanRequest

__all__ = [
    "Candidate",
    "cheapest_per_shape",
    "count_bound",
    "dominates",
    "make_candidates",
    "prune",
    "upper_bound",
]


@dataclass(frozen=True, slots=True)
class Candidate:
    """One offer in the optimizer's terms (the cost model of docs/planner.md)."""

    offer: PlannableOffer
    gpus: float
    rate: float
    price: float
    commitment: bool
    interruptible: bool
    unit_cost: float
    unit_capacity: float
    cost_per_gpu_hour: float
    """Pay-as-you-go: price per delivered GPU-hour; commitment: per GPU-hour of capacity."""


def cheapest_per_shape(offers: Sequence[PlannableOffer]) -> list[PlannableOffer]:
    """The cheapest offer of each shape (docs/planner.md), in the order of ``offers``."""
    best: dict[tuple[object, ...], tuple[int, PlannableOffer]] = {}
    for index, offer in enumerate(offers):
        option = offer.purchase_option
        key = (
            offer.currency,
            offer.provider,
            offer.gpu_count,
            option.interruptible,
            option.is_commitment,
            offer.term_hours,
        )
        kept = best.get(key)
        if kept is None or offer.price_per_hour < kept[1].price_per_hour:
            best[key] = (index, offer)
    return [offer for _, offer in sorted(best.values(), key=lambda item: item[0])]


def make_candidates(offers: Sequence[PlannableOffer], request: PlanRequest) -> list[Candidate]:
    """Candidates for offers that already passed the request's filters."""
    deadline = request.deadline_hours
    candidates: list[Candidate] = []
    for offer in offers:
        gpus = float(offer.gpu_count)
        price = float(offer.price_per_hour)
        commitment = offer.purchase_option.is_commitment
        interruptible = offer.purchase_option.interruptible
        rate = gpus / (1.0 + request.spot_overhead) if interruptible else gpus
        if commitment:
            hours = float(offer.term_hours) if deadline is None else min(offer.term_hours, deadline)
            unit_cost = price * offer.term_hours
            unit_capacity = gpus * hours
        else:
            unit_cost = 0.0
            unit_capacity = math.inf if deadline is None else rate * deadline
        candidates.append(
            Candidate(
                offer=offer,
                gpus=gpus,
                rate=rate,
                price=price,
                commitment=commitment,
                interruptible=interruptible,
                unit_cost=unit_cost,
                unit_capacity=unit_capacity,
                cost_per_gpu_hour=unit_cost / unit_capacity if commitment else price / rate,
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
    candidate: Candidate, demand: float, *, max_gpus: int | None, deadline: float | None
) -> int:
    """The most instances (units) of a candidate any optimal plan can use.

    Commitments: ``ceil(N / unit_capacity)`` (one more only adds cost); pay-as-you-go with a
    deadline: ``ceil(N / (rate x D))``, without one: 1; never more than ``max_gpus`` allows.
    """
    if candidate.commitment:
        bound = math.ceil(demand / candidate.unit_capacity)
    elif deadline is None:
        bound = 1
    else:
        bound = math.ceil(demand / (candidate.rate * deadline))
    if max_gpus is not None:
        bound = min(bound, math.floor(max_gpus / candidate.gpus + 1e-9))
    return max(bound, 0)


def upper_bound(candidates: Sequence[Candidate], request: PlanRequest) -> float:
    """The cost of the cheapest plan that uses one pay-as-you-go offer alone (inf if none can)."""
    demand, deadline, max_gpus = request.gpu_hours, request.deadline_hours, request.max_gpus
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


def prune(candidates: Sequence[Candidate], request: PlanRequest) -> list[Candidate]:
    """The candidates no kept candidate dominates and the demand bound does not exclude."""
    ceiling = upper_bound(candidates, request) * (1 + 1e-9)
    kept: list[Candidate] = []
    for _, candidate in sorted(enumerate(candidates), key=_order):
        if candidate.commitment and candidate.unit_cost > ceiling:
            continue
        if not any(
            dominates(k, candidate, max_gpus=request.max_gpus, deadline=request.deadline_hours)
            for k in kept
        ):
            kept.append(candidate)
    return kept
