"""The store's small reads besides the offer reads: feed state, live counts, on-demand prices.

The offer reads (``query_offers`` and friends) live in :mod:`db.read`, which also runs on the
stdlib ``sqlite3`` driver; these serve syncs and the provider listing and take an engine.
"""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from aggregator.models import PurchaseOption
from db.engine import store_errors
from db.tables import feed_state, interruption_rates, offers

__all__ = [
    "feed_state_values",
    "interruption_rate_counts",
    "live_offer_count",
    "live_offer_counts",
    "load_feed_state",
    "on_demand_prices",
]


def load_feed_state(engine: Engine, feed: str) -> dict[str, str]:
    """The persisted state of ``feed`` as the last successful sync left it (empty if none)."""
    stmt = select(feed_state.c.key, feed_state.c.value).where(feed_state.c.feed == feed)
    with store_errors(engine, "reading feed state"), engine.connect() as conn:
        return {key: value for key, value in conn.execute(stmt)}


def feed_state_values(engine: Engine, key: str) -> dict[str, str]:
    """The value each feed's persisted state holds under ``key``, by feed (feeds without
    one are left out)."""
    stmt = select(feed_state.c.feed, feed_state.c.value).where(feed_state.c.key == key)
    with store_errors(engine, "reading feed state"), engine.connect() as conn:
        return {feed: value for feed, value in conn.execute(stmt)}


def on_demand_prices(engine: Engine, provider: str) -> dict[tuple[str, str, str], float]:
    """The live on-demand price of each (region, instance type, currency) of ``provider``
    (the lowest, where zones differ)."""
    query = (
        select(offers.c.region, offers.c.instance_type, offers.c.currency, offers.c.price_per_hour)
        .where(offers.c.provider == provider)
        .where(offers.c.purchase_option == PurchaseOption.ON_DEMAND.value)
        .where(offers.c.withdrawn_at.is_(None))
    )
    prices: dict[tuple[str, str, str], float] = {}
    with store_errors(engine, "reading on-demand prices"), engine.connect() as conn:
        for region, instance_type, currency, price in conn.execute(query):
            key = (region, instance_type, currency)
            prices[key] = min(price, prices.get(key, price))
    return prices


def live_offer_count(engine: Engine, feed: str | None = None) -> int:
    """How many offers are live (not withdrawn), in one feed or in all."""
    stmt = select(func.count()).select_from(offers).where(offers.c.withdrawn_at.is_(None))
    if feed is not None:
        stmt = stmt.where(offers.c.feed == feed)
    with store_errors(engine, "counting offers"), engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def live_offer_counts(engine: Engine) -> dict[str, int]:
    """How many offers are live (not withdrawn) in each feed that has any."""
    stmt = (
        select(offers.c.feed, func.count())
        .where(offers.c.withdrawn_at.is_(None))
        .group_by(offers.c.feed)
    )
    with store_errors(engine, "counting offers"), engine.connect() as conn:
        return {feed: int(n) for feed, n in conn.execute(stmt)}


def interruption_rate_counts(engine: Engine) -> dict[str, int]:
    """How many interruption rates each feed that has any holds."""
    stmt = select(interruption_rates.c.feed, func.count()).group_by(interruption_rates.c.feed)
    with store_errors(engine, "counting interruption rates"), engine.connect() as conn:
        return {feed: int(n) for feed, n in conn.execute(stmt)}
