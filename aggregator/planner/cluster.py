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
from operator import attrgetter

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

    __slots__ = (
        "_bound",
        "_bound_for",
        "best_per_gpu",
        "best_unit",
        "candidates",
        "cheapest",
        "cheapest_payg",
        "cheapest_unit",
        "has_payg",
        "key",
        "size",
    )

    def __init__(self, key: ClusterKey, candidates: list[Candidate]) -> None:
        self.key, self.candidates = key, candidates
        # One pass: a one-cluster plan builds thousands of these, most never solved.
        inf = math.inf
        cheapest = cheapest_payg = cheapest_unit = inf
        best_unit = best_per_gpu = -inf
        has_payg = False
        sizes: set[float] = set()
        for c in candidates:
            per_hour = c.cost_per_gpu_hour
            if per_hour < cheapest:
                cheapest = per_hour
            if c.commitment:
                if c.unit_cost < cheapest_unit:
                    cheapest_unit = c.unit_cost
            else:
                has_payg = True
                if per_hour < cheapest_payg:
                    cheapest_payg = per_hour
            if c.unit_capacity > best_unit:
                best_unit = c.unit_capacity
            if c.unit_capacity / c.gpus > best_per_gpu:
                best_per_gpu = c.unit_capacity / c.gpus
            sizes.add(c.gpus)
        if not candidates:
            raise ValueError("a cluster holds at least one candidate")
        self.cheapest, self.cheapest_payg = cheapest, cheapest_payg
        self.cheapest_unit = cheapest_unit
        self.has_payg = has_payg
        self.size = sizes.pop() if len(sizes) == 1 else None
        self.best_unit, self.best_per_gpu = best_unit, best_per_gpu
        self._bound_for: Problem | None = None
        self._bound = 0.0

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

    def most(self, problem: Problem) -> float:
        """The most work the cluster could deliver for ``problem``'s budget under its caps,
        kept for the last problem asked (a plan's alternatives ask again for the same one)."""
        if self._bound_for is not problem:
            assert problem.budget is not None
            self._bound = min(self.reach(problem.budget), self.capacity(problem))
            self._bound_for = problem
        return self._bound


# Read in C: a one-cluster plan groups thousands of candidates.
_where = attrgetter("offer.provider", "offer.region", "offer.instance_type", "offer.zone")


def clusters(candidates: Sequence[Candidate]) -> list[Cluster]:
    """The clusters of ``candidates``, in the order they first appear."""
    groups: dict[tuple[str, str, str, str | None], list[Candidate]] = {}
    for c in candidates:
        where = _where(c)
        own = groups.get(where)
        if own is None:
            groups[where] = [c]
        else:
            own.append(c)
    zoned = {where[:3] for where in groups if where[3] is not None}
    found: list[Cluster] = []
    for (provider, region, instance_type, zone), own in groups.items():
        if zone is not None:
            regional = groups.get((provider, region, instance_type, None), [])
            found.append(Cluster((provider, region, zone, instance_type), own + regional))
        elif (provider, region, instance_type) not in zoned:
            found.append(Cluster((provider, region, None, instance_type), own))
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
    by_reach = sorted(
        (-cluster.most(problem), index, cluster) for index, cluster in enumerate(groups)
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
