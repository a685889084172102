"""The best plan over one set of candidates: the cheapest for a demand, or the most work for a
budget, over all candidates or one cluster at a time.

:func:`cheapest` prunes, chooses integer counts (HiGHS, or directly when nothing is left to
decide in integers) and allocates. :func:`most` is a budget solve in two steps: the counts that
buy the most work within the budget, then the cheapest plan delivering that much, which costs
no more and wins when a cap on GPUs or time, not the budget, limits the work. :func:`best`
runs either over every candidate, or per cluster through :mod:`aggregator.planner.cluster`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from aggregator.planner.allocate import Allocation, allocate, allocate_budget, allocation_cost
from aggregator.planner.candidates import Candidate, count_bound, prune
from aggregator.planner.cluster import Cluster, best_cluster, clusters
from aggregator.planner.milp import Counts, SolverOptions, choose_counts, most_counts
from aggregator.planner.problem import Problem, reach
from aggregator.planner.solution import Solution

__all__ = ["best", "cheapest", "most"]


def best(
    candidates: Sequence[Candidate],
    problem: Problem,
    options: SolverOptions,
    *,
    one_cluster: bool = False,
    groups: Sequence[Cluster] | None = None,
) -> Solution | None:
    """The best plan of ``candidates`` (all in one currency), within one cluster if asked;
    ``groups``, when given, are their clusters (grouped once for several searches)."""
    if one_cluster:
        groups = clusters(candidates) if groups is None else groups
        return best_cluster(groups, problem, options, solve=_solve)
    return _solve(candidates, problem, options, math.inf)


def _solve(
    candidates: Sequence[Candidate], problem: Problem, options: SolverOptions, ceiling: float
) -> Solution | None:
    if problem.maximizing:
        return most(candidates, problem, options)
    return cheapest(candidates, problem, options, ceiling=ceiling)


def cheapest(
    candidates: Sequence[Candidate],
    problem: Problem,
    options: SolverOptions,
    *,
    ceiling: float = math.inf,
) -> Solution | None:
    """The cheapest plan delivering ``problem.demand``; ``None`` when none exists (or, with a
    ``ceiling``, none cheaper than it exists that uses a commitment costing more)."""
    demand = problem.demand
    assert demand is not None
    kept = prune(candidates, problem, ceiling=ceiling)
    if not kept:
        return None
    deadline, max_gpus = problem.deadline, problem.max_gpus
    counts: Counts | None
    if max_gpus is None and not any(c.commitment for c in kept):
        # Nothing left to decide in integers: without a cap on GPUs at once every offer may
        # run as many instances as it could use, and allocate() takes the cheapest first.
        bounds = [count_bound(c, demand, max_gpus=None, deadline=deadline) for c in kept]
        counts = Counts(tuple(bounds), optimal=True)
    else:
        counts = choose_counts(kept, demand, max_gpus=max_gpus, deadline=deadline, options=options)
    if counts is None:
        return None
    allocation = allocate(kept, counts.counts, demand, deadline=deadline)
    return _solution(kept, allocation, counts.optimal)


def most(
    candidates: Sequence[Candidate], problem: Problem, options: SolverOptions
) -> Solution | None:
    """The plan delivering the most work within ``problem.budget``, the cheapest of those;
    ``None`` when the budget buys nothing."""
    budget = problem.budget
    assert budget is not None
    kept = prune(candidates, problem)
    if not kept:
        return None
    deadline, max_gpus = problem.deadline, problem.max_gpus
    most_work = reach(budget, min(c.cost_per_gpu_hour for c in kept))
    counts: Counts | None
    if max_gpus is None and not any(c.commitment for c in kept):
        # Without commitments or a GPU cap every offer runs as many instances as it could use:
        # the budget all goes to the cheapest unit of work.
        bounds = [
            count_bound(c, most_work, max_gpus=None, deadline=deadline, budget=budget) for c in kept
        ]
        counts = Counts(tuple(bounds), optimal=True)
    else:
        counts = most_counts(
            kept, most_work, budget=budget, max_gpus=max_gpus, deadline=deadline, options=options
        )
    if counts is None:
        return None
    allocation = allocate_budget(kept, counts.counts, budget, deadline=deadline)
    found = _solution(kept, allocation, counts.optimal)
    if found.delivered <= 0:
        return None
    # The same work may cost less than the budget when a cap, not the money, limits it.
    cheaper = cheapest(kept, problem.serving(found.delivered), options)
    if cheaper is not None and cheaper.cost < found.cost:
        return Solution(
            cheaper.candidates,
            cheaper.allocation,
            found.optimal and cheaper.optimal,
            cheaper.cost,
            cheaper.delivered,
        )
    return found


def _solution(candidates: Sequence[Candidate], allocation: Allocation, optimal: bool) -> Solution:
    return Solution(
        tuple(candidates),
        allocation,
        optimal,
        allocation_cost(candidates, allocation),
        sum(allocation.gpu_hours),
    )
