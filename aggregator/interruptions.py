"""A seller's published interruption data: how often its interruptible capacity is taken back.

An :class:`InterruptionRate` says, for one instance type in one region, which bucket of the
seller's own scale its spot capacity falls in (AWS Spot Instance Advisor: ``<5%`` ... ``>20%``)
and what share of instances that bucket means were interrupted in the trailing month. Feeds
deliver them like offers (an :class:`~aggregator.providers.InterruptionFeed`); the planner
reads them to price the work lost to interruptions. Validated on construction, so nothing
absurd reaches the store.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from aggregator.models import Finite, UtcDatetime

__all__ = ["MAX_SAVINGS_PERCENT", "MIN_SAVINGS_PERCENT", "InterruptionRate", "RateKey"]

MIN_SAVINGS_PERCENT = -1000.0
"""Lowest advertised saving accepted: a spot price 11 times on-demand. Sellers do publish
negative savings (AWS: p5.48xlarge in ca-central-1 at -62 %); anything below is a broken row."""
MAX_SAVINGS_PERCENT = 100.0

RateKey = tuple[str, str, str]
"""What an interruption rate is of: (provider, region, instance type)."""


def _named(source: dict[str, str]) -> dict[str, str]:
    if any(value.strip() for value in source.values()):
        return source
    raise ValueError("must name where the rate came from (e.g. {'url': ..., 'path': ...})")


_Source = Annotated[dict[str, str], AfterValidator(_named)]


class InterruptionRate(BaseModel):
    """The seller's interruption data for one instance type in one region.

    ``bucket`` is the index in the seller's own scale and ``bucket_label`` its text (``5-10%``);
    ``interruption_min_percent`` and ``interruption_max_percent`` bound the percentage of
    instances interrupted in the trailing month that the bucket stands for (the lower bound is
    the previous bucket's upper one). ``savings_percent`` is the advertised saving of the spot
    price over on-demand, as published (negative when spot costs more), or ``None``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    region: str = Field(min_length=1, max_length=64)
    instance_type: str = Field(min_length=1, max_length=128)
    bucket: int = Field(
        strict=True, ge=0, le=100, description="index of the bucket in the seller's scale"
    )
    bucket_label: str = Field(min_length=1, max_length=32, description="e.g. '<5%', '5-10%'")
    interruption_min_percent: Finite = Field(
        ge=0, le=100, description="lower bound: % of instances interrupted in the trailing month"
    )
    interruption_max_percent: Finite = Field(
        gt=0, le=100, description="upper bound: % of instances interrupted in the trailing month"
    )
    savings_percent: Finite | None = Field(
        default=None,
        ge=MIN_SAVINGS_PERCENT,
        le=MAX_SAVINGS_PERCENT,
        description="advertised saving over on-demand, as published (may be negative)",
    )
    source: _Source = Field(description="where it came from: URL, JSON path ...")
    observed_at: UtcDatetime | None = Field(
        default=None, description="when the response it came from was received"
    )

    @model_validator(mode="after")
    def _bounds_ordered(self) -> Self:
        if self.interruption_min_percent > self.interruption_max_percent:
            raise ValueError(
                f"interruption_min_percent {self.interruption_min_percent:g} is above "
                f"interruption_max_percent {self.interruption_max_percent:g}"
            )
        return self

    def key(self) -> RateKey:
        """(provider, region, instance type): one rate per key in the store."""
        return (self.provider, self.region, self.instance_type)
