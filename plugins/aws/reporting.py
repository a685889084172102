"""Turning parser outcomes into what the sync engine counts: offers, rejects, unknowns.

Parsers and converters return values (:class:`~plugins.aws.rows.RowProblem`,
:class:`~plugins.aws.offers.Unknown`, ``None``) instead of touching the context, so they stay
testable without one. :class:`Outcomes` is the one place that reports them: a problem with
``ctx.reject`` (with the key of the offer it prices, when it names one, so that offer keeps its
last good price), an unknown instance type with ``ctx.report_unknown`` (once per instance type
per sync: the same unknown type appears in a dozen rows per region, and one line per type is
what an operator needs to extend the table).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aggregator.models import Offer
from aggregator.providers import FetchContext
from plugins.aws.offers import Unknown
from plugins.aws.rows import RowProblem

__all__ = ["Outcomes"]


@dataclass
class Outcomes:
    """Reports non-offer outcomes on ``ctx`` and passes offers through."""

    ctx: FetchContext
    seen: datetime | None = None  # when the response the outcomes come from was received

    def offer(self, outcome: Offer | RowProblem | Unknown | None) -> Offer | None:
        """``outcome`` if it is an offer (seen when its response was received); otherwise
        report it (if there is anything to say)."""
        if outcome is None:
            return None
        if isinstance(outcome, Offer):
            if self.seen is None:
                return outcome
            return outcome.model_copy(update={"observed_at": self.seen})
        if isinstance(outcome, RowProblem):
            self.ctx.reject(outcome.reason, outcome.raw, offer=outcome.offer)
        else:
            self.ctx.report_unknown(outcome.what, outcome.raw, once=(outcome.what, outcome.raw))
        return None
