"""The planner: the cheapest way to buy N GPU-hours.

:func:`solve` ``(offers, request) -> Plan`` plans over offers in memory;
:func:`plan_from_store` ``(source, request, *, gpus, terms) -> Plan`` does the same over the
store, filtering in SQL first, with the GPU vocabulary and price terms it is given (never the
plugin registry); :class:`SolverOptions` holds the MILP's time limit and gap. One module per
step: :mod:`.filters`, :mod:`.candidates`, :mod:`.milp`, :mod:`.allocate`, then :mod:`.notes`
and :mod:`.core` (currencies, alternatives); docs/planner.md says how they find the optimum.
A failure to plan is a :class:`~aggregator.errors.NoFeasiblePlan` naming the constraint that
leaves nothing; bad input is :class:`~aggregator.errors.InvalidInput`.
"""

from aggregator.planner.core import solve
from aggregator.planner.from_store import plan_from_store
from aggregator.planner.milp import SolverOptions

__all__ = ["SolverOptions", "plan_from_store", "solve"]
