"""Collecting what a relay feed yields: offers of any provider and interruption rates, each
judged as an offer or rate feed's rows are, for one snapshot stored in one transaction."""

from __future__ import annotations

from aggregator.interruptions import InterruptionRate
from aggregator.plugins import FeedRef, Registry
from aggregator.sync.collect import Collector
from aggregator.sync.rates import RateCollector

__all__ = ["RelayCollector"]


class RelayCollector(Collector):
    """A :class:`Collector` of any provider's offers that sends rates to a
    :class:`RateCollector`; ``seen`` and ``rejected`` count both."""

    def __init__(self, ref: FeedRef, registry: Registry) -> None:
        super().__init__(ref, registry, any_provider=True)
        self.rates = RateCollector(ref, any_provider=True)

    @property
    def seen(self) -> int:
        return len(self.offers) + self.rates.seen

    def add(self, item: object) -> None:
        if isinstance(item, InterruptionRate):
            before = self.rates.rejected
            self.rates.add(item)
            self.rejected += self.rates.rejected - before
            return
        super().add(item)
