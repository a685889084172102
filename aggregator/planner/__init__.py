"""The planner: the cheapest way to buy N GPU-hours.

<<<<<<< HEAD
:func:`solve` ``(offers, request) -> Plan`` plans over offers in memory;
:func:`plan_from_store` ``(engine, registry, request) -> Plan`` does the same over the store,
filtering in SQL first; :class:`SolverOptions` holds the MILP's time limit and gap. One module
per step: :mod:`.filters`, :mod:`.candidates`, :mod:`.milp`, :mod:`.allocate`, then
:mod:`.notes` and :mod:`.core` (currencies, alternatives); docs/planner.md says how they find
the optimum. Offers are read through :class:`aggregator.offer_view.PlannableOffer`, so pydantic
offers and the store's lean :class:`db.store.OfferRecord` plan alike. A failure to plan is a
:class:`~aggregator.errors.NoFeasiblePlan` naming the constraint that leaves nothing; bad
input is :class:`~aggregator.errors.InvalidInput`.
=======
Public surface:

- :func:`solve` ``(offers, request) -> Plan``: plan over offers in memory;
- :func:`plan_from_store` ``(engine, request, *, gpus, terms) -> Plan``: the same over the
  store, filtering in SQL first, with the GPU vocabulary and price terms it is given (the
  planner never reads the plugin registry);
- :class:`SolverOptions`: the MILP's time limit and gap.

How it works, one module per step: :mod:`.filters` (which offers may serve the request, and
which filter left none), :mod:`.candidates` (the cost model and the pruning of dominated
offers), :mod:`.milp` (the mixed-integer program in HiGHS), :mod:`.allocate` (exact hours and
costs from the solver's counts), :mod:`.notes` and :mod:`.core` (currencies, alternatives).
Offers are read through :class:`.types.PlannableOffer`, so pydantic offers and the store's lean
:class:`db.store.OfferRecord` both plan the same way.
Every failure to plan is a :class:`~aggregator.errors.NoFeasiblePlan` whose message names the
constraint that leaves nothing; bad input is :class:`~aggregator.errors.InvalidInput`.
>>>>>>> reshape-planner
"""

from aggregator.planner.core import solve
from aggregator.planner.from_store import plan_from_store
from aggregator.planner.milp import SolverOptions

__all__ = ["SolverOptions", "plan_from_store", "solve"]
