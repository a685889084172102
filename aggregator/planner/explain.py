"""Why no plan exists, in numbers: which of the deadline, ``max_gpus``, the single cluster or
the budget leaves nothing, once the filters have left some offers."""

from __future__ import annotations

import math
from collections.abc import Sequence

from aggregator.planner.candidates import Candidate
from aggregator.planner.cluster import clusters
from aggregator.planner.milp import SolverOptions, max_deliverable
from aggregator.planner.notes import money
from aggregator.planner.problem import Problem

__all__ = ["explain"]


def explain(
    candidates: Sequence[Candidate],
    problem: Problem,
    options: SolverOptions,
    *,
    one_cluster: bool,
) -> str:
    """The reason ``candidates`` (one currency, all filters passed) serve no plan."""
    max_gpus = problem.max_gpus
    if max_gpus is not None:
        smallest = min(c.gpus for c in candidates)
        if smallest > max_gpus:
            return (
                f"max_gpus is {max_gpus:,} but every matching instance has more GPUs "
                f"(the smallest has {smallest:g})"
            )
    if problem.demand is None:
        return _budget(candidates, problem)
    if one_cluster:
        reason = _one_cluster(candidates, problem, problem.demand)
        if reason:
            return reason
    return _in_time(candidates, problem, problem.demand, options)


def _in_time(
    candidates: Sequence[Candidate], problem: Problem, demand: float, options: SolverOptions
) -> str:
    deadline, max_gpus, unit = problem.deadline, problem.max_gpus, problem.unit
    most = max_deliverable(
        candidates, demand, max_gpus=max_gpus, deadline=deadline, options=options
    )
    sizes = ", ".join(f"{g:g}" for g in sorted({c.gpus for c in candidates}))
    if deadline is not None and max_gpus is not None:
        per_gpu = max(c.unit_capacity / c.gpus for c in candidates)  # work per GPU in time
        needed = math.ceil(demand / per_gpu - 1e-9)
        if needed > max_gpus:
            return (
                f"the {deadline:g} h deadline needs at least {needed:,} GPUs at once to deliver "
                f"{demand:,g} {unit}, but max_gpus is {max_gpus:,} (the matching offers can "
                f"deliver at most {most:,.1f} {unit} in time)"
            )
        return (
            f"within the {deadline:g} h deadline and max_gpus {max_gpus:,}, the matching "
            f"instances ({sizes} GPUs each) can deliver at most {most:,.1f} of the "
            f"{demand:,g} {unit}: whole instances do not fit the {needed:,} GPUs needed"
        )
    if max_gpus is not None:
        return (
            f"with max_gpus {max_gpus:,}, the matching offers (commitments only) can deliver "
            f"at most {most:,.1f} of the {demand:,g} {unit}"
        )
    return "no combination of the matching offers meets the request"  # pragma: no cover


def _one_cluster(candidates: Sequence[Candidate], problem: Problem, demand: float) -> str | None:
    """The largest cluster's capacity, when no cluster is large enough; ``None`` otherwise."""
    sized = [(cluster.capacity(problem), cluster.key) for cluster in clusters(candidates)]
    most, (provider, region, zone, instance_type) = max(sized, key=lambda item: item[0])
    if most >= demand:
        return None
    limits = f"max_gpus {problem.max_gpus:,}"
    if problem.deadline is not None:
        limits = f"the {problem.deadline:g} h deadline and {limits}"
    where = region + (f" ({zone})" if zone else "")
    return (
        f"no single cluster (one provider, region and instance type) can deliver "
        f"{demand:,g} {problem.unit} within {limits}: the largest, {provider} {instance_type} "
        f"in {where}, delivers at most {most:,.1f}; drop one_cluster (--one-cluster) to "
        "combine clusters"
    )


def _budget(candidates: Sequence[Candidate], problem: Problem) -> str:
    budget = problem.budget or 0.0
    currency = candidates[0].offer.currency
    if all(c.commitment for c in candidates):
        cheapest = min(c.unit_cost for c in candidates)
        if cheapest > budget:
            return (
                f"the budget of {money(budget, currency)} buys nothing: the matching offers "
                f"are all commitments, and the cheapest unit costs {money(cheapest, currency)}"
            )
    return f"the budget of {money(budget, currency)} buys no work from the matching offers"
