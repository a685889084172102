"""The sync-run log: one ``sync_runs`` row per sync, from ``running`` to how it ended.

A sync records its start (:func:`start_run`) before fetching, so a process that dies mid-sync
leaves a ``running`` row behind. Nothing can mark that row when the process dies, so its age
decides instead: a ``running`` row older than :func:`running_lifetime` is shown as
``interrupted`` when read (:func:`latest_runs`) and recorded so by the feed's next start. A
successful run is written by :func:`db.store.apply_snapshot` in the transaction that stores its
prices (through :func:`save_run`); every other end by :func:`record_failed_run`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, exists, func, insert, select, update

from aggregator.models import SyncRun, SyncStatus, utcnow
from db.engine import store_errors, write_transaction
from db.store.rows import run_values, sync_run
from db.tables import sync_runs

__all__ = [
    "consecutive_failures",
    "last_good_run",
    "latest_runs",
    "record_failed_run",
    "running_lifetime",
    "save_run",
    "start_run",
    "sync_run_counts",
]

_GOOD_STATUSES = (SyncStatus.OK.value, SyncStatus.UNCHANGED.value)
_FAILED_STATUSES = (SyncStatus.FAILED.value, SyncStatus.INTERRUPTED.value)
_ENDED_STATUSES = (SyncStatus.FAILED, SyncStatus.NOT_CONFIGURED, SyncStatus.INTERRUPTED)
# How long a sync may go on storing after its fetch deadline (a 100k-offer apply takes seconds).
_STORE_GRACE = timedelta(minutes=10)


def record_failed_run(engine: Engine, run: SyncRun) -> SyncRun:
    """Record a sync that stored nothing (``failed``, ``not_configured`` or ``interrupted``).

    A run with an ``id`` (the row :func:`start_run` wrote) replaces that row; one without is
    inserted. Returns the run with its id. Runs in its own transaction and touches no other
    table, so the last good prices stay. An ``interrupted`` run replaces its row only while that
    is still ``running``: a cancelled sync's store transaction may have committed meanwhile,
    and its own record then stands.
    """
    if run.status not in _ENDED_STATUSES:
        raise ValueError(
            "record_failed_run records failed, not_configured or interrupted runs, not "
            f"{run.status.value!r} (successful runs are written by apply_snapshot)"
        )
    with store_errors(engine, f"recording a run of {run.feed}"), write_transaction(engine) as conn:
        if run.status is SyncStatus.INTERRUPTED and run.id is not None:
            conn.execute(
                update(sync_runs)
                .where(sync_runs.c.id == run.id, sync_runs.c.status == SyncStatus.RUNNING.value)
                .values(**run_values(run))
            )
            return run
        return save_run(conn, run)


def running_lifetime(feed_timeout: float) -> timedelta:
    """How long after it started a ``running`` sync may still be alive.

    A sync's fetch stops at its deadline (``GPUHOURS_SYNC_FEED_TIMEOUT``, ``feed_timeout``
    seconds) and storing takes little more, so a row still ``running`` after this long belongs
    to a process that died (kill -9, power loss, a lost container): it is ``interrupted``.
    """
    return timedelta(seconds=feed_timeout) + _STORE_GRACE


def start_run(engine: Engine, run: SyncRun, *, lifetime: timedelta) -> SyncRun:
    """Record that a sync of ``run.feed`` starts now (a ``running`` row); returns it with id.

    In the same transaction, earlier ``running`` rows of the feed older than ``lifetime`` (see
    :func:`running_lifetime`) are recorded as ``interrupted``: their process died without
    finishing them. Younger ones may be a sync still going on in another process and are left.
    """
    if run.status is not SyncStatus.RUNNING or run.id is not None:
        raise ValueError("start_run records a new run with status 'running'")
    cutoff = run.started_at - lifetime
    doing = f"recording the start of a sync of {run.feed}"
    with store_errors(engine, doing), write_transaction(engine) as conn:
        dead = conn.execute(
            select(sync_runs.c.id, sync_runs.c.started_at).where(
                sync_runs.c.feed == run.feed,
                sync_runs.c.status == SyncStatus.RUNNING.value,
                sync_runs.c.started_at < cutoff,
            )
        ).all()
        for dead_id, dead_started in dead:
            note = _interrupted_note(dead_started)
            conn.execute(
                update(sync_runs)
                .where(sync_runs.c.id == dead_id)
                .values(status=SyncStatus.INTERRUPTED.value, error=note)
            )
        return save_run(conn, run)


def save_run(conn: Connection, run: SyncRun) -> SyncRun:
    """Write ``run``: over its row when it has an id (and the row exists), else as a new row."""
    values = run_values(run)
    if run.id is not None:
        result = conn.execute(update(sync_runs).where(sync_runs.c.id == run.id).values(**values))
        if result.rowcount:
            return run
    result = conn.execute(insert(sync_runs).values(**values))
    (run_id,) = result.inserted_primary_key or (None,)
    return run.model_copy(update={"id": run_id})


def _interrupted_note(started: datetime) -> str:
    return (
        f"the sync started {started:%Y-%m-%d %H:%M:%S} UTC never finished: its process died "
        "or was killed; nothing was changed"
    )


def _as_seen(run: SyncRun, cutoff: datetime | None) -> SyncRun:
    """``run``, shown as ``interrupted`` if it is ``running`` but started before ``cutoff``."""
    if cutoff is None or run.status is not SyncStatus.RUNNING or run.started_at >= cutoff:
        return run
    return run.model_copy(
        update={"status": SyncStatus.INTERRUPTED, "error": _interrupted_note(run.started_at)}
    )


def last_good_run(engine: Engine, feed: str) -> SyncRun | None:
    """The newest ``ok`` or ``unchanged`` run of ``feed``: when its prices were last confirmed."""
    stmt = (
        select(sync_runs)
        .where(sync_runs.c.feed == feed, sync_runs.c.status.in_(_GOOD_STATUSES))
        .order_by(sync_runs.c.started_at.desc(), sync_runs.c.id.desc())
        .limit(1)
    )
    with store_errors(engine, "reading sync runs"), engine.connect() as conn:
        row = conn.execute(stmt).first()
    return sync_run(row) if row is not None else None


def latest_runs(
    engine: Engine,
    *,
    good_only: bool = False,
    lifetime: timedelta | None = None,
    now: datetime | None = None,
) -> dict[str, SyncRun]:
    """The newest run of every feed that has one, keyed by feed.

    Whatever its status, or with ``good_only`` the newest ``ok``/``unchanged`` one: what
    :func:`last_good_run` answers for one feed, for all feeds in one query. With ``lifetime``
    (see :func:`running_lifetime`) a ``running`` run that started longer ago than that before
    ``now`` (default: the current time) is returned as ``interrupted``: its process died.
    """
    cutoff = None if lifetime is None else (now or utcnow()) - lifetime
    runs = select(sync_runs)
    if good_only:
        runs = runs.where(sync_runs.c.status.in_(_GOOD_STATUSES))
    runs_sq = runs.subquery()
    ranked = select(
        runs_sq,
        func.row_number()
        .over(
            partition_by=runs_sq.c.feed,
            order_by=(runs_sq.c.started_at.desc(), runs_sq.c.id.desc()),
        )
        .label("rank"),
    ).subquery()
    stmt = select(*(ranked.c[c.name] for c in sync_runs.columns)).where(ranked.c.rank == 1)
    with store_errors(engine, "reading sync runs"), engine.connect() as conn:
        rows = conn.execute(stmt.order_by(ranked.c.feed)).all()
    return {row.feed: _as_seen(sync_run(row), cutoff) for row in rows}


def consecutive_failures(engine: Engine) -> dict[str, int]:
    """Per feed, how many runs failed since its last good (``ok``/``unchanged``) run.

    ``interrupted`` runs count as failures. Feeds with none are left out. ``not_configured``
    and ``running`` runs are neither failures nor good.
    """
    r = sync_runs.alias("r")
    g = sync_runs.alias("g")
    later_good = exists().where(
        g.c.feed == r.c.feed, g.c.status.in_(_GOOD_STATUSES), g.c.started_at >= r.c.started_at
    )
    stmt = (
        select(r.c.feed, func.count())
        .where(r.c.status.in_(_FAILED_STATUSES), ~later_good)
        .group_by(r.c.feed)
    )
    with store_errors(engine, "counting failed sync runs"), engine.connect() as conn:
        return {feed: int(count) for feed, count in conn.execute(stmt)}


def sync_run_counts(engine: Engine) -> dict[tuple[str, str], int]:
    """How many sync runs the store has recorded, by (feed, status)."""
    stmt = select(sync_runs.c.feed, sync_runs.c.status, func.count()).group_by(
        sync_runs.c.feed, sync_runs.c.status
    )
    with store_errors(engine, "counting sync runs"), engine.connect() as conn:
        return {(feed, status): int(n) for feed, status, n in conn.execute(stmt)}
