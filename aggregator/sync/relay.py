"""Collecting what a relay feed yields: offers of any provider and interruption rates, each
judged as an offer or rate feed's rows are, for one snapshot stored in one transaction."""

from __future__ import annotations

import itertools
from datetime import datetime

from aggregator.interruptions import InterruptionRate
from aggregator.models import Offer, PastPrice
from aggregator.plugins import FeedRef, Registry
from aggregator.providers import RelayedOffer
from aggregator.sync.collect import Collector
from aggregator.sync.rates import RateCollector

__all__ = ["RelayCollector"]


class RelayCollector(Collector):
    """A :class:`Collector` of any provider's offers that sends rates to a
    :class:`RateCollector`; ``seen`` and ``rejected`` count both. ``pasts`` keeps, by offer
    id, the first-seen time and price intervals a :class:`RelayedOffer` brought."""

    def __init__(self, ref: FeedRef, registry: Registry) -> None:
        super().__init__(ref, registry, any_provider=True)
        self.rates = RateCollector(ref, any_provider=True)
        self.pasts: dict[str, tuple[datetime, list[PastPrice]]] = {}

    @property
    def seen(self) -> int:
        return len(self.offers) + self.rates.seen

    def add(self, item: object) -> None:
        if isinstance(item, InterruptionRate):
            before = self.rates.rejected
            self.rates.add(item)
            self.rejected += self.rates.rejected - before
            return
        if not isinstance(item, RelayedOffer):
            super().add(item)
            return
        before = len(self.offers)
        super().add(item.fields)
        if len(self.offers) == before:
            return  # rejected: its past goes with it
        offer_id = next(reversed(self.offers))
        problem = _past_problem(self.offers[offer_id], list(item.history))
        if problem is not None:
            del self.offers[offer_id]
            self._reject(problem, item.fields)
            return
        self.pasts[offer_id] = (item.first_seen, list(item.history))


def _past_problem(offer: Offer, history: list[PastPrice]) -> str | None:
    """Why ``history`` cannot be ``offer``'s past: intervals out of order, or not ending in
    one open interval at the offer's price."""
    if not history:
        return "a relayed offer without price intervals"
    for earlier, later in itertools.pairwise(history):
        if earlier.valid_to is None or later.valid_from < earlier.valid_from:
            return "relayed price intervals out of order"
    last = history[-1]
    now = (offer.price_per_hour, offer.upfront, offer.currency)
    if last.valid_to is not None or (last.price_per_hour, last.upfront, last.currency) != now:
        return "relayed price intervals do not end at the offer's price"
    return None
