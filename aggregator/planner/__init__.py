"""The planner: the cheapest way to buy N GPU-hours.

:func:`solve` ``(offers, request) -> Plan`` plans over offers in memory;
:func:`plan_from_store` ``(engine, registry, request) -> Plan`` does the same over the store,
filtering in SQL first; :class:`SolverOptions` holds the MILP's time limit and gap. One module
per step: :mod:`.filters`, :mod:`.candidates`, :mod:`.milp`, :mod:`.allocate`, then
:mod:`.notes` and :mod:`.core` (currencies, alternatives); docs/planner.md says how they find
the optimum. Offers are read through :class:`aggregator.offer_view.PlannableOffer`, so pydantic
offers and the store's lean :class:`db.store.OfferRecord` plan alike. A failure to plan is a
:class:`~aggregator.errors.NoFeasiblePlan` naming the constraint that leaves nothing; bad
input is :class:`~aggregator.errors.InvalidInput`.
"""

from aggregator.planner.core import solve
from aggregator.planner.from_store import plan_from_store
from aggregator.planner.milp import SolverOptions

__all__ = ["SolverOptions", "plan_from_store", "solve"]
