"""The full-sync benchmark still runs over whatever the bundled snapshot holds: it replays every
feed the snapshot dates, so a seller added to the snapshot is benchmarked, not an error."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.paths import REPO


def test_the_full_sync_benchmark_replays_every_bundled_feed() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPUHOURS_")}
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_full_sync.py"), "--runs", "1"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    (row,) = [line.split() for line in done.stdout.splitlines() if line.startswith("sqlite")]
    assert row[1] == "1" and int(row[2]) > 1000
    assert len(row) == 5, f"feeds failed: {row[5:]}"  # a sixth column lists failed feeds
