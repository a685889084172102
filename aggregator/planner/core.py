"""The planner's entry point over offers in memory: filters, currencies, alternatives.

:func:`solve` is the whole planner without a database (tests and the benchmark use it
directly); :func:`aggregator.planner.plan_from_store` feeds it from the store.

Currencies are never summed. Offers are planned per currency; the main plan is the USD one
when USD offers can serve the request (every built-in provider prices in USD), otherwise the
first currency in alphabetical order that can. Plans in other currencies are listed among the
alternatives, each labelled with its currency, and a note says so. No exchange rate is
assumed anywhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from aggregator.errors import NoFeasiblePlan
from aggregator.gpus import GpuVocabulary, default_vocabulary
from aggregator.models import utcnow
from aggregator.offer_view import PlannableOffer
from aggregator.planner.allocate import allocate, plan_lines
from aggregator.planner.candidates import (
    Candidate,
    cheapest_per_shape,
    count_bound,
    make_candidates,
    prune,
)
from aggregator.planner.filters import apply_steps, filter_steps, resolve_gpus
from aggregator.planner.milp import Counts, SolverOptions, choose_counts, max_deliverable
from aggregator.planner.notes import plan_notes
from aggregator.plans import Plan, PlanRequest

__all__ = ["MAIN_CURRENCY", "plan_matching", "solve"]

MAIN_CURRENCY = "USD"


def solve(
    offers: Sequence[PlannableOffer],
    request: PlanRequest,
    *,
    vocabulary: GpuVocabulary | None = None,
    options: SolverOptions | None = None,
    now: datetime | None = None,
) -> Plan:
    """The cheapest plan for ``request`` using only ``offers``, with alternatives and notes.

    Applies every filter of the request (``vocabulary`` resolves GPU names; default: the
    built-in GPUs). Raises :class:`~aggregator.errors.NoFeasiblePlan` naming the constraint
    that leaves nothing, :class:`~aggregator.errors.UnknownGpu` for an unknown GPU name.
    """
    steps = filter_steps(request, resolve_gpus(request, vocabulary or default_vocabulary()))
    return plan_matching(apply_steps(offers, steps), request, options=options, now=now)


def plan_matching(
    offers: Sequence[PlannableOffer],
    request: PlanRequest,
    *,
    options: SolverOptions | None = None,
    now: datetime | None = None,
) -> Plan:
    """Plan over offers that already passed the request's filters (see :func:`solve`)."""
    options = options or SolverOptions()
    now = now or utcnow()
    by_currency: dict[str, list[PlannableOffer]] = {}
    for offer in cheapest_per_shape(offers):
        by_currency.setdefault(offer.currency, []).append(offer)
    currencies = sorted(by_currency, key=lambda c: (c != MAIN_CURRENCY, c))
    plans: dict[str, Plan] = {}
    failures: dict[str, str] = {}
    candidates = {c: make_candidates(by_currency[c], request) for c in currencies}
    for currency in currencies:
        try:
            plans[currency] = _best(candidates[currency], request, options, now, "cheapest")
        except NoFeasiblePlan as exc:
            failures[currency] = str(exc)
    if not plans:
        if len(failures) == 1:
            raise NoFeasiblePlan(next(iter(failures.values())))
        raise NoFeasiblePlan("; ".join(f"{c} offers: {why}" for c, why in failures.items()))
    main_currency = next(c for c in currencies if c in plans)
    main = plans[main_currency]
    alternatives: list[Plan] = []
    notes = list(main.notes)
    if request.top > 0:
        alternatives = _alternatives(candidates[main_currency], main, request, options, now)
    others = [c for c in currencies if c != main_currency]
    if others:
        listed = any(c in plans for c in others)
        notes.append(
            f"prices in {', '.join(others)} are planned separately and never added to "
            f"{main_currency} prices"
            + ("; their plans are among the alternatives" if listed else "")
        )
        alternatives += [
            plans[c].model_copy(update={"label": f"cheapest in {c}"}) for c in others if c in plans
        ]
    return main.model_copy(update={"alternatives": alternatives[: request.top], "notes": notes})


def _best(
    all_candidates: Sequence[Candidate],
    request: PlanRequest,
    options: SolverOptions,
    now: datetime,
    label: str,
) -> Plan:
    """The cheapest plan over candidates of one currency, or :class:`NoFeasiblePlan`."""
    if not all_candidates:
        raise NoFeasiblePlan("no offers left to plan with")
    currency = all_candidates[0].offer.currency
    candidates = prune(all_candidates, request)
    demand = request.gpu_hours
    deadline, max_gpus = request.deadline_hours, request.max_gpus
    if max_gpus is None and not any(c.commitment for c in candidates):
        # Nothing left to decide in integers: without a cap on GPUs at once every offer may
        # run as many instances as it could use, and allocate() takes the cheapest first.
        bounds = [count_bound(c, demand, max_gpus=None, deadline=deadline) for c in candidates]
        counts: Counts | None = Counts(tuple(bounds), optimal=True)
    else:
        counts = choose_counts(
            candidates, demand, max_gpus=max_gpus, deadline=deadline, options=options
        )
    if counts is None:
        raise NoFeasiblePlan(_explain(candidates, request, options))
    allocation = allocate(candidates, counts.counts, demand, deadline=deadline)
    lines = plan_lines(candidates, allocation)
    total_cost = sum(line.cost for line in lines)
    delivered = sum(line.gpu_hours for line in lines)
    return Plan(
        label=label,
        currency=currency,
        total_cost=total_cost,
        gpu_hours=delivered,
        requested_gpu_hours=demand,
        price_per_gpu_hour=total_cost / delivered,
        gpus_at_once=sum(line.instances * line.gpus_per_instance for line in lines),
        duration_hours=max(line.hours_per_instance for line in lines),
        interruptible_gpu_hours=sum(line.gpu_hours for line in lines if line.interruptible),
        optimal=counts.optimal,
        lines=lines,
        notes=plan_notes(
            lines,
            request,
            currency,
            now=now,
            optimal=counts.optimal,
            time_limit_seconds=options.time_limit_seconds,
        ),
    )


def _alternatives(
    candidates: Sequence[Candidate],
    main: Plan,
    request: PlanRequest,
    options: SolverOptions,
    now: datetime,
) -> list[Plan]:
    """The best plan without commitments (when the main one has some), then per provider."""
    found: list[Plan] = []
    if any(line.term_hours for line in main.lines):
        flexible = [c for c in candidates if not c.commitment]
        found.extend(_try(flexible, request, options, now, "cheapest without commitments"))
    providers = sorted({c.offer.provider for c in candidates})
    used = {line.provider for line in main.lines}
    per_provider: list[Plan] = []
    if len(providers) > 1:
        for provider in providers:
            if used == {provider}:
                continue  # the main plan is already this provider's best
            own = [c for c in candidates if c.offer.provider == provider]
            per_provider.extend(_try(own, request, options, now, f"cheapest on {provider}"))
    found.extend(sorted(per_provider, key=lambda p: p.total_cost))
    unique: list[Plan] = []
    seen = {_signature(main)}
    for plan in found:
        if _signature(plan) not in seen:
            seen.add(_signature(plan))
            unique.append(plan)
    return unique


def _try(
    candidates: Sequence[Candidate],
    request: PlanRequest,
    options: SolverOptions,
    now: datetime,
    label: str,
) -> list[Plan]:
    if not candidates:
        return []
    try:
        return [_best(candidates, request, options, now, label)]
    except NoFeasiblePlan:
        return []


def _signature(plan: Plan) -> tuple[tuple[str, int, float], ...]:
    return tuple(sorted((ln.offer_id, ln.instances, round(ln.gpu_hours, 6)) for ln in plan.lines))


def _explain(candidates: Sequence[Candidate], request: PlanRequest, options: SolverOptions) -> str:
    """Which of deadline / max_gpus leaves no plan, in numbers."""
    demand, deadline, max_gpus = request.gpu_hours, request.deadline_hours, request.max_gpus
    if max_gpus is not None:
        smallest = min(c.gpus for c in candidates)
        if smallest > max_gpus:
            return (
                f"max_gpus is {max_gpus:,} but every matching instance has more GPUs "
                f"(the smallest has {smallest:g})"
            )
    most = max_deliverable(
        candidates, demand, max_gpus=max_gpus, deadline=deadline, options=options
    )
    sizes = ", ".join(f"{g:g}" for g in sorted({c.gpus for c in candidates}))
    if deadline is not None and max_gpus is not None:
        per_gpu = max(c.unit_capacity / c.gpus for c in candidates)  # GPU-hours per GPU in time
        needed = math.ceil(demand / per_gpu - 1e-9)
        if needed > max_gpus:
            return (
                f"the {deadline:g} h deadline needs at least {needed:,} GPUs at once to deliver "
                f"{demand:,g} GPU-hours, but max_gpus is {max_gpus:,} (the matching offers can "
                f"deliver at most {most:,.1f} GPU-hours in time)"
            )
        return (
            f"within the {deadline:g} h deadline and max_gpus {max_gpus:,}, the matching "
            f"instances ({sizes} GPUs each) can deliver at most {most:,.1f} of the "
            f"{demand:,g} GPU-hours: whole instances do not fit the {needed:,} GPUs needed"
        )
    if max_gpus is not None:
        return (
            f"with max_gpus {max_gpus:,}, the matching offers (commitments only) can deliver "
            f"at most {most:,.1f} of the {demand:,g} GPU-hours"
        )
    return "no combination of the matching offers meets the request"  # pragma: no cover
