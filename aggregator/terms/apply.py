"""Applying price terms: an offer priced by every term that matches it, in order."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from aggregator.globs import glob_regex
from aggregator.gpus import GpuVocabulary, ResolvedGpu
from aggregator.models import OfferingClass, Payment, PurchaseOption
from aggregator.offer_view import PlannableOffer
from aggregator.terms.model import PriceTerm

__all__ = ["ActiveTerm", "TermedOffer", "apply_terms", "list_price"]


def _glob(pattern: str | None) -> re.Pattern[str] | None:
    """A case-insensitive glob (``*`` and ``?``), as the region filter of a plan request."""
    return None if pattern is None else glob_regex(pattern)


@dataclass(frozen=True, slots=True)
class ActiveTerm:
    """A :class:`PriceTerm` ready to apply: GPU name resolved, globs compiled, label and
    currency worked out once (terms are applied to thousands of offers per plan), and where it
    came from (``origin``: ``plugin acme`` or ``terms.toml, term #3``) for messages."""

    term: PriceTerm
    origin: str
    label: str
    currency: str | None
    factor: float | None
    """``(100 - discount_percent) / 100`` for a percentage, else None."""
    gpu: ResolvedGpu | None
    region: re.Pattern[str] | None
    instance_type: re.Pattern[str] | None

    @classmethod
    def of(cls, term: PriceTerm, vocabulary: GpuVocabulary, *, origin: str) -> ActiveTerm:
        """Raises :class:`~aggregator.errors.UnknownGpu` when ``term.gpu`` is not known."""
        percent = term.discount_percent
        return cls(
            term=term,
            origin=origin,
            label=term.label,
            currency=term.priced_currency,
            factor=None if percent is None else (100 - percent) / 100,
            gpu=vocabulary.resolve(term.gpu) if term.gpu is not None else None,
            region=_glob(term.region),
            instance_type=_glob(term.instance_type),
        )

    def matches(self, offer: PlannableOffer) -> bool:
        """Whether every match field the term sets agrees with ``offer``'s list attributes."""
        t, gpu = self.term, self.gpu
        return (
            (t.provider is None or offer.provider == t.provider)
            and (t.purchase_option is None or offer.purchase_option is t.purchase_option)
            and (t.term is None or offer.term_hours == t.term)
            and (t.payment is None or offer.payment is t.payment)
            and (t.offering_class is None or offer.offering_class is t.offering_class)
            and (self.currency is None or offer.currency == self.currency)
            and (gpu is None or gpu.covers(offer.gpu, offer.gpu_memory_gb))
            and (self.region is None or self.region.fullmatch(offer.region.lower()) is not None)
            and (
                self.instance_type is None
                or self.instance_type.fullmatch(offer.instance_type.lower()) is not None
            )
        )

    def price(self, offer: PlannableOffer, current: float) -> float:
        """The price of one instance-hour of ``offer`` after this term, given ``current``."""
        if self.factor is not None:
            return current * self.factor
        t = self.term
        if t.price_per_hour is not None:
            return float(t.price_per_hour)
        assert t.price_per_gpu_hour is not None  # exactly one effect is set
        return t.price_per_gpu_hour * offer.gpu_count


@dataclass(frozen=True, slots=True)
class TermedOffer:
    """An offer seen through the user's terms: planned at ``price_per_hour`` (after the terms)
    while ``list_price_per_hour`` keeps the provider's list price and ``terms`` names what
    applied. Every other attribute is the listed offer's, so plan lines trace to it."""

    listed: PlannableOffer
    price_per_hour: float
    terms: tuple[str, ...]

    @property
    def list_price_per_hour(self) -> float:
        return self.listed.price_per_hour

    @property
    def price_per_gpu_hour(self) -> float:
        return self.price_per_hour / self.listed.gpu_count

    @property
    def id(self) -> str:
        return self.listed.id

    @property
    def provider(self) -> str:
        return self.listed.provider

    @property
    def region(self) -> str:
        return self.listed.region

    @property
    def zone(self) -> str | None:
        return self.listed.zone

    @property
    def instance_type(self) -> str:
        return self.listed.instance_type

    @property
    def gpu(self) -> str:
        return self.listed.gpu

    @property
    def gpu_count(self) -> float:
        return self.listed.gpu_count

    @property
    def gpu_memory_gb(self) -> float:
        return self.listed.gpu_memory_gb

    @property
    def purchase_option(self) -> PurchaseOption:
        return self.listed.purchase_option

    @property
    def term_hours(self) -> int:
        return self.listed.term_hours

    @property
    def payment(self) -> Payment | None:
        return self.listed.payment

    @property
    def offering_class(self) -> OfferingClass | None:
        return self.listed.offering_class

    @property
    def currency(self) -> str:
        return self.listed.currency

    @property
    def observed_at(self) -> datetime | None:
        return self.listed.observed_at

    @property
    def interruptible(self) -> bool:
        return self.listed.interruptible


def apply_terms(
    offers: Iterable[PlannableOffer], terms: Sequence[ActiveTerm]
) -> list[PlannableOffer]:
    """``offers`` priced by ``terms`` (in order; see the module docstring).

    An offer no term matches is passed through as it is; one that some term matches becomes a
    :class:`TermedOffer`. Already termed offers are priced again from their list price, so
    applying twice never compounds. Nothing is written anywhere.
    """
    if not terms:
        return list(offers)
    priced: list[PlannableOffer] = []
    for offer in offers:
        listed = offer.listed if isinstance(offer, TermedOffer) else offer
        price = listed.price_per_hour
        applied: list[str] = []
        for term in terms:
            if term.matches(listed):
                price = term.price(listed, price)
                applied.append(term.label)
        priced.append(TermedOffer(listed, price, tuple(applied)) if applied else listed)
    return priced


def list_price(offer: PlannableOffer) -> tuple[float, tuple[str, ...]]:
    """The list price of one instance-hour of ``offer`` and the terms that changed it."""
    if isinstance(offer, TermedOffer):
        return offer.list_price_per_hour, offer.terms
    return offer.price_per_hour, ()


if TYPE_CHECKING:

    def _termed_offers_are_plannable(offer: TermedOffer) -> PlannableOffer:
        """Never called: mypy proves here that the planner can read a :class:`TermedOffer`."""
        return offer
