"""Scheduled syncing: one job per feed, run by exactly one leader among the processes.

:class:`SchedulerService` is the process (stand by, lead, hand over), :mod:`.jobs` the jobs of
one term as leader, :mod:`.schedule` the settings and the timing rules, :mod:`.locks` the
leader lock. What it promises is in ``docs/scheduler.md``.
"""

from __future__ import annotations

from aggregator.scheduler.schedule import (
    SchedulerSettings,
    feed_interval,
    intervals,
    parse_duration,
    retry_delay,
)
from aggregator.scheduler.service import SchedulerService

__all__ = [
    "SchedulerService",
    "SchedulerSettings",
    "feed_interval",
    "intervals",
    "parse_duration",
    "retry_delay",
]
