"""How fast the web pages answer, and how much each page transfers: prints figures only.

The store holds N synthetic offers (``bench_api.synthetic_offers``, default 10,000) and is
served by ``gpuhours serve`` (the real command, one worker, the built-in plugins loaded so the
providers page lists their feeds) on a loopback port. Requests come one at a time from this
process over one keep-alive connection, after a warm-up; p50 and p99 are the latencies the
client saw. Each page runs with the answer memo on (``GPUHOURS_API_CACHE_SECONDS=60``, the
default) and off (``0``: every request reads the store or plans anew).

Transfer size per page is its HTML plus every stylesheet and script it references, as served
(no compression; a gzip of the HTML is shown for a proxy that compresses).

    python bench/bench_web.py [--offers 10000] [--requests 200] [--pg postgresql://...]
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_api import fill_store, server

from db.scratch import scratch_schema

PAGES = {
    "offers": "/",
    "offers filtered, by region": "/?gpu=H100&region=us-*&spot=false&sort=region&order=desc",
    "offers page 20, by age": "/?sort=observed_at&page=20",
    "offer": "/offers/{offer_id}",
    "plan form": "/plan",
    "plan": "/plan?gpu_hours=1000&gpus=H100&deadline_hours=72&max_gpus=64",
    "providers": "/providers",
    "bad query": "/?gpu=nope&page=x&foo=1",
}
_ASSET = re.compile(r'<(?:link[^>]+href|script[^>]+src)="(/static/[^"]+)"')


def transfer_bytes(client: httpx.Client, path: str) -> tuple[int, int, int]:
    """(HTML bytes, HTML gzipped, HTML and its assets), as served."""
    body = client.get(path).content
    assets = sum(len(client.get(url).content) for url in _ASSET.findall(body.decode()))
    return len(body), len(gzip.compress(body)), len(body) + assets


def timings(client: httpx.Client, path: str, requests: int) -> tuple[float, float, int]:
    """(p50 ms, p99 ms, the status) of ``requests`` sequential GETs after a warm-up."""
    status = 0
    for _ in range(max(5, requests // 10)):
        status = client.get(path).status_code
    latencies = []
    for _ in range(requests):
        clock = time.perf_counter()
        client.get(path)
        latencies.append((time.perf_counter() - clock) * 1000)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    return statistics.median(latencies), p99, status


def bench(label: str, url: str, args: argparse.Namespace, data_dir: Path) -> None:
    clock = time.perf_counter()
    fill_store(url, args.offers)
    print(f"# {label}: {args.offers:,} offers stored in {time.perf_counter() - clock:.1f}s")
    for cache_seconds in (60.0, 0.0):
        with (
            server(url, 1, data_dir, cache_seconds, plugins="aws,azure,gcp") as base,
            httpx.Client(base_url=base, timeout=30) as client,
        ):
            offer_id = client.get("/v1/offers?limit=1").json()["offers"][0]["id"]
            for name, template in PAGES.items():
                path = template.format(offer_id=offer_id)
                p50, p99, status = timings(client, path, args.requests)
                line = (f"{label:<10} cache={cache_seconds:>2g}s  {name:<27} {status}  "
                        f"p50 {p50:6.2f} ms  p99 {p99:6.2f} ms")  # fmt: skip
                if cache_seconds:
                    html, zipped, total = transfer_bytes(client, path)
                    line += f"  html {html:>7,} B (gzip {zipped:>6,})  with assets {total:>7,} B"
                print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--offers", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200, help="measured requests per page")
    parser.add_argument("--pg", default=os.environ.get("GPUHOURS_TEST_DATABASE_URL"))
    args = parser.parse_args()
    print(f"# {os.cpu_count()} CPUs; one client, sequential requests, keep-alive")
    with tempfile.TemporaryDirectory(prefix="gpuhours-bench-") as tmp:
        data_dir = Path(tmp)
        bench("sqlite", f"sqlite:///{data_dir / 'bench.db'}", args, data_dir)
        if args.pg:
            with scratch_schema(args.pg, prefix="gh_bench") as url:
                bench("postgresql", url, args, data_dir)


if __name__ == "__main__":
    main()
