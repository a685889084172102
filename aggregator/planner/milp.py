"""The mixed-integer program, solved with HiGHS: how many instances or units of each offer.

Variables are shares of the N GPU-hours (so coefficients stay at most 1 whatever N is; a budget
solve measures shares of its reach) and integer counts bounded by
:func:`~aggregator.planner.candidates.count_bound`; only the counts are returned, and
:mod:`aggregator.planner.allocate` computes the exact hours and costs from them.
``mip_rel_gap`` is 0, so the plan is the cheapest, not 0.01 % off it; only the time limit can
end a solve early (``optimal=False``). HiGHS runs single-threaded, and its first-solver
banner is kept off stdout by muting file descriptor 1 once, under a lock. The formulation and
each choice: docs/planner.md, "The mixed-integer program".
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from aggregator.planner.candidates import Candidate, count_bound

__all__ = [
    "Counts",
    "SolverOptions",
    "choose_counts",
    "max_deliverable",
    "most_counts",
    "new_highs",
]

_INF = math.inf  # what highspy.kHighsInf is; highspy loads on first solve (0.1-0.2 s)
_banner_lock = threading.Lock()
_banner_shown = False


@dataclass(frozen=True)
class SolverOptions:
    """Knobs of the MILP solve; the defaults are what the CLI and API use."""

    time_limit_seconds: float = 5.0
    mip_rel_gap: float = 0.0


@dataclass(frozen=True)
class Counts:
    """The solver's integer decision: instances or units per candidate (aligned by index)."""

    counts: tuple[int, ...]
    optimal: bool


@contextlib.contextmanager
def _stdout_to_devnull() -> Iterator[None]:
    """Point file descriptor 1 at /dev/null (C code writes there, not to ``sys.stdout``)."""
    with contextlib.suppress(AttributeError, ValueError):  # stdout closed or replaced oddly
        sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # pragma: no cover - no fd 1 at all: nothing to protect
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        _flush_c_stdio()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def _flush_c_stdio() -> None:
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError, TypeError):  # pragma: no cover - not a POSIX libc
        pass


def new_highs() -> Any:
    """A silent, single-threaded HiGHS solver; the process's first is created with fd 1 muted.

    One thread: the models have tens of columns, and handing them to HiGHS' worker pool cost
    5-8 ms per solve (against 0.5-2 ms single-threaded) on a two-core machine; a server gets
    its parallelism from concurrent requests instead. HiGHS' scheduler is process-wide and
    fixed by the first solve, so every solver here asks for the same thread count.
    """
    import highspy

    global _banner_shown
    if not _banner_shown:
        with _banner_lock:
            if not _banner_shown:
                with _stdout_to_devnull():
                    highs = _configured(highspy.Highs())  # type: ignore[no-untyped-call]
                _banner_shown = True
                return highs
    return _configured(highspy.Highs())  # type: ignore[no-untyped-call]


def _configured(highs: Any) -> Any:
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("threads", 1)
    return highs


def _build(
    candidates: Sequence[Candidate],
    demand: float,
    max_gpus: int | None,
    deadline: float | None,
    *,
    maximize_delivery: bool,
    budget: float | None = None,
) -> tuple[Any, list[int]]:
    """The HiGHS model over the usable candidates, and their indices into ``candidates``.

    Minimizing cost, ``demand`` is the work to deliver; maximizing delivery, it is the most to
    count (the request's, or a budget's reach), ``budget`` (if any) caps the cost, and the
    objective is in units of work, so the solver's absolute gap stays a sliver of one.
    """
    import highspy
    import numpy as np

    usable = [
        (i, c, b)
        for i, c in enumerate(candidates)
        if (b := count_bound(c, demand, max_gpus=max_gpus, deadline=deadline, budget=budget)) > 0
    ]
    n = len(usable)
    cost = np.zeros(2 * n)
    lower = np.zeros(2 * n)
    upper = np.zeros(2 * n)
    starts: list[int] = [0]
    index: list[int] = []
    value: list[float] = []
    row_lower: list[float] = []
    row_upper: list[float] = []

    def row(entries: list[tuple[int, float]], lo: float, hi: float) -> None:
        index.extend(col for col, _ in entries)
        value.extend(coef for _, coef in entries)
        starts.append(len(index))
        row_lower.append(lo)
        row_upper.append(hi)

    for k, (_, c, bound) in enumerate(usable):
        x, z = 2 * k, 2 * k + 1
        upper[x] = 1.0
        upper[z] = float(bound)
        if maximize_delivery:
            cost[x] = -demand
        elif c.commitment:
            cost[z] = c.unit_cost
        else:
            cost[x] = c.price / c.rate * demand
        if c.commitment:
            per_unit = c.unit_capacity / demand
        elif deadline is None:
            per_unit = 1.0
        else:
            per_unit = c.rate * deadline / demand
        # x <= 1 anyway: capping the coefficient at 1 changes no integer solution and bounds
        # what an integrality tolerance on z can move.
        row([(x, 1.0), (z, -min(per_unit, 1.0))], -_INF, 0.0)
    shares = [(2 * k, 1.0) for k in range(n)]
    if maximize_delivery:
        row(shares, -_INF, 1.0)
    else:
        row(shares, 1.0, _INF)
    if budget is not None:  # what the plan spends, as a share of the budget
        spend: list[tuple[int, float]] = []
        for k, (_, c, _) in enumerate(usable):
            if c.commitment:
                spend.append((2 * k + 1, c.unit_cost / budget))
            else:
                spend.append((2 * k, c.cost_per_gpu_hour * demand / budget))
        row(spend, -_INF, 1.0)
    if max_gpus is not None:
        row([(2 * k + 1, c.gpus) for k, (_, c, _) in enumerate(usable)], -_INF, float(max_gpus))

    lp = highspy.HighsLp()
    lp.num_col_ = 2 * n
    lp.num_row_ = len(row_lower)
    lp.col_cost_ = cost
    lp.col_lower_ = lower
    lp.col_upper_ = upper
    lp.row_lower_ = np.array(row_lower, dtype=np.float64)
    lp.row_upper_ = np.array(row_upper, dtype=np.float64)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
    lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
    lp.a_matrix_.value_ = np.array(value, dtype=np.float64)
    lp.integrality_ = [
        highspy.HighsVarType.kInteger if col % 2 else highspy.HighsVarType.kContinuous
        for col in range(2 * n)
    ]
    return lp, [i for i, _, _ in usable]


def _run(lp: Any, options: SolverOptions) -> tuple[Any, Any]:
    highs = new_highs()
    highs.setOptionValue("time_limit", float(options.time_limit_seconds))
    highs.setOptionValue("mip_rel_gap", float(options.mip_rel_gap))
    highs.setOptionValue("mip_heuristic_run_feasibility_jump", False)
    highs.setOptionValue("mip_feasibility_tolerance", 1e-9)
    highs.passModel(lp)
    highs.run()
    return highs, highs.getModelStatus()


def _has_solution(highs: Any) -> bool:
    import highspy

    feasible = int(highspy.SolutionStatus.kSolutionStatusFeasible)
    return bool(highs.getInfo().primal_solution_status == feasible)


def _counts(highs: Any, status: Any, columns: Sequence[int], size: int) -> Counts | None:
    """The solved counts for ``size`` candidates (those not in ``columns``: 0), if any."""
    import highspy

    if not _has_solution(highs):
        return None
    values = highs.getSolution().col_value
    counts = [0] * size
    for k, i in enumerate(columns):
        counts[i] = max(0, round(values[2 * k + 1]))
    return Counts(tuple(counts), optimal=status == highspy.HighsModelStatus.kOptimal)


def choose_counts(
    candidates: Sequence[Candidate],
    demand: float,
    *,
    max_gpus: int | None,
    deadline: float | None,
    options: SolverOptions,
) -> Counts | None:
    """The cheapest integer counts meeting ``demand``; ``None`` when no plan is feasible."""
    import highspy

    if not candidates:
        return None
    lp, columns = _build(candidates, demand, max_gpus, deadline, maximize_delivery=False)
    if not columns:
        return None
    highs, status = _run(lp, options)
    if status == highspy.HighsModelStatus.kInfeasible:
        return None
    return _counts(highs, status, columns, len(candidates))


def most_counts(
    candidates: Sequence[Candidate],
    reach: float,
    *,
    budget: float,
    max_gpus: int | None,
    deadline: float | None,
    options: SolverOptions,
) -> Counts | None:
    """The integer counts delivering the most work within ``budget``; ``reach`` bounds what any
    plan of the candidates delivers (:func:`aggregator.planner.problem.reach`). ``None`` when
    nothing can be bought."""
    lp, columns = _build(
        candidates, reach, max_gpus, deadline, maximize_delivery=True, budget=budget
    )
    if not columns:
        return None
    highs, status = _run(lp, options)
    return _counts(highs, status, columns, len(candidates))


def max_deliverable(
    candidates: Sequence[Candidate],
    demand: float,
    *,
    max_gpus: int | None,
    deadline: float | None,
    options: SolverOptions,
) -> float:
    """The most work (up to ``demand``) the candidates can deliver under the constraints.

    Used to explain an infeasible request in numbers.
    """
    lp, columns = _build(candidates, demand, max_gpus, deadline, maximize_delivery=True)
    if not columns:
        return 0.0
    highs, _ = _run(lp, options)
    if not _has_solution(highs):
        return 0.0
    return float(-highs.getInfo().objective_function_value)
