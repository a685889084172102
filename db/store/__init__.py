"""Repository functions over the price store: the only code that reads or writes its tables.

Every function takes the :class:`~sqlalchemy.Engine` first and opens its own connection, so
callers never hold transactions. Database failures surface as
:class:`~aggregator.errors.StoreError` (message names the redacted URL, never SQL or secrets).

Writers: :func:`apply_snapshot` stores a feed sync in one transaction (:mod:`db.store.write`,
with the diff and guards of :mod:`db.store.diff` and the per-dialect bulk writes of
:mod:`db.store.bulk`); :func:`replace_interruption_rates` stores an interruption feed's sync
(:mod:`db.store.interruptions`); the sync-run log is :mod:`db.store.runs`; :mod:`db.store.rows`
turns offers and runs into rows and back.

Readers: every read runs in a transaction (SQLite snapshot under WAL; on PostgreSQL a single
statement, or a ``REPEATABLE READ`` transaction where a read takes several statements), so it
sees each feed wholly before or wholly after any sync. The offer reads (``data_version``,
``query_offers``, ``query_offer_records``, ``get_offer``, ``price_history``) live in
:mod:`db.read`, which needs no SQLAlchemy on SQLite, and are re-exported here under the same
names; they also accept a :class:`db.reader.Reader`, as does :func:`interruption_rates`
(:mod:`db.interruptions`).
"""

from __future__ import annotations

from aggregator.globs import glob_to_like
from db.interruptions import interruption_rates
from db.offer_sql import OfferQuery
from db.read import (
    OfferRecord,
    data_version,
    get_offer,
    price_history,
    query_offer_records,
    query_offers,
)
from db.store.diff import FeedSnapshot
from db.store.interruptions import InterruptionSnapshot, replace_interruption_rates
from db.store.reads import (
    feed_state_values,
    interruption_rate_counts,
    live_offer_count,
    live_offer_counts,
    load_feed_state,
    on_demand_prices,
)
from db.store.runs import (
    consecutive_failures,
    last_good_run,
    latest_runs,
    record_failed_run,
    running_lifetime,
    start_run,
    sync_run_counts,
)
from db.store.write import MAX_UNKNOWN_NAMES, apply_snapshot, refresh_statistics

__all__ = [
    "MAX_UNKNOWN_NAMES",
    "FeedSnapshot",
    "InterruptionSnapshot",
    "OfferQuery",
    "OfferRecord",
    "apply_snapshot",
    "consecutive_failures",
    "data_version",
    "feed_state_values",
    "get_offer",
    "glob_to_like",
    "interruption_rate_counts",
    "interruption_rates",
    "last_good_run",
    "latest_runs",
    "live_offer_count",
    "live_offer_counts",
    "load_feed_state",
    "on_demand_prices",
    "price_history",
    "query_offer_records",
    "query_offers",
    "record_failed_run",
    "refresh_statistics",
    "replace_interruption_rates",
    "running_lifetime",
    "start_run",
    "sync_run_counts",
]
