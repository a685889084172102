"""How ``gpuhours cheapest`` shows a plan on a terminal: the summary, the lines, the
alternatives and the notes (``--json`` prints the :class:`~aggregator.plans.Plan` itself)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aggregator.cli.format import money, option_text

if TYPE_CHECKING:
    from rich.console import Console

    from aggregator.plans import Plan

__all__ = ["print_plan"]


def _hours(value: float) -> str:
    return f"{value:,.1f}" if value < 1000 else f"{value:,.0f}"


def _total(plan: Plan) -> str:
    """The plan's total, with its list total beside it when the user's terms changed it."""
    text = f"{money(plan.total_cost)} {plan.currency}"
    if any(line.terms for line in plan.lines):
        text += f" (list price {money(plan.list_total_cost)})"
    return text


def _summary(plan: Plan) -> str:
    gpus = sorted({line.gpu for line in plan.lines})
    text = (
        f"{plan.label}: {_total(plan)} for "
        f"{_hours(plan.gpu_hours)} {'/'.join(gpus)} GPU-hours "
        f"= {money(plan.price_per_gpu_hour)} {plan.currency} per GPU-hour; "
    )
    if plan.equivalent_gpu_hours is not None and plan.price_per_equivalent_gpu_hour is not None:
        text += (
            f"{_hours(plan.equivalent_gpu_hours)} {plan.equivalent_gpu}-equivalent GPU-hours "
            f"= {money(plan.price_per_equivalent_gpu_hour)} {plan.currency} each; "
        )
    if plan.budget is not None:
        text += f"budget {money(plan.budget)} {plan.currency}; "
    return text + f"{plan.gpus_at_once:g} GPUs at once for up to {_hours(plan.duration_hours)} h"


def print_plan(plan: Plan, console: Console) -> None:
    """The plan as people read it: a summary line, its lines, the alternatives, the notes."""
    from rich.table import Table

    console.print(_summary(plan), markup=False)
    termed = any(line.terms for line in plan.lines)
    lines = Table(title="plan" + (" (prices after your terms)" if termed else ""))
    for column in ("provider", "region", "instance type", "GPUs", "option"):
        lines.add_column(column)
    currency = plan.currency
    prices = [f"list {currency}/h", f"your {currency}/h"] if termed else [f"{currency}/h"]
    work = [f"{plan.equivalent_gpu}-eq GPU-h"] if plan.equivalent_gpu else []
    for column in ("instances", "h each", "GPU-hours", *work, *prices, "cost"):
        lines.add_column(column, justify="right")
    for column in ("terms", "offer id") if termed else ("offer id",):
        lines.add_column(column)
    for line in plan.lines:
        prices = [money(line.list_unit_price)] if termed else []
        prices += [money(line.unit_price), money(line.cost)]
        lines.add_row(
            line.provider,
            line.region + (f" ({line.zone})" if line.zone else ""),
            line.instance_type,
            f"{line.gpus_per_instance:g}x {line.gpu} {line.gpu_memory_gb:g}GB",
            option_text(line.purchase_option, line.term_hours),
            f"{line.instances:,}",
            _hours(line.hours_per_instance),
            _hours(line.gpu_hours),
            *([_hours(line.equivalent_gpu_hours or 0.0)] if work else []),
            *prices,
            *(["; ".join(line.terms) or "-"] if termed else []),
            line.offer_id,
        )
    console.print(lines)
    if plan.alternatives:
        alternatives = Table(title="alternatives")
        alternatives.add_column("plan")
        unit = f"{plan.equivalent_gpu}-eq GPU-h" if plan.equivalent_gpu else "GPU-hours"
        for column in ("total", unit, f"per {unit}", "GPUs at once"):
            alternatives.add_column(column, justify="right")
        alternatives.add_column("uses")
        for alt in plan.alternatives:
            alternatives.add_row(
                alt.label,
                _total(alt),
                _hours(alt.equivalent_gpu_hours or alt.gpu_hours),
                money(alt.price_per_equivalent_gpu_hour or alt.price_per_gpu_hour),
                f"{alt.gpus_at_once:g}",
                "; ".join(
                    f"{ln.instances}x {ln.provider} {ln.instance_type} {ln.region} "
                    f"{option_text(ln.purchase_option, ln.term_hours)}"
                    for ln in alt.lines
                ),
            )
        console.print(alternatives)
    for note in plan.notes:
        console.print(f"note: {note}", markup=False, highlight=False)
