"""The planner's shape of an offer, and the reduction to the cheapest offer of each.

Offers of one shape (currency, provider, GPUs per instance, interruptible or not, commitment
or not, term) are interchangeable to the optimizer except for their price, so only the
cheapest of each can be in a best plan (docs/planner.md). Shapes may be split further by
offer fields (:func:`refinement`): GPU model and memory when work is normalized, region, zone
and instance type for one cluster. The store computes the same reduction in SQL
(:mod:`db.offer_sql`) or with :func:`cheapest_per_shape` (:mod:`db.read`), whichever reads
fewer rows; the planner runs it itself on offers from elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from operator import attrgetter
from typing import TypeVar

from aggregator.models import PurchaseOption
from aggregator.offer_view import PlannableOffer

__all__ = ["KINDS", "cheapest_per_shape", "refinement"]

_O = TypeVar("_O", bound=PlannableOffer)

KINDS = {option: (option.interruptible, option.is_commitment) for option in PurchaseOption}
"""Whether each purchase option is interruptible, and a commitment: looked up per offer."""


def refinement(columns: Sequence[str]) -> Callable[[PlannableOffer], Hashable] | None:
    """What splits shapes by the offer fields ``columns``; ``None`` when there are none."""
    return attrgetter(*columns) if columns else None


def cheapest_per_shape(
    offers: Sequence[_O], refine: Callable[[PlannableOffer], Hashable] | None = None
) -> list[_O]:
    """The cheapest offer per hour of each shape split by ``refine``, in the order of
    ``offers``; of offers at the same price, the first wins."""
    best: dict[tuple[object, ...], tuple[int, _O]] = {}
    kinds = KINDS
    for index, offer in enumerate(offers):
        key = (
            offer.currency,
            offer.provider,
            offer.gpu_count,
            kinds[offer.purchase_option],
            offer.term_hours,
            None if refine is None else refine(offer),
        )
        kept = best.get(key)
        if kept is None or offer.price_per_hour < kept[1].price_per_hour:
            best[key] = (index, offer)
    return [offer for _, offer in sorted(best.values(), key=lambda item: item[0])]
