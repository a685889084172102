"""One-cluster plans: every line on one provider, region (and zone) and instance type.

The offers of one provider, region and instance type form one cluster, or, when some are priced
per zone, one cluster per zone, which also holds the offers priced for the whole region (those
can be launched in any of its zones). Purchase options mix freely within a cluster.

:func:`best_cluster` solves cluster by cluster, in the order of a bound on what each can
achieve, and stops as soon as no remaining cluster's bound can beat the best plan found: a
cost floor for a demand (:func:`cost_floor`), the work a budget could buy at most for a budget
(:func:`capacity`, :func:`aggregator.planner.problem.reach`). The best plan found so far also
caps each later solve (commitments costing more cannot help). Pruning and the per-shape
reduction stay exact because both run within a cluster: an offer is only ever dropped for
another of its own cluster. docs/planner.md, "One cluster".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from aggregator.offer_view import PlannableOffer
from aggregator.planner.candidates import Candidate
from aggregator.planner.milp import SolverOptions
from aggregator.planner.problem import Problem, reach
from aggregator.planner.solution import SAME_WORK, Solution, better

__all__ = [
    "Cluster",
    "ClusterKey",
    "best_cluster",
    "capacity",
    "cluster_of",
    "clusters",
    "cost_floor",
    "narrowed",
]

ClusterKey = tuple[str, str, str | None, str]
"""Provider, region, zone (``None``: the whole region) and instance type."""
Cluster = tuple[ClusterKey, list[Candidate]]

_Solve = Callable[[Sequence[Candidate], Problem, SolverOptions, float], Solution | None]


def cluster_of(offer: PlannableOffer) -> ClusterKey:
    """Where an offer runs, as far as a one-cluster plan cares."""
    return (offer.provider, offer.region, offer.zone, offer.instance_type)


def clusters(candidates: Sequence[Candidate]) -> list[Cluster]:
    """The clusters of ``candidates``, in the order they first appear."""
    groups: dict[tuple[str, str, str], dict[str | None, list[Candidate]]] = {}
    for c in candidates:
        provider, region, zone, instance_type = cluster_of(c.offer)
        groups.setdefault((provider, region, instance_type), {}).setdefault(zone, []).append(c)
    found: list[Cluster] = []
    for (provider, region, instance_type), by_zone in groups.items():
        regional = by_zone.get(None, [])
        zones = [zone for zone in by_zone if zone is not None]
        if not zones:
            found.append(((provider, region, None, instance_type), regional))
        for zone in zones:
            found.append(((provider, region, zone, instance_type), by_zone[zone] + regional))
    return found


def capacity(group: Sequence[Candidate], problem: Problem) -> float:
    """The most work ``group`` can deliver under ``max_gpus`` and the deadline (``inf`` where
    they leave it unbounded; the budget is not counted).

    Within ``max_gpus`` GPUs at once, each instance or unit delivers at most its capacity in
    time (pay-as-you-go: ``rate x D``); with one instance size that is ``floor(G / gpus)``
    instances of the best one, otherwise at most ``G`` times the best capacity per GPU.
    """
    if problem.max_gpus is None:
        return math.inf
    if problem.deadline is None and any(not c.commitment for c in group):
        return math.inf  # an instance runs as long as it must
    sizes = {c.gpus for c in group}
    if len(sizes) == 1:
        at_once = math.floor(problem.max_gpus / sizes.pop() + 1e-9)
        return at_once * max(c.unit_capacity for c in group)
    return problem.max_gpus * max(c.unit_capacity / c.gpus for c in group)


def cost_floor(group: Sequence[Candidate], demand: float) -> float:
    """No plan of ``group`` delivering ``demand`` costs less: each unit of work costs at least
    the cheapest ``cost_per_gpu_hour``, and a plan using a commitment pays a whole unit."""
    cheapest = min(c.cost_per_gpu_hour for c in group)
    payg = min((c.cost_per_gpu_hour for c in group if not c.commitment), default=math.inf)
    unit = min((c.unit_cost for c in group if c.commitment), default=math.inf)
    return min(demand * payg, max(unit, demand * cheapest))


def narrowed(groups: Sequence[Cluster], keep: Callable[[Candidate], bool]) -> list[Cluster]:
    """``groups`` with only the candidates ``keep`` keeps (clusters left empty dropped): the
    clusters of a subset, without grouping it again."""
    found = [(key, [c for c in group if keep(c)]) for key, group in groups]
    return [(key, group) for key, group in found if group]


def best_cluster(
    groups: Sequence[Cluster], problem: Problem, options: SolverOptions, *, solve: _Solve
) -> Solution | None:
    """The best plan whose lines all share one of ``groups`` (see the module docstring)."""
    found: Solution | None = None
    if problem.demand is not None:
        demand = problem.demand
        ranked = sorted(
            (cost_floor(group, demand), index, group)
            for index, (_, group) in enumerate(groups)
            if capacity(group, problem) >= demand * (1 - SAME_WORK)
        )
        for floor, _, group in ranked:
            if found is not None and floor >= found.cost:
                break
            solution = solve(group, problem, options, math.inf if found is None else found.cost)
            if solution is not None and better(solution, found, problem):
                found = solution
        return found
    budget = problem.budget
    assert budget is not None
    by_reach = sorted(
        (-min(reach(group, budget), capacity(group, problem)), index, group)
        for index, (_, group) in enumerate(groups)
    )
    for negative, _, group in by_reach:
        most = -negative
        if found is not None:
            if most < found.delivered * (1 - SAME_WORK):
                break
            if most <= found.delivered * (1 + SAME_WORK) and (
                cost_floor(group, found.delivered) >= found.cost
            ):
                continue  # at best the same work, and not for less
        solution = solve(group, problem, options, math.inf)
        if solution is not None and better(solution, found, problem):
            found = solution
    return found
