"""Benchmark: parsing replayed Azure Retail Prices pages through the Azure plugin (items/s).

What is measured
----------------
Pages in the real envelope are built from real recorded items (``tests/fixtures/azure``),
replicated to ``--items`` items (default 100,000) in pages of ``--page-size`` (default 1000,
the API's page size), each page linking to the next with a ``NextPageLink``. Every replica gets
its own ``armRegionName`` suffix so offers do not collapse onto one key, as across real regions.
Two mixes of real items:

* ``unfiltered``: the real eastus2 page as recorded (``serviceName eq 'Virtual Machines' and
  armRegionName eq 'eastus2'``): about 1 % GPU rows, Windows, DevTest, reservations, hosts.
* ``gpu-filtered``: every GPU-family row (``Standard_N*``) of the four real fixtures: what the
  feed downloads with its ``startswith(armSkuName, 'Standard_N')`` filter.

Two measurements per mix, bodies pre-serialized (JSON encoding is the server's cost):

* ``parse``: ``parse_page`` (json.loads + envelope check) and ``classify`` of every item, plus
  the per-key de-duplication, in a plain loop: the plugin's own cost.
* ``feed``: the whole ``azure/retail`` feed fetching those pages from ``httpx.MockTransport``
  through the production client (``aggregator.http.make_client``: retries, error translation),
  then validating every yielded offer as an ``Offer``, as the sync engine does.

Run::

    python bench/bench_azure_parse.py
    python bench/bench_azure_parse.py --items 300000 --page-size 1000
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
from aggregator.models import Offer  # noqa: E402
from aggregator.providers import FetchContext  # noqa: E402
from aggregator.settings import Settings  # noqa: E402
from plugins.azure import RetailFeed  # noqa: E402
from plugins.azure.pages import parse_page  # noqa: E402
from plugins.azure.retail import OfferSet, classify  # noqa: E402
from plugins.azure.settings import AzureSettings  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "azure"
BASE = "https://prices.azure.com/api/retail/prices"
FILES = (
    "virtual_machines_eastus2.json",
    "mexicocentral_virtual_machines_slice.json",
    "francecentral_retail_prices_slice.json",
    "azure_prices_slice.json",
)


def _items(name: str) -> list[dict[str, Any]]:
    document = json.loads((FIXTURES / name).read_text())
    if isinstance(document, list):
        return document
    items = document.get("Items") or document["items"]
    assert isinstance(items, list)
    return items


def mixes() -> dict[str, list[dict[str, Any]]]:
    gpu = [
        item
        for name in FILES
        for item in _items(name)
        if str(item.get("armSkuName", "")).startswith("Standard_N")
    ]
    return {"unfiltered": _items(FILES[0]), "gpu-filtered": gpu}


def build_pages(items: list[dict[str, Any]], total: int, page_size: int) -> list[bytes]:
    """Real items replicated to ``total``, one distinct region suffix per replica."""
    envelope = {"BillingCurrency": "USD", "CustomerEntityId": "Default"}
    replicated: list[dict[str, Any]] = []
    replica = 0
    while len(replicated) < total:
        for item in items[: total - len(replicated)]:
            clone = copy.copy(item)
            clone["armRegionName"] = f"{item.get('armRegionName', '')}{replica}"
            replicated.append(clone)
        replica += 1
    pages: list[bytes] = []
    count = (total + page_size - 1) // page_size
    for n in range(count):
        chunk = replicated[n * page_size : (n + 1) * page_size]
        link = f"{BASE}?page={n + 1}" if n + 1 < count else None
        body = {**envelope, "Items": chunk, "NextPageLink": link, "Count": len(chunk)}
        pages.append(json.dumps(body, separators=(",", ":")).encode())
    return pages


def bench_parse(pages: list[bytes]) -> tuple[float, int, int]:
    offers = OfferSet()
    items = 0
    start = time.perf_counter()
    for body in pages:
        page = parse_page(body)
        items += len(page.items)
        for item in page.items:
            for priced in classify(item).offers:
                offers.add(priced)
    return time.perf_counter() - start, items, len(offers)


def bench_feed(pages: list[bytes]) -> tuple[float, int, int]:
    def handler(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params.get("page", "0"))
        return httpx.Response(200, content=pages[n], headers={"content-type": "application/json"})

    async def run() -> int:
        client = make_client(Settings(http_retries=0), transport=httpx.MockTransport(handler))
        async with client:
            ctx = FetchContext(client=client, feed_id="azure/retail", settings=AzureSettings())
            count = 0
            async for offer in RetailFeed().fetch(ctx):
                Offer.model_validate(offer)
                count += 1
            return count

    start = time.perf_counter()
    offers = asyncio.run(run())
    items = sum(body.count(b'"meterId"') for body in pages)
    return time.perf_counter() - start, items, offers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the feed logs each unknown size once per run

    print(f"python {sys.version.split()[0]}, {args.items:,} items, pages of {args.page_size}")
    for mix, items in mixes().items():
        pages = build_pages(items, args.items, args.page_size)
        megabytes = sum(map(len, pages)) / 1e6
        for name, measure in (("parse", bench_parse), ("feed", bench_feed)):
            best = min((measure(pages) for _ in range(args.repeat)), key=lambda r: r[0])
            seconds, count, offers = best
            print(
                f"{mix:>12} {name:>5}: {count / seconds:>10,.0f} items/s  "
                f"{megabytes / seconds:6.1f} MB/s  {seconds:6.2f} s  "
                f"({count:,} items from {len(items)} real ones, {len(pages)} pages "
                f"{megabytes:.0f} MB, {offers:,} offers)"
            )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak:.0f} MB (holds every page body in memory)")


if __name__ == "__main__":
    main()
