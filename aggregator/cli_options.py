"""Command-line options shared by several ``gpuhours`` commands, spelled and documented once."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["GpuOpt", "JsonOpt", "ProviderOpt", "RegionOpt"]

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
