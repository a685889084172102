"""Collecting what an interruption feed yields: each rate validated, de-duplicated, rejected
with its reason, or held (its stored rate stays as it was)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import pydantic

from aggregator.interruptions import InterruptionRate, RateKey
from aggregator.plugins import FeedRef
from aggregator.sync.collect import first_error

__all__ = ["RateCollector", "validate_interruption_rate"]

log = logging.getLogger("aggregator.sync")


class RateCollector:
    """Validates and de-duplicates the interruption rates a feed yields (of any provider, for a
    relay feed: ``any_provider``)."""

    def __init__(self, ref: FeedRef, *, any_provider: bool = False) -> None:
        self.ref = ref
        self.any_provider = any_provider
        self.rates: dict[RateKey, InterruptionRate] = {}
        self.held: list[RateKey] = []  # keys of stored rates whose new rows were rejected
        self.rejected = 0

    @property
    def seen(self) -> int:
        return len(self.rates)

    def add(self, item: object) -> None:
        try:
            rate = validate_interruption_rate(item)
        except ValueError as exc:
            self._reject(str(exc), item)
            self.hold(item)
            return
        provider = self.ref.provider.name
        if not self.any_provider and rate.provider != provider:
            self._reject(f"provider {rate.provider!r} does not match {provider!r}", item)
            return
        if rate.key() in self.rates:
            self._reject(f"duplicate interruption rate {rate.key()}", item)
            return
        self.rates[rate.key()] = rate

    def hold(self, fields: object) -> None:
        """Keep the stored rate a rejected row names (``region`` and ``instance_type``)."""
        if not isinstance(fields, Mapping):
            return
        region, instance_type = fields.get("region"), fields.get("instance_type")
        provider = fields.get("provider", self.ref.provider.name)
        if not isinstance(provider, str) or (
            not self.any_provider and provider != self.ref.provider.name
        ):
            return
        if isinstance(region, str) and region and isinstance(instance_type, str) and instance_type:
            self.held.append((provider, region, instance_type))

    def _reject(self, reason: str, item: object) -> None:
        self.rejected += 1
        log.warning("%s: rejected interruption rate: %s: %.300r", self.ref.id, reason, item)


def validate_interruption_rate(item: object) -> InterruptionRate:
    """``item`` as an :class:`InterruptionRate`: a rate as it is, a mapping validated into one.

    Raises :class:`ValueError` whose text is the reject reason. Shared with
    :mod:`aggregator.testing`, so the plugin test kit judges rates exactly as a sync does.
    """
    if isinstance(item, InterruptionRate):
        return item
    if not isinstance(item, Mapping):
        raise ValueError(f"not an interruption rate: {type(item).__name__}")
    try:
        return InterruptionRate.model_validate(dict(item))
    except pydantic.ValidationError as exc:
        raise ValueError(first_error(exc)) from None
