"""What one solve is asked, in the optimizer's numbers: a demand to meet at least cost, or a
budget to spend for the most work, under the deadline and the GPU cap.

Quantities are in the request's unit of work (:attr:`aggregator.planner.throughput.WorkScale
.unit`): GPU-hours, or GPU-hours of the reference GPU's work. A budget solve looks for the most
work within the budget; its *reach* (:func:`reach`) bounds what any plan can deliver, and is
the scale the mixed-integer program measures delivery in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from aggregator.plans import MAX_PLAN_GPU_HOURS, PlanRequest

__all__ = ["Problem", "reach"]


@dataclass(frozen=True)
class Problem:
    """``demand`` to deliver at least cost, or (``demand`` ``None``) the most within ``budget``.

    A request with both plans for the demand and refuses the plan afterwards if it costs more
    than the budget (:mod:`aggregator.planner.core`), so that the refusal can say what the
    cheapest plan costs; ``budget`` only constrains a solve without a demand.
    """

    demand: float | None
    budget: float | None
    deadline: float | None
    max_gpus: int | None
    unit: str = "GPU-hours"

    @classmethod
    def of(cls, request: PlanRequest, unit: str = "GPU-hours") -> Problem:
        return cls(
            request.gpu_hours, request.budget, request.deadline_hours, request.max_gpus, unit
        )

    @property
    def maximizing(self) -> bool:
        """Whether the solve maximizes work within the budget (no demand given)."""
        return self.demand is None

    def serving(self, demand: float) -> Problem:
        """The same constraints with a demand: the cheapest way to deliver ``demand``."""
        return replace(self, demand=demand)


def reach(budget: float, cheapest: float) -> float:
    """An upper bound on the work ``budget`` buys when no unit of work costs less than
    ``cheapest`` (the lowest ``cost_per_gpu_hour`` of the candidates; a commitment's is its
    cost per unit of capacity); never more than the largest plan (``MAX_PLAN_GPU_HOURS``)."""
    return min(budget / cheapest, MAX_PLAN_GPU_HOURS)
