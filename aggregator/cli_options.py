"""Command-line options shared by several ``gpuhours`` commands, spelled and documented once."""

from __future__ import annotations

from typing import Annotated

import typer

from aggregator.limits import MAX_OFFER_LIMIT

__all__ = ["GpuOpt", "JsonOpt", "LimitOpt", "ProviderOpt", "RegionOpt"]

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
GpuOpt = Annotated[
    list[str] | None,
    typer.Option("--gpu", "-g", help="GPU name or alias (H100, a100:80); repeatable."),
]
ProviderOpt = Annotated[
    list[str] | None, typer.Option("--provider", "-p", help="Provider name; repeatable.")
]
RegionOpt = Annotated[
    list[str] | None,
    typer.Option("--region", "-r", help="Region or glob (us-*, *east*); repeatable."),
]
LimitOpt = Annotated[
    int, typer.Option("--limit", "-n", min=1, max=MAX_OFFER_LIMIT, help="At most N offers.")
]
