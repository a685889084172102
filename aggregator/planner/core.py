"""The planner's entry point over offers in memory: filters, currencies, alternatives.

:func:`solve` is the whole planner without a database (tests and the benchmark use it
directly); :func:`aggregator.planner.plan_from_store` feeds it from the store.

Currencies are never summed. Offers are planned per currency; the main plan is the USD one
when USD offers can serve the request (every built-in provider prices in USD), otherwise the
first currency in alphabetical order that can. Plans in other currencies are listed among the
alternatives, each labelled with its currency, and a note says so. No exchange rate is
assumed anywhere: a budget is read in the currency of each plan it limits.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import datetime
from functools import partial

from aggregator.errors import NoFeasiblePlan
from aggregator.gpus import GpuVocabulary, default_vocabulary
from aggregator.interruptions import InterruptionRate, RateKey
from aggregator.models import utcnow
from aggregator.offer_view import PlannableOffer
from aggregator.planner.allocate import plan_lines
from aggregator.planner.candidates import Candidate, cheapest_per_shape, make_candidates
from aggregator.planner.cluster import Cluster, clusters, narrowed
from aggregator.planner.explain import explain
from aggregator.planner.filters import apply_steps, filter_steps, resolve_gpus
from aggregator.planner.milp import SolverOptions
from aggregator.planner.notes import money, plan_notes
from aggregator.planner.problem import Problem
from aggregator.planner.search import best
from aggregator.planner.solution import Solution
from aggregator.planner.spot_loss import (
    DEFAULT_MONTHLY_INTERRUPTION_PERCENT,
    SpotLoss,
    rate_key,
    spot_overheads,
)
from aggregator.planner.throughput import RAW, WorkScale, work_scale
from aggregator.plans import Plan, PlanRequest
from aggregator.shapes import refinement

__all__ = ["MAIN_CURRENCY", "plan_matching", "shape_columns", "shape_refinement", "solve"]

MAIN_CURRENCY = "USD"
_OVER = 1e-9  # relative excess over a budget that is rounding, not spending


def solve(
    offers: Sequence[PlannableOffer],
    request: PlanRequest,
    *,
    vocabulary: GpuVocabulary | None = None,
    options: SolverOptions | None = None,
    now: datetime | None = None,
) -> Plan:
    """The best plan for ``request`` using only ``offers``, with alternatives and notes.

    Applies every filter of the request (``vocabulary`` resolves GPU names; default: the
    built-in GPUs). Raises :class:`~aggregator.errors.NoFeasiblePlan` naming the constraint
    that leaves nothing, :class:`~aggregator.errors.InvalidInput` for an unknown GPU name or
    unusable throughput ratios.
    """
    vocabulary = vocabulary or default_vocabulary()
    scale = work_scale(request, vocabulary)
    steps = filter_steps(request, resolve_gpus(request, vocabulary), scale)
    return plan_matching(apply_steps(offers, steps), request, scale=scale, options=options, now=now)


def _by_overhead(
    refine: Callable[[PlannableOffer], Hashable] | None, overheads: Mapping[str, float]
) -> Callable[[PlannableOffer], Hashable]:
    """``refine``, also keeping apart offers whose spot losses differ."""

    def key(offer: PlannableOffer) -> Hashable:
        return (None if refine is None else refine(offer), overheads.get(offer.id))

    return key


def shape_columns(request: PlanRequest, scale: WorkScale) -> tuple[str, ...]:
    """The offer fields that split the per-shape reduction further for ``request``: GPU model
    and memory when work is normalized (they decide an offer's work per GPU-hour), the
    cluster's region, zone and instance type in a one-cluster plan. The SQL reduction
    (:mod:`aggregator.planner.from_store`) splits by the same columns."""
    columns = ("gpu", "gpu_memory_gb") if scale.reference is not None else ()
    return columns + (("region", "zone", "instance_type") if request.one_cluster else ())


def shape_refinement(
    request: PlanRequest, scale: WorkScale
) -> Callable[[PlannableOffer], Hashable] | None:
    """What splits the per-shape reduction further for ``request`` (:func:`shape_columns`),
    read off an offer; ``None`` when nothing does."""
    return refinement(shape_columns(request, scale))


def plan_matching(
    offers: Sequence[PlannableOffer],
    request: PlanRequest,
    *,
    scale: WorkScale = RAW,
    options: SolverOptions | None = None,
    now: datetime | None = None,
    interruptions: Mapping[RateKey, InterruptionRate] | None = None,
    reduced: bool = False,
) -> Plan:
    """Plan over offers that already passed the request's filters (see :func:`solve`);
    ``scale`` is the request's :func:`~aggregator.planner.throughput.work_scale`.
    ``reduced`` says the offers are already the cheapest of each shape split by
    :func:`shape_columns`, as the store's per-shape query returns them: the same reduction
    is not run again.

    With ``spot_overhead: auto`` each interruptible offer loses the work its seller's
    ``interruptions`` data (or the default) says. In one cluster an interrupted spot instance
    stalls every instance of the cluster, so the loss depends on how many spot instances the
    plan uses and falls on all of its instances: the plan with spot is solved for one, then
    again for the count the answer used, until it uses no more than it was priced for, and
    is kept only if it beats the best plan without spot (docs/planner.md).
    """
    options = options or SolverOptions()
    now = now or utcnow()
    if not request.auto_spot_overhead:
        return _plan_priced(offers, request, scale, options, now, None, reduced=reduced)
    loss = SpotLoss(request.checkpoint_minutes, request.restart_minutes)
    rates = interruptions or {}
    if not request.one_cluster:
        overheads = spot_overheads(offers, loss, rates)
        usable = [o for o in offers if not math.isinf(overheads.get(o.id, 0.0))]
        if not usable:
            raise _all_work_lost()
        plan = _plan_priced(usable, request, scale, options, now, overheads)
        return _with_spot_note(plan, offers, rates, loss, request, stalled_by=None)
    steady_offers = [o for o in offers if not o.purchase_option.interruptible]
    steady: Plan | None = None
    failure: NoFeasiblePlan | None = None
    if steady_offers:
        try:
            steady = _plan_priced(steady_offers, request, scale, options, now, None)
        except NoFeasiblePlan as exc:
            failure = exc
    stalled_by = 1
    for _ in range(_MAX_SPOT_ROUNDS):
        overheads = spot_overheads(offers, loss, rates, stalled_by=stalled_by, stalling=True)
        usable = [o for o in offers if not math.isinf(overheads.get(o.id, 0.0))]
        if not usable:
            break
        try:
            mixed = _plan_priced(usable, request, scale, options, now, overheads)
        except NoFeasiblePlan as exc:
            failure = exc
            break
        used = sum(line.instances for line in mixed.lines if line.interruptible)
        if used == 0:
            break  # no spot in it: the plan without spot does as well without the stall
        if used <= stalled_by:
            if steady is not None and not _beats(mixed, steady, request):
                break
            return _with_spot_note(mixed, offers, rates, loss, request, stalled_by=stalled_by)
        stalled_by = used
    if steady is not None:
        return _with_spot_note(steady, offers, rates, loss, request, stalled_by=stalled_by)
    if failure is not None:
        raise failure
    raise _all_work_lost()


def _all_work_lost() -> NoFeasiblePlan:
    return NoFeasiblePlan(
        "interruptions would cost the job all of its work on the spot capacity that "
        "matches; checkpoint more often (--checkpoint-minutes) or plan without spot"
    )


def _beats(plan: Plan, other: Plan, request: PlanRequest) -> bool:
    """Whether ``plan`` is better than ``other`` for ``request``: cheaper for a demand; more
    work for a budget, then cheaper."""
    if request.gpu_hours is not None:
        return plan.total_cost < other.total_cost
    work, other_work = (p.equivalent_gpu_hours or p.gpu_hours for p in (plan, other))
    if not math.isclose(work, other_work, rel_tol=1e-9):
        return work > other_work
    return plan.total_cost < other.total_cost


_MAX_SPOT_ROUNDS = 50
"""Rounds of re-pricing a one-cluster plan's spot loss before planning without spot."""


def _with_spot_note(
    plan: Plan,
    offers: Sequence[PlannableOffer],
    rates: Mapping[RateKey, InterruptionRate],
    loss: SpotLoss,
    request: PlanRequest,
    *,
    stalled_by: int | None,
) -> Plan:
    """``plan`` with a note on how its spot losses were priced; ``stalled_by``: the spot
    instances a one-cluster plan was last priced for."""
    spot = [o for o in offers if o.purchase_option.interruptible]
    if not spot:
        return plan
    known = sum(rate_key(o) in rates for o in spot)
    text = (
        f"spot losses priced per offer: an interruption costs "
        f"{loss.hours_lost_per_interruption * 60:g} minutes of work (half of "
        f"{request.checkpoint_minutes:g}-minute checkpoints plus a "
        f"{request.restart_minutes:g}-minute restart); {known} of {len(spot)} interruptible "
        f"offers priced from the seller's interruption data, the rest at the default of "
        f"{DEFAULT_MONTHLY_INTERRUPTION_PERCENT:g}% of instances interrupted a month"
    )
    if stalled_by is not None:
        if any(line.interruptible for line in plan.lines):
            text += (
                f"; one cluster priced for {stalled_by} spot instance(s), each interruption "
                "stalling every instance of the cluster"
            )
        else:
            text += (
                "; no plan with spot instances stalling the whole cluster is better than "
                "this one without spot"
            )
    return plan.model_copy(update={"notes": [*plan.notes, text]})


def _plan_priced(
    offers: Sequence[PlannableOffer],
    request: PlanRequest,
    scale: WorkScale,
    options: SolverOptions,
    now: datetime,
    overheads: Mapping[str, float] | None,
    *,
    reduced: bool = False,
) -> Plan:
    problem = Problem.of(request, scale.unit)
    if not reduced:
        refine = shape_refinement(request, scale)
        if overheads is not None:
            refine = _by_overhead(refine, overheads)
        offers = cheapest_per_shape(offers, refine)
    by_currency: dict[str, list[PlannableOffer]] = {}
    for offer in offers:
        by_currency.setdefault(offer.currency, []).append(offer)
    currencies = sorted(by_currency, key=lambda c: (c != MAIN_CURRENCY, c))
    planner = _Planner(request, problem, scale, options, now)
    plans: dict[str, Plan] = {}
    failures: dict[str, str] = {}
    candidates = {c: make_candidates(by_currency[c], request, scale, overheads) for c in currencies}
    groups = {c: clusters(candidates[c]) if request.one_cluster else None for c in currencies}
    for currency in currencies:
        try:
            plans[currency] = planner.plan(
                candidates[currency], planner.label(""), groups[currency]
            )
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
        alternatives = planner.alternatives(candidates[main_currency], main, groups[main_currency])
    others = [c for c in currencies if c != main_currency]
    if others:
        listed = any(c in plans for c in others)
        notes.append(
            f"prices in {', '.join(others)} are planned separately and never added to "
            f"{main_currency} prices"
            + ("; their plans are among the alternatives" if listed else "")
        )
        alternatives += [
            plans[c].model_copy(update={"label": planner.label(f"in {c}")})
            for c in others
            if c in plans
        ]
    return main.model_copy(update={"alternatives": alternatives[: request.top], "notes": notes})


class _Planner:
    """One request's plans: the main one and its alternatives, priced into lines."""

    def __init__(
        self,
        request: PlanRequest,
        problem: Problem,
        scale: WorkScale,
        options: SolverOptions,
        now: datetime,
    ) -> None:
        self.request, self.problem, self.scale = request, problem, scale
        self.options, self.now = options, now

    def label(self, what: str) -> str:
        """``cheapest`` or ``cheapest on gcp``; budget: ``most for the budget``, ``most on gcp``."""
        word = "most" if self.problem.maximizing else "cheapest"
        if not what:
            return "most for the budget" if self.problem.maximizing else word
        return f"{word} {what}"

    def plan(
        self,
        candidates: Sequence[Candidate],
        label: str,
        groups: Sequence[Cluster] | None = None,
    ) -> Plan:
        """The best plan over candidates of one currency (``groups``: their clusters, if
        known), or :class:`NoFeasiblePlan`."""
        if not candidates:
            raise NoFeasiblePlan("no offers left to plan with")
        one_cluster = self.request.one_cluster
        solution = best(
            candidates, self.problem, self.options, one_cluster=one_cluster, groups=groups
        )
        if solution is None:
            raise NoFeasiblePlan(
                explain(candidates, self.problem, self.options, one_cluster=one_cluster)
            )
        plan = self._priced(solution, candidates[0].offer.currency, label)
        budget = self.problem.budget
        if budget is not None and plan.total_cost > budget * (1 + _OVER):
            kind = "one-cluster plan" if one_cluster else "plan"
            raise NoFeasiblePlan(
                f"the cheapest {kind} for {self.problem.demand:,g} {self.problem.unit} costs "
                f"{money(plan.total_cost, plan.currency)}, over the budget of "
                f"{money(budget, plan.currency)}"
            )
        return plan

    def alternatives(
        self, candidates: Sequence[Candidate], main: Plan, groups: Sequence[Cluster] | None
    ) -> list[Plan]:
        """The best plan without commitments (when the main one has some), then per provider;
        ``groups`` are the candidates' clusters in a one-cluster plan."""
        found: list[Plan] = []

        def subset(keep: Callable[[Candidate], bool], label: str) -> list[Plan]:
            own = [c for c in candidates if keep(c)]
            return self._try(own, label, None if groups is None else narrowed(groups, keep))

        by_provider: dict[str, list[Candidate]] = {}
        for c in candidates:
            by_provider.setdefault(c.offer.provider, []).append(c)

        def on(provider: str) -> list[Plan]:
            label = self.label(f"on {provider}")
            if groups is None:
                return subset(partial(_on, provider), label)
            own = [g for g in groups if g.key[0] == provider]
            return self._try(by_provider[provider], label, own)

        if any(line.term_hours for line in main.lines):
            found.extend(subset(lambda c: not c.commitment, self.label("without commitments")))
        providers = sorted(by_provider)
        used = {line.provider for line in main.lines}
        per_provider: list[Plan] = []
        if len(providers) > 1:
            for provider in providers:
                if used == {provider}:
                    continue  # the main plan is already this provider's best
                per_provider.extend(on(provider))
        found.extend(sorted(per_provider, key=self._rank))
        unique: list[Plan] = []
        seen = {_signature(main)}
        for plan in found:
            if _signature(plan) not in seen:
                seen.add(_signature(plan))
                unique.append(plan)
        return unique

    def _rank(self, plan: Plan) -> tuple[float, float]:
        if not self.problem.maximizing:
            return (plan.total_cost, 0.0)
        return (-(plan.equivalent_gpu_hours or plan.gpu_hours), plan.total_cost)

    def _try(
        self, candidates: Sequence[Candidate], label: str, groups: Sequence[Cluster] | None
    ) -> list[Plan]:
        if not candidates:
            return []
        try:
            return [self.plan(candidates, label, groups)]
        except NoFeasiblePlan:
            return []

    def _priced(self, solution: Solution, currency: str, label: str) -> Plan:
        normalized = self.scale.reference is not None
        lines = plan_lines(solution.candidates, solution.allocation, normalized=normalized)
        total_cost = sum(line.cost for line in lines)
        delivered = sum(line.gpu_hours for line in lines)
        equivalent = sum(line.equivalent_gpu_hours or 0.0 for line in lines)
        return Plan(
            label=label,
            currency=currency,
            total_cost=total_cost,
            gpu_hours=delivered,
            requested_gpu_hours=self.problem.demand,
            price_per_gpu_hour=total_cost / delivered,
            equivalent_gpu=self.scale.reference,
            equivalent_gpu_hours=equivalent if normalized else None,
            price_per_equivalent_gpu_hour=total_cost / equivalent if normalized else None,
            budget=self.problem.budget,
            gpus_at_once=sum(line.instances * line.gpus_per_instance for line in lines),
            duration_hours=max(line.hours_per_instance for line in lines),
            interruptible_gpu_hours=sum(line.gpu_hours for line in lines if line.interruptible),
            optimal=solution.optimal,
            lines=lines,
            notes=plan_notes(
                lines,
                self.request,
                currency,
                now=self.now,
                optimal=solution.optimal,
                time_limit_seconds=self.options.time_limit_seconds,
                scale=self.scale,
            ),
        )


def _on(provider: str, candidate: Candidate) -> bool:
    return candidate.offer.provider == provider


def _signature(plan: Plan) -> tuple[tuple[str, int, float], ...]:
    return tuple(sorted((ln.offer_id, ln.instances, round(ln.gpu_hours, 6)) for ln in plan.lines))
