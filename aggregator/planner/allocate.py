"""From the solver's integer counts to exact plan lines.

Given how many instances (units) of each offer run, the cheapest way to fill the demand is a
fractional knapsack, solved exactly by filling in order of marginal cost: commitment capacity
first (already paid for), then pay-as-you-go offers, cheapest GPU-hour first, each up to
``instances x rate x deadline`` (unlimited without a deadline). Doing this outside the solver
keeps costs free of solver tolerances. Counts are then tightened to what the allocation uses
(a unit or instance with nothing to do is dropped), which can only lower cost and GPUs at once.
A budget plan fills the same way, with the money left after the commitments instead of the
demand: commitment capacity is all used (it is paid for), then pay-as-you-go, cheapest first,
until the budget is spent (:func:`allocate_budget`).

Each line is priced twice: at the price the user pays, after their negotiated terms (what the
solver minimized), and at the provider's list price (:func:`aggregator.terms.list_price`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from aggregator.errors import GpuhoursError
from aggregator.planner.candidates import Candidate
from aggregator.plans import PlanLine
from aggregator.terms import list_price

__all__ = ["Allocation", "allocate", "allocate_budget", "allocation_cost", "plan_lines"]

_SLACK = 1e-6  # relative shortfall tolerated as solver rounding (then filled as dust)
_BUDGET_SLACK = 1e-9  # relative overspend tolerated as the solver's feasibility tolerance
_HOURS_EPS = 1e-9


@dataclass(frozen=True)
class Allocation:
    """GPU-hours delivered and instances (units) used, per candidate (aligned by index)."""

    gpu_hours: tuple[float, ...]
    counts: tuple[int, ...]


def allocate(
    candidates: Sequence[Candidate],
    counts: Sequence[int],
    demand: float,
    *,
    deadline: float | None,
) -> Allocation:
    """Fill ``demand`` from the capacity ``counts`` buys, cheapest marginal GPU-hour first."""
    delivered = [0.0] * len(candidates)
    remaining = demand
    order = sorted(
        (i for i, n in enumerate(counts) if n > 0),
        key=lambda i: (
            not candidates[i].commitment,
            candidates[i].cost_per_gpu_hour,
            candidates[i].offer.id,
        ),
    )
    for i in order:
        if remaining <= 0:
            break
        c = candidates[i]
        if c.commitment:
            capacity = counts[i] * c.unit_capacity
        elif deadline is None:
            capacity = math.inf
        else:
            capacity = counts[i] * c.rate * deadline
        take = min(capacity, remaining)
        delivered[i] = take
        remaining -= take
    if remaining > _SLACK * demand:
        raise GpuhoursError(  # a bug, not a user error: the solver's counts must suffice
            f"internal error: the chosen offers leave {remaining:g} of {demand:g} GPU-hours"
        )
    if remaining > 0:  # rounding dust: give it to the last offer filled
        last = max((i for i in order if delivered[i] > 0), key=order.index)
        delivered[last] += remaining
    return _tightened(candidates, counts, delivered, deadline)


def allocate_budget(
    candidates: Sequence[Candidate],
    counts: Sequence[int],
    budget: float,
    *,
    deadline: float | None,
) -> Allocation:
    """The most work ``counts`` buys within ``budget``: all commitment capacity, then
    pay-as-you-go, cheapest marginal unit of work first, until the money is spent."""
    delivered = [0.0] * len(candidates)
    left = budget
    for i, c in enumerate(candidates):
        if c.commitment and counts[i] > 0:
            delivered[i] = counts[i] * c.unit_capacity
            left -= counts[i] * c.unit_cost
    if left < -_BUDGET_SLACK * budget:
        raise GpuhoursError(  # a bug, not a user error: the solver's counts must be affordable
            f"internal error: the chosen commitments cost {budget - left:g} of a {budget:g} budget"
        )
    payg = sorted(
        (i for i, n in enumerate(counts) if n > 0 and not candidates[i].commitment),
        key=lambda i: (candidates[i].cost_per_gpu_hour, candidates[i].offer.id),
    )
    for i in payg:
        if left <= 0:
            break
        c = candidates[i]
        capacity = math.inf if deadline is None else counts[i] * c.rate * deadline
        delivered[i] = min(capacity, left / c.cost_per_gpu_hour)
        left -= delivered[i] * c.cost_per_gpu_hour
    return _tightened(candidates, counts, delivered, deadline)


def allocation_cost(candidates: Sequence[Candidate], allocation: Allocation) -> float:
    """What an allocation costs: whole commitment units, pay-as-you-go by the hour."""
    total = 0.0
    for c, work, count in zip(candidates, allocation.gpu_hours, allocation.counts, strict=True):
        if count > 0 and work > 0:
            total += count * c.unit_cost if c.commitment else work / c.rate * c.price
    return total


def _tightened(
    candidates: Sequence[Candidate],
    counts: Sequence[int],
    delivered: list[float],
    deadline: float | None,
) -> Allocation:
    """``delivered`` with the fewest instances (units) of each count that deliver it."""
    used: list[int] = []
    for i, c in enumerate(candidates):
        if delivered[i] <= 0:
            used.append(0)
        elif c.commitment:
            used.append(min(counts[i], max(1, math.ceil(delivered[i] / c.unit_capacity - 1e-9))))
        elif deadline is None:
            used.append(1)
        else:
            need = delivered[i] / c.rate / deadline
            used.append(min(counts[i], max(1, math.ceil(need - 1e-9))))
    return Allocation(tuple(delivered), tuple(used))


def plan_lines(
    candidates: Sequence[Candidate], allocation: Allocation, *, normalized: bool = False
) -> list[PlanLine]:
    """One line per offer in use, most expensive first; ``normalized``: with the work in
    reference GPU-hours beside the raw GPU-hours."""
    lines: list[PlanLine] = []
    for c, work, count in zip(candidates, allocation.gpu_hours, allocation.counts, strict=True):
        if count <= 0 or work <= 0:
            continue
        offer = c.offer
        instance_hours = work / c.rate
        listed, terms = list_price(offer)
        if c.commitment:
            billed = float(count * offer.term_hours)
            cost = count * c.unit_cost
            list_cost = count * (listed * offer.term_hours)
        else:
            billed = instance_hours
            cost = instance_hours * c.price
            list_cost = instance_hours * listed
        if not terms:
            list_cost = cost  # the same number, whatever rounding computing it twice would do
        lines.append(
            PlanLine(
                provider=offer.provider,
                region=offer.region,
                zone=offer.zone,
                instance_type=offer.instance_type,
                gpu=offer.gpu,
                gpu_memory_gb=offer.gpu_memory_gb,
                gpus_per_instance=offer.gpu_count,
                purchase_option=offer.purchase_option,
                interruptible=offer.interruptible,
                term_hours=offer.term_hours,
                payment=offer.payment,
                offering_class=offer.offering_class,
                instances=count,
                hours_per_instance=instance_hours / count,
                instance_hours=instance_hours,
                billed_instance_hours=billed,
                gpu_hours=work / c.work,
                equivalent_gpu_hours=work if normalized else None,
                throughput_ratio=c.work if normalized else None,
                unit_price=offer.price_per_hour,
                cost=cost,
                list_unit_price=listed,
                list_cost=list_cost,
                terms=list(terms),
                offer_id=offer.id,
                observed_at=offer.observed_at,
                available_in=None if offer.available_in is None else list(offer.available_in),
            )
        )
    lines.sort(key=lambda line: (-line.cost, line.offer_id))
    return lines
