"""``gpuhours offers``, ``history`` and ``gpus``: what the store holds, cheapest first, with
each offer's price intervals, and the GPU names gpuhours knows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from aggregator.cli.core import consoles, context, emit_json, errors, nothing, store_reader
from aggregator.cli.format import age, money, option_text
from aggregator.cli.options import (
    AvailableNowOpt,
    GpuOpt,
    JsonOpt,
    LimitOpt,
    MinInterconnectOpt,
    ProviderOpt,
    RegionOpt,
)
from aggregator.errors import InvalidInput

if TYPE_CHECKING:
    from rich.table import Table

    from aggregator import catalog
    from aggregator.models import StoredOffer

__all__ = ["OptionOpt", "gpus", "history", "offers", "register"]


def register(app: typer.Typer) -> None:
    """Add ``offers``, ``history`` and ``gpus`` to ``app``."""
    app.command("offers")(offers)
    app.command("history")(history)
    app.command("gpus")(gpus)


OptionOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--purchase-option",
        "-o",
        help="on-demand, spot, low-priority, reserved, savings-plan, committed; repeatable.",
    ),
]


def offers(
    gpu: GpuOpt = None,
    min_gpu_memory: Annotated[
        float | None, typer.Option("--min-gpu-memory", help="Minimum GB per GPU.")
    ] = None,
    provider: ProviderOpt = None,
    region: RegionOpt = None,
    purchase_option: OptionOpt = None,
    spot: Annotated[
        bool | None,
        typer.Option(
            "--spot/--no-spot", help="Only interruptible (spot, low priority) offers, or none."
        ),
    ] = None,
    sort: Annotated[
        str, typer.Option("--sort", help="gpu-hour (price per GPU-hour) or hour.")
    ] = "gpu-hour",
    limit: LimitOpt = 20,
    include_withdrawn: Annotated[
        bool, typer.Option("--include-withdrawn", help="Also offers no longer published.")
    ] = False,
    min_vcpus_per_gpu: Annotated[
        float | None, typer.Option("--min-vcpus-per-gpu", help="At least N host vCPUs per GPU.")
    ] = None,
    min_memory_per_gpu: Annotated[
        float | None,
        typer.Option("--min-memory-per-gpu", help="At least N GB of host memory per GPU."),
    ] = None,
    min_interconnect_gbps: MinInterconnectOpt = None,
    available_now: AvailableNowOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """List stored offers, cheapest first."""
    from aggregator import catalog
    from aggregator.offer_query import build_offer_query

    with errors(as_json):
        sort_key = _sort_key(sort)
        settings, registry = context(providers=False)
        query = build_offer_query(
            registry.gpus,
            gpus=gpu or [],
            min_gpu_memory_gb=min_gpu_memory,
            providers=provider or [],
            regions=region or [],
            purchase_options=purchase_option or [],
            interruptible=spot,
            include_withdrawn=include_withdrawn,
            sort=sort_key,
            limit=limit,
            min_vcpus_per_gpu=min_vcpus_per_gpu,
            min_memory_gb_per_gpu=min_memory_per_gpu,
            min_interconnect_gbps=min_interconnect_gbps,
            available_now=available_now,
        )
        with store_reader(settings) as reader:
            found = catalog.find_offers(reader, query)
        if not found:
            nothing(
                "no offers match; widen the filters or run `gpuhours sync`",
                as_json,
                {"offers": [], "count": 0},
            )
        if as_json:
            emit_json({"offers": found, "count": len(found)})
        else:
            consoles.out.print(_offers_table(found))


def _sort_key(text: str) -> catalog.SortKey:
    from aggregator import catalog

    if text not in catalog.SORT_KEYS:
        raise InvalidInput(f"--sort must be gpu-hour or hour, not {text!r}", field="sort")
    return catalog.SORT_KEYS[text]


def _option_label(offer: StoredOffer) -> str:
    label = option_text(offer.purchase_option, offer.term_hours)
    if offer.payment:
        label += f" {offer.payment.value}"
    if offer.offering_class:
        label += f" {offer.offering_class.value}"
    return label


def _fabric(offer: StoredOffer) -> str:
    """``EFA 3200G``: the fabric and its documented Gbit/s, whichever are known."""
    gbps = f"{offer.interconnect_gbps:g}G" if offer.interconnect_gbps is not None else ""
    return " ".join(part for part in (offer.interconnect or "", gbps) if part)


def _capacity(offer: StoredOffer) -> str:
    """``us-east-1 +2``: where the seller listed capacity; ``none``; blank where it lists none."""
    places = offer.available_in
    if places is None:
        return ""
    if not places:
        return "none"
    return places[0] + (f" +{len(places) - 1}" if len(places) > 1 else "")


def _offers_table(found: Sequence[StoredOffer]) -> Table:
    from rich.table import Table

    from aggregator.models import utcnow

    table = Table()
    columns = ("id", "provider", "region", "instance type", "GPUs", "fabric", "capacity", "option")
    for column in columns:
        table.add_column(column)
    for column in ("$/hour", "$/GPU-hour", "cur", "seen"):
        table.add_column(column, justify="right")
    now = utcnow()
    for offer in found:
        table.add_row(
            offer.id,
            offer.provider,
            offer.region + (f" ({offer.zone})" if offer.zone else ""),
            offer.instance_type,
            f"{offer.gpu_count:g}x {offer.gpu} {offer.gpu_memory_gb:g}GB",
            _fabric(offer),
            _capacity(offer),
            _option_label(offer) + (" [withdrawn]" if offer.withdrawn_at else ""),
            money(offer.price_per_hour),
            money(offer.price_per_gpu_hour),
            offer.currency,
            age(offer.observed_at, now),
        )
    return table


def history(
    offer_ids: Annotated[
        list[str] | None, typer.Argument(help="Offer ids (from `gpuhours offers`).")
    ] = None,
    gpu: GpuOpt = None,
    provider: ProviderOpt = None,
    region: RegionOpt = None,
    purchase_option: OptionOpt = None,
    limit: LimitOpt = 20,
    as_json: JsonOpt = False,
) -> None:
    """Show the price intervals of matching offers (withdrawn ones included)."""
    from aggregator import catalog
    from aggregator.offer_query import build_offer_query

    with errors(as_json):
        settings, registry = context(providers=False)
        query = build_offer_query(
            registry.gpus,
            gpus=gpu or [],
            providers=provider or [],
            regions=region or [],
            purchase_options=purchase_option or [],
            ids=offer_ids or [],
            include_withdrawn=True,
            limit=limit,
        )
        with store_reader(settings) as reader:  # one snapshot: offers and their intervals agree
            found = catalog.offer_history(reader, query)
        if not found:
            nothing("no offers match", as_json, {"offers": []})
        if as_json:
            emit_json({"offers": found})
            return
        from rich.table import Table

        table = Table()
        for column in ("id", "offer", "from", "to"):
            table.add_column(column)
        table.add_column("$/hour", justify="right")
        table.add_column("upfront", justify="right")
        for item in found:
            o = item.offer
            label = f"{o.provider} {o.region} {o.instance_type} {_option_label(o)}"
            for interval in item.intervals:
                table.add_row(
                    o.id,
                    label,
                    interval.valid_from.isoformat(timespec="seconds"),
                    interval.valid_to.isoformat(timespec="seconds") if interval.valid_to else "now",
                    f"{money(interval.price_per_hour)} {interval.currency}",
                    money(interval.upfront) if interval.upfront else "",
                )
        consoles.out.print(table)


def gpus(as_json: JsonOpt = False) -> None:
    """List the GPU names gpuhours knows, with memory variants and aliases."""
    from aggregator.gpus import gpu_listing
    from aggregator.plugins import load_registry

    with errors(as_json):
        registry = load_registry(providers=False, price_terms=False)
        specs = registry.gpus.specs()
        if as_json:
            emit_json({"gpus": gpu_listing(registry.gpus)})
            return
        from rich.table import Table

        table = Table()
        for column in ("name", "vendor", "memory GB", "BF16 TFLOPS", "aliases"):
            table.add_column(column)
        for s in specs:
            table.add_row(
                s.name,
                s.vendor,
                ", ".join(f"{m:g}" for m in s.memory_gb),
                f"{s.bf16_tflops:g}" if s.bf16_tflops else "?",
                ", ".join(s.aliases),
            )
        consoles.out.print(table)
