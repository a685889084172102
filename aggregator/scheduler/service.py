"""The scheduler process: stand by, win the leader lock, run the feed jobs, hand over."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

from sqlalchemy import Engine

from aggregator.logs import log_context
from aggregator.plugins import FeedRef, Registry
from aggregator.scheduler.jobs import FeedJobs
from aggregator.scheduler.locks import LeaderLock, leader_lock
from aggregator.scheduler.schedule import SchedulerSettings
from aggregator.settings import Settings
from aggregator.sync import SyncOutcome

__all__ = ["SchedulerService"]

log = logging.getLogger("aggregator.scheduler")


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
        jobs = FeedJobs(
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
