"""Storing an interruption feed's sync: its rates replace the ones it stored before, at once.

One write transaction, like an offer sync: readers see the feed's old rates or its new ones,
never a mix, and a refused or failing sync changes nothing. There is no history: a rate is
the seller's current judgement, not a price someone paid. The store version goes up only when
a row changed, since cached plans depend on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from aggregator.errors import SyncRejected
from aggregator.interruptions import InterruptionRate, RateKey
from aggregator.models import SyncRun, SyncStatus
from db.engine import store_errors, write_transaction
from db.store.feed_txn import (
    MAX_UNKNOWN_NAMES,
    SnapshotMeta,
    bump_version,
    lock_feed,
    replace_feed_state,
    require_aware,
)
from db.store.rows import encode_source
from db.store.runs import save_run
from db.tables import interruption_rates as _rates

__all__ = [
    "RATE_MATCH_COLUMNS",
    "InterruptionSnapshot",
    "RateChanges",
    "replace_interruption_rates",
    "store_rates",
]

RATE_MATCH_COLUMNS = frozenset({"region", "instance_type"})
"""Columns an ``unchanged`` match of an interruption snapshot may name."""

_KEY = ("provider", "region", "instance_type")
_VALUE = (
    "bucket",
    "bucket_label",
    "interruption_min_percent",
    "interruption_max_percent",
    "savings_percent",
)


@dataclass(kw_only=True)
class InterruptionSnapshot(SnapshotMeta):
    """Everything one successful fetch of an interruption feed produced, ready to be stored.

    ``rates`` are validated, of ``provider`` and unique by key. ``unchanged`` matches name
    :data:`RATE_MATCH_COLUMNS` (``{}`` is the whole feed): stored rates they match are kept
    and confirmed. ``held`` are keys of rows the feed could not read this time: their stored
    rates stay exactly as they are.
    """

    rates: list[InterruptionRate]
    held: list[RateKey] = field(default_factory=list)


def replace_interruption_rates(
    engine: Engine,
    snap: InterruptionSnapshot,
    *,
    now: datetime,
    min_share_of_live: float | None = None,
    run_id: int | None = None,
) -> SyncRun:
    """Make ``snap`` the feed's stored interruption rates and return the run recorded.

    In one write transaction: every rate in ``snap.rates`` is written (``observed_at`` its
    own, else ``now``; a key another feed stored moves to this one); stored rates of the feed
    not seen are kept when an ``unchanged`` match covers them (``observed_at = now``) or their
    key is ``held`` (as they are), and deleted otherwise; the feed's state is replaced; the
    run is saved over ``run_id``. With ``min_share_of_live`` set, a snapshot that would leave
    fewer than that share of the feed's L stored rates raises :class:`SyncRejected` and
    changes nothing. Counts: ``seen``, ``new`` (key not stored for this feed), ``changed``
    (bucket, bounds or savings differ), ``unchanged`` (same values, plus kept), ``withdrawn``
    (deleted).
    """
    require_aware(now, "now")
    require_aware(snap.started_at, "snap.started_at")
    _check_matches([*snap.unchanged, *snap.unconfirmed])
    with store_errors(engine, f"storing feed {snap.feed}"), write_transaction(engine) as conn:
        lock_feed(conn, snap.feed)
        changes = store_rates(conn, snap, now=now, min_share_of_live=min_share_of_live)
        replace_feed_state(conn, snap.feed, snap.state)
        run = SyncRun(
            feed=snap.feed,
            provider=snap.provider,
            started_at=snap.started_at,
            finished_at=now,
            status=_status(snap, changes.active),
            seen=changes.seen,
            new=changes.new,
            changed=changes.changed,
            unchanged=changes.unchanged,
            withdrawn=changes.withdrawn,
            rejected=snap.rejected,
            unknown=snap.unknown,
            unknown_names=sorted(set(snap.unknown_names))[:MAX_UNKNOWN_NAMES],
        )
        run = save_run(conn, run.model_copy(update={"id": run_id}))
        if changes.wrote or changes.confirmed:
            bump_version(conn)  # last: the row lock it takes is held only until the commit
        return run


@dataclass(frozen=True)
class RateChanges:
    """What :func:`store_rates` did: the counts a run records, and whether rows changed."""

    seen: int
    new: int
    changed: int
    unchanged: int
    withdrawn: int
    active: bool  # rates seen or withdrawn: the run is ``ok``, not ``unchanged``
    wrote: bool
    confirmed: bool


def store_rates(
    conn: Connection,
    snap: InterruptionSnapshot,
    *,
    now: datetime,
    min_share_of_live: float | None,
) -> RateChanges:
    """The rate rows of :func:`replace_interruption_rates`, in the caller's transaction (which
    has locked the feed); a relay feed's offer sync stores its rates through it too.

    A rate another feed holds with a newer ``observed_at`` is left to that feed (counted as
    unchanged): the newer observation wins.
    """
    rows = {rate.key(): _row(rate, snap.feed, now) for rate in snap.rates}
    if len(rows) != len(snap.rates):
        raise SyncRejected(f"feed {snap.feed} returned the same interruption rate twice")
    newer = _newer_elsewhere(conn, snap.feed, rows)
    for key in newer:
        del rows[key]
    held = set(snap.held)
    stored = _load_feed(conn, snap.feed)
    not_seen = [key for key in stored if key not in rows]
    covered = [k for k in not_seen if _matches(stored[k], snap.unchanged)]
    as_is = {k for k in not_seen if k in held or _matches(stored[k], snap.unconfirmed)}
    keep = set(covered) | as_is
    withdraw = [key for key in not_seen if key not in keep]
    if (
        min_share_of_live is not None
        and stored
        and len(rows) + len(newer) + len(keep) < min_share_of_live * len(stored)
    ):
        raise SyncRejected(
            f"feed {snap.feed} returned {len(rows) + len(newer) + len(keep)} interruption rates "
            f"(seen or unchanged) where {len(stored)} were stored before, less than "
            f"{min_share_of_live:.0%} of them: not applied, the stored rates stay (use "
            "--force to apply it anyway)"
        )
    # Only rows that differ are written (a row of another feed differs in ``feed``), so a
    # replay of the same recording changes nothing and leaves the store version alone.
    write = [row for key, row in rows.items() if stored.get(key) != row]
    confirm = [key for key in covered if stored[key]["observed_at"] != now]
    _upsert(conn, write)
    _delete(conn, withdraw)
    for key in confirm:
        conn.execute(update(_rates).where(_key_is(key)).values(observed_at=now))
    new = sum(1 for key in rows if key not in stored)
    changed = sum(1 for key in rows if key in stored and _differs(stored[key], rows[key]))
    return RateChanges(
        seen=len(rows) + len(newer),
        new=new,
        changed=changed,
        unchanged=len(rows) - new - changed + len(newer) + len(keep),
        withdrawn=len(withdraw),
        active=bool(rows or withdraw),
        wrote=bool(write or withdraw),
        confirmed=bool(confirm),
    )


def _newer_elsewhere(
    conn: Connection, feed: str, rows: Mapping[RateKey, Mapping[str, Any]]
) -> list[RateKey]:
    """Keys of ``rows`` that another feed holds with a newer observation."""
    stmt = select(_rates.c.provider, _rates.c.region, _rates.c.instance_type, _rates.c.observed_at)
    newer = []
    for provider, region, instance_type, observed_at in conn.execute(
        stmt.where(_rates.c.feed != feed)
    ):
        row = rows.get((provider, region, instance_type))
        if row is not None and observed_at > row["observed_at"]:
            newer.append((provider, region, instance_type))
    return newer


def _status(snap: InterruptionSnapshot, active: bool) -> SyncStatus:
    quiet = not active and (snap.unchanged or snap.unconfirmed)
    return SyncStatus.UNCHANGED if quiet else SyncStatus.OK


def _check_matches(matches: Sequence[Mapping[str, str]]) -> None:
    for match in matches:
        unknown = set(match) - RATE_MATCH_COLUMNS
        if unknown:
            raise SyncRejected(
                f"an unchanged match names {sorted(unknown)}; interruption rates can be matched "
                f"on {sorted(RATE_MATCH_COLUMNS)} only"
            )


def _matches(row: Mapping[str, Any], matches: Sequence[Mapping[str, str]]) -> bool:
    return any(all(row[c] == v for c, v in match.items()) for match in matches)


def _differs(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    return any(before[c] != after[c] for c in _VALUE)


def _row(rate: InterruptionRate, feed: str, now: datetime) -> dict[str, Any]:
    return {
        "provider": rate.provider,
        "region": rate.region,
        "instance_type": rate.instance_type,
        "feed": feed,
        "bucket": rate.bucket,
        "bucket_label": rate.bucket_label,
        "interruption_min_percent": rate.interruption_min_percent,
        "interruption_max_percent": rate.interruption_max_percent,
        "savings_percent": rate.savings_percent,
        "source": encode_source(rate.source),
        "observed_at": rate.observed_at or now,
    }


def _load_feed(conn: Connection, feed: str) -> dict[RateKey, dict[str, Any]]:
    rows = conn.execute(select(_rates).where(_rates.c.feed == feed)).mappings()
    return {(r["provider"], r["region"], r["instance_type"]): dict(r) for r in rows}


def _key_is(key: RateKey) -> Any:
    provider, region, instance_type = key
    return and_(
        _rates.c.provider == provider,
        _rates.c.region == region,
        _rates.c.instance_type == instance_type,
    )


def _upsert(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(_rates)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(_KEY),
        set_={c.name: stmt.excluded[c.name] for c in _rates.c if c.name not in _KEY},
    )
    conn.execute(stmt, rows)


def _delete(conn: Connection, keys: Sequence[RateKey]) -> None:
    if not keys:
        return
    stmt = delete(_rates).where(
        _rates.c.provider == bindparam("k_provider"),
        _rates.c.region == bindparam("k_region"),
        _rates.c.instance_type == bindparam("k_instance_type"),
    )
    conn.execute(stmt, [{"k_provider": p, "k_region": r, "k_instance_type": i} for p, r, i in keys])
