"""What the scheduler runs when: its settings, each feed's interval and the retry delay."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import Field, field_validator

from aggregator.durations import parse_duration_seconds
from aggregator.plugins import FeedRef, Registry
from aggregator.settings import GpuhoursSettings

__all__ = ["SchedulerSettings", "feed_interval", "intervals", "parse_duration", "retry_delay"]

_OFF = frozenset({"off", "never", "disabled", "0"})


def parse_duration(value: str | float) -> float | None:
    """Seconds in a schedule interval (``90``, ``"90s"``, ``"15m"``, ``"6h"``, ``"1d"``,
    ``"1w"``; a bare number is seconds); ``None`` for "off"."""
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"a duration must not be negative: {value}")
        return None if value == 0 else float(value)
    if value.strip().lower() in _OFF:
        return None
    try:
        seconds = parse_duration_seconds(value, bare_unit="s")
    except ValueError:
        raise ValueError(
            f"{value!r} is not a duration (e.g. 90, 90s, 15m, 6h, 1d, 1w, off)"
        ) from None
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
