"""Running feeds: fetch, validate, guard, store, atomically; one failure never spreads.

:mod:`.engine` runs feeds and says where each guard lives; :mod:`.collect` judges rows,
:mod:`.guards` a fetched result, :mod:`.context` what a fetch runs with, and :mod:`.observed`
when a recording's prices were seen. ``docs/sync.md`` says what a sync promises.
"""

from __future__ import annotations

from aggregator.sync.collect import validate_offer
from aggregator.sync.context import describe_fetch_error, fetch_context, provider_settings
from aggregator.sync.engine import SyncOutcome, sync_feed, sync_feeds
from aggregator.sync.observed import OBSERVED_AT_FILE, load_observed_at

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
