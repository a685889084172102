"""What planning and price terms read of an offer: a structural type, and the fields its lean
forms share.

The planner, and the price terms it applies, read a handful of an offer's attributes and never
validate one, so they accept anything that has them: the pydantic
:class:`~aggregator.models.Offer` (and :class:`~aggregator.models.StoredOffer`) that
:func:`~aggregator.planner.solve` is given in memory, the lean
:class:`db.store.OfferRecord` that :func:`~aggregator.planner.plan_from_store` reads (building
pydantic models for every matching row cost more than the rest of a plan), and the
:class:`~aggregator.terms.TermedOffer` copy, at the price after the terms, that terms make of
an offer they match. Those two share :class:`OfferFields`, the fields they hold alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from aggregator.models import OfferingClass, Payment, PurchaseOption

if TYPE_CHECKING:
    from aggregator.models import Offer, StoredOffer

__all__ = ["OfferFields", "PlannableOffer"]


class PlannableOffer(Protocol):
    """The attributes of an offer that filtering, pruning, solving and plan lines read.

    Read-only properties, so frozen dataclasses and pydantic models both satisfy it.
    ``observed_at`` may be ``None`` for an offer built in memory (a plan then notes that some
    prices carry no observation time); stored offers always have one.
    """

    @property
    def id(self) -> str: ...
    @property
    def provider(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def zone(self) -> str | None: ...
    @property
    def instance_type(self) -> str: ...
    @property
    def gpu(self) -> str: ...
    @property
    def gpu_count(self) -> float: ...
    @property
    def gpu_memory_gb(self) -> float: ...
    @property
    def vcpus(self) -> float | None: ...
    @property
    def memory_gb(self) -> float | None: ...
    @property
    def interconnect(self) -> str | None: ...
    @property
    def interconnect_gbps(self) -> float | None: ...
    @property
    def available_in(self) -> tuple[str, ...] | None: ...
    @property
    def purchase_option(self) -> PurchaseOption: ...
    @property
    def term_hours(self) -> int: ...
    @property
    def payment(self) -> Payment | None: ...
    @property
    def offering_class(self) -> OfferingClass | None: ...
    @property
    def price_per_hour(self) -> float: ...
    @property
    def currency(self) -> str: ...
    @property
    def observed_at(self) -> datetime | None: ...
    @property
    def interruptible(self) -> bool: ...
    @property
    def price_per_gpu_hour(self) -> float: ...


@dataclass(frozen=True, slots=True)
class OfferFields:
    """What is sold (GPUs, host, fabric), where, and how it is bought: the
    :class:`PlannableOffer` attributes that :class:`db.store.OfferRecord` and
    :class:`~aggregator.terms.TermedOffer` hold alike, as frozen, slotted fields. Each adds
    the price, currency and observation time its own way (a termed offer keeps its list
    price beside its price; a stored one is always observed).
    """

    id: str
    provider: str
    region: str
    zone: str | None
    instance_type: str
    gpu: str
    gpu_count: float
    gpu_memory_gb: float
    purchase_option: PurchaseOption
    term_hours: int
    payment: Payment | None
    offering_class: OfferingClass | None
    vcpus: float | None
    memory_gb: float | None
    interconnect: str | None
    interconnect_gbps: float | None
    available_in: tuple[str, ...] | None

    @property
    def interruptible(self) -> bool:
        return self.purchase_option.interruptible


if TYPE_CHECKING:

    def _pydantic_offers_are_plannable(offer: Offer, stored: StoredOffer) -> list[PlannableOffer]:
        """Never called: mypy proves here that what :func:`~aggregator.planner.solve` is given
        in memory satisfies the protocol (``OfferRecord`` is proved by ``plan_from_store``)."""
        return [offer, stored]
