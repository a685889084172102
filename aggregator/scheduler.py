"""Scheduled syncing: one APScheduler job per feed, run by exactly one leader process.

What is promised (DESIGN section 9, issue 5):

* **One job per feed** at the feed's ``default_interval``, overridden per feed or per provider
  by ``GPUHOURS_SCHEDULE`` (JSON: ``{"aws/spot": "5m", "gcp": "12h", "azure/retail": "off"}``;
  a number is seconds). Jobs use APScheduler 3.x's in-memory job store (never shared between
  processes), ``max_instances=1``, ``coalesce=True``, a jitter of ``GPUHOURS_SCHEDULE_JITTER``
  of the interval (at most ``GPUHOURS_SCHEDULE_MAX_JITTER_SECONDS``) and an explicit
  ``misfire_grace_time`` (``GPUHOURS_SCHEDULE_MISFIRE_GRACE_SECONDS``, at most half the
  interval), so a late run happens once instead of piling up or being silently dropped after
  APScheduler's default of one second.
* **Start-up**: a feed that never synced successfully, or whose last good sync is older than
  its interval, runs at once (spread over a few seconds); the others run one interval after
  their last good sync.
* **Retries**: a failed sync is retried after ``GPUHOURS_SYNC_RETRY_BASE_SECONDS`` doubling per
  consecutive failure up to ``GPUHOURS_SYNC_RETRY_MAX_SECONDS`` (never later than the next
  regular run). The count starts from the store, so backoff survives a change of leader; it is
  visible in ``/v1/providers`` (``consecutive_failures``) and ``/metrics``.
* **One leader**: only the process holding the leader lock (:mod:`aggregator.locks`) runs jobs.
  Others wait as standbys, polling every ``GPUHOURS_LEADER_POLL_SECONDS``, and take over when the
  leader dies. The leader re-checks its lock as often and stops scheduling if it lost it.
* **Clean shutdown**: :meth:`SchedulerService.stop` (SIGTERM, SIGINT) stops starting syncs,
  lets running ones finish for ``GPUHOURS_SHUTDOWN_GRACE_SECONDS`` and then cancels them. A
  sync's writes are one transaction (:func:`db.store.apply_snapshot`), so a cancelled or killed
  sync leaves the store as it was. Then the lock is released so a standby takes over at once.
* Every sync logs ``sync started`` / ``sync finished`` with ``feed``, ``run_id``, ``status`` and
  ``duration_seconds`` (JSON through :mod:`aggregator.logs`); the feed's own log lines carry the
  same ``feed`` and ``run_id``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from pydantic import Field, field_validator
from sqlalchemy import Engine

from aggregator.locks import LeaderLock, leader_lock
from aggregator.logs import log_context
from aggregator.models import SyncStatus, utcnow
from aggregator.plugins import FeedRef, Registry
from aggregator.settings import GpuhoursSettings, Settings
from aggregator.sync import SyncOutcome, sync_feeds
from db import store

__all__ = [
    "SchedulerService",
    "SchedulerSettings",
    "feed_interval",
    "intervals",
    "parse_duration",
    "retry_delay",
]

log = logging.getLogger(__name__)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
_OFF = frozenset({"off", "never", "disabled", "0"})
_STARTUP_SPREAD_SECONDS = 5.0


def parse_duration(value: str | float) -> float | None:
    """Seconds in ``value`` (``90``, ``"90s"``, ``"15m"``, ``"6h"``, ``"1d"``); None for "off"."""
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"a duration must not be negative: {value}")
        return None if value == 0 else float(value)
    text = value.strip().lower()
    if text in _OFF:
        return None
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{value!r} is not a duration (e.g. 90, 90s, 15m, 6h, 1d, off)")
    seconds = float(match.group(1)) * _UNITS[(match.group(2) or "").lower()]
    return None if seconds == 0 else seconds


class SchedulerSettings(GpuhoursSettings):
    """The scheduler's settings, read from ``GPUHOURS_*`` like the core's."""

    schedule: dict[str, str | float] = Field(
        default_factory=dict,
        description="JSON map of feed id or provider name to an interval (15m, 6h, off)",
    )
    schedule_jitter: float = Field(default=0.1, ge=0, le=1, description="share of the interval")
    schedule_max_jitter_seconds: float = Field(default=300.0, ge=0)
    schedule_misfire_grace_seconds: float = Field(default=600.0, gt=0)
    sync_retry_base_seconds: float = Field(default=60.0, gt=0)
    sync_retry_max_seconds: float = Field(default=3600.0, gt=0)
    leader_poll_seconds: float = Field(default=5.0, gt=0)
    shutdown_grace_seconds: float = Field(default=20.0, ge=0)
    startup_sync: bool = Field(default=True, description="sync missing or stale feeds at start")
    scheduler_heartbeat_file: Path | None = Field(
        default=None, description="touched every poll, for a liveness probe"
    )

    @field_validator("schedule")
    @classmethod
    def _durations(cls, value: dict[str, str | float]) -> dict[str, str | float]:
        for key, interval in value.items():
            try:
                parse_duration(interval)
            except ValueError as exc:
                raise ValueError(f"[{key!r}]: {exc}") from None
        return value


def feed_interval(ref: FeedRef, settings: SchedulerSettings) -> float | None:
    """The interval in seconds at which ``ref`` syncs, or None when switched off.

    ``GPUHOURS_SCHEDULE`` is looked up by feed id, then provider name; otherwise the feed's own
    ``default_interval`` applies.
    """
    for key in (ref.id, ref.provider.name):
        if key in settings.schedule:
            return parse_duration(settings.schedule[key])
    seconds = ref.feed.default_interval.total_seconds()
    return seconds if seconds > 0 else None


def retry_delay(failures: int, *, base: float, cap: float, interval: float, jitter: float) -> float:
    """Seconds to wait before retrying a feed after ``failures`` consecutive failed syncs.

    ``base`` doubles per failure after the first (0 and 1 both give ``base``), stops growing at
    ``cap`` and at the feed's ``interval``, and is then scaled by 0.9 to 1.1 as ``jitter`` goes
    from 0 to 1 (a number in [0, 1), e.g. :func:`random.random`). The caller supplies the jitter
    so the schedule is a pure function, testable without a clock or a random generator.
    """
    exponent = max(0, min(failures - 1, 30))
    delay = min(base * float(1 << exponent), cap, interval)
    return delay * (0.9 + 0.2 * jitter)


def intervals(registry: Registry, sched: SchedulerSettings) -> Mapping[str, float | None]:
    """Every feed's interval in force (None = switched off), for the API and metrics."""
    return {feed_id: feed_interval(ref, sched) for feed_id, ref in registry.feeds.items()}


@dataclass
class _Running:
    loop: asyncio.AbstractEventLoop | None = None
    task: asyncio.Task[Any] | None = None


class _FeedJobs:
    """The APScheduler jobs of one term as leader: created on election, shut down after it."""

    def __init__(
        self,
        registry: Registry,
        engine: Engine,
        settings: Settings,
        sched: SchedulerSettings,
        instance: str,
        sync: Callable[[FeedRef], SyncOutcome] | None = None,
    ) -> None:
        self.registry = registry
        self.engine = engine
        self.settings = settings
        self.sched = sched
        self.instance = instance
        self._sync_override = sync
        self._guard = threading.Lock()
        self._running: dict[str, _Running] = {}
        self._stopping = False
        self._failures: dict[str, int] = {}
        self._intervals: dict[str, float] = {}
        feeds = max(len(registry.feeds), 1)
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=min(feeds, 16))},
            timezone=UTC,
        )

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Add one job per scheduled feed (due ones first) and start running them."""
        try:
            self._failures = store.consecutive_failures(self.engine)
        except Exception as exc:
            log.warning("could not read failure counts, starting from zero: %s", exc)
        now = utcnow()
        for feed_id, ref in sorted(self.registry.feeds.items()):
            interval = feed_interval(ref, self.sched)
            if interval is None:
                log.info("feed not scheduled (switched off)", extra={"feed": feed_id})
                continue
            self._intervals[feed_id] = interval
            first = self._first_run(ref, interval, now)
            jitter = min(
                interval * self.sched.schedule_jitter, self.sched.schedule_max_jitter_seconds
            )
            self._scheduler.add_job(
                self._run,
                trigger=IntervalTrigger(seconds=interval, jitter=jitter or None),
                args=[feed_id, "schedule"],
                id=feed_id,
                name=f"sync {feed_id}",
                next_run_time=first,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=self._grace(interval),
            )
            log.info(
                "feed scheduled",
                extra={
                    "feed": feed_id,
                    "interval_seconds": interval,
                    "jitter_seconds": jitter,
                    "first_run": first.isoformat(),
                },
            )
        self._scheduler.start()

    def stop(self, grace: float) -> None:
        """Start no more syncs; give running ones ``grace`` seconds, then cancel them."""
        with self._guard:
            self._stopping = True
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        deadline = time.monotonic() + grace
        while self._busy() and time.monotonic() < deadline:
            time.sleep(0.05)
        with self._guard:
            running = list(self._running.items())
        for feed_id, handle in running:
            if handle.loop is not None and handle.task is not None:
                log.warning("cancelling a running sync at shutdown", extra={"feed": feed_id})
                handle.loop.call_soon_threadsafe(handle.task.cancel)
        # A cancelled sync may be inside its store transaction; that finishes or rolls back.
        deadline = time.monotonic() + max(grace, 5.0)
        while self._busy() and time.monotonic() < deadline:
            time.sleep(0.05)

    def _busy(self) -> bool:
        with self._guard:
            return bool(self._running)

    # -- scheduling decisions ----------------------------------------------------------------

    def _first_run(self, ref: FeedRef, interval: float, now: datetime) -> datetime:
        try:
            good = store.last_good_run(self.engine, ref.id)
        except Exception as exc:
            log.warning(
                "could not read the last sync, syncing now: %s", exc, extra={"feed": ref.id}
            )
            good = None
        last = good.finished_at if good is not None else None
        due = last is None or (now - last).total_seconds() >= interval
        if due and self.sched.startup_sync:
            spread = min(_STARTUP_SPREAD_SECONDS, interval * self.sched.schedule_jitter)
            return now + timedelta(seconds=random.uniform(0, spread))
        if last is None:
            return now + timedelta(seconds=interval)
        return max(now, last + timedelta(seconds=interval))

    def _grace(self, interval: float) -> int:
        return max(1, int(min(self.sched.schedule_misfire_grace_seconds, interval / 2)))

    def _retry_delay(self, failures: int, interval: float) -> float:
        return retry_delay(
            failures,
            base=self.sched.sync_retry_base_seconds,
            cap=self.sched.sync_retry_max_seconds,
            interval=interval,
            jitter=random.random(),
        )

    # -- running one sync ----------------------------------------------------------------------

    def _run(self, feed_id: str, reason: str) -> None:
        ref = self.registry.feeds[feed_id]
        with self._guard:
            if self._stopping:
                return
            if feed_id in self._running:
                log.info("sync already running, skipped", extra={"feed": feed_id, "reason": reason})
                return
            self._running[feed_id] = _Running()
        run_id = uuid.uuid4().hex[:12]
        clock = time.monotonic()
        outcome: SyncOutcome | None = None
        try:
            with log_context(feed=feed_id, run_id=run_id, instance=self.instance):
                log.info("sync started", extra={"reason": reason})
                try:
                    outcome = self._sync(ref)
                except asyncio.CancelledError:
                    log.warning(
                        "sync cancelled at shutdown; the store is unchanged",
                        extra={"duration_seconds": round(time.monotonic() - clock, 3)},
                    )
                    return
                except Exception as exc:
                    log.error("sync crashed: %s: %s", type(exc).__name__, exc, exc_info=True)
                self._after(ref, outcome, time.monotonic() - clock)
        finally:
            with self._guard:
                self._running.pop(feed_id, None)

    def _sync(self, ref: FeedRef) -> SyncOutcome:
        if self._sync_override is not None:
            return self._sync_override(ref)
        return asyncio.run(self._sync_async(ref))

    async def _sync_async(self, ref: FeedRef) -> SyncOutcome:
        with self._guard:
            handle = self._running.get(ref.id)
            if handle is not None:
                handle.loop = asyncio.get_running_loop()
                handle.task = asyncio.current_task()
            stopping = self._stopping
        if stopping:
            raise asyncio.CancelledError
        (outcome,) = await sync_feeds([ref], self.registry, self.engine, self.settings)
        return outcome

    def _after(self, ref: FeedRef, outcome: SyncOutcome | None, seconds: float) -> None:
        run = outcome.run if outcome is not None else None
        status = run.status.value if run is not None else "crashed"
        fields: dict[str, Any] = {"status": status, "duration_seconds": round(seconds, 3)}
        if run is not None:
            fields.update(
                sync_run_id=run.id,
                seen=run.seen,
                new=run.new,
                changed=run.changed,
                withdrawn=run.withdrawn,
                rejected=run.rejected,
            )
        if run is not None and run.status in (SyncStatus.OK, SyncStatus.UNCHANGED):
            log.info("sync finished", extra=fields)
            self._failures.pop(ref.id, None)
            self._remove_retry(ref.id)
            return
        if run is not None and run.status is SyncStatus.NOT_CONFIGURED:
            log.warning("sync finished: feed not configured: %s", run.error, extra=fields)
            return
        failures = self._failures.get(ref.id, 0) + 1
        self._failures[ref.id] = failures
        log.warning(
            "sync finished: failed: %s",
            run.error if run is not None else "the sync raised",
            extra={**fields, "consecutive_failures": failures},
        )
        self._schedule_retry(ref.id, failures)

    def _schedule_retry(self, feed_id: str, failures: int) -> None:
        interval = self._intervals.get(feed_id)
        if interval is None:
            return
        delay = self._retry_delay(failures, interval)
        at = utcnow() + timedelta(seconds=delay)
        with self._guard:
            if self._stopping:
                return
            job = self._scheduler.get_job(feed_id)
            regular = job.next_run_time if job is not None else None
            if regular is not None and at >= regular:
                return  # the regular run comes first and serves as the retry
            self._scheduler.add_job(
                self._run,
                trigger=DateTrigger(run_date=at),
                args=[feed_id, "retry"],
                id=f"{feed_id}#retry",
                name=f"retry {feed_id}",
                replace_existing=True,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=self._grace(interval),
            )
        log.info(
            "sync retry scheduled",
            extra={"feed": feed_id, "retry_in_seconds": round(delay, 1), "attempt": failures + 1},
        )

    def _remove_retry(self, feed_id: str) -> None:
        with self._guard:
            if self._stopping:
                return
            if self._scheduler.get_job(f"{feed_id}#retry") is not None:
                self._scheduler.remove_job(f"{feed_id}#retry")


class SchedulerService:
    """Wait for the leader lock, run the feeds' jobs while holding it, stop cleanly.

    :meth:`run` blocks (``gpuhours scheduler`` runs it on the main thread);
    :meth:`start_in_thread` runs it beside the API (``gpuhours serve --scheduler``).
    """

    def __init__(
        self,
        registry: Registry,
        engine: Engine,
        settings: Settings,
        sched: SchedulerSettings | None = None,
        *,
        instance: str | None = None,
        sync: Callable[[FeedRef], SyncOutcome] | None = None,
    ) -> None:
        self.registry = registry
        self.engine = engine
        self.settings = settings
        self.sched = sched or SchedulerSettings()
        self.instance = instance or f"{socket.gethostname()}:{os.getpid()}"
        self._sync = sync
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.is_leader = threading.Event()

    def run(self) -> None:
        """Block until :meth:`stop`: standby until elected, then leader until stopped."""
        lock = leader_lock(self.engine)
        poll = self.sched.leader_poll_seconds
        announced_standby = False
        unreachable = ""
        with log_context(instance=self.instance):
            log.info(
                "scheduler started",
                extra={"lock": lock.description, "feeds": len(self.registry.feeds)},
            )
            try:
                while not self._stop.is_set():
                    self._heartbeat()
                    try:
                        elected = lock.try_acquire()
                        unreachable = ""
                    except Exception as exc:
                        if _short(exc) != unreachable:  # once per distinct failure, not per poll
                            log.warning("cannot reach the leader lock: %s", _short(exc))
                        unreachable, elected = _short(exc), False
                    if not elected:
                        if not announced_standby and not unreachable:
                            log.info("standby: another scheduler is the leader")
                            announced_standby = True
                        self._stop.wait(poll)
                        continue
                    announced_standby = False
                    self._lead(lock, poll)
                    lock.release()
            finally:
                lock.dispose()
                log.info("scheduler stopped")

    def _lead(self, lock: LeaderLock, poll: float) -> None:
        log.info("leader: scheduling syncs")
        jobs = _FeedJobs(
            self.registry, self.engine, self.settings, self.sched, self.instance, self._sync
        )
        self.is_leader.set()
        try:
            jobs.start()
            while not self._stop.wait(poll):
                self._heartbeat()
                if not lock.still_held():
                    log.error("leader lock lost: stopping scheduled syncs, back to standby")
                    break
        finally:
            self.is_leader.clear()
            jobs.stop(self.sched.shutdown_grace_seconds if self._stop.is_set() else 0.0)

    def _heartbeat(self) -> None:
        path = self.sched.scheduler_heartbeat_file
        if path is None:
            return
        try:
            path.touch()
        except OSError as exc:
            log.warning("cannot touch the heartbeat file %s: %s", path, exc)

    def stop(self) -> None:
        """Ask :meth:`run` to finish; when it runs in a thread, wait until it has."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def request_stop(self) -> None:
        """Ask :meth:`run` to finish without waiting (what a signal handler calls)."""
        self._stop.set()

    def start_in_thread(self) -> threading.Thread:
        """Run :meth:`run` in a daemon thread (``gpuhours serve --scheduler``)."""
        self._thread = threading.Thread(target=self.run, name="gpuhours-scheduler", daemon=True)
        self._thread.start()
        return self._thread


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
