"""How fast ``gpuhours serve`` answers: prints figures, passes or fails nothing.

A store of N synthetic offers (default 10,000: three providers, 20 regions, 8 GPU models,
on-demand, spot and 1- and 3-year commitments) is served by ``gpuhours serve`` (uvicorn, the
real command) on a loopback port. Load comes from a separate process: an ``httpx.AsyncClient``
with C concurrent keep-alive connections sending a bounded number of requests after a warm-up.
Measured per (store, workers, endpoint, concurrency):

- ``GET /v1/offers?gpu=H100&region=us-*&limit=20`` (filters, sort, one page);
- ``POST /v1/plan`` for 1,000 H100 GPU-hours within 72 h on at most 64 GPUs.

Reported: requests/s over the measured requests, p50 and p99 latency as the client saw it,
and any non-2xx answers. The load generator shares the machine's cores with the server (it
needs about 0.9 ms of CPU a request itself), so the figures are a floor for what the server
alone could do. Each case runs with the API's answer memo on (``GPUHOURS_API_CACHE_SECONDS=60``,
the default: repeated identical requests are served from memory while the store's version
holds) and off (``0``: every request queries the store, or solves, anew).

SQLite runs on a temporary file. PostgreSQL runs when ``--pg URL`` or
``GPUHOURS_TEST_DATABASE_URL`` is given, in a schema created for the run and dropped after.

    python bench/bench_api.py [--offers 10000] [--workers 1 2] [--pg postgresql://...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from aggregator.models import Offer, PurchaseOption
from db.engine import make_engine
from db.migrate import upgrade
from db.scratch import scratch_schema
from db.store import FeedSnapshot, apply_snapshot

REPO = Path(__file__).resolve().parents[1]
GPUS = [  # name, memory, GPUs per instance, on-demand price per GPU-hour
    ("H100", 80, 8, 12.3),
    ("A100", 80, 8, 5.1),
    ("A100", 40, 8, 4.1),
    ("L4", 24, 1, 0.8),
    ("L40S", 48, 4, 1.9),
    ("A10G", 24, 1, 1.0),
    ("T4", 16, 1, 0.5),
    ("V100", 16, 8, 3.0),
]
PROVIDERS = ("aws", "azure", "gcp")
REGIONS = [f"{geo}-{n}" for geo in ("us-east", "us-west", "eu-west", "ap-south", "sa-east")
           for n in (1, 2, 3, 4)]  # fmt: skip
OPTIONS = [  # option, term hours, price factor
    (PurchaseOption.ON_DEMAND, 0, 1.0),
    (PurchaseOption.SPOT, 0, 0.35),
    (PurchaseOption.RESERVED, 8760, 0.65),
    (PurchaseOption.RESERVED, 26280, 0.45),
]
OFFERS_PATH = "/v1/offers?gpu=H100&region=us-*&limit=20"
PLAN_BODY = {"gpu_hours": 1000, "gpus": ["H100"], "deadline_hours": 72, "max_gpus": 64}


def synthetic_offers(count: int, seed: int = 7) -> dict[str, list[Offer]]:
    """``count`` distinct offers, grouped by feed (one feed per provider)."""
    rng = random.Random(seed)
    now = datetime.now(UTC) - timedelta(minutes=5)
    feeds: dict[str, list[Offer]] = {f"{p}/bench": [] for p in PROVIDERS}
    i = 0
    while i < count:
        provider = PROVIDERS[i % 3]
        region = REGIONS[(i // 3) % len(REGIONS)]
        option, term, factor = OPTIONS[(i // 60) % len(OPTIONS)]
        gpu, memory, per_node, base = GPUS[(i // 240) % len(GPUS)]
        size = i // (240 * len(GPUS))
        gpus = max(1, per_node // (1 + size % 2))
        price = round(base * gpus * factor * rng.uniform(0.85, 1.25), 4)
        feeds[f"{provider}/bench"].append(
            Offer(
                provider=provider,
                region=region,
                instance_type=f"{gpu.lower()}-{memory}g.{size}x{gpus}",
                gpu=gpu,
                gpu_count=gpus,
                gpu_memory_gb=memory,
                purchase_option=option,
                term_hours=term,
                price_per_hour=price,
                source={"sku": f"BENCH-{i}"},
                observed_at=now,
            )
        )
        i += 1
    return feeds


def fill_store(url: str, count: int) -> None:
    engine = make_engine(url)
    try:
        upgrade(engine)
        for feed, offers in synthetic_offers(count).items():
            apply_snapshot(
                engine,
                FeedSnapshot(
                    feed=feed,
                    provider=feed.split("/")[0],
                    offers=offers,
                    unchanged=[],
                    state={},
                    started_at=datetime.now(UTC),
                ),
                now=datetime.now(UTC),
            )
    finally:
        engine.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def server(
    url: str, workers: int, data_dir: Path, cache_seconds: float = 60.0, plugins: str = ""
) -> Iterator[str]:
    """``gpuhours serve`` on a loopback port; yields its base URL; always stops it.

    ``plugins`` is ``GPUHOURS_PLUGINS``: none by default, so nothing can sync or fetch.
    """
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GPUHOURS_")},
        "GPUHOURS_DATABASE_URL": url,
        "GPUHOURS_DATA_DIR": str(data_dir),
        "GPUHOURS_PLUGINS": plugins,
        "GPUHOURS_API_CACHE_SECONDS": str(cache_seconds),
        "PYTHONPATH": str(REPO),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "aggregator", "serve", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers), "--log-level", "warning"],
        env=env, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                raise RuntimeError("gpuhours serve exited during start-up")
            time.sleep(0.2)
        else:
            raise RuntimeError("gpuhours serve did not become ready in 60 s")
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# -- the load generator (runs in its own process) ----------------------------------------------


async def _load(
    base: str, kind: str, concurrency: int, requests: int, warmup: int
) -> dict[str, Any]:
    # One client per connection: a single httpx pool shared by 32 connections spends more CPU
    # choosing a connection than sending the request (measured: 2.3 ms vs 0.9 ms a request).
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [
        httpx.AsyncClient(base_url=base, limits=limits, timeout=30) for _ in range(concurrency)
    ]

    async def one(client: httpx.AsyncClient) -> tuple[float, int]:
        clock = time.perf_counter()
        if kind == "offers":
            response = await client.get(OFFERS_PATH)
        else:
            response = await client.post("/v1/plan", json=PLAN_BODY)
        return time.perf_counter() - clock, response.status_code

    async def worker(client: httpx.AsyncClient, count: int, out: list[tuple[float, int]]) -> None:
        for _ in range(count):
            out.append(await one(client))

    async def run(total: int) -> tuple[list[tuple[float, int]], float]:
        shares = [total // concurrency + (1 if n < total % concurrency else 0)
                  for n in range(concurrency)]  # fmt: skip
        results: list[tuple[float, int]] = []
        clock = time.perf_counter()
        await asyncio.gather(
            *(worker(client, share, results) for client, share in zip(clients, shares, strict=True))
        )
        return results, time.perf_counter() - clock

    try:
        await run(warmup)
        results, elapsed = await run(requests)
    finally:
        for client in clients:
            await client.aclose()
    latencies = sorted(latency for latency, _ in results)
    errors = sum(1 for _, status in results if status >= 300)

    def quantile(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return {
        "requests": len(results),
        "seconds": round(elapsed, 3),
        "rps": round(len(results) / elapsed, 1),
        "p50_ms": round(quantile(0.50), 2),
        "p99_ms": round(quantile(0.99), 2),
        "non_2xx": errors,
    }


def load_in_another_process(
    base: str, kind: str, concurrency: int, requests: int, warmup: int
) -> dict[str, Any]:
    command = [sys.executable, __file__, "--load", base, kind, str(concurrency), str(requests),
               str(warmup)]  # fmt: skip
    output = subprocess.run(command, check=True, capture_output=True, text=True, timeout=600)
    return dict(json.loads(output.stdout))


# -- driver -----------------------------------------------------------------------------------


def bench(label: str, url: str, args: argparse.Namespace, data_dir: Path) -> list[dict[str, Any]]:
    clock = time.perf_counter()
    fill_store(url, args.offers)
    print(f"# {label}: {args.offers:,} offers stored in {time.perf_counter() - clock:.1f}s",
          flush=True)  # fmt: skip
    rows = []
    for cache_seconds in args.cache:
        for workers in args.workers:
            with server(url, workers, data_dir, cache_seconds) as base:
                for kind in ("offers", "plan"):
                    for concurrency in (1, 32):
                        total = args.requests if kind == "offers" else args.plan_requests
                        if kind == "plan" and not cache_seconds:
                            total = min(total, 300)  # ~15 ms of solving each
                        if concurrency == 1:
                            total = max(100, total // 5)
                        result = load_in_another_process(
                            base, kind, concurrency, total, warmup=min(200, total // 5)
                        )
                        row = {"store": label, "cache_s": cache_seconds, "workers": workers,
                               "endpoint": kind, "concurrency": concurrency, **result}  # fmt: skip
                        rows.append(row)
                        print(
                            f"{label:<10} cache={cache_seconds:g}s workers={workers} "
                            f"{kind:<6} c={concurrency:<3} {row['rps']:>7.1f} req/s  "
                            f"p50 {row['p50_ms']:>7.2f} ms  p99 {row['p99_ms']:>7.2f} ms  "
                            f"({row['requests']} requests, {row['non_2xx']} non-2xx)",
                            flush=True,
                        )
    return rows


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--load":
        base, kind, concurrency, requests, warmup = sys.argv[2:7]
        result = asyncio.run(_load(base, kind, int(concurrency), int(requests), int(warmup)))
        print(json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--offers", type=int, default=10_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--requests", type=int, default=4000, help="offers requests at c=32")
    parser.add_argument("--plan-requests", type=int, default=1000, help="plan requests at c=32")
    parser.add_argument(
        "--cache",
        type=float,
        nargs="+",
        default=[60.0, 0.0],
        help="GPUHOURS_API_CACHE_SECONDS values to run with (0: every request computed)",
    )
    parser.add_argument("--pg", default=os.environ.get("GPUHOURS_TEST_DATABASE_URL"))
    parser.add_argument("--json", action="store_true", help="also print all rows as JSON")
    args = parser.parse_args()
    print(f"# {os.cpu_count()} CPUs; load generator: 1 process, httpx.AsyncClient, keep-alive")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="gpuhours-bench-") as tmp:
        data_dir = Path(tmp)
        rows += bench("sqlite", f"sqlite:///{data_dir / 'bench.db'}", args, data_dir)
        if args.pg:
            with scratch_schema(args.pg, prefix="gh_bench") as url:
                rows += bench("postgresql", url, args, data_dir)
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
