"""API throughput measured with wrk (a C load generator), so the client costs little CPU.

``bench_api.py`` drives the server from a Python client that itself needs ~0.9 ms of CPU a
request on the same two cores; this one uses ``wrk`` (Debian package ``wrk``) instead.

Each store is served twice: with the answer memo as deployed (``GPUHOURS_API_CACHE_SECONDS``
60, the default: an identical request is answered from memory while the store's version holds,
which every request still reads) and with it off (``0``: every offers request queries the
store). Every plan request asks for a different number of GPU-hours (a wrk Lua script counts
up from 1,000), so plans are always computed anew, memo or not; the planner's offer reads
still come from its per-process memo, valid until a sync changes the store, as in production.
Prints figures; asserts nothing.

SQLite runs on a temporary file; PostgreSQL too when ``--pg URL`` or
``GPUHOURS_TEST_DATABASE_URL`` is given, in a schema created for the run and dropped after.

    python bench/bench_api_wrk.py [--offers 10000] [--workers 1 2] [--seconds 8] [--pg URL]
                                   [--cache 60 0]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_api

from db.scratch import scratch_schema


def wrk(url: str, connections: int, seconds: int, script: Path | None) -> str:
    extra = ["-s", str(script)] if script else []
    base = ["wrk", "-t1", f"-c{connections}", "--latency", *extra, url]
    subprocess.run([*base[:3], "-d2s", *base[3:]], capture_output=True, check=True)  # warm-up
    return subprocess.run(
        [*base[:3], f"-d{seconds}s", *base[3:]], capture_output=True, text=True, check=True
    ).stdout


def summary(output: str) -> str:
    lines = output.splitlines()
    rps = next(line.split()[-1] for line in lines if "Requests/sec" in line)
    lat = {
        line.split()[0]: line.split()[1]
        for line in lines
        if line.strip().startswith(("50%", "99%"))
    }
    errors = [line.strip() for line in lines if "Non-2xx" in line or "Socket errors" in line]
    return f"{float(rps):>9,.1f} req/s  p50 {lat['50%']:>9}  p99 {lat['99%']:>9}  {errors or ''}"


def plan_script(path: Path) -> Path:
    """A wrk script POSTing the benchmark plan, each request for a different GPU-hour count."""
    body = json.dumps(bench_api.PLAN_BODY).replace(
        f'"gpu_hours": {bench_api.PLAN_BODY["gpu_hours"]}', '"gpu_hours": %d'
    )
    path.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        "local n = 0\n"
        "request = function()\n"
        "  n = n + 1\n"
        f"  return wrk.format(nil, nil, nil, string.format('{body}', 1000 + n % 5000))\n"
        "end\n"
    )
    return path


def run(store: str, url: str, args: argparse.Namespace, data_dir: Path) -> None:
    bench_api.fill_store(url, args.offers)
    script = plan_script(data_dir / "plan.lua")
    cases = [
        ("GET /v1/offers", "/v1/offers?gpu=H100&region=us-*&limit=20", None),
        ("POST /v1/plan", "/v1/plan", script),
    ]
    print(f"{store}, {args.offers:,} offers, wrk -t1")
    for cache_seconds in args.cache:
        memo = f"memo {cache_seconds:g}s" if cache_seconds else "memo off"
        for workers in args.workers:
            with bench_api.server(url, workers, data_dir, cache_seconds=cache_seconds) as base:
                for label, path, lua in cases:
                    for connections in (1, 32):
                        out = wrk(base + path, connections, args.seconds, lua)
                        print(
                            f"{memo:9} workers={workers} {label:15} c={connections:<2} "
                            f"{summary(out)}"
                        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offers", type=int, default=10_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--pg", default=os.environ.get("GPUHOURS_TEST_DATABASE_URL"))
    parser.add_argument(
        "--cache", type=float, nargs="+", default=[60.0, 0.0],
        help="GPUHOURS_API_CACHE_SECONDS values to serve with (0: memo off)",
    )  # fmt: skip
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        run("SQLite", f"sqlite:///{tmp}/bench.db", args, Path(tmp))
        if args.pg:
            with scratch_schema(args.pg, prefix="gh_bench") as url:
                run("PostgreSQL", url, args, Path(tmp))


if __name__ == "__main__":
    main()
