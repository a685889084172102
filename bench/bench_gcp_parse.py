"""Benchmark: parsing and composing replayed Cloud Billing catalog pages (SKUs/s).

What is measured
----------------
The GCP fixture SKUs (``tests/fixtures/gcp``: OpenCost's real page, the real catalog excerpt
and the constructed page, 175 SKUs) are replicated to ``--skus`` SKUs (default 50,000) in
pages of ``--page-size`` (default 5,000, what the feed asks for), each page in the real
envelope with a ``nextPageToken`` to the next. Every replica maps its regions to new names
(``us-central1`` -> ``us-central1-r7``), so replicas price machines in regions of their own,
as the ~40 real regions do. Two mixes:

* ``fixture``: the fixture SKUs as they are, most of them parts of GPU machines (~85 %).
* ``diluted``: each replica padded with real SKUs the feed skips (other families, custom
  shapes, storage, commitments premiums) until ~25 % are usable, the share in the recorded
  3,061-SKU catalog (29 %); the full public catalog has more skippable SKUs still.

Two measurements per mix, bodies pre-serialized (JSON encoding is the server's cost):

* ``parse``: ``json.loads`` of each page, :func:`plugins.gcp.skus.parse_sku` of every SKU,
  the price index, conflict resolution and :func:`plugins.gcp.compose.compose` (which builds
  validated ``Offer`` objects);
* ``feed``: the whole ``gcp/catalog`` feed fetching those pages from ``httpx.MockTransport``
  through the production client (``aggregator.http.make_client``).

Run::

    python bench/bench_gcp_parse.py
    python bench/bench_gcp_parse.py --skus 200000
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import logging
import resource
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aggregator.http import make_client  # noqa: E402
from aggregator.providers import FetchContext  # noqa: E402
from aggregator.settings import Settings  # noqa: E402
from plugins.gcp.compose import PriceIndex, compose  # noqa: E402
from plugins.gcp.feed import CatalogFeed  # noqa: E402
from plugins.gcp.settings import GcpSettings  # noqa: E402
from plugins.gcp.skus import PricedSku, parse_sku  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "gcp"
BASE = "https://cloudbilling.googleapis.com"
KEY = "bench-not-a-real-key"


def fixture_skus() -> list[dict[str, Any]]:
    opencost = json.loads((FIXTURES / "skus.json").read_text())["skus"]
    excerpt = json.loads((FIXTURES / "services_pricelist_excerpt.json").read_text())
    constructed = json.loads((FIXTURES / "constructed_page.json").read_text())["skus"]
    return [*opencost, *excerpt, *constructed]


def mixes() -> dict[str, list[dict[str, Any]]]:
    skus = fixture_skus()
    usable = [s for s in skus if isinstance(parse_sku(s), PricedSku)]
    skipped = [s for s in skus if not isinstance(parse_sku(s), PricedSku)]
    padding = [skipped[i % len(skipped)] for i in range(3 * len(usable) - len(skipped))]
    return {"fixture": skus, "diluted": [*skus, *padding]}


def _renamed(sku: dict[str, Any], replica: int) -> dict[str, Any]:
    clone = copy.copy(sku)
    clone["skuId"] = f"{sku['skuId']}-{replica}"
    clone["serviceRegions"] = [f"{r}-r{replica}" for r in sku.get("serviceRegions", [])]
    return clone


def build_pages(skus: list[dict[str, Any]], total: int, page_size: int) -> list[bytes]:
    """``skus`` replicated to ``total``, one set of region names per replica."""
    replicated: list[dict[str, Any]] = []
    replica = 0
    while len(replicated) < total:
        replicated += [_renamed(s, replica) for s in skus[: total - len(replicated)]]
        replica += 1
    count = (total + page_size - 1) // page_size
    pages = []
    for n in range(count):
        token = f"page-{n + 1}" if n + 1 < count else ""
        body = {"skus": replicated[n * page_size : (n + 1) * page_size], "nextPageToken": token}
        pages.append(json.dumps(body, separators=(",", ":")).encode())
    return pages


def bench_parse(pages: list[bytes]) -> tuple[float, int, int, dict[str, float]]:
    stages: dict[str, float] = {}
    start = time.perf_counter()
    raws = [raw for body in pages for raw in json.loads(body)["skus"]]
    stages["json"] = time.perf_counter() - start
    index = PriceIndex()
    for raw in raws:
        result = parse_sku(raw)
        if isinstance(result, PricedSku):
            index.add(result)
    index.resolve()
    stages["parse_sku+index"] = time.perf_counter() - start - stages["json"]
    offers = sum(1 for _ in compose(index))
    seconds = time.perf_counter() - start
    stages["compose"] = seconds - stages["json"] - stages["parse_sku+index"]
    return seconds, len(raws), offers, stages


def bench_feed(pages: list[bytes]) -> tuple[float, int, int, dict[str, float]]:
    def handler(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("pageToken", "page-0")
        body = pages[int(token.removeprefix("page-"))]
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    async def run() -> int:
        client = make_client(Settings(http_retries=0), transport=httpx.MockTransport(handler))
        async with client:
            settings = GcpSettings(api_key=KEY, billing_url=BASE)
            ctx = FetchContext(client=client, feed_id="gcp/catalog", settings=settings)
            return sum([1 async for _ in CatalogFeed().fetch(ctx)])

    start = time.perf_counter()
    offers = asyncio.run(run())
    skus = sum(len(json.loads(body)["skus"]) for body in pages)
    return time.perf_counter() - start, skus, offers, {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skus", type=int, default=50_000)
    parser.add_argument("--page-size", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the feed reports its one unknown GPU per run

    print(f"python {sys.version.split()[0]}, {args.skus:,} SKUs, pages of {args.page_size}")
    for mix, skus in mixes().items():
        pages = build_pages(skus, args.skus, args.page_size)
        megabytes = sum(map(len, pages)) / 1e6
        for name, measure in (("parse", bench_parse), ("feed", bench_feed)):
            seconds, count, offers, stages = min(
                (measure(pages) for _ in range(args.repeat)), key=lambda r: r[0]
            )
            print(
                f"{mix:>8} {name:>5}: {count / seconds:>9,.0f} SKUs/s  "
                f"{offers / seconds:>8,.0f} offers/s  {megabytes / seconds:5.1f} MB/s  "
                f"{seconds:5.2f} s  ({count:,} SKUs from {len(skus)}, {len(pages)} pages "
                f"{megabytes:.0f} MB, {offers:,} offers)"
            )
            if stages:
                print(" " * 16 + "  ".join(f"{k} {v:.2f} s" for k, v in stages.items()))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak:.0f} MB (holds every page body in memory)")


if __name__ == "__main__":
    main()
