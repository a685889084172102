"""What planning and price terms read of an offer, as a structural type.

The planner, and the price terms it applies, read a handful of an offer's attributes and never
build, copy or validate one, so they accept anything that has them: the pydantic
:class:`~aggregator.models.Offer` (and :class:`~aggregator.models.StoredOffer`) that
:func:`~aggregator.planner.solve` is given in memory, and the lean
:class:`db.store.OfferRecord` that :func:`~aggregator.planner.plan_from_store` reads (building
pydantic models for every matching row cost more than the rest of a plan).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from aggregator.models import OfferingClass, Payment, PurchaseOption

if TYPE_CHECKING:
    from aggregator.models import Offer, StoredOffer

__all__ = ["PlannableOffer"]


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


if TYPE_CHECKING:

    def _pydantic_offers_are_plannable(offer: Offer, stored: StoredOffer) -> list[PlannableOffer]:
        """Never called: mypy proves here that what :func:`~aggregator.planner.solve` is given
        in memory satisfies the protocol (``OfferRecord`` is proved by ``plan_from_store``)."""
        return [offer, stored]
