"""Full replayed sync of every feed the bundled snapshot holds: wall time and peak RSS.

Replays the bundled offline snapshot (``plugins/snapshot/responses``) into a fresh SQLite
store (and into PostgreSQL when ``--pg URL`` or ``GPUHOURS_TEST_DATABASE_URL`` is given), in a
child process per run so peak RSS is that of the sync alone. Prints figures; asserts nothing.

    python bench/bench_full_sync.py [--runs 3] [--pg postgresql+psycopg://postgres@127.0.0.1/test]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

from db.scratch import scratch_schema

CHILD = r"""
import asyncio, json, resource, sys, time
from aggregator.plugins import load_registry
from aggregator.settings import Settings
from aggregator.sync import load_observed_at, sync_feeds
from db.engine import make_engine
from db.migrate import upgrade
from plugins.snapshot import SNAPSHOT_DIR, bundled_feeds

url = sys.argv[1]
engine = make_engine(url)
upgrade(engine)
settings = Settings()
registry = load_registry(settings)
refs = [ref for ref in registry.select_feeds([]) if ref.id in bundled_feeds()]
start = time.perf_counter()
outcomes = asyncio.run(sync_feeds(refs, registry, engine, settings, replay_dir=SNAPSHOT_DIR,
                                  observed_at=load_observed_at(SNAPSHOT_DIR)))
wall = time.perf_counter() - start
engine.dispose()
print(json.dumps({
    "wall_s": wall,
    "offers": sum(o.run.seen for o in outcomes),
    "failed": [o.run.feed for o in outcomes if o.run.status.value != "ok"],
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def run_child(url: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, url], capture_output=True, text=True, check=True
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg", default=os.environ.get("GPUHOURS_TEST_DATABASE_URL"))
    args = parser.parse_args()
    print(f"{'store':10} {'run':>3} {'offers':>7} {'wall s':>8} {'peak RSS MB':>12}")
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory() as tmp:
            r = run_child(f"sqlite:///{tmp}/bench.db")
        print(
            f"{'sqlite':10} {run:>3} {r['offers']:>7} {r['wall_s']:>8.3f} "
            f"{r['peak_rss_mb']:>12.1f} {r['failed'] or ''}"
        )
    if args.pg:
        for run in range(1, args.runs + 1):
            with scratch_schema(args.pg, prefix="gh_bench") as url:
                r = run_child(url)
            print(
                f"{'postgres':10} {run:>3} {r['offers']:>7} {r['wall_s']:>8.3f} "
                f"{r['peak_rss_mb']:>12.1f} {r['failed'] or ''}"
            )


if __name__ == "__main__":
    main()
