"""One-cluster plans: every line on one provider, region (and zone) and instance type.

The offers of one provider, region and instance type form one cluster, or, when some are priced
per zone, one cluster per zone, which also holds the offers priced for the whole region (those
can be launched in any of its zones). Purchase options mix freely within a cluster.

:func:`best_cluster` solves cluster by cluster, in the order of a bound on what each can
achieve, and stops as soon as no remaining cluster's bound can beat the best plan found: a
cost floor for a demand (:meth:`Cluster.cost_floor`), the work a budget could buy at most for a
budget (:meth:`Cluster.capacity`, :meth:`Cluster.reach`). The best plan found so far also
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
    "cluster_of",
    "clusters",
    "narrowed",
]

ClusterKey = tuple[str, str, str | None, str]
"""Provider, region, zone (``None``: the whole region) and instance type."""

_Solve = Callable[[Sequence[Candidate], Problem, SolverOptions, float], Solution | None]


def cluster_of(offer: PlannableOffer) -> ClusterKey:
    """Where an offer runs, as far as a one-cluster plan cares."""
    return (offer.provider, offer.region, offer.zone, offer.instance_type)


class Cluster:
    """The candidates of one cluster, and the figures its bounds need (computed once: one
    plan searches the same clusters for its alternatives too)."""

    def __init__(self, key: ClusterKey, candidates: list[Candidate]) -> None:
        self.key, self.candidates = key, candidates
        payg = [c for c in candidates if not c.commitment]
        self.cheapest = min(c.cost_per_gpu_hour for c in candidates)
        self.cheapest_payg = min((c.cost_per_gpu_hour for c in payg), default=math.inf)
        self.cheapest_unit = min(
            (c.unit_cost for c in candidates if c.commitment), default=math.inf
        )
        self.has_payg = bool(payg)
        sizes = {c.gpus for c in candidates}
        self.size = sizes.pop() if len(sizes) == 1 else None
        self.best_unit = max(c.unit_capacity for c in candidates)
        self.best_per_gpu = max(c.unit_capacity / c.gpus for c in candidates)

    def capacity(self, problem: Problem) -> float:
        """The most work the cluster can deliver under ``max_gpus`` and the deadline (``inf``
        where they leave it unbounded; the budget is not counted).

        Within ``max_gpus`` GPUs at once, each instance or unit delivers at most its capacity
        in time (pay-as-you-go: ``rate x D``); with one instance size that is
        ``floor(G / gpus)`` instances of the best one, otherwise at most ``G`` times the best
        capacity per GPU.
        """
        if problem.max_gpus is None:
            return math.inf
        if problem.deadline is None and self.has_payg:
            return math.inf  # an instance runs as long as it must
        if self.size is not None:
            return math.floor(problem.max_gpus / self.size + 1e-9) * self.best_unit
        return problem.max_gpus * self.best_per_gpu

    def cost_floor(self, demand: float) -> float:
        """No plan of the cluster delivering ``demand`` costs less: each unit of work costs at
        least the cheapest ``cost_per_gpu_hour``, and a plan using a commitment pays a whole
        unit."""
        return min(demand * self.cheapest_payg, max(self.cheapest_unit, demand * self.cheapest))

    def reach(self, budget: float) -> float:
        """The most work ``budget`` could buy here (:func:`aggregator.planner.problem.reach`)."""
        return reach(budget, self.cheapest)


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
            found.append(Cluster((provider, region, None, instance_type), regional))
        for zone in zones:
            found.append(Cluster((provider, region, zone, instance_type), by_zone[zone] + regional))
    return found


def narrowed(groups: Sequence[Cluster], keep: Callable[[Candidate], bool]) -> list[Cluster]:
    """``groups`` with only the candidates ``keep`` keeps (clusters left empty dropped): the
    clusters of a subset, without grouping it again."""
    found: list[Cluster] = []
    for cluster in groups:
        kept = [c for c in cluster.candidates if keep(c)]
        if len(kept) == len(cluster.candidates):
            found.append(cluster)
        elif kept:
            found.append(Cluster(cluster.key, kept))
    return found


def best_cluster(
    groups: Sequence[Cluster], problem: Problem, options: SolverOptions, *, solve: _Solve
) -> Solution | None:
    """The best plan whose lines all share one of ``groups`` (see the module docstring)."""
    found: Solution | None = None
    if problem.demand is not None:
        demand = problem.demand
        ranked = sorted(
            (cluster.cost_floor(demand), index, cluster)
            for index, cluster in enumerate(groups)
            if cluster.capacity(problem) >= demand * (1 - SAME_WORK)
        )
        for floor, _, cluster in ranked:
            if found is not None and floor >= found.cost:
                break
            ceiling = math.inf if found is None else found.cost
            solution = solve(cluster.candidates, problem, options, ceiling)
            if solution is not None and better(solution, found, problem):
                found = solution
        return found
    budget = problem.budget
    assert budget is not None
    by_reach = sorted(
        (-min(cluster.reach(budget), cluster.capacity(problem)), index, cluster)
        for index, cluster in enumerate(groups)
    )
    for negative, _, cluster in by_reach:
        most = -negative
        if found is not None:
            if most < found.delivered * (1 - SAME_WORK):
                break
            if most <= found.delivered * (1 + SAME_WORK) and (
                cluster.cost_floor(found.delivered) >= found.cost
            ):
                continue  # at best the same work, and not for less
        solution = solve(cluster.candidates, problem, options, math.inf)
        if solution is not None and better(solution, found, problem):
            found = solution
    return found
