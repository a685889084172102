"""What judging one source row yields, and handing it to the sync: shared by the RunPod and
Vultr feeds, whose parsers are pure functions of a row (easy to test without a client)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aggregator.providers import FetchContext

__all__ = ["Verdict", "report"]


@dataclass
class Verdict:
    """One row's offers, its rejected parts (reason, natural key or ``{}``), and the raw GPU
    name it carried when the vocabulary does not know it."""

    offers: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    unknown: str | None = None


def report(ctx: FetchContext, verdict: Verdict, row: object, *, what: str) -> list[dict[str, Any]]:
    """Count ``verdict``'s rejects (holding the offers they name) and its unknown GPU (once per
    name, as ``what`` + the name) on ``ctx``; returns the offers to yield."""
    for reason, key in verdict.rejected:
        ctx.reject(reason, row, offer=key or None)
    if verdict.unknown:
        ctx.report_unknown(f"{what} {verdict.unknown}", row, once=verdict.unknown)
    return verdict.offers
