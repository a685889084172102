"""The scheduler in-process, on SQLite and PostgreSQL: schedules, start-up syncs, retries with
backoff, one leader at a time, and a shutdown that never leaves half a sync.

Intervals and waits are short (fractions of a second); every wait is bounded and every
scheduler started is stopped in ``finally``.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from aggregator import Feed, FetchContext, Provider, hookimpl
from aggregator.errors import ConfigurationError
from aggregator.models import SyncStatus
from aggregator.plugins import Registry, load_registry
from aggregator.scheduler import (
    SchedulerService,
    SchedulerSettings,
    feed_interval,
    parse_duration,
    retry_delay,
)
from aggregator.scheduler.jobs import FeedJobs
from aggregator.scheduler.locks import FileLock, LocalLock, leader_lock
from aggregator.settings import Settings
from aggregator.sync import sync_feeds
from db import store
from db.engine import make_engine
from tests.fake_plugins import STORE_TABLES, dump_tables, offer_row

Catalog = Callable[[list[dict[str, Any]]], Path]
FEED = "fakecloud/static"
FAST = {
    "leader_poll_seconds": 0.05,
    "schedule_jitter": 0.0,
    "shutdown_grace_seconds": 1.0,
}


def fast_settings(**overrides: Any) -> SchedulerSettings:
    schedule = overrides.pop("schedule", {FEED: "60s", "fakecloud/http": "off"})
    return SchedulerSettings(schedule=schedule, **{**FAST, **overrides})


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, step: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout}s")


def runs(engine: Engine, feed: str = FEED) -> list[str]:
    """Statuses of the feed's recorded runs, oldest first."""
    from sqlalchemy import select

    from db.tables import sync_runs

    with engine.connect() as conn:
        rows = conn.execute(
            select(sync_runs.c.status)
            .where(sync_runs.c.feed == feed)
            .order_by(sync_runs.c.started_at, sync_runs.c.id)
        )
        return [row.status for row in rows]


@contextmanager
def running(service: SchedulerService) -> Iterator[SchedulerService]:
    service.start_in_thread()
    try:
        yield service
    finally:
        service.stop()


def make_service(
    engine: Engine, sched: SchedulerSettings, registry: Registry | None = None, **kw: Any
) -> SchedulerService:
    settings = Settings(plugins="fakecloud", http_retries=0)
    return SchedulerService(
        registry if registry is not None else load_registry(settings), engine, settings, sched, **kw
    )


def sync_once(engine: Engine) -> None:
    settings = Settings(plugins="fakecloud", http_retries=0)
    registry = load_registry(settings)
    asyncio.run(sync_feeds(registry.select_feeds([FEED]), registry, engine, settings))


# -- settings --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("15m", 900), ("6h", 21600), ("1d", 86400), ("1.5h", 5400),
     (30, 30), ("off", None), ("never", None), ("0", None), (0, None),
     # the syntax of --deadline (aggregator.durations), a bare number aside
     ("1w", 604800), ("5 weeks", 3024000), ("2 days", 172800)],
)  # fmt: skip
def test_durations(text: str | float, seconds: float | None) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "-5", "5 fortnights", "", -1])
def test_bad_durations_are_refused(text: str | float) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_schedule_comes_from_one_json_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPUHOURS_SCHEDULE", '{"aws/spot": "5m", "gcp": 3600}')
    assert SchedulerSettings().schedule == {"aws/spot": "5m", "gcp": 3600}
    monkeypatch.setenv("GPUHOURS_SCHEDULE", '{"aws/spot": "sometimes"}')
    with pytest.raises(ConfigurationError, match=r"GPUHOURS_SCHEDULE: \['aws/spot'\]"):
        SchedulerSettings()


def test_a_feed_interval_is_its_own_then_its_providers_then_the_default(
    fake_plugins: None,
) -> None:
    registry = load_registry(Settings(plugins="fakecloud"))
    static, http = registry.feeds[FEED], registry.feeds["fakecloud/http"]
    defaults = SchedulerSettings()
    assert feed_interval(static, defaults) == 3600 and feed_interval(http, defaults) == 900
    by_provider = SchedulerSettings(schedule={"fakecloud": "2m", "fakecloud/http": "off"})
    assert feed_interval(static, by_provider) == 120
    assert feed_interval(http, by_provider) is None


# -- the retry-delay schedule (a pure function: no clock, no random generator) --------------------

BASE, CAP, HOUR = 60.0, 3600.0, 86400.0


def delay(failures: int, *, interval: float = HOUR, jitter: float = 0.5) -> float:
    """``retry_delay`` with round numbers; jitter 0.5 is the middle (a factor of exactly 1)."""
    return retry_delay(failures, base=BASE, cap=CAP, interval=interval, jitter=jitter)


def test_the_retry_delay_doubles_per_failure_from_the_base() -> None:
    assert [delay(n) for n in range(1, 6)] == [60, 120, 240, 480, 960]


def test_no_failure_and_one_failure_both_wait_the_base() -> None:
    assert delay(0) == delay(1) == BASE
    assert delay(-3) == BASE  # clamped, as the code defines it


def test_the_retry_delay_stops_growing_at_the_cap() -> None:
    assert [delay(n) for n in range(6, 10)] == [1920, 3600, 3600, 3600]  # 60 * 2**6 > 3600
    assert delay(10_000) == CAP  # the exponent is bounded; no overflow on a long outage


def test_the_retry_delay_never_passes_the_feed_interval() -> None:
    assert [delay(n, interval=300) for n in range(1, 6)] == [60, 120, 240, 300, 300]
    assert delay(1, interval=30) == 30  # even the first retry waits no longer than the interval


@pytest.mark.parametrize("failures", [1, 3, 7, 50])
def test_jitter_spreads_the_delay_by_ten_percent_either_way(failures: int) -> None:
    middle = delay(failures)
    assert delay(failures, jitter=0.0) == pytest.approx(middle * 0.9)
    assert delay(failures, jitter=1 - 2**-53) == pytest.approx(middle * 1.1)
    assert delay(failures, jitter=0.0) < delay(failures, jitter=0.25) < middle
    assert middle < delay(failures, jitter=0.75) < delay(failures, jitter=0.999)


def test_capped_delays_keep_their_jitter() -> None:
    assert delay(20, jitter=0.0) == pytest.approx(CAP * 0.9)
    assert delay(20, jitter=0.999) == pytest.approx(CAP * 1.0998)
    assert delay(20, interval=100, jitter=0.0) == pytest.approx(90)


seconds = st.floats(min_value=1e-3, max_value=1e7, allow_nan=False, allow_infinity=False)


@given(
    failures=st.integers(min_value=0, max_value=200),
    base=seconds,
    cap=seconds,
    interval=seconds,
    jitter=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
)
def test_retry_delay_properties(
    failures: int, base: float, cap: float, interval: float, jitter: float
) -> None:
    def at(n: int) -> float:
        return retry_delay(n, base=base, cap=cap, interval=interval, jitter=jitter)

    value = at(failures)
    assert value > 0
    assert value <= cap * 1.1 and value <= interval * 1.1
    assert value >= min(base, cap, interval) * 0.9
    assert at(failures + 1) >= value  # never shrinks as failures pile up (same jitter)


# -- jobs ------------------------------------------------------------------------------------------


def test_one_job_per_scheduled_feed_with_explicit_misfire_and_overlap_rules(
    engine: Engine, fake_catalog: Catalog
) -> None:
    fake_catalog([offer_row()])
    settings = Settings(plugins="fakecloud", http_retries=0)
    sched = SchedulerSettings(
        schedule={FEED: "10m", "fakecloud/http": "off"},
        schedule_jitter=0.1,
        schedule_max_jitter_seconds=30,
        schedule_misfire_grace_seconds=120,
        startup_sync=False,
    )
    jobs = FeedJobs(load_registry(settings), engine, settings, sched, "test")
    jobs.start()
    try:
        (job,) = jobs._scheduler.get_jobs()
        assert job.id == FEED
        assert (job.max_instances, job.coalesce, job.misfire_grace_time) == (1, True, 120)
        assert job.trigger.interval == timedelta(minutes=10)
        assert job.trigger.jitter == 30  # 10 % of 10 min is 60 s, capped at 30 s
    finally:
        jobs.stop(0)


def test_missing_or_stale_feeds_sync_at_start_and_fresh_ones_wait(
    engine: Engine, fake_catalog: Catalog
) -> None:
    fake_catalog([offer_row()])
    with running(make_service(engine, fast_settings())):
        wait_for(lambda: runs(engine) == ["ok"])  # never synced: at once
    with running(make_service(engine, fast_settings())) as service:
        wait_for(service.is_leader.is_set)
        time.sleep(0.5)
        assert runs(engine) == ["ok"]  # synced moments ago, interval 60 s: not yet
    time.sleep(0.3)
    stale = fast_settings(schedule={FEED: "0.2s", "fakecloud/http": "off"})
    with running(make_service(engine, stale)):
        wait_for(lambda: len(runs(engine)) >= 2)  # older than its interval: at once


@dataclass(frozen=True)
class AskedDelay:
    failures: int
    base: float
    cap: float
    interval: float
    jitter: float
    seconds: float


def test_failed_syncs_retry_with_growing_delays_then_stop_on_success(
    engine: Engine, fake_catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The delays the scheduler asks for are checked, not the wall-clock gaps between runs."""
    fake_catalog([offer_row(), {"__raise__": "upstream is down"}])
    sched = fast_settings(sync_retry_base_seconds=0.1, sync_retry_max_seconds=10)
    asked: list[AskedDelay] = []
    reasons: list[str] = []

    def recording_delay(
        failures: int, *, base: float, cap: float, interval: float, jitter: float
    ) -> float:
        seconds = retry_delay(failures, base=base, cap=cap, interval=interval, jitter=jitter)
        asked.append(AskedDelay(failures, base, cap, interval, jitter, seconds))
        return seconds

    original_run = FeedJobs._run

    def recording_run(self: FeedJobs, feed_id: str, reason: str) -> None:
        reasons.append(reason)
        original_run(self, feed_id, reason)

    monkeypatch.setattr("aggregator.scheduler.jobs.retry_delay", recording_delay)
    monkeypatch.setattr(FeedJobs, "_run", recording_run)
    with running(make_service(engine, sched)):
        wait_for(lambda: store.consecutive_failures(engine).get(FEED, 0) >= 4, timeout=15)
        fake_catalog([offer_row()])
        wait_for(lambda: runs(engine)[-1] == "ok", timeout=15)
        settled, asked_before = len(runs(engine)), len(asked)
        time.sleep(0.3)
        assert len(runs(engine)) == settled  # no more retries once it succeeded
        assert len(asked) == asked_before  # and no retry was asked for
    # One retry per failed run, each after one more consecutive failure, all but the last
    # followed by a run started as a retry; the run that succeeded was a retry too.
    failed = runs(engine)[:-1]
    assert failed and set(failed) == {"failed"} and len(failed) >= 4
    assert [a.failures for a in asked] == list(range(1, len(failed) + 1))
    assert reasons == ["schedule"] + ["retry"] * len(failed)
    for a in asked:
        assert (a.base, a.cap, a.interval) == (0.1, 10, 60) and 0 <= a.jitter < 1
    # The delays grow: the base at first, then doubling (whatever the jitter, a later delay
    # is at least 2 * 0.9 / 1.1 of the one before).
    seconds = [a.seconds for a in asked]
    assert 0.09 <= seconds[0] <= 0.11, seconds
    assert all(b > a * 1.6 for a, b in itertools.pairwise(seconds)), seconds
    for n, a in enumerate(asked):
        assert a.seconds == pytest.approx(0.1 * 2**n * (0.9 + 0.2 * a.jitter))
    assert FEED not in store.consecutive_failures(engine)


def test_consecutive_failures_count_since_the_last_good_run(
    engine: Engine, fake_catalog: Catalog
) -> None:
    assert store.consecutive_failures(engine) == {}
    fake_catalog([{"__raise__": "down"}])
    sync_once(engine)
    sync_once(engine)
    assert store.consecutive_failures(engine) == {FEED: 2}
    fake_catalog([offer_row()])
    sync_once(engine)
    assert store.consecutive_failures(engine) == {}
    fake_catalog([{"__raise__": "down"}])
    sync_once(engine)
    assert store.consecutive_failures(engine) == {FEED: 1}


# -- leadership ------------------------------------------------------------------------------------


def test_one_leader_syncs_and_a_standby_takes_over_when_it_stops(
    engine: Engine, fake_catalog: Catalog
) -> None:
    fake_catalog([offer_row()])
    synced_by: list[str] = []
    settings = Settings(plugins="fakecloud", http_retries=0)
    registry = load_registry(settings)

    def recording(name: str) -> Callable[[Any], Any]:
        def sync(ref: Any) -> Any:
            synced_by.append(name)
            (outcome,) = asyncio.run(sync_feeds([ref], registry, engine, settings))
            return outcome

        return sync

    every = fast_settings(schedule={FEED: "0.2s", "fakecloud/http": "off"})
    first = make_service(engine, every, registry, instance="first", sync=recording("first"))
    second = make_service(engine, every, registry, instance="second", sync=recording("second"))
    first.start_in_thread()
    try:
        wait_for(first.is_leader.is_set)
        second.start_in_thread()
        wait_for(lambda: synced_by.count("first") >= 3)
        assert "second" not in synced_by and not second.is_leader.is_set()
        first.stop()
        wait_for(second.is_leader.is_set)
        wait_for(lambda: synced_by.count("second") >= 2)
        assert not first.is_leader.is_set()
    finally:
        first.stop()
        second.stop()
    assert set(runs(engine)) == {"ok"}


def test_the_lock_fits_the_database(engine: Engine, tmp_path: Path) -> None:
    lock = leader_lock(engine)
    try:
        if engine.dialect.name == "sqlite":
            assert isinstance(lock, FileLock) and lock.path.name.endswith(".scheduler.lock")
        assert lock.try_acquire() and lock.still_held()
        other = leader_lock(engine)
        try:
            assert not other.try_acquire() and not other.still_held()
            lock.release()
            assert not lock.still_held() and other.try_acquire()
        finally:
            other.dispose()
    finally:
        lock.dispose()
    memory = make_engine("sqlite://")
    assert isinstance(leader_lock(memory), LocalLock)


def test_a_leader_that_loses_its_lock_stops_scheduling_and_stands_again(
    engine: Engine,
    fake_catalog: Catalog,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_catalog([offer_row()])
    probe = leader_lock(engine)
    lock_type = type(probe)
    probe.dispose()
    original = lock_type.still_held
    checks = {"lost": 0}

    def loses_once(self: Any) -> bool:
        if checks["lost"] == 0:
            checks["lost"] += 1
            return False
        return original(self)

    service = make_service(engine, fast_settings())
    with caplog.at_level("INFO", logger="aggregator.scheduler"), running(service):
        wait_for(service.is_leader.is_set)
        monkeypatch.setattr(lock_type, "still_held", loses_once)
        wait_for(lambda: any("leader lock lost" in r.message for r in caplog.records))
        wait_for(service.is_leader.is_set)  # the lock was free again: re-elected
    elected = [r for r in caplog.records if r.message == "leader: scheduling syncs"]
    assert len(elected) == 2


def test_an_unreachable_store_is_reported_once_and_waited_out(
    fake_plugins: None, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2")
    service = make_service(engine, fast_settings())
    try:
        with caplog.at_level("INFO", logger="aggregator.scheduler"), running(service):
            wait_for(lambda: any("cannot reach" in r.message for r in caplog.records))
            time.sleep(0.3)  # several more polls
            assert not service.is_leader.is_set()
        messages = [r.message for r in caplog.records]
        assert sum("cannot reach the leader lock" in m for m in messages) == 1
        assert not any(m.startswith("standby") for m in messages)
        assert messages[-1] == "scheduler stopped"
    finally:
        engine.dispose()


# -- shutdown --------------------------------------------------------------------------------------


class HangingFeed(Feed):
    name = "hang"
    title = "A feed that never finishes"
    default_interval = timedelta(hours=1)

    async def fetch(self, ctx: FetchContext) -> AsyncIterator[Mapping[str, Any]]:
        yield offer_row(provider="hanger")
        await asyncio.sleep(3600)


class Hanger(Provider):
    name = "hanger"
    title = "Hanger"

    def feeds(self) -> Sequence[Feed]:
        return [HangingFeed()]


class HangerPlugin:
    @hookimpl
    def register_providers(self, register: Callable[[Provider], None]) -> None:
        register(Hanger())


def test_stopping_cancels_a_running_sync_and_changes_nothing(
    engine: Engine, fake_catalog: Catalog
) -> None:
    fake_catalog([offer_row()])
    sync_once(engine)
    before = dump_tables(engine, *STORE_TABLES)
    settings = Settings(plugins="fakecloud", http_retries=0)
    registry = load_registry(settings, extra_plugins=[("hanger", HangerPlugin())])
    sched = fast_settings(
        schedule={FEED: "1h", "fakecloud/http": "off"}, shutdown_grace_seconds=0.3
    )
    service = SchedulerService(registry, engine, settings, sched)
    service.start_in_thread()
    try:
        wait_for(service.is_leader.is_set)
        time.sleep(0.5)  # the hanging feed is now inside its fetch
    finally:
        clock = time.monotonic()
        service.stop()
        stopped_in = time.monotonic() - clock
    assert stopped_in < 5
    assert dump_tables(engine, *STORE_TABLES) == before
    cancelled = store.latest_runs(engine)["hanger/hang"]
    assert cancelled.status is SyncStatus.INTERRUPTED and "cancelled" in (cancelled.error or "")
    assert store.latest_runs(engine)[FEED].status is SyncStatus.OK
