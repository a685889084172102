"""``gpuhours cheapest``: the planner on the command line, and how a plan is printed.

``--json`` prints the :class:`~aggregator.plans.Plan` (or ``{"error": ...}``); exit 0 with a
plan, 1 when no plan meets the request (the message names the constraint; a plan over
``--budget`` is one), 2 for bad input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from aggregator.cli.core import consoles, context, emit_json, errors, store_reader
from aggregator.cli.options import (
    AvailableNowOpt,
    GpuOpt,
    JsonOpt,
    MinInterconnectOpt,
    ProviderOpt,
    RegionOpt,
    whole_number,
)
from aggregator.cli.plan_table import print_plan
from aggregator.durations import parse_duration_seconds
from aggregator.errors import InvalidInput
from aggregator.plan_defaults import (
    DEFAULT_CHECKPOINT_MINUTES,
    DEFAULT_MIN_MEMORY_GB_PER_GPU,
    DEFAULT_MIN_VCPUS_PER_GPU,
    DEFAULT_RESTART_MINUTES,
)

if TYPE_CHECKING:  # imported where used, so `gpuhours --help` does not load them
    from aggregator.plans import PlanRequest

__all__ = [
    "OptionOpt",
    "cheapest",
    "parse_duration_hours",
    "register",
    "request_from_options",
]

# Request fields as the CLI spells them, so a validation error names the flag to fix.
_FLAGS = {
    "gpu_hours": "--gpu-hours",
    "gpus": "--gpu",
    "min_gpu_memory_gb": "--min-gpu-memory",
    "providers": "--provider",
    "regions": "--region",
    "purchase_options": "--purchase-option",
    "gpus_per_node": "--gpus-per-node",
    "min_gpus_per_node": "--min-gpus-per-node",
    "max_gpus_per_node": "--max-gpus-per-node",
    "min_vcpus_per_gpu": "--min-vcpus-per-gpu",
    "min_memory_gb_per_gpu": "--min-memory-per-gpu",
    "min_interconnect_gbps": "--min-interconnect-gbps",
    "available_now": "--available-now",
    "deadline_hours": "--deadline",
    "max_gpus": "--max-gpus",
    "spot_overhead": "--spot-overhead",
    "checkpoint_minutes": "--checkpoint-minutes",
    "restart_minutes": "--restart-minutes",
    "equivalent_gpu": "--equivalent",
    "throughput": "--throughput",
    "one_cluster": "--one-cluster",
    "budget": "--budget",
    "top": "--top",
    "apply_terms": "--list-prices",
}


def register(app: typer.Typer) -> None:
    """Add ``cheapest`` to ``app``."""
    app.command("cheapest")(cheapest)


def parse_duration_hours(text: str) -> float:
    """``72h``, ``3d``, ``90m``, ``1.5d``, ``2w`` or a bare number of hours, in hours
    (the syntax of :mod:`aggregator.durations`)."""
    try:
        return parse_duration_seconds(text, bare_unit="h") / 3600
    except ValueError:
        raise InvalidInput(
            f"--deadline: cannot read {text!r} as a duration (e.g. 72h, 3d, 90m)",
            field="deadline_hours",
        ) from None


def request_from_options(**values: object) -> PlanRequest:
    """A :class:`PlanRequest`, or :class:`InvalidInput` naming the flag that is wrong."""
    from pydantic import ValidationError

    from aggregator.limits import validation_message
    from aggregator.plans import PlanRequest

    try:
        return PlanRequest.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else None
        flag = _FLAGS.get(field or "", field or "options")
        message = validation_message(error["msg"])
        raise InvalidInput(f"{flag}: {message}", field=field) from None


OptionOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--purchase-option",
        "-o",
        help="on-demand, spot, low-priority, reserved, savings-plan, committed; repeatable "
        "(default: on-demand and commitments).",
    ),
]


def cheapest(
    gpu_hours: Annotated[
        float | None,
        typer.Option(
            "--gpu-hours",
            "-n",
            help="GPU-hours to buy (of the --equivalent GPU's work when given); may be left "
            "out with --budget.",
            show_default=False,
        ),
    ] = None,
    gpu: GpuOpt = None,
    deadline: Annotated[
        str | None,
        typer.Option("--deadline", "-d", help="Deliver everything within this time: 72h, 3d."),
    ] = None,
    max_gpus: Annotated[
        int | None,
        typer.Option(
            "--max-gpus",
            parser=whole_number(),
            metavar="INTEGER",
            help="GPUs that may run at once (quota).",
        ),
    ] = None,
    spot: Annotated[
        bool, typer.Option("--spot", help="Also plan with spot and low-priority capacity.")
    ] = False,
    spot_overhead: Annotated[
        str,
        typer.Option(
            "--spot-overhead",
            metavar="SHARE|auto",
            help="Share of spot GPU-hours lost to interruptions, or 'auto': per offer, from "
            "the seller's interruption data and --checkpoint-minutes / --restart-minutes.",
        ),
    ] = "0",
    checkpoint_minutes: Annotated[
        float | None,
        typer.Option(
            "--checkpoint-minutes",
            help=f"With --spot-overhead auto: how often the job checkpoints "
            f"(default {DEFAULT_CHECKPOINT_MINUTES:g}).",
        ),
    ] = None,
    restart_minutes: Annotated[
        float | None,
        typer.Option(
            "--restart-minutes",
            help=f"With --spot-overhead auto: how long the job takes to resume "
            f"(default {DEFAULT_RESTART_MINUTES:g}).",
        ),
    ] = None,
    provider: ProviderOpt = None,
    region: RegionOpt = None,
    purchase_option: OptionOpt = None,
    gpus_per_node: Annotated[
        float | None, typer.Option("--gpus-per-node", help="Exactly N GPUs per instance.")
    ] = None,
    min_gpus_per_node: Annotated[
        float | None, typer.Option("--min-gpus-per-node", help="At least N GPUs per instance.")
    ] = None,
    max_gpus_per_node: Annotated[
        float | None, typer.Option("--max-gpus-per-node", help="At most N GPUs per instance.")
    ] = None,
    min_gpu_memory: Annotated[
        float | None, typer.Option("--min-gpu-memory", help="Minimum GB per GPU.")
    ] = None,
    allow_fractional: Annotated[
        bool,
        typer.Option("--allow-fractional", help="Allow instances with part of a GPU (1/6 A10)."),
    ] = False,
    min_vcpus_per_gpu: Annotated[
        float | None,
        typer.Option(
            "--min-vcpus-per-gpu",
            help=f"At least N host vCPUs per GPU [default: {DEFAULT_MIN_VCPUS_PER_GPU:g}; "
            "0: any host].",
        ),
    ] = None,
    min_memory_per_gpu: Annotated[
        float | None,
        typer.Option(
            "--min-memory-per-gpu",
            help=f"At least N GB of host memory per GPU [default: "
            f"{DEFAULT_MIN_MEMORY_GB_PER_GPU:g}; 0: any host].",
        ),
    ] = None,
    min_interconnect_gbps: MinInterconnectOpt = None,
    available_now: AvailableNowOpt = False,
    top: Annotated[
        int,
        typer.Option(
            "--top", parser=whole_number(), metavar="INTEGER", help="How many alternatives to show."
        ),
    ] = 3,
    equivalent: Annotated[
        str | None,
        typer.Option(
            "--equivalent",
            metavar="GPU",
            help="Count GPU-hours as this GPU's work (by dense BF16/FP16 TFLOPS unless "
            "--throughput says otherwise); --gpu becomes an optional filter.",
        ),
    ] = None,
    throughput: Annotated[
        list[str] | None,
        typer.Option(
            "--throughput",
            metavar="GPU=RATIO",
            help="Measured throughput of a GPU relative to the others (H100=1, A100=0.4); "
            "repeatable; needs --equivalent.",
        ),
    ] = None,
    one_cluster: Annotated[
        bool,
        typer.Option(
            "--one-cluster",
            help="Keep every line on one provider, region (and zone) and instance type.",
        ),
    ] = False,
    budget: Annotated[
        float | None,
        typer.Option(
            "--budget",
            metavar="AMOUNT",
            help="Most to spend, in the plan's currency: without --gpu-hours, buy the most "
            "GPU-hours within it; with it, refuse a plan that costs more.",
        ),
    ] = None,
    list_prices: Annotated[
        bool,
        typer.Option(
            "--list-prices",
            help="Ignore your negotiated price terms (GPUHOURS_TERMS_FILE, plugins): "
            "plan at list prices.",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """The cheapest way to buy N GPU-hours (or the most a budget buys): a plan over the
    stored offers.

    Prices are the providers' list prices after your negotiated terms, if any; the plan shows
    both.
    """
    from aggregator.inputs import ratio_pairs
    from aggregator.models import PurchaseOption
    from aggregator.offer_query import parse_purchase_options
    from aggregator.planner import plan_from_store
    from aggregator.plans import DEFAULT_PLAN_PURCHASE_OPTIONS

    with errors(as_json):
        options: list[str] = list(purchase_option or [])
        if not options:
            options = [p.value for p in DEFAULT_PLAN_PURCHASE_OPTIONS]
        if spot:
            options += [PurchaseOption.SPOT.value, PurchaseOption.LOW_PRIORITY.value]
        host_floor = {  # absent: the request's defaults
            name: value
            for name, value in (
                ("min_vcpus_per_gpu", min_vcpus_per_gpu),
                ("min_memory_gb_per_gpu", min_memory_per_gpu),
            )
            if value is not None
        }
        request = request_from_options(
            gpu_hours=gpu_hours,
            gpus=gpu or [],
            min_gpu_memory_gb=min_gpu_memory,
            providers=provider or [],
            regions=region or [],
            purchase_options=parse_purchase_options(options),
            gpus_per_node=gpus_per_node,
            min_gpus_per_node=min_gpus_per_node,
            max_gpus_per_node=max_gpus_per_node,
            deadline_hours=parse_duration_hours(deadline) if deadline is not None else None,
            max_gpus=max_gpus,
            allow_fractional=allow_fractional,
            min_interconnect_gbps=min_interconnect_gbps,
            available_now=available_now,
            **host_floor,
            spot_overhead=spot_overhead.strip().lower(),
            **{
                name: value
                for name, value in (
                    ("checkpoint_minutes", checkpoint_minutes),
                    ("restart_minutes", restart_minutes),
                )
                if value is not None
            },
            equivalent_gpu=equivalent,
            throughput=ratio_pairs(throughput or [], "throughput", "--throughput"),
            one_cluster=one_cluster,
            budget=budget,
            top=top,
            apply_terms=not list_prices,
        )
        settings, registry = context(providers=False)
        with store_reader(settings) as reader:
            plan = plan_from_store(reader, request, gpus=registry.gpus, terms=registry.active_terms)
        if as_json:
            emit_json(plan)
        else:
            print_plan(plan, consoles.out)
