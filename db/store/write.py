"""Storing a feed snapshot: one write transaction per feed sync, and the statements in it.

One transaction, so readers see a feed entirely before or entirely after a sync, never half of
one, and a rejected or failing sync changes nothing. The diff and its guards
(:mod:`db.store.diff`) are computed inside it, after the feed's lock, so two overlapping syncs
of a feed never diff against the same old state. Offers and history intervals go in through
:mod:`db.store.bulk`; withdrawals, kept offers and closed intervals are updated by id in
chunks that stay under both databases' bound-parameter limits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Dialect, Engine, delete, update

from aggregator.errors import SyncRejected
from aggregator.models import Offer, SyncRun, SyncStatus
from db.engine import store_errors, write_transaction
from db.store.bulk import bulk_insert
from db.store.diff import (
    FeedSnapshot,
    Plan,
    check_jumps,
    diff,
    load_feed,
    load_other_feeds,
    newer_elsewhere,
    validate_snapshot,
)
from db.store.feed_txn import (
    MAX_UNKNOWN_NAMES,
    bump_version,
    lock_feed,
    replace_feed_state,
    require_aware,
)
from db.store.interruptions import InterruptionSnapshot, RateChanges, store_rates
from db.store.rows import (
    FIRST_SEEN,
    HISTORY_LAYOUT,
    ID,
    OFFER_LAYOUT,
    TupleRow,
    encode_source,
    offer_row,
    timestamp_param,
)
from db.store.runs import save_run
from db.tables import offers
from db.tables import price_history as _history

__all__ = ["MAX_UNKNOWN_NAMES", "apply_snapshot", "refresh_statistics"]

# Ids per IN (...) list: well under SQLite's 32766 and PostgreSQL's 65535 bound parameters.
_CHUNK = 5000


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
      its history continuing), unless that feed's observation is newer (its ``observed_at``,
      or its ``withdrawn_at`` for a withdrawn offer, after this one's): then the offer stays
      as it is, counted as seen and unchanged. The newer observation wins.
    - price history: an offer that is new, or comes back after being withdrawn, opens an
      interval at ``now``; one whose price, upfront fee or currency changed has its open
      interval closed at ``now`` and a new one opened; an unchanged price writes nothing.
    - live offers of this feed that were not seen are kept (``observed_at = now``) when they
      match one of ``snap.unchanged``, otherwise withdrawn (``withdrawn_at = now``, open
      interval closed). Offers already withdrawn stay as they are.
      Offers matching one of ``snap.unconfirmed`` are kept exactly as they are.
    - a relay feed's ``snap.rates`` replace its interruption rates
      (:func:`db.store.interruptions.store_rates`, with the same shrink guard).
    - the feed's ``feed_state`` is replaced by ``snap.state``.

    ``now`` is the sync's timestamp for all of these and the run's ``finished_at``. The store
    version rises when any offer or rate row was written: a sync that kept everything as it
    was (an unchanged export) leaves it, and the export's ``ETag``, as they were.

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
    require_aware(now, "now")
    require_aware(snap.started_at, "snap.started_at")
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
    if snap.pasts:
        rows = [_first_seen_there(row, snap, engine.dialect) for row in rows]
    match_columns = validate_snapshot(snap, rows)

    with store_errors(engine, f"storing feed {snap.feed}"), write_transaction(engine) as conn:
        lock_feed(conn, snap.feed)
        stored = load_feed(conn, snap.feed, match_columns)
        moved = load_other_feeds(conn, snap.feed, rows, stored)
        newer = newer_elsewhere(snap, rows, moved, now)
        if newer:
            rows = [row for index, row in enumerate(rows) if index not in newer]
        plan = diff(snap, rows, stored, moved, match_columns, now_param)
        seen_or_kept = len(rows) + len(newer) + len(plan.keep_ids) + plan.held
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
            check_jumps(snap, plan, jump_share, jump_factor)
        rates = _store_relayed_rates(conn, snap, now, min_share_of_live)

        if snap.pasts:
            _adopt_pasts(conn, plan, snap, engine.dialect)
        _upsert_offers(conn, rows)
        _close_intervals(conn, plan.close_ids, now)
        bulk_insert(conn, _history, HISTORY_LAYOUT, plan.history_rows, upsert=False)
        for chunk in _chunks(plan.withdraw_ids):
            conn.execute(update(offers).where(offers.c.id.in_(chunk)).values(withdrawn_at=now))
        for chunk in _chunks(plan.keep_ids):
            conn.execute(update(offers).where(offers.c.id.in_(chunk)).values(observed_at=now))
        replace_feed_state(conn, snap.feed, snap.state)

        quiet = not (rows or plan.new or plan.changed or plan.withdraw_ids)
        quiet = quiet and not (rates is not None and rates.active)
        said_unchanged = bool(snap.unchanged or snap.unconfirmed)
        run = SyncRun(
            feed=snap.feed,
            provider=snap.provider,
            started_at=snap.started_at,
            finished_at=now,
            status=SyncStatus.UNCHANGED if quiet and said_unchanged else SyncStatus.OK,
            seen=len(rows) + len(newer),
            new=plan.new,
            changed=plan.changed,
            unchanged=plan.unchanged_seen + len(newer) + len(plan.keep_ids) + plan.kept_as_is,
            withdrawn=len(plan.withdraw_ids),
            rejected=snap.rejected,
            unknown=snap.unknown,
            unknown_names=sorted(set(snap.unknown_names))[:MAX_UNKNOWN_NAMES],
        )
        run = save_run(conn, run.model_copy(update={"id": run_id}))
        wrote_rates = rates is not None and (rates.wrote or rates.confirmed)
        if rows or plan.keep_ids or plan.withdraw_ids or wrote_rates:
            bump_version(conn)  # last: the row lock it takes is held only until the commit
        return run


def _store_relayed_rates(
    conn: Connection, snap: FeedSnapshot, now: datetime, min_share_of_live: float | None
) -> RateChanges | None:
    """A relay feed's interruption rates, stored with its offers (``None``: not a relay)."""
    if snap.rates is None:
        return None
    rates = InterruptionSnapshot(
        feed=snap.feed,
        provider=snap.provider,
        unchanged=snap.unchanged,
        unconfirmed=snap.unconfirmed,
        state=snap.state,
        started_at=snap.started_at,
        rates=snap.rates,
        held=snap.rates_held,
    )
    return store_rates(conn, rates, now=now, min_share_of_live=min_share_of_live)


def _first_seen_there(row: TupleRow, snap: FeedSnapshot, dialect: Dialect) -> TupleRow:
    """A relayed offer's row with the first-seen time of the store it comes from (used only
    when the offer is inserted here)."""
    past = snap.pasts.get(row[ID])
    if past is None:
        return row
    first_seen = timestamp_param(dialect, past[0])
    return (*row[:FIRST_SEEN], first_seen, *row[FIRST_SEEN + 1 :])


def _adopt_pasts(conn: Connection, plan: Plan, snap: FeedSnapshot, dialect: Dialect) -> None:
    """Relayed offers stored new or at a new price take their price intervals from the store
    they come from, replacing what this store had of them, so their history reads alike;
    the history rows of ``plan`` are changed to do it."""
    adopted = {row[0] for row in plan.history_rows if row[0] in snap.pasts}
    if not adopted:
        return
    stamps: dict[datetime, Any] = {}

    def stamp(value: datetime | None) -> Any:
        if value is None:
            return None
        if value not in stamps:
            stamps[value] = timestamp_param(dialect, value)
        return stamps[value]

    plan.close_ids = [offer_id for offer_id in plan.close_ids if offer_id not in adopted]
    kept = [row for row in plan.history_rows if row[0] not in adopted]
    for offer_id in sorted(adopted):
        for interval in snap.pasts[offer_id][1]:
            kept.append(
                (
                    offer_id,
                    interval.price_per_hour,
                    interval.upfront,
                    interval.currency,
                    encode_source(interval.source),
                    stamp(interval.valid_from),
                    stamp(interval.valid_to),
                )
            )
    plan.history_rows = kept
    for chunk in _chunks(sorted(adopted)):
        conn.execute(delete(_history).where(_history.c.offer_id.in_(chunk)))


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


def _chunks(items: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield list(items[start : start + _CHUNK])
