"""Repository functions over the price store: the only code that reads or writes its tables.

Every function takes the :class:`~sqlalchemy.Engine` first and opens its own connection, so
callers never hold transactions. Database failures surface as
:class:`~aggregator.errors.StoreError` (message names the redacted URL, never SQL or secrets).

The write path, :func:`apply_snapshot`, is one transaction per feed sync (DESIGN.md section 6):
readers see the feed entirely before or entirely after a sync, never half of one, and a
rejected or failing sync changes nothing. Bulk writes use plain tuple rows handed to the driver
(``INSERT .. ON CONFLICT DO UPDATE`` executemany on SQLite, ``COPY`` on PostgreSQL, see
:mod:`db.store.bulk`); ORM objects and ``session.merge()`` are avoided on purpose (about 30x
slower at 100k offers). ``bench/bench_upsert.py`` prints what that achieves.

The offer reads (``data_version``, ``query_offers``, ``query_offer_records``, ``get_offer``,
``price_history``) live in :mod:`db.read`, which needs no SQLAlchemy on SQLite, and are
re-exported here under the same names; they also accept a :class:`db.reader.Reader`.

Readers: every read runs in a transaction (SQLite snapshot under WAL; on PostgreSQL a single
statement, or a ``REPEATABLE READ`` transaction where a read takes several statements), so it
sees each feed wholly before or wholly after any sync.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    delete,
    insert,
    select,
    text,
    update,
)

from aggregator.errors import SyncRejected
from aggregator.models import (
    Offer,
    SyncRun,
    SyncStatus,
)
from aggregator.price_sanity import price_problem
from db.engine import store_errors, write_transaction
from db.offer_sql import OfferQuery, glob_to_like
from db.read import (
    OfferRecord,
    data_version,
    get_offer,
    price_history,
    query_offer_records,
    query_offers,
)
from db.store.bulk import bulk_insert
from db.store.reads import live_offer_count, live_offer_counts, load_feed_state, on_demand_prices
from db.store.rows import (
    CURRENCY,
    GPU_COUNT,
    HISTORY_LAYOUT,
    ID,
    INSTANCE_TYPE,
    OFFER_LAYOUT,
    OPTION,
    PRICE,
    PROVIDER,
    REGION,
    SOURCE,
    UPFRONT,
    TupleRow,
    offer_row,
    timestamp_param,
)
from db.store.runs import (
    consecutive_failures,
    last_good_run,
    latest_runs,
    record_failed_run,
    running_lifetime,
    save_run,
    start_run,
    sync_run_counts,
)
from db.tables import (
    OFFER_MATCH_COLUMNS,
    feed_state,
    offers,
    store_version,
)
from db.tables import price_history as _history

__all__ = [
    "FeedSnapshot",
    "OfferQuery",
    "OfferRecord",
    "apply_snapshot",
    "consecutive_failures",
    "data_version",
    "get_offer",
    "glob_to_like",
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
    "running_lifetime",
    "start_run",
    "sync_run_counts",
]

MAX_UNKNOWN_NAMES = 50
"""Most unknown names a run keeps (sorted): enough to see what to add to a table."""

# Ids per IN (...) list: well under SQLite's 32766 and PostgreSQL's 65535 bound parameters.
_CHUNK = 5000


@dataclass
class FeedSnapshot:
    """Everything one successful fetch of a feed produced, ready to be stored.

    ``offers`` are validated and unique by natural key. ``unchanged`` lists parts of the feed the
    source reported as not modified (e.g. an AWS region whose offer file version did not
    change): each is a match on offer columns (see :data:`db.tables.OFFER_MATCH_COLUMNS`, values
    compared as text); ``{}`` matches the whole feed. Stored live offers that were not seen but
    match one are kept. ``state`` replaces the feed's persisted state (ETags, versions) as a
    whole. ``held`` are ids of offers the feed returned with prices that could not be used
    (implausible): stored ones stay exactly as they are, neither withdrawn nor confirmed, so
    their last good price survives with its real age.
    """

    feed: str
    provider: str
    offers: list[Offer]
    unchanged: list[Mapping[str, str]]
    state: dict[str, str]
    started_at: datetime
    rejected: int = 0
    unknown: int = 0
    held: list[str] = field(default_factory=list)
    unknown_names: list[str] = field(default_factory=list)


class _Stored(NamedTuple):
    """What the diff needs to know about an offer already in the store."""

    price: tuple[float, float, str]  # price_per_hour, upfront, currency
    live: bool
    match_values: tuple[str, ...]  # values of the columns the unchanged matches name


_JUMP_EXAMPLES = 3


@dataclass
class _Plan:
    """The diff of a snapshot against the store, computed before anything is written."""

    history_rows: list[TupleRow] = field(default_factory=list)
    close_ids: list[str] = field(default_factory=list)  # open intervals to end at `now`
    withdraw_ids: list[str] = field(default_factory=list)
    keep_ids: list[str] = field(default_factory=list)
    held: int = 0  # live offers left as they were (see FeedSnapshot.held)
    new: int = 0
    changed: int = 0
    unchanged_seen: int = 0
    live_before: int = 0
    # (row, stored price per hour) of live offers seen at another price in the same currency
    repriced: list[tuple[TupleRow, float]] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Writing


def apply_snapshot(
    engine: Engine,
    snap: FeedSnapshot,
    *,
    now: datetime,
    min_share_of_live: float | None = None,
    jump_share: float | None = None,
    jump_factor: float = 10.0,
    run_id: int | None = None,
) -> SyncRun:
    """Store one feed's snapshot atomically and return the ``sync_runs`` record written.

    In one write transaction:

    - every offer in ``snap.offers`` is upserted with its own ``observed_at`` (when the
      response it came from was received; ``now`` if it has none) and ``withdrawn_at``
      cleared; ``first_seen`` is set only when the offer is inserted. The upsert also sets
      ``feed``: the last feed to see an offer owns it (an id stored under another feed moves,
      its history continuing).
    - price history: an offer that is new, or comes back after being withdrawn, opens an
      interval at ``now``; one whose price, upfront fee or currency changed has its open
      interval closed at ``now`` and a new one opened; an unchanged price writes nothing.
    - live offers of this feed that were not seen are kept (``observed_at = now``) when they
      match one of ``snap.unchanged``, otherwise withdrawn (``withdrawn_at = now``, open
      interval closed). Offers already withdrawn stay as they are.
    - the feed's ``feed_state`` is replaced by ``snap.state``.

    ``now`` is the sync's timestamp for all of these and the run's ``finished_at``.

    Guards, each raising :class:`SyncRejected` with nothing changed (the caller records the
    failed run):

    - with ``min_share_of_live`` set and L live offers in the feed before, fewer than
      ``min_share_of_live * L`` offers seen or kept;
    - with ``jump_share`` set, more than ``jump_share * L`` of those live offers seen at a
      price per hour more than ``jump_factor`` times higher or lower than the stored one, in
      the same currency (a broken source, not a market: the message names a few);
    - duplicate offers, or an ``unchanged`` match on an unknown column.

    ``run_id`` is the ``running`` row :func:`start_run` recorded for this sync: it becomes the
    finished run; without one a new row is inserted.

    Counts in the returned run: ``seen`` (len of offers), ``new`` (not live before: never stored
    or withdrawn), ``changed`` (price changed), ``unchanged`` (seen at the same price + kept by
    an unchanged match), ``withdrawn``, and ``rejected``/``unknown`` copied from the snapshot.
    The status is ``unchanged`` when nothing was seen, new, changed or withdrawn and the
    snapshot carried unchanged matches; ``ok`` otherwise.
    """
    _require_aware(now, "now")
    _require_aware(snap.started_at, "snap.started_at")
    now_param = timestamp_param(engine.dialect, now)
    seen_params: dict[datetime, Any] = {}  # offers share a few dates (one per response)

    def seen(offer: Offer) -> Any:
        when = offer.observed_at
        if when is None:
            return now_param
        if when not in seen_params:
            seen_params[when] = timestamp_param(engine.dialect, when)
        return seen_params[when]

    rows = [offer_row(offer, snap.feed, now_param, seen(offer)) for offer in snap.offers]
    match_columns = _validate_snapshot(snap, rows)

    with store_errors(engine, f"storing feed {snap.feed}"), write_transaction(engine) as conn:
        _lock_feed(conn, snap.feed)
        stored = _load_feed(conn, snap.feed, match_columns)
        moved = _load_other_feeds(conn, snap.feed, rows, stored)
        plan = _diff(snap, rows, stored, moved, match_columns, now_param)
        seen_or_kept = len(rows) + len(plan.keep_ids) + plan.held
        if (
            min_share_of_live is not None
            and plan.live_before
            and seen_or_kept < min_share_of_live * plan.live_before
        ):
            raise SyncRejected(
                f"feed {snap.feed} returned {seen_or_kept} offers (seen or unchanged) where "
                f"{plan.live_before} were live before, less than {min_share_of_live:.0%} of "
                "them: not applied, the stored prices stay (use --force to apply it anyway)"
            )
        if jump_share is not None:
            _check_jumps(snap, plan, jump_share, jump_factor)

        _upsert_offers(conn, rows)
        _close_intervals(conn, plan.close_ids, now)
        bulk_insert(conn, _history, HISTORY_LAYOUT, plan.history_rows, upsert=False)
        for chunk in _chunks(plan.withdraw_ids):
            conn.execute(update(offers).where(offers.c.id.in_(chunk)).values(withdrawn_at=now))
        for chunk in _chunks(plan.keep_ids):
            conn.execute(update(offers).where(offers.c.id.in_(chunk)).values(observed_at=now))
        _replace_feed_state(conn, snap.feed, snap.state)

        quiet = not (rows or plan.new or plan.changed or plan.withdraw_ids)
        run = SyncRun(
            feed=snap.feed,
            provider=snap.provider,
            started_at=snap.started_at,
            finished_at=now,
            status=SyncStatus.UNCHANGED if quiet and snap.unchanged else SyncStatus.OK,
            seen=len(rows),
            new=plan.new,
            changed=plan.changed,
            unchanged=plan.unchanged_seen + len(plan.keep_ids),
            withdrawn=len(plan.withdraw_ids),
            rejected=snap.rejected,
            unknown=snap.unknown,
            unknown_names=sorted(set(snap.unknown_names))[:MAX_UNKNOWN_NAMES],
        )
        run = save_run(conn, run.model_copy(update={"id": run_id}))
        _bump_version(conn)  # last: the row lock it takes is held only until the commit
        return run


def refresh_statistics(engine: Engine) -> None:
    """After syncs that wrote offers, let the database plan the offer read well; cheap.

    On PostgreSQL this is ``VACUUM (ANALYZE, SKIP_LOCKED) offers``: without statistics (a store
    just filled) the planner's cheapest-per-shape read picks the wrong index and takes
    0.1-0.6 s at 100k offers instead of 8-18 ms, and until a vacuum marks the new rows visible
    its index-only scans still read the table. ``SKIP_LOCKED``: when autovacuum or another
    sync is already at it, that one does the work. SQLite needs nothing (its read does not
    depend on statistics).
    """
    if engine.dialect.name != "postgresql":
        return
    doing = "refreshing the offers table's statistics"
    autocommit = {"isolation_level": "AUTOCOMMIT"}  # VACUUM cannot run in a transaction
    with store_errors(engine, doing), engine.connect().execution_options(**autocommit) as conn:
        conn.exec_driver_sql("VACUUM (ANALYZE, SKIP_LOCKED) offers")


# --------------------------------------------------------------------------------------------
# Internals


def _require_aware(value: datetime, name: str) -> None:
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime (UTC), got {value!r}")


def _validate_snapshot(snap: FeedSnapshot, rows: list[TupleRow]) -> tuple[str, ...]:
    """Check what the store relies on; return the columns the unchanged matches name."""
    ids = [row[ID] for row in rows]
    if len(set(ids)) != len(ids):
        first: dict[str, int] = {}
        for index, offer_id in enumerate(ids):
            if first.setdefault(offer_id, index) != index:
                break
        offer = snap.offers[index]
        raise SyncRejected(
            f"feed {snap.feed} returned the same offer more than once "
            f"({' / '.join(map(str, offer.natural_key()))}): not applied"
        )
    columns: set[str] = set()
    for match in snap.unchanged:
        unknown = set(match) - OFFER_MATCH_COLUMNS
        if unknown:
            raise SyncRejected(
                f"feed {snap.feed}: an unchanged match names unknown offer column(s) "
                f"{', '.join(sorted(unknown))} (known: {', '.join(sorted(OFFER_MATCH_COLUMNS))})"
            )
        columns.update(match)
    return tuple(sorted(columns))


def _lock_feed(conn: Connection, feed: str) -> None:
    """Serialize concurrent applies of the same feed on PostgreSQL.

    Without it two overlapping syncs of one feed could both diff against the same old state
    and write duplicate history intervals. SQLite needs nothing: ``BEGIN IMMEDIATE`` already
    admits one writer at a time.
    """
    if conn.dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(f"gpuhours:{feed}".encode()).digest()[:8], signed=True)
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _stored_columns(match_columns: tuple[str, ...] = ()) -> list[ColumnElement[Any]]:
    return [
        offers.c.id,
        offers.c.price_per_hour,
        offers.c.upfront,
        offers.c.currency,
        offers.c.withdrawn_at.is_(None).label("live"),
        *(offers.c[name] for name in match_columns),
    ]


def _stored(row: Sequence[Any]) -> _Stored:
    return _Stored(
        price=(row[1], row[2], row[3]),
        live=bool(row[4]),
        match_values=tuple(str(value) for value in row[5:]),
    )


def _load_feed(conn: Connection, feed: str, match_columns: tuple[str, ...]) -> dict[str, _Stored]:
    stmt = select(*_stored_columns(match_columns)).where(offers.c.feed == feed)
    return {row[0]: _stored(row) for row in conn.execute(stmt)}


def _load_other_feeds(
    conn: Connection, feed: str, rows: list[TupleRow], stored: dict[str, _Stored]
) -> dict[str, _Stored]:
    """Stored state of seen offers that currently belong to another feed (they move here).

    An id hashes the provider, so only other feeds of the same providers can hold one: their
    offers are read in one query (usually few or none) instead of probing every new id.
    """
    providers = {row[PROVIDER] for row in rows if row[ID] not in stored}
    if not providers:
        return {}
    seen = {row[ID] for row in rows}
    stmt = select(*_stored_columns()).where(
        offers.c.provider.in_(sorted(providers)), offers.c.feed != feed
    )
    return {row[0]: _stored(row) for row in conn.execute(stmt) if row[0] in seen}


def _diff(
    snap: FeedSnapshot,
    rows: list[TupleRow],
    stored: dict[str, _Stored],
    moved: dict[str, _Stored],
    match_columns: tuple[str, ...],
    now: Any,
) -> _Plan:
    """Classify seen offers (``stored``: this feed's, ``moved``: other feeds') and unseen ones."""
    plan = _Plan(live_before=sum(1 for before in stored.values() if before.live))
    for row in rows:
        offer_id = row[ID]
        before = stored.get(offer_id) or moved.get(offer_id)
        price = (row[PRICE], row[UPFRONT], row[CURRENCY])
        if before is not None and before.live and before.price == price:
            plan.unchanged_seen += 1
            continue
        if before is None or not before.live:
            plan.new += 1
        else:
            plan.changed += 1
            if before.price[2] == price[2]:
                plan.repriced.append((row, before.price[0]))
        if before is not None:
            # A withdrawn offer's interval is already closed; closing again is a harmless guard.
            plan.close_ids.append(offer_id)
        plan.history_rows.append((offer_id, *price, row[SOURCE], now, None))

    matches = [
        tuple((match_columns.index(col), value) for col, value in m.items()) for m in snap.unchanged
    ]
    seen_ids = {row[ID] for row in rows}
    held = set(snap.held)
    for offer_id, before in stored.items():
        if offer_id in seen_ids or not before.live:
            continue
        if offer_id in held:
            plan.held += 1
            continue
        values = before.match_values
        if any(all(values[i] == v for i, v in m) for m in matches):
            plan.keep_ids.append(offer_id)
        else:
            plan.withdraw_ids.append(offer_id)
            plan.close_ids.append(offer_id)
    return plan


class _Price(NamedTuple):
    """A stored price in the shape :func:`aggregator.price_sanity.price_problem` checks."""

    price_per_hour: float
    gpu_count: float
    currency: str


def _check_jumps(snap: FeedSnapshot, plan: _Plan, share: float, factor: float) -> None:
    """Refuse a snapshot that moves more than ``share`` of the live offers by ``factor``.

    A stored price that is itself implausible (see :mod:`aggregator.price_sanity`) moving back
    into bounds is a repair, not a jump, and does not count.
    """
    jumps = [
        (row, old)
        for row, old in plan.repriced
        if max(row[PRICE] / old, old / row[PRICE]) > factor
        and price_problem(_Price(old, row[GPU_COUNT], row[CURRENCY])) is None
    ]
    if not plan.live_before or len(jumps) <= share * plan.live_before:
        return
    examples = "; ".join(
        f"{row[INSTANCE_TYPE]} {row[REGION]} {row[OPTION]}: "
        f"{old:g} -> {row[PRICE]:g} {row[CURRENCY]}/h"
        for row, old in jumps[:_JUMP_EXAMPLES]
    )
    raise SyncRejected(
        f"feed {snap.feed} moved {len(jumps)} of its {plan.live_before} live offers' prices by "
        f"more than {factor:g}x (more than {share:.0%} of them), e.g. {examples}: looks like a "
        "broken source; not applied, the stored prices stay (if the prices are right, run "
        "`gpuhours sync --force` to apply them)"
    )


def _upsert_offers(conn: Connection, rows: list[TupleRow]) -> None:
    """Insert or update offers by id; ``first_seen`` is kept from the first insert."""
    bulk_insert(conn, offers, OFFER_LAYOUT, rows, upsert=True)


def _close_intervals(conn: Connection, offer_ids: list[str], now: datetime) -> None:
    for chunk in _chunks(offer_ids):
        conn.execute(
            update(_history)
            .where(_history.c.offer_id.in_(chunk), _history.c.valid_to.is_(None))
            .values(valid_to=now)
        )


def _replace_feed_state(conn: Connection, feed: str, state: Mapping[str, str]) -> None:
    conn.execute(delete(feed_state).where(feed_state.c.feed == feed))
    if state:
        conn.execute(
            insert(feed_state),
            [{"feed": feed, "key": key, "value": value} for key, value in state.items()],
        )


def _bump_version(conn: Connection) -> None:
    conn.execute(
        update(store_version)
        .where(store_version.c.id == 1)
        .values(version=store_version.c.version + 1)
    )


def _chunks(items: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield list(items[start : start + _CHUNK])
