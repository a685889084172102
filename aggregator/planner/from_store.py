"""Planning over the price store: filter in SQL, finish in Python, then solve.

The store evaluates the filters it can (GPU and memory variant, minimum memory, provider,
region globs, purchase option; withdrawn offers are never planned with) through the same
:func:`aggregator.catalog.build_offer_query` the ``offers`` command uses, so both reject the
same bad input the same way. GPUs per instance and fractional GPUs are filtered in Python.
Offers are read as :class:`db.store.OfferRecord` s (:func:`db.store.query_offer_records`: the
same rows as :func:`db.store.query_offers`, without building a pydantic model per row, which
cost more than solving), and the planner reads them through
:class:`~aggregator.planner.types.PlannableOffer`. The read goes through
:mod:`db.offer_cache`: a service answering many plans reads the same offers from memory until
a sync changes the store.

When SQL returns nothing, the filters are re-run cumulatively (``LIMIT 1`` each) to find the
first that empties the set, and its message is built from a sample of what the earlier
filters still allowed. That extra work only happens on the way to a
:class:`~aggregator.errors.NoFeasiblePlan`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from aggregator.catalog import build_offer_query
from aggregator.errors import NoFeasiblePlan
from aggregator.models import Plan, PlanRequest
from aggregator.planner.core import plan_matching
from aggregator.planner.filters import (
    FilterStep,
    apply_steps,
    filter_steps,
    nothing_to_plan,
    resolve_gpus,
)
from aggregator.planner.milp import SolverOptions
from aggregator.plugins import Registry
from aggregator.terms import apply_terms
from db import store
from db.offer_cache import cached_offer_records

__all__ = ["plan_from_store"]

_HINT_SAMPLE = 2000  # offers read to phrase a "nothing matches" hint


def plan_from_store(
    engine: Engine,
    registry: Registry,
    request: PlanRequest,
    *,
    options: SolverOptions | None = None,
    now: datetime | None = None,
    store_version: int | None = None,
) -> Plan:
    """The cheapest plan for ``request`` over the store's current offers.

    ``store_version``, when the caller already read :func:`db.store.data_version` (before
    calling), spares reading it again for the offer memo.

    Plan lines carry the stored offers' ids (``gpuhours offers`` / ``history`` show them).
    Unless ``request.apply_terms`` is False, the registry's price terms
    (:mod:`aggregator.terms`) price the matching offers first: the plan is the cheapest after
    the user's terms, and its lines show list prices beside them. Nothing stored changes.
    Raises :class:`~aggregator.errors.NoFeasiblePlan` naming the constraint that leaves
    nothing, :class:`~aggregator.errors.InvalidInput` for bad input, and
    :class:`~aggregator.errors.StoreError` when the database fails.
    """
    terms = registry.active_terms() if request.apply_terms else ()
    steps = filter_steps(request, resolve_gpus(request, registry.gpus))
    in_sql = [step for step in steps if step.query is not None]
    in_python = [step for step in steps if step.query is None]
    offers = cached_offer_records(engine, _query(registry, in_sql, limit=None), store_version)
    if not offers:
        raise _diagnose(engine, registry, in_sql)
    matching = apply_terms(apply_steps(offers, in_python), terms)
    return plan_matching(matching, request, options=options, now=now)


def _query(registry: Registry, steps: list[FilterStep], *, limit: int | None) -> store.OfferQuery:
    arguments: dict[str, Any] = {}
    for step in steps:
        arguments.update(step.query or {})
    return build_offer_query(registry, **arguments, limit=limit)


def _diagnose(engine: Engine, registry: Registry, steps: list[FilterStep]) -> NoFeasiblePlan:
    """The error naming the first SQL-evaluated filter that leaves no offer."""
    read = store.query_offer_records
    if not read(engine, _query(registry, [], limit=1)):
        return nothing_to_plan()
    for index, step in enumerate(steps):
        if not read(engine, _query(registry, steps[: index + 1], limit=1)):
            sample = read(engine, _query(registry, steps[:index], limit=_HINT_SAMPLE))
            return NoFeasiblePlan(step.explain(sample))
    return NoFeasiblePlan(  # pragma: no cover - only if offers changed between the queries
        "no offers match the request (the store changed while planning; try again)"
    )
