"""How fast a feed sync stores offers: prints figures, passes or fails nothing.

Two syncs of one feed of N synthetic offers (default 100,000) through
:func:`db.store.apply_snapshot`, timed from the call to its return (building the ``Offer``
objects, which a real sync does while parsing, is not counted):

- first sync: every offer is new (insert + one history interval each);
- re-sync: the same offers an hour later with 5 % of the prices changed (upsert of all,
  5 % of the intervals closed and reopened).

SQLite runs on a temporary file. PostgreSQL runs too when ``--pg URL`` or
``GPUHOURS_TEST_DATABASE_URL`` is given, in a schema created for the run and dropped after.

    python bench/bench_upsert.py [--offers 100000] [--pg postgresql://postgres@127.0.0.1/test]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from aggregator.models import Offer, Payment, PurchaseOption
from db.engine import make_engine, redacted_url
from db.migrate import upgrade
from db.scratch import scratch_schema
from db.store import FeedSnapshot, apply_snapshot

FEED = "aws/on-demand"
REGIONS = [
    f"{geo}-{n}"
    for geo in ("us-east", "us-west", "eu-west", "ap-south", "sa-east")
    for n in (1, 2, 3, 4)
]
FAMILIES = [
    ("p5", "H100", 8, 80),
    ("p4d", "A100", 8, 40),
    ("g6", "L4", 1, 24),
    ("g5", "A10G", 1, 24),
]
OPTIONS = [
    (PurchaseOption.ON_DEMAND, 0, None),
    (PurchaseOption.RESERVED, 8760, Payment.NO_UPFRONT),
    (PurchaseOption.RESERVED, 8760, Payment.ALL_UPFRONT),
    (PurchaseOption.RESERVED, 26280, Payment.NO_UPFRONT),
    (PurchaseOption.RESERVED, 26280, Payment.PARTIAL_UPFRONT),
]


def make_offers(count: int, *, changed_share: float = 0.0, seed: int = 0) -> list[Offer]:
    """``count`` distinct offers; with ``changed_share``, that share gets a different price."""
    rng = random.Random(seed)
    offers: list[Offer] = []
    per_size = len(REGIONS) * len(OPTIONS)
    for i in range(count):
        region = REGIONS[i % len(REGIONS)]
        option, term, payment = OPTIONS[(i // len(REGIONS)) % len(OPTIONS)]
        family, gpu, gpus, memory = FAMILIES[(i // per_size) % len(FAMILIES)]
        size = i // (per_size * len(FAMILIES))
        price = round(1.0 + (i * 7919 % 10_000) / 100, 4)
        if changed_share and rng.random() < changed_share:
            price = round(price * 0.9, 4)
        offers.append(
            Offer(
                provider="aws",
                region=region,
                instance_type=f"{family}.{size}xlarge",
                gpu=gpu,
                gpu_count=gpus,
                gpu_memory_gb=memory,
                vcpus=8 * gpus,
                memory_gb=64 * gpus,
                purchase_option=option,
                term_hours=term,
                payment=payment,
                price_per_hour=price,
                upfront=price * term if payment is Payment.ALL_UPFRONT else 0.0,
                source={"sku": f"SKU{i:08d}", "rate_code": f"SKU{i:08d}.RATE.{term}"},
            )
        )
    return offers


def timed_apply(engine: Engine, offers: list[Offer], now: datetime) -> tuple[float, str]:
    snap = FeedSnapshot(
        feed=FEED, provider="aws", offers=offers, unchanged=[], state={}, started_at=now
    )
    start = time.perf_counter()
    run = apply_snapshot(engine, snap, now=now)
    elapsed = time.perf_counter() - start
    counts = f"new={run.new} changed={run.changed} unchanged={run.unchanged}"
    return elapsed, counts


def bench(label: str, engine: Engine, count: int) -> None:
    upgrade(engine)
    first = make_offers(count)
    resync = make_offers(count, changed_share=0.05, seed=1)
    now = datetime(2025, 3, 1, tzinfo=UTC)
    print(f"{label}: {redacted_url(engine)}")
    for name, offers, at in (
        ("first sync", first, now),
        ("re-sync, 5% changed", resync, now + timedelta(hours=1)),
    ):
        elapsed, counts = timed_apply(engine, offers, at)
        print(
            f"  {name:<22} {count:>8,} offers in {elapsed:6.2f} s = "
            f"{count / elapsed:>9,.0f} offers/s   ({counts})"
        )


def bench_arguments(doc: str) -> argparse.Namespace:
    """``--offers N`` (100,000) and ``--pg URL`` (default ``GPUHOURS_TEST_DATABASE_URL``), for
    the benchmarks that fill a store with :func:`make_offers`."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--offers", type=int, default=100_000)
    parser.add_argument("--pg", default=os.environ.get("GPUHOURS_TEST_DATABASE_URL"))
    return parser.parse_args()


def main() -> None:
    args = bench_arguments(__doc__ or "")

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        try:
            bench("SQLite", engine, args.offers)
        finally:
            engine.dispose()
    if args.pg:
        with scratch_schema(args.pg, prefix="gh_bench") as url:
            engine = make_engine(url)
            try:
                bench("PostgreSQL", engine, args.offers)
            finally:
                engine.dispose()
    else:
        print("PostgreSQL: skipped (pass --pg URL or set GPUHOURS_TEST_DATABASE_URL)")


if __name__ == "__main__":
    main()
