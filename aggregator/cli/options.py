"""Command-line options shared by several ``gpuhours`` commands, spelled and documented once."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated

import typer

from aggregator.limits import MAX_OFFER_LIMIT

__all__ = [
    "AvailableNowOpt",
    "GpuOpt",
    "JsonOpt",
    "LimitOpt",
    "MinInterconnectOpt",
    "ProviderOpt",
    "RegionOpt",
    "whole_number",
]


_NOT_AN_INTEGER = "Input should be a valid integer"  # what the API answers for 3.5 or "abc"


def whole_number(minimum: int | None = None, maximum: int | None = None) -> Callable[[str], int]:
    """A parser for an integer option that also takes a whole-number float (``3.0``), as the
    API does, refusing the rest in the API's (pydantic's) words."""

    def parse(value: str) -> int:
        try:
            parsed = float(value)
        except ValueError:
            raise typer.BadParameter(_NOT_AN_INTEGER) from None
        if not math.isfinite(parsed):
            raise typer.BadParameter("Input should be a finite number")
        if not parsed.is_integer():
            raise typer.BadParameter(_NOT_AN_INTEGER)
        number = int(parsed)
        if minimum is not None and number < minimum:
            raise typer.BadParameter(f"Input should be greater than or equal to {minimum}")
        if maximum is not None and number > maximum:
            raise typer.BadParameter(f"Input should be less than or equal to {maximum}")
        return number

    return parse


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
    int,
    typer.Option(
        "--limit",
        "-n",
        parser=whole_number(1, MAX_OFFER_LIMIT),
        metavar="INTEGER",
        help="At most N offers.",
    ),
]
AvailableNowOpt = Annotated[
    bool,
    typer.Option(
        "--available-now",
        help="Only offers whose seller listed capacity for them when the price was last seen "
        "(Lambda, RunPod secure cloud); a snapshot that can be stale.",
    ),
]
MinInterconnectOpt = Annotated[
    float | None,
    typer.Option(
        "--min-interconnect-gbps",
        help="Only instances documenting at least N Gbit/s between instances.",
    ),
]
