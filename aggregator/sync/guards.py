"""The sync engine's checks on a fetched feed, as pure decisions.

Each returns why the result must not be used (the message the failed run records), or
``None``. They read no database and no clock, so they are tested with plain values.
"""

from __future__ import annotations

from datetime import datetime

from aggregator.models import Offer

__all__ = ["empty_feed", "interruptible_not_cheaper", "older_than_stored", "too_many_rejects"]


def too_many_rejects(seen: int, rejected: int, max_share: float) -> str | None:
    """Refuse a feed that rejected more than ``max_share`` of its rows: its format changed."""
    rows = seen + rejected
    if rows and rejected / rows > max_share:
        return (
            f"{rejected} of {rows} rows were rejected (more than {max_share:.0%}); the source's "
            "format may have changed; nothing was changed"
        )
    return None


def empty_feed(
    seen: int, *, has_unchanged: bool, may_shrink: bool, what: str = "offers"
) -> str | None:
    """Refuse a feed that returned nothing, unless it said parts are unchanged or may shrink;
    ``what`` names what it should have returned."""
    if not seen and not has_unchanged and not may_shrink:
        return (
            f"the feed returned no {what}; nothing was changed (use --force to accept an empty "
            "feed)"
        )
    return None


def older_than_stored(observed_at: datetime | None, last_good: datetime | None) -> str | None:
    """Refuse a replayed recording whose prices were seen before the last good sync."""
    if observed_at is None or last_good is None or last_good <= observed_at:
        return None
    return (
        f"the recording's prices (seen {observed_at:%Y-%m-%d}) are older than the stored ones "
        f"(synced {last_good:%Y-%m-%d %H:%M}); nothing was changed"
    )


def interruptible_not_cheaper(offer: Offer, on_demand_price: float | None) -> str | None:
    """Why a spot or low-priority ``offer`` is no discount anyone can buy: priced at or above
    the on-demand price of the same machine in the same region (most likely a size not sold
    as spot there)."""
    if not offer.interruptible or on_demand_price is None:
        return None
    if offer.price_per_hour < on_demand_price:
        return None
    return (
        f"{offer.purchase_option.value} price {offer.price_per_hour:g} {offer.currency} is not "
        f"below the on-demand price {on_demand_price:g} of {offer.instance_type} in "
        f"{offer.region}"
    )
