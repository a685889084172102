"""The planner: the cheapest way to buy N GPU-hours, or the most GPU-hours a budget buys.

Public surface:

- :func:`solve` ``(offers, request) -> Plan``: plan over offers in memory;
- :func:`plan_from_store` ``(engine, request, *, gpus, terms) -> Plan``: the same over the
  store, filtering in SQL first, with the GPU vocabulary and price terms it is given (the
  planner never reads the plugin registry);
- :class:`SolverOptions`: the MILP's time limit and gap.

How it works, one module per step: :mod:`.throughput` (what a GPU-hour of each GPU is worth
in a work-normalized request), :mod:`.filters` (which offers may serve the request, and which
filter left none), :mod:`.candidates` (the cost model and the pruning of dominated offers),
:mod:`.problem` (a demand or a budget, in the optimizer's numbers), :mod:`.search` and
:mod:`.cluster` (the best plan over all offers, or per cluster), :mod:`.milp` (the
mixed-integer programs in HiGHS), :mod:`.allocate` (exact hours and costs from the solver's
counts), :mod:`.explain` and :mod:`.notes` (why no plan, what to know about one) and
:mod:`.core` (currencies, alternatives). Offers are read through
:class:`aggregator.offer_view.PlannableOffer`, so pydantic offers and the store's lean
:class:`db.store.OfferRecord` both plan the same way. Every failure to plan is a
:class:`~aggregator.errors.NoFeasiblePlan` whose message names the constraint that leaves
nothing; bad input is :class:`~aggregator.errors.InvalidInput`. docs/planner.md says how
each step keeps the answer exact.
"""

from aggregator.planner.core import solve
from aggregator.planner.from_store import plan_from_store
from aggregator.planner.milp import SolverOptions

__all__ = ["SolverOptions", "plan_from_store", "solve"]
