"""Collecting what a feed yields: each row validated, de-duplicated, rejected with its reason,
or held (its stored offer keeps its last good price)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import pydantic

from aggregator.errors import UnknownGpu
from aggregator.models import Offer, PurchaseOption, natural_key_id_of
from aggregator.plugins import FeedRef, Registry
from aggregator.price_sanity import price_problem
from aggregator.sync.guards import interruptible_not_cheaper

__all__ = ["Collector", "first_error", "machine", "validate_offer"]

log = logging.getLogger("aggregator.sync")


class Collector:
    """Validates and de-duplicates what a feed yields.

    ``any_provider``: the feed relays offers of any provider (a mirror of another store), so
    an offer need not name the feed's own provider.
    """

    def __init__(self, ref: FeedRef, registry: Registry, *, any_provider: bool = False) -> None:
        self.ref = ref
        self.registry = registry
        self.any_provider = any_provider
        self.offers: dict[str, Offer] = {}
        self.held: list[str] = []  # ids of stored offers whose new rows were rejected
        self.rejected = 0

    @property
    def seen(self) -> int:
        return len(self.offers)

    def add(self, item: object) -> None:
        try:
            offer = validate_offer(item)
        except ValueError as exc:
            self._reject(str(exc), item)
            self.hold(item)
            return
        if not self.any_provider and offer.provider != self.ref.provider.name:
            self._reject(
                f"provider {offer.provider!r} does not match {self.ref.provider.name!r}", item
            )
            return
        try:
            canonical = self.registry.gpus.canonical(offer.gpu)
        except UnknownGpu:
            self._reject(f"unknown GPU {offer.gpu!r}", item)
            return
        if canonical != offer.gpu:
            offer = offer.model_copy(update={"gpu": canonical})
        implausible = price_problem(offer)
        if implausible is not None:
            self.held.append(offer.id)
            self._reject(implausible, item)
            return
        if offer.id in self.offers:
            self._reject(f"duplicate offer {offer.natural_key()}", item)
            return
        self.offers[offer.id] = offer

    def hold(self, fields: object) -> None:
        """Keep the stored offer a rejected row names (if it names one) at its last price."""
        if isinstance(fields, Mapping):
            provider = self.ref.provider.name
            if self.any_provider and isinstance(fields.get("provider"), str):
                provider = fields["provider"]
            offer_id = natural_key_id_of(fields, provider)
            if offer_id is not None:
                self.held.append(offer_id)

    @property
    def providers(self) -> set[str]:
        """The providers the collected offers name."""
        return {offer.provider for offer in self.offers.values()}

    def refuse_dear_interruptible(
        self, on_demand: Mapping[tuple[str, str, str, str], float]
    ) -> None:
        """Reject interruptible offers that are no discount (:func:`interruptible_not_cheaper`);
        ``on_demand`` adds stored prices to this feed's own."""
        own = {
            machine(o): o.price_per_hour
            for o in self.offers.values()
            if o.purchase_option is PurchaseOption.ON_DEMAND
        }
        prices = {**on_demand, **own}
        for offer_id, offer in list(self.offers.items()):
            reason = interruptible_not_cheaper(offer, prices.get(machine(offer)))
            if reason is not None:
                del self.offers[offer_id]
                # A seller's own odd row, not a broken feed: counted, logged as unknowns are.
                self._reject(reason, offer.source, level=logging.INFO)

    def _reject(self, reason: str, item: object, *, level: int = logging.WARNING) -> None:
        self.rejected += 1
        log.log(level, "%s: rejected offer: %s: %.300r", self.ref.id, reason, item)


def machine(offer: Offer) -> tuple[str, str, str, str]:
    """The machine an offer rents, for comparing its purchase options: provider, region, type,
    currency."""
    return (offer.provider, offer.region, offer.instance_type, offer.currency)


def validate_offer(item: object) -> Offer:
    """``item`` as an :class:`Offer`: an ``Offer`` as it is, a mapping validated into one.

    Raises :class:`ValueError` whose text is the reject reason the sync engine logs. Shared
    with :mod:`aggregator.testing` so the plugin test kit judges rows exactly as a sync does.
    """
    if isinstance(item, Offer):
        return item
    try:
        return Offer.model_validate(dict(item))  # type: ignore[call-overload]
    except pydantic.ValidationError as exc:
        raise ValueError(first_error(exc)) from None
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not an offer: {exc}") from None


def first_error(exc: pydantic.ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "offer"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {err['msg']}{more}"
