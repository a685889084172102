"""What interruptions cost a job on spot capacity: the share of its work each offer loses.

A job checkpoints every ``checkpoint_minutes`` and needs ``restart_minutes`` to resume, so an
interruption costs on average half a checkpoint interval of work plus the restart. The chance
of an interruption comes from the seller's own data where it publishes any (AWS Spot Instance
Advisor buckets) and from :data:`DEFAULT_MONTHLY_INTERRUPTION_PERCENT` elsewhere. In one
cluster every instance waits for the one that was interrupted, so the loss grows with the
number of interruptible instances. The model and its assumptions: docs/planner.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aggregator.interruptions import InterruptionRate, RateKey
from aggregator.offer_view import PlannableOffer

__all__ = [
    "DEFAULT_MONTHLY_INTERRUPTION_PERCENT",
    "HOURS_PER_MONTH",
    "OPEN_BUCKET_FACTOR",
    "SpotLoss",
    "monthly_interruption_percent",
    "rate_key",
    "spot_overheads",
]

HOURS_PER_MONTH = 730.0
"""8,760 hours a year over 12: the advisor's "trailing month" as hours."""
DEFAULT_MONTHLY_INTERRUPTION_PERCENT = 10.0
"""Where a seller publishes no data: AWS's own average over all its spot capacity ("<10%",
the advisor data's ``global_rate``), taken at its bound."""
OPEN_BUCKET_FACTOR = 2.0
"""The top bucket (">20%") is open: its published upper bound (100 %) says nothing, so the
model takes twice its lower bound, a pessimistic reading."""
_OPEN_BUCKET_MAX = 100.0


def rate_key(offer: PlannableOffer) -> RateKey:
    """The key of the interruption rate that applies to ``offer``."""
    return (offer.provider, offer.region, offer.instance_type)


def monthly_interruption_percent(rate: InterruptionRate | None) -> float:
    """The share of instances (percent) taken as interrupted in a month: the bucket's upper
    bound, twice the lower bound of the open top bucket, or the default without data."""
    if rate is None:
        return DEFAULT_MONTHLY_INTERRUPTION_PERCENT
    if rate.interruption_max_percent >= _OPEN_BUCKET_MAX:
        return min(_OPEN_BUCKET_MAX, rate.interruption_min_percent * OPEN_BUCKET_FACTOR)
    return rate.interruption_max_percent


@dataclass(frozen=True, slots=True)
class SpotLoss:
    """The job's side of the model: how often it checkpoints and how long a restart takes."""

    checkpoint_minutes: float
    restart_minutes: float

    @property
    def hours_lost_per_interruption(self) -> float:
        """Half a checkpoint interval of work on average, plus the restart."""
        return (self.checkpoint_minutes / 2 + self.restart_minutes) / 60

    def lost_share(self, monthly_percent: float, *, stalled_by: int = 1) -> float:
        """The share of an instance's hours lost, when ``stalled_by`` interruptible instances
        (itself included) each stop it on interruption; capped at 1 (nothing delivered)."""
        per_hour = monthly_percent / 100 / HOURS_PER_MONTH
        return min(1.0, stalled_by * per_hour * self.hours_lost_per_interruption)


def spot_overheads(
    offers: Iterable[PlannableOffer],
    loss: SpotLoss,
    rates: Mapping[RateKey, InterruptionRate],
    *,
    stalled_by: int = 1,
    stalling: bool = False,
) -> dict[str, float]:
    """Per interruptible offer id, the extra GPU-hours bought per GPU-hour delivered (the
    ``spot_overhead`` of that offer): ``f / (1 - f)`` for the lost share ``f``; infinite when
    the loss is all of the work, so such an offer is never planned with.

    With ``stalling`` (one cluster with spot in it), the other offers of each region and
    instance type that has interruptible ones among ``offers`` lose the same share: an
    interrupted spot instance stalls every instance of its cluster."""
    offers = list(offers)
    spot = {rate_key(o) for o in offers if o.purchase_option.interruptible} if stalling else ()
    overheads: dict[str, float] = {}
    for offer in offers:
        key = rate_key(offer)
        if not offer.purchase_option.interruptible and key not in spot:
            continue
        rate = rates.get(key)
        share = loss.lost_share(monthly_interruption_percent(rate), stalled_by=stalled_by)
        overheads[offer.id] = float("inf") if share >= 1 else share / (1 - share)
    return overheads
