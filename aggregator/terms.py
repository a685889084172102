"""Your own prices: negotiated terms applied to list prices when a plan is computed.

Clouds publish list prices; many buyers pay less: an enterprise discount on everything, a
private offer on one instance type, a few percent more on a committed-use contract. A
:class:`PriceTerm` states one such term: which offers it covers and what it does to their
price. Terms come from plugins (the ``register_price_terms`` hook) and from the TOML file named
by ``GPUHOURS_TERMS_FILE`` (:mod:`aggregator.terms_file`); :class:`ActiveTerm` is a term ready
to apply, and :func:`apply_terms` prices offers with them.

What is promised:

* Terms change prices only where a plan is computed. The store, ``gpuhours offers``,
  ``gpuhours history`` and the offer endpoints keep the providers' list prices. A plan shows
  each line's list price next to the price after the terms, and which terms applied.
* Order: plugin terms first (plugins in the order they load, each plugin's terms in the order
  it registered them), then the file's terms from top to bottom. Every term that matches an
  offer applies, in that order, to the price the earlier ones left: ``discount_percent = p``
  multiplies it by ``(100 - p) / 100`` (10 then 5 leaves 0.90 x 0.95 = 0.855 of the list
  price); a fixed price (``price_per_hour``, ``price_per_gpu_hour``) replaces it, and later
  percentages apply to the fixed price.
* Prices are effective hourly prices with any upfront fee amortized over the term (as
  :attr:`aggregator.models.Offer.price_per_hour`). A percentage therefore scales the whole
  price of a commitment, upfront part included; a fixed price for a commitment is its
  effective hourly price over the whole term (one unit costs ``price x term_hours``).
* A fixed price is in one currency (``currency``, USD unless given) and applies only to
  offers priced in that currency; a percentage applies in every currency unless ``currency``
  is given. No exchange rate is ever assumed.
* Matching is by the offer's list attributes only, never by its price, so the order of terms
  decides prices but not which terms match.

:func:`aggregator.planner.plan_from_store` applies the registry's terms itself (unless the
request says ``apply_terms=False``); :func:`aggregator.planner.solve` plans over the offers it
is given, so callers in memory pass ``apply_terms(offers, registry.active_terms())``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aggregator.globs import glob_regex
from aggregator.gpus import GpuVocabulary, ResolvedGpu
from aggregator.models import (
    HOURS_PER_YEAR,
    ISO_4217,
    Finite,
    OfferingClass,
    Payment,
    PurchaseOption,
)

if TYPE_CHECKING:
    from aggregator.planner.types import PlannableOffer

__all__ = [
    "EFFECT_FIELDS",
    "ActiveTerm",
    "PriceTerm",
    "TermedOffer",
    "apply_terms",
    "list_price",
    "parse_term_hours",
]

EFFECT_FIELDS = ("discount_percent", "price_per_hour", "price_per_gpu_hour")
"""A term gives exactly one of these."""

DEFAULT_CURRENCY = "USD"
_TERM = re.compile(
    r"^\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>y|yr|yrs|year|years|h|hr|hrs|hours?)?\s*$",
    re.IGNORECASE,
)


def parse_term_hours(value: object) -> int:
    """A commitment length in hours: ``8760``, ``"8760h"``, ``"1y"``, ``"3 years"``; 0 = none."""
    if isinstance(value, bool):
        raise ValueError("give the commitment length as hours (26280) or years ('3y')")
    if isinstance(value, int):
        hours: float = value
    elif isinstance(value, float):
        hours = value
    elif isinstance(value, str) and (match := _TERM.match(value)):
        unit = (match["unit"] or "h").lower()
        hours = float(match["value"]) * (HOURS_PER_YEAR if unit.startswith("y") else 1)
    else:
        raise ValueError(f"{value!r} is not a commitment length: write hours (26280) or '1y', '3y'")
    if not math.isfinite(hours) or hours < 0 or not float(hours).is_integer():
        raise ValueError(f"{value!r} is not a whole, non-negative number of hours")
    return int(hours)


def _term_text(hours: int) -> str:
    if hours == 0:
        return "pay-as-you-go"
    years = hours / HOURS_PER_YEAR
    return f"{years:g}y" if years.is_integer() else f"{hours}h"


class PriceTerm(BaseModel):
    """One negotiated term: which offers it covers (every match field that is set must match;
    none set covers every offer) and exactly one effect on their price.

    Effects: ``discount_percent`` (12 means 12 % off the price left by earlier terms; a
    negative value is a surcharge), ``price_per_hour`` (a fixed price per instance-hour) or
    ``price_per_gpu_hour`` (a fixed price per GPU-hour, times the offer's GPUs per instance).
    See the module docstring for the order in which terms apply.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = Field(
        default=None, min_length=1, description="shown in plans; default: built from the term"
    )
    provider: str | None = Field(
        default=None, pattern=r"^[a-z0-9][a-z0-9_.-]*$", description="aws, azure, gcp, ..."
    )
    region: str | None = Field(
        default=None, min_length=1, description="region code or glob (us-*), any case"
    )
    instance_type: str | None = Field(
        default=None, min_length=1, description="instance type or glob (Standard_ND*_v5)"
    )
    gpu: str | None = Field(
        default=None,
        min_length=1,
        description="GPU name or alias; a memory variant (A100-80GB) covers only that variant",
    )
    purchase_option: PurchaseOption | None = None
    term: int | None = Field(
        default=None,
        description="commitment length in hours, or '1y' / '3y'; 0 covers pay-as-you-go only",
    )
    payment: Payment | None = None
    offering_class: OfferingClass | None = None
    currency: str | None = Field(
        default=None,
        description="ISO 4217 code; a fixed price is in this currency (default USD) and "
        "covers only offers in it; a percentage covers every currency unless this is set",
    )
    discount_percent: Finite | None = Field(
        default=None,
        lt=100,
        ge=-1000,
        description="percent off the price left by earlier terms; negative: a surcharge",
    )
    price_per_hour: Finite | None = Field(
        default=None, gt=0, description="fixed price of one instance-hour (replaces earlier)"
    )
    price_per_gpu_hour: Finite | None = Field(
        default=None, gt=0, description="fixed price per GPU-hour (replaces earlier)"
    )

    @field_validator("provider", mode="before")
    @classmethod
    def _lower_provider(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("name", "region", "instance_type", "gpu", mode="before")
    @classmethod
    def _stripped(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    @field_validator("purchase_option", "payment", "offering_class", mode="before")
    @classmethod
    def _enum_spelling(cls, value: Any) -> Any:
        if isinstance(value, str):  # on-demand, "Savings Plan", ALL_UPFRONT
            return value.strip().lower().replace("-", "_").replace(" ", "_")
        return value

    @field_validator("term", mode="before")
    @classmethod
    def _term_hours(cls, value: Any) -> Any:
        return None if value is None else parse_term_hours(value)

    @field_validator("currency", mode="before")
    @classmethod
    def _iso_currency(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().upper()
            if value not in ISO_4217:
                raise ValueError(f"{value!r} is not an ISO 4217 currency code (USD, EUR, ...)")
        return value

    @model_validator(mode="after")
    def _one_effect_and_a_sane_scope(self) -> Self:
        given = [name for name in EFFECT_FIELDS if getattr(self, name) is not None]
        if len(given) != 1:
            what = " and ".join(given) if given else "none of them"
            raise ValueError(
                "a term needs exactly one effect, one of discount_percent, price_per_hour or "
                f"price_per_gpu_hour (this one gives {what}); write one term per effect"
            )
        option = self.purchase_option
        if option is not None and self.term is not None:
            if option.is_commitment and self.term == 0:
                raise ValueError(f"term: a {option.value} commitment has a term; 0 matches none")
            if not option.is_commitment and self.term != 0:
                raise ValueError(
                    f"term: {option.value} is pay-as-you-go and has no term, so this term "
                    "would match nothing; drop term or change purchase_option"
                )
        if self.offering_class is not None and option not in (None, PurchaseOption.RESERVED):
            raise ValueError("offering_class: only reserved offers have an offering class")
        return self

    @property
    def fixed_price(self) -> bool:
        return self.discount_percent is None

    @property
    def priced_currency(self) -> str | None:
        """The currency this term covers: its own for a fixed price (USD unless given), any
        (``None``) for a percentage without ``currency``."""
        if self.fixed_price:
            return self.currency or DEFAULT_CURRENCY
        return self.currency

    @property
    def effect_text(self) -> str:
        if self.discount_percent is not None:
            percent = self.discount_percent
            return f"-{percent:g} %" if percent >= 0 else f"+{-percent:g} %"
        currency = self.priced_currency
        if self.price_per_hour is not None:
            return f"at {self.price_per_hour:g} {currency}/h"
        return f"at {self.price_per_gpu_hour:g} {currency}/GPU-h"

    @property
    def label(self) -> str:
        """How plans name this term: ``name``, or e.g. ``"aws on_demand -12 %"``."""
        if self.name:
            return self.name
        scope = [
            self.provider,
            self.gpu,
            self.instance_type,
            f"in {self.region}" if self.region else None,
            self.purchase_option.value if self.purchase_option else None,
            _term_text(self.term) if self.term is not None else None,
            self.payment.value if self.payment else None,
            self.offering_class.value if self.offering_class else None,
            f"in {self.currency}" if self.currency and not self.fixed_price else None,
        ]
        return " ".join([*(part for part in scope if part), self.effect_text]).strip()


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
