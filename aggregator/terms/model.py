"""A negotiated price term as stated: which offers it covers and what it does to their price."""

from __future__ import annotations

import math
import re
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aggregator.models import (
    HOURS_PER_YEAR,
    ISO_4217,
    Finite,
    OfferingClass,
    Payment,
    PurchaseOption,
)

__all__ = ["DEFAULT_CURRENCY", "EFFECT_FIELDS", "PriceTerm", "parse_term_hours"]

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
