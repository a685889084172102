"""Export and mirror of N offers (default 100,000): prints figures, passes or fails nothing.

A server store (SQLite file, or a PostgreSQL schema with ``--pg``) is filled with N synthetic
offers (:mod:`bench_upsert`'s) and 1,000 interruption rates, outside the timings. Then, each
command a separate process so that its peak RSS is its own:

- ``gpuhours export FILE``: seconds, file size, peak RSS;
- ``gpuhours serve`` on a local port; a mirror's first ``gpuhours sync mirror`` from it into a
  fresh SQLite store: seconds, MB on the wire, the mirror's peak RSS, then the server's;
- the same mirror sync again with nothing changed: one conditional request answered 304,
  and how long it took (the sync run's own time, and the whole command with its start-up);
  a first sync's run time is its fetch and checks, the store's write not included;
- a mirror from the exported file instead of the server.

    python bench/bench_export.py [--offers 100000] [--pg postgresql://postgres@127.0.0.1/test]
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_upsert import bench_arguments, make_offers

from aggregator.interruptions import InterruptionRate
from db.engine import make_engine
from db.migrate import upgrade
from db.scratch import scratch_schema
from db.store import FeedSnapshot, InterruptionSnapshot, apply_snapshot
from db.store import replace_interruption_rates as store_rates

NOW = datetime(2026, 5, 1, tzinfo=UTC)
# The CLI in a process that writes its own peak RSS (VmHWM) to BENCH_PEAK_FILE as it exits:
# the rusage of a child counts the RSS its parent had when it forked, which here is the
# store filled with N offers.
_WRAPPER = """
import atexit, os, sys
def _peak():
    with open('/proc/self/status') as status, open(os.environ['BENCH_PEAK_FILE'], 'w') as out:
        out.write(next(l for l in status if l.startswith('VmHWM:')).split()[1])
atexit.register(_peak)
sys.argv[0] = 'gpuhours'
from aggregator.cli import main
main()
"""
GPUHOURS = [sys.executable, "-c", _WRAPPER]
MB = 1e6


def fill(url: str, count: int) -> None:
    engine = make_engine(url)
    try:
        upgrade(engine)
        offers = [o.model_copy(update={"observed_at": NOW}) for o in make_offers(count)]
        snap = FeedSnapshot(
            feed="aws/on-demand", provider="aws", offers=offers, unchanged=[], state={},
            started_at=NOW,
        )  # fmt: skip
        apply_snapshot(engine, snap, now=NOW)
        rates = [
            InterruptionRate(
                provider="aws", region=f"r-{i // 50}", instance_type=f"p5.{i % 50}xlarge",
                bucket=1, bucket_label="5-10%", interruption_min_percent=5,
                interruption_max_percent=10, savings_percent=60, source={"row": str(i)},
                observed_at=NOW,
            )
            for i in range(1000)
        ]  # fmt: skip
        store_rates(
            engine,
            InterruptionSnapshot(
                feed="aws/spot-advisor", provider="aws", rates=rates, unchanged=[], state={},
                started_at=NOW,
            ),
            now=NOW,
        )  # fmt: skip
    finally:
        engine.dispose()


def run(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Seconds, peak RSS (MB) and stdout of one command in its own process."""
    with tempfile.NamedTemporaryFile() as peak, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        done = subprocess.run(
            args,
            env={**env, "BENCH_PEAK_FILE": peak.name},
            stdout=subprocess.PIPE,
            stderr=err,
            check=False,
        )
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            err.seek(0)
            raise SystemExit(
                f"{args[-3:]} failed ({done.returncode}): {err.read().decode()[-2000:]}"
            )
        return seconds, int(Path(peak.name).read_text()) / 1024, done.stdout.decode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def sync_run(out: str) -> dict[str, Any]:
    (run_,) = json.loads(out)["runs"]
    assert run_["status"] in ("ok", "unchanged"), run_
    return dict(run_)


def bench(label: str, url: str, count: int, tmp: Path) -> None:
    fill(url, count)
    base = {k: v for k, v in os.environ.items() if not k.startswith("GPUHOURS_")}
    server_env = {**base, "GPUHOURS_DATABASE_URL": url, "GPUHOURS_PLUGINS": ""}
    print(f"{label}: {count:,} offers and 1,000 interruption rates")

    path = tmp / "prices.jsonl.gz"
    seconds, peak, _ = run([*GPUHOURS, "export", str(path), "--json"], server_env)
    size = path.stat().st_size
    print(
        f"  gpuhours export          {seconds:6.2f} s  {size / MB:6.1f} MB file   "
        f"peak RSS {peak:5.0f} MB"
    )

    port = free_port()
    server = subprocess.Popen(
        [*GPUHOURS, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**server_env, "BENCH_PEAK_FILE": os.devnull},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        export_url = f"http://127.0.0.1:{port}/v1/export"
        for _ in range(200):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        start = time.perf_counter()
        body = httpx.get(export_url, timeout=120)
        first_get = time.perf_counter() - start
        tag = body.headers["etag"]
        start = time.perf_counter()
        again = httpx.get(export_url, timeout=120)
        second_get = time.perf_counter() - start
        start = time.perf_counter()
        not_modified = httpx.get(export_url, headers={"If-None-Match": tag})
        conditional = time.perf_counter() - start
        assert not_modified.status_code == 304 and again.content == body.content
        print(
            f"  GET /v1/export           {first_get:6.2f} s  {len(body.content) / MB:6.1f} MB on "
            f"the wire (again, kept: {second_get:.2f} s; If-None-Match: 304, "
            f"{len(not_modified.content)} B body, {conditional * 1000:.1f} ms)"
        )

        for kind, source in (("server", export_url), ("file", str(path))):
            mirror_env = {
                **base,
                "GPUHOURS_DATA_DIR": str(tmp / f"mirror-{kind}"),
                "GPUHOURS_PLUGINS": "mirror",
                "GPUHOURS_MIRROR_URL": source,
            }
            seconds, peak, out = run([*GPUHOURS, "sync", "mirror", "--json"], mirror_env)
            first = sync_run(out)
            print(
                f"  mirror from {kind:<6}       {seconds:6.2f} s  (fetch and checks "
                f"{first['duration_seconds']:.2f} s, {first['new']:,} new)  peak RSS {peak:5.0f} MB"
            )
            seconds, _, out = run([*GPUHOURS, "sync", "mirror", "--json"], mirror_env)
            quiet = sync_run(out)
            print(
                f"  no-change mirror ({kind:<6}) {seconds:6.2f} s command, sync "
                f"{quiet['duration_seconds'] * 1000:.0f} ms, status {quiet['status']}"
            )
        print(f"  server peak RSS after serving: {server_peak_mb(server.pid):.0f} MB")
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    args = bench_arguments(__doc__ or "")
    with tempfile.TemporaryDirectory() as tmp:
        bench("SQLite server", f"sqlite:///{Path(tmp) / 'server.db'}", args.offers, Path(tmp))
    if args.pg:
        with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
            url = stack.enter_context(scratch_schema(args.pg, prefix="gh_bench"))
            bench("PostgreSQL server", url, args.offers, Path(tmp))
    else:
        print("PostgreSQL server: skipped (pass --pg URL or set GPUHOURS_TEST_DATABASE_URL)")


if __name__ == "__main__":
    main()
