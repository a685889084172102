"""Planning over the price store: filter in SQL, then solve.

Every filter of the request goes through :func:`aggregator.offer_query.build_offer_query`, as
for ``gpuhours offers``, so both reject bad input alike. Without price terms the database also
keeps only the cheapest offer of each planner shape, the planner's own first step, so a cold
plan reads dozens of rows; terms change prices per offer, so with terms every matching offer is
read. Rows are lean :class:`db.read.OfferRecord` s, memoized by :mod:`db.offer_cache` until a
sync changes the store; nothing here imports SQLAlchemy. When nothing matches, the filters are
re-run cumulatively (``LIMIT 1`` each) to name the first that empties the set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aggregator.errors import NoFeasiblePlan
from aggregator.gpus import GpuVocabulary
from aggregator.offer_query import build_offer_query
from aggregator.planner.core import plan_matching, shape_columns
from aggregator.planner.filters import (
    FilterStep,
    apply_steps,
    filter_steps,
    nothing_to_plan,
    resolve_gpus,
)
from aggregator.planner.milp import SolverOptions
from aggregator.planner.spot_loss import rate_key
from aggregator.planner.throughput import work_scale
from aggregator.plans import Plan, PlanRequest
from aggregator.terms import ActiveTerm, apply_terms
from db.interruptions import interruption_rates
from db.offer_cache import cached_offer_records
from db.offer_sql import OfferQuery
from db.read import query_offer_records
from db.reader import Reader, as_reader

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = ["plan_from_store"]

_HINT_SAMPLE = 2000  # offers read to phrase a "nothing matches" hint


def plan_from_store(
    source: Reader | Engine,
    request: PlanRequest,
    *,
    gpus: GpuVocabulary,
    terms: Sequence[ActiveTerm] | Callable[[], Sequence[ActiveTerm]] = (),
    options: SolverOptions | None = None,
    now: datetime | None = None,
    store_version: int | None = None,
) -> Plan:
    """The best plan for ``request`` over the store's current offers.

    ``source`` is a :class:`db.reader.Reader` (:func:`db.reader.open_reader`) or an engine;
    ``gpus`` resolves the request's GPU names. ``store_version``, when the caller already read
    :func:`db.read.data_version` (before calling), spares reading it again for the offer memo.

    Plan lines carry the stored offers' ids (``gpuhours offers`` / ``history`` show them).
    Unless ``request.apply_terms`` is False, the price ``terms`` (:mod:`aggregator.terms`)
    price the matching offers first, in order: the plan is the cheapest after the user's terms,
    and its lines show list prices beside them. Nothing stored changes. ``terms`` may be a
    function giving them (a registry's ``active_terms``, which raises for a bad terms file):
    it is called only when the request applies terms, so planning at list prices never
    depends on the terms being usable.

    Raises :class:`~aggregator.errors.NoFeasiblePlan` naming the constraint that leaves
    nothing, :class:`~aggregator.errors.InvalidInput` for bad input, and
    :class:`~aggregator.errors.StoreError` when the database fails.
    """
    applied: Sequence[ActiveTerm] = ()
    if request.apply_terms:
        applied = terms() if callable(terms) else terms
    scale = work_scale(request, gpus)
    steps = filter_steps(request, resolve_gpus(request, gpus), scale)
    in_sql = [step for step in steps if step.query is not None]
    in_python = [step for step in steps if step.query is None]
    reader = as_reader(source)
    # Per-shape reduction in SQL is the planner's own first step only while nothing changes
    # prices or drops offers after the read.
    # Per-offer spot losses (``spot_overhead: auto``) differ by region and instance type.
    reduce = not applied and not in_python and not request.auto_spot_overhead
    query = _query(
        gpus,
        in_sql,
        limit=None,
        cheapest_per_shape=reduce,
        shape_columns=shape_columns(request, scale),
    )
    offers = cached_offer_records(reader, query, store_version)
    if not offers:
        raise _diagnose(reader, gpus, in_sql)
    matching = apply_terms(apply_steps(offers, in_python), applied)
    rates = None
    if request.auto_spot_overhead:
        keys = {rate_key(o) for o in matching if o.purchase_option.interruptible}
        rates = interruption_rates(reader, keys)
    return plan_matching(
        matching,
        request,
        scale=scale,
        options=options,
        now=now,
        interruptions=rates,
        reduced=reduce,
    )


def _query(
    gpus: GpuVocabulary,
    steps: list[FilterStep],
    *,
    limit: int | None,
    cheapest_per_shape: bool = False,
    shape_columns: tuple[str, ...] = (),
) -> OfferQuery:
    arguments: dict[str, Any] = {}
    for step in steps:
        arguments.update(step.query or {})  # a later step's GPU list narrows an earlier one's
    return build_offer_query(
        gpus,
        **arguments,
        limit=limit,
        cheapest_per_shape=cheapest_per_shape,
        shape_columns=shape_columns,
    )


def _diagnose(source: Reader, gpus: GpuVocabulary, steps: list[FilterStep]) -> NoFeasiblePlan:
    """The error naming the first filter that leaves no offer (its queries see one snapshot)."""
    with source.errors_as("querying offers"), source.snapshot() as reader:
        if not query_offer_records(reader, _query(gpus, [], limit=1)):
            return nothing_to_plan()
        for index, step in enumerate(steps):
            if not query_offer_records(reader, _query(gpus, steps[: index + 1], limit=1)):
                hint_query = _query(gpus, steps[:index], limit=_HINT_SAMPLE)
                sample = query_offer_records(reader, hint_query)
                return NoFeasiblePlan(step.explain(sample))
    return NoFeasiblePlan(  # pragma: no cover - only if offers changed between the queries
        "no offers match the request (the store changed while planning; try again)"
    )
