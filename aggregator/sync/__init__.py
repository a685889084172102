"""Running feeds: fetch, validate, guard, store, atomically; one failure never spreads.

Where each guard lives (``docs/sync.md`` says what they promise):

* a row: :class:`~aggregator.sync.collect.Collector` validates each one, with the price
  bounds of :mod:`aggregator.price_sanity`, and holds the stored offer a rejected row names;
* the feed's result: :mod:`aggregator.sync.guards` (too many rejects, an empty feed, a
  recording older than the store, spot prices that are no discount), run by
  :mod:`aggregator.sync.engine`, which also bounds the fetch by ``sync_feed_timeout``;
* against what is stored: :func:`db.store.apply_snapshot`, in the write transaction (a feed
  that shrank far below its live offers, a feed moving many prices tenfold at once).
"""

from __future__ import annotations

from aggregator.sync.collect import validate_offer
from aggregator.sync.engine import (
    OBSERVED_AT_FILE,
    SyncOutcome,
    describe_fetch_error,
    fetch_context,
    load_observed_at,
    provider_settings,
    sync_feed,
    sync_feeds,
)

__all__ = [
    "OBSERVED_AT_FILE",
    "SyncOutcome",
    "describe_fetch_error",
    "fetch_context",
    "load_observed_at",
    "provider_settings",
    "sync_feed",
    "sync_feeds",
    "validate_offer",
]
