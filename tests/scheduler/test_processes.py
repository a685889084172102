"""Two ``gpuhours scheduler`` processes on one store: only the leader syncs; kill it and the
standby takes over; SIGTERM stops a scheduler cleanly and hands the lock over at once.

The schedulers are real subprocesses (``python -m aggregator scheduler``) loading
the fake plugin through its entry point, with a one-second interval and fast lock polling.
Every wait is bounded and every child is killed in ``finally``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from db.engine import make_engine
from db.migrate import upgrade
from tests.fake_plugins import FAKES_DIR, offer_row
from tests.paths import REPO

pytestmark = pytest.mark.slow

Catalog = Callable[[list[dict[str, Any]]], Path]
FEED = "fakecloud/static"


class Scheduler:
    """One scheduler subprocess whose JSON log lines are read from a file."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "aggregator", "scheduler"],
            env=env,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def lines(self) -> list[dict[str, Any]]:
        out = []
        for raw in self.log_path.read_text(errors="replace").splitlines():
            try:
                out.append(json.loads(raw))
            except json.JSONDecodeError:
                out.append({"message": raw, "level": "raw"})
        return out

    def said(self, message: str) -> int:
        return sum(1 for line in self.lines() if line.get("message") == message)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)

    def close(self) -> None:
        self.kill()
        try:
            self.process.wait(timeout=10)
        finally:
            self._log.close()


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for: {what}")


@pytest.fixture
def spawn(
    postgres_schema_url: str, fake_catalog: Catalog, tmp_path: Path
) -> Iterator[Callable[[str], Scheduler]]:
    fake_catalog([offer_row(), offer_row(instance_type="fk.1xh100", price_per_hour=12.0)])
    engine = make_engine(postgres_schema_url)
    upgrade(engine)
    engine.dispose()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(FAKES_DIR), str(REPO)]),
        "GPUHOURS_DATABASE_URL": postgres_schema_url,
        "GPUHOURS_DATA_DIR": str(tmp_path / "data"),
        "GPUHOURS_PLUGINS": "fakecloud",
        "GPUHOURS_SCHEDULE": json.dumps({FEED: "1s", "fakecloud/http": "off"}),
        "GPUHOURS_SCHEDULE_JITTER": "0",
        "GPUHOURS_LEADER_POLL_SECONDS": "0.1",
        "GPUHOURS_SHUTDOWN_GRACE_SECONDS": "2",
        "GPUHOURS_HTTP_RETRIES": "0",
        "GPUHOURS_ADMIN_TOKEN": "process-test-token-0b7e",
    }
    children: list[Scheduler] = []

    def start(name: str) -> Scheduler:
        child = Scheduler(name, env, tmp_path)
        children.append(child)
        return child

    try:
        yield start
    finally:
        for child in children:
            child.close()


@pytest.mark.postgres
def test_only_the_leader_syncs_and_the_standby_takes_over_when_it_dies(
    spawn: Callable[[str], Scheduler],
) -> None:
    first = spawn("first")
    wait_for(lambda: first.said("sync finished") >= 1, "the first scheduler to sync")
    second = spawn("second")
    wait_for(lambda: second.said("standby: another scheduler is the leader"), "a standby")
    synced_before = first.said("sync finished")
    wait_for(lambda: first.said("sync finished") >= synced_before + 2, "two more leader syncs")
    assert second.said("sync started") == 0 and second.said("leader: scheduling syncs") == 0

    first.kill(signal.SIGKILL)  # dies without releasing anything: the session ends with it
    first.process.wait(timeout=10)
    wait_for(lambda: second.said("leader: scheduling syncs"), "the standby to take over")
    wait_for(lambda: second.said("sync finished") >= 2, "the new leader to sync")

    finished = [line for line in second.lines() if line.get("message") == "sync finished"]
    assert all(line["feed"] == FEED and line["status"] == "ok" for line in finished)
    assert all(line["run_id"] and line["duration_seconds"] >= 0 for line in finished)
    assert all("process-test-token-0b7e" not in json.dumps(line) for line in second.lines())


@pytest.mark.postgres
def test_sigterm_stops_the_leader_cleanly_and_hands_over_at_once(
    spawn: Callable[[str], Scheduler],
) -> None:
    first = spawn("first")
    wait_for(lambda: first.said("sync finished") >= 1, "the first scheduler to sync")
    second = spawn("second")
    wait_for(lambda: second.said("standby: another scheduler is the leader"), "a standby")

    clock = time.monotonic()
    first.kill(signal.SIGTERM)
    assert first.process.wait(timeout=15) == 0
    assert first.said("stopping on SIGTERM") == 1 and first.said("scheduler stopped") == 1
    wait_for(lambda: second.said("leader: scheduling syncs"), "the standby to take over", 10)
    assert time.monotonic() - clock < 10
    assert not [line for line in first.lines() if line.get("level") in ("error", "raw")]
