"""A solved plan before it is priced into lines, and which of two solutions is better."""

from __future__ import annotations

from dataclasses import dataclass

from aggregator.planner.allocate import Allocation
from aggregator.planner.candidates import Candidate
from aggregator.planner.problem import Problem

__all__ = ["SAME_WORK", "Solution", "better"]

SAME_WORK = 1e-9
"""Relative difference under which two amounts of work count as the same."""


@dataclass(frozen=True)
class Solution:
    """Candidates and what each delivers (``allocation``), with the cost and work in total."""

    candidates: tuple[Candidate, ...]
    allocation: Allocation
    optimal: bool
    cost: float
    delivered: float


def better(found: Solution, than: Solution | None, problem: Problem) -> bool:
    """Whether ``found`` beats ``than``: cheaper, or (budget solves) more work, then cheaper."""
    if than is None:
        return True
    if problem.maximizing and abs(found.delivered - than.delivered) > SAME_WORK * than.delivered:
        return found.delivered > than.delivered
    return found.cost < than.cost
