"""The planner: the cheapest way to buy N GPU-hours, or the most GPU-hours a budget buys.

Public surface: :func:`solve` ``(offers, request) -> Plan`` plans over offers in memory;
:func:`plan_from_store` ``(source, request, *, gpus, terms) -> Plan`` does the same over the
store, filtering in SQL first, with the GPU vocabulary and price terms it is given (never the
plugin registry); :class:`SolverOptions` holds the MILP's time limit and gap.

One module per step: :mod:`.throughput` (what a GPU-hour of each GPU is worth), :mod:`.filters`,
:mod:`.candidates` (cost model, pruning), :mod:`.problem` (a demand or a budget), :mod:`.search`
and :mod:`.cluster` (over all offers, or per cluster), :mod:`.milp`, :mod:`.allocate`,
:mod:`.explain` and :mod:`.notes`, :mod:`.core` (currencies, alternatives); docs/planner.md
says how each keeps the answer exact. A failure to plan is a
:class:`~aggregator.errors.NoFeasiblePlan` naming the constraint that leaves nothing.
"""

from aggregator.planner.core import solve
from aggregator.planner.from_store import plan_from_store
from aggregator.planner.milp import SolverOptions

__all__ = ["SolverOptions", "plan_from_store", "solve"]
