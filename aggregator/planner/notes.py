"""The plain-language notes a plan carries: what a buyer should know before acting on it.

The budget (what it bought, or what is left of it), the user's negotiated price terms (which
applied, and the list total beside the plan's), how GPU-hours of different GPUs were counted
against the reference GPU, the one cluster the plan runs on, interruptible capacity (how much,
and the overhead assumed), every commitment's length and what is paid for beyond the job, a
mix of GPU models, the lack of a deadline when it makes the plan slow, how old the prices are,
and a solver stopped by its time limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from aggregator.models import GLOBAL_REGION, HOURS_PER_YEAR, PurchaseOption
from aggregator.planner.throughput import RAW, WorkScale
from aggregator.plans import PlanLine, PlanRequest

__all__ = ["age_text", "money", "plan_notes"]

_SPENT = 1e-6  # share of a budget left over that counts as all spent

_COMMITMENT_NAMES = {
    PurchaseOption.RESERVED: "reservation",
    PurchaseOption.SAVINGS_PLAN: "savings plan",
    PurchaseOption.COMMITTED: "committed-use discount",
}


def _term_text(term_hours: int) -> str:
    years = term_hours / HOURS_PER_YEAR
    if years.is_integer():
        return f"{years:.0f}-year"
    return f"{term_hours:,}-hour"


def money(value: float, currency: str) -> str:
    """An amount as notes and messages write it: ``1,234.50 USD``."""
    return f"{value:,.2f} {currency}"


def age_text(seconds: float) -> str:
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{max(seconds, 0):.0f} seconds"


def _terms_note(lines: Sequence[PlanLine], currency: str) -> str | None:
    """What the user's negotiated terms changed, or None when none applied."""
    names = list(dict.fromkeys(name for line in lines for name in line.terms))
    if not names:
        return None
    paid = sum(line.cost for line in lines)
    listed = sum(line.list_cost for line in lines)
    change = (listed - paid) / listed
    direction = f"{change:.1%} less" if change >= 0 else f"{-change:.1%} more"
    return (
        f"your price terms apply ({'; '.join(names)}): the plan costs {money(paid, currency)} "
        f"instead of {money(listed, currency)} at list prices ({direction}); offers and "
        "price history keep list prices"
    )


def _budget_note(
    lines: Sequence[PlanLine], request: PlanRequest, currency: str, unit: str
) -> str | None:
    budget = request.budget
    if budget is None:
        return None
    paid = sum(line.cost for line in lines)
    if request.gpu_hours is not None:
        return (
            f"budget: the plan costs {money(paid, currency)}, within the budget of "
            f"{money(budget, currency)} ({money(max(budget - paid, 0.0), currency)} to spare)"
        )
    work = sum(line.equivalent_gpu_hours or line.gpu_hours for line in lines)
    text = f"budget: {money(budget, currency)} buys at most {work:,.1f} {unit} under the "
    text += "request's constraints"
    if paid < budget * (1 - _SPENT):
        text += (
            f"; that much costs only {money(paid, currency)}: the deadline, max_gpus or the "
            "single cluster, not the money, limits the work"
        )
    return text


def _work_note(lines: Sequence[PlanLine], scale: WorkScale) -> str | None:
    if scale.reference is None:
        return None
    counted: dict[str, str] = {}
    for line in lines:
        ratio = scale.ratio(line.gpu, line.gpu_memory_gb)
        if ratio is None or ratio.reference:
            continue
        name = line.gpu
        if any(gpu == line.gpu for gpu, _ in scale.variants):
            name += f"-{line.gpu_memory_gb:g}GB"
        counted.setdefault(name, f"{ratio.value:.3g} ({ratio.source})")
    text = f"work is counted in {scale.reference}-equivalent GPU-hours"
    if counted:
        text += ": one GPU-hour of " + "; of ".join(f"{g} counts {r}" for g, r in counted.items())
    return text


def _cluster_note(lines: Sequence[PlanLine], request: PlanRequest) -> str | None:
    if not request.one_cluster:
        return None
    first = lines[0]
    zone = next((line.zone for line in lines if line.zone), None)
    where = (
        f"one {first.provider} region of your choice (the price is the same in each)"
        if first.region == GLOBAL_REGION
        else first.region + (f" ({zone})" if zone else "")
    )
    return f"one cluster: every line runs on {first.provider} {first.instance_type} in {where}"


def _capacity_notes(lines: Sequence[PlanLine]) -> list[str]:
    """What the sellers that list capacity said about the offers used, and when."""
    notes: list[str] = []
    for line in lines:
        if line.available_in is None:
            continue
        seen = (
            f" when last seen ({line.observed_at:%Y-%m-%d %H:%M} UTC)" if line.observed_at else ""
        )
        listed = (
            f"listed capacity in {', '.join(line.available_in)}"
            if line.available_in
            else "listed no capacity anywhere"
        )
        notes.append(
            f"capacity: {line.provider} {line.instance_type} {listed}{seen}; a snapshot, "
            "which may have changed since"
        )
    return list(dict.fromkeys(notes))


def plan_notes(
    lines: Sequence[PlanLine],
    request: PlanRequest,
    currency: str,
    *,
    now: datetime,
    optimal: bool,
    time_limit_seconds: float,
    scale: WorkScale = RAW,
) -> list[str]:
    """The notes of one plan, most consequential first."""
    notes: list[str] = []
    for note in (
        _budget_note(lines, request, currency, scale.unit),
        _terms_note(lines, currency),
        _work_note(lines, scale),
        _cluster_note(lines, request),
    ):
        if note:
            notes.append(note)
    total = sum(line.gpu_hours for line in lines)
    spot = [line for line in lines if line.interruptible]
    if spot:
        spot_hours = sum(line.gpu_hours for line in spot)
        text = (
            f"interruptible capacity: {spot_hours:,.1f} of {total:,.1f} GPU-hours "
            f"({spot_hours / total:.0%}) run on spot / low-priority instances, "
            "which the provider may reclaim at any time"
        )
        if request.spot_overhead and not isinstance(request.spot_overhead, str):
            bought = sum(line.instance_hours * line.gpus_per_instance for line in spot)
            text += (
                f"; with {request.spot_overhead:.0%} assumed lost to interruptions, "
                f"{bought:,.1f} GPU-hours are bought to deliver them"
            )
        notes.append(text)
    for line in lines:
        if line.term_hours <= 0:
            continue
        name = _COMMITMENT_NAMES.get(line.purchase_option, line.purchase_option.value)
        unused = (line.billed_instance_hours - line.instance_hours) * line.unit_price
        units = f"{line.instances} unit{'s' if line.instances != 1 else ''}"
        notes.append(
            f"{_term_text(line.term_hours)} {name} ({line.provider} {line.instance_type} in "
            f"{line.region}, {units}): you pay {line.term_hours:,} h per unit; the job uses "
            f"{line.hours_per_instance:,.1f} h"
            + (f"; {money(unused, currency)} pays for hours beyond the job" if unused > 0 else "")
        )
    notes.extend(_capacity_notes(lines))
    models = sorted({line.gpu for line in lines})
    if len(models) > 1 and scale.reference is None:
        notes.append(
            f"this plan mixes GPU models ({', '.join(models)}): GPU-hours are counted alike "
            "whatever the GPU; name the GPUs your job can use to keep them apart"
        )
    if request.deadline_hours is None and any(line.term_hours == 0 for line in lines):
        longest = max(line.hours_per_instance for line in lines)
        notes.append(
            f"no deadline: each pay-as-you-go offer runs on one instance, so the plan takes "
            f"{longest:,.1f} h; set a deadline to run instances in parallel"
        )
    observed = [line for line in lines if line.observed_at is not None]
    if observed:
        oldest = min(observed, key=lambda line: line.observed_at or now)
        assert oldest.observed_at is not None
        notes.append(
            f"price age: the oldest price used was observed "
            f"{age_text((now - oldest.observed_at).total_seconds())} ago "
            f"({oldest.observed_at:%Y-%m-%d %H:%M} UTC, {oldest.provider} "
            f"{oldest.instance_type} {oldest.purchase_option.value} in {oldest.region})"
        )
    if len(observed) < len(lines):
        notes.append("price age: some prices used carry no observation time")
    if not optimal:
        notes.append(
            f"the solver's {time_limit_seconds:g} s time limit ended the search: this plan meets "
            "the request but may not be the cheapest"
        )
    return notes
