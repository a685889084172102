"""What every feed's store transaction shares besides its rows: the snapshot's bookkeeping
(:class:`SnapshotMeta`), the feed's lock, its persisted state, and the store version readers
cache by."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, delete, insert, text, update

from db.tables import feed_state, store_version

__all__ = [
    "MAX_UNKNOWN_NAMES",
    "SnapshotMeta",
    "bump_version",
    "lock_feed",
    "replace_feed_state",
    "require_aware",
]

MAX_UNKNOWN_NAMES = 50
"""Most unknown names a run keeps (sorted): enough to see what to add to a table."""


@dataclass(kw_only=True)
class SnapshotMeta:
    """What a feed snapshot says besides its rows: whose it is, what the source reported as
    not modified (``unchanged``, matches on columns of the rows, confirmed as seen now;
    ``unconfirmed``, kept with their own observation times), the feed's new persisted
    ``state``, when the sync started, and the rows it rejected or did not know."""

    feed: str
    provider: str
    unchanged: list[Mapping[str, str]]
    state: dict[str, str]
    unconfirmed: list[Mapping[str, str]] = field(default_factory=list)
    started_at: datetime
    rejected: int = 0
    unknown: int = 0
    unknown_names: list[str] = field(default_factory=list)


def lock_feed(conn: Connection, feed: str) -> None:
    """Serialize concurrent applies of the same feed on PostgreSQL.

    Without it two overlapping syncs of one feed could both diff against the same old state
    and write twice. SQLite needs nothing: ``BEGIN IMMEDIATE`` already admits one writer at a
    time.
    """
    if conn.dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(f"gpuhours:{feed}".encode()).digest()[:8], signed=True)
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def replace_feed_state(conn: Connection, feed: str, state: Mapping[str, str]) -> None:
    """Make ``state`` the feed's whole persisted state (ETags, versions)."""
    conn.execute(delete(feed_state).where(feed_state.c.feed == feed))
    if state:
        conn.execute(
            insert(feed_state),
            [{"feed": feed, "key": key, "value": value} for key, value in state.items()],
        )


def bump_version(conn: Connection) -> None:
    """Add one to the store version; call last, the row lock it takes is held until commit."""
    conn.execute(
        update(store_version)
        .where(store_version.c.id == 1)
        .values(version=store_version.c.version + 1)
    )


def require_aware(value: datetime, name: str) -> None:
    """Refuse a naive timestamp before anything is written."""
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime (UTC), got {value!r}")
