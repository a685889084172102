"""The APScheduler jobs of one term as leader: one per feed, with retries after failures."""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from aggregator.logs import log_context
from aggregator.models import SyncStatus, utcnow
from aggregator.plugins import FeedRef, Registry
from aggregator.scheduler.schedule import SchedulerSettings, feed_interval, retry_delay
from aggregator.settings import Settings
from aggregator.sync import SyncOutcome, sync_feeds
from db import store

__all__ = ["FeedJobs"]

log = logging.getLogger("aggregator.scheduler")

_STARTUP_SPREAD_SECONDS = 5.0


@dataclass
class _Running:
    loop: asyncio.AbstractEventLoop | None = None
    task: asyncio.Task[Any] | None = None


class FeedJobs:
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
