"""Applying price terms: an offer priced by every term that matches it, in order.

A priced offer is a :class:`TermedOffer`, a copy of the offer's values at the price after the
terms: built once per offer and plan, then read as plain attributes by the planner, which reads
each offer many times.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import KW_ONLY, dataclass, fields
from datetime import datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Self

from aggregator.globs import glob_regex
from aggregator.gpus import GpuVocabulary, ResolvedGpu
from aggregator.offer_view import OfferFields, PlannableOffer
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
class TermedOffer(OfferFields):
    """An offer priced by the user's terms: a copy of the offer's values, planned at
    ``price_per_hour`` (after the terms) while ``list_price_per_hour`` keeps the provider's list
    price and ``terms`` names what applied. Every other field is the offer's, so plan lines
    trace to it. Built by :meth:`of`."""

    currency: str
    observed_at: datetime | None
    _: KW_ONLY  # the fields before (OfferFields' too) are the offer's; these are its new price
    price_per_hour: float
    list_price_per_hour: float
    terms: tuple[str, ...]

    @classmethod
    def of(cls, offer: PlannableOffer, price_per_hour: float, terms: tuple[str, ...]) -> Self:
        """``offer`` at ``price_per_hour`` after ``terms``; its list price is the offer's own,
        or, for an offer already termed, the list price that offer keeps."""
        list_price_per_hour, _ = list_price(offer)
        return cls(
            *_read_copied(offer),
            price_per_hour=price_per_hour,
            list_price_per_hour=list_price_per_hour,
            terms=terms,
        )

    @property
    def price_per_gpu_hour(self) -> float:
        return self.price_per_hour / self.gpu_count


_COPIED = tuple(f.name for f in fields(TermedOffer) if not f.kw_only)
"""The attributes :meth:`TermedOffer.of` copies from the offer: its positional fields."""
_read_copied = attrgetter(*_COPIED)


def apply_terms(
    offers: Iterable[PlannableOffer], terms: Sequence[ActiveTerm]
) -> list[PlannableOffer]:
    """``offers`` priced by ``terms`` (in order; see the module docstring).

    An offer no term matches is passed through as it is; one that some term matches becomes a
    :class:`TermedOffer`. Already termed offers are priced again from their list price (terms
    match list attributes only, which a termed offer keeps), so applying twice never
    compounds; a termed offer none of ``terms`` matches is left at its list price, with no
    terms. Nothing is written anywhere.
    """
    if not terms:
        return list(offers)
    priced: list[PlannableOffer] = []
    for offer in offers:
        price, _ = list_price(offer)
        applied: list[str] = []
        for term in terms:
            if term.matches(offer):
                price = term.price(offer, price)
                applied.append(term.label)
        priced.append(
            TermedOffer.of(offer, price, tuple(applied))
            if applied or isinstance(offer, TermedOffer)
            else offer
        )
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
