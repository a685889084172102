"""How long a plan takes over a store of 1k, 10k and 100k offers: prints figures, passes nothing.

Each case times :func:`aggregator.planner.plan_from_store` in-process, end to end (SQL query,
building the offers, pruning, HiGHS, alternatives and notes), p50 and p99, three ways:

- ``warm``: the offer memo (:mod:`db.offer_cache`) holds the case's offers, as a service's
  second and later plans between two syncs;
- ``cold``: the memo is emptied before every plan, so each plan reads the store (the API's
  first plan after a sync), on the engine's pooled connection;
- ``fresh``: cold, and on a new connection every plan, so SQLite's page cache is empty too
  (the one-shot CLI); on SQLite through :func:`db.reader.open_reader` (stdlib ``sqlite3``,
  what the CLI uses), on PostgreSQL through a new engine connection.

``read`` is the cold read alone (:func:`db.read.query_offer_records` of the query the planner
runs, cheapest offer per shape in SQL), ``solve`` the planner alone over all matching records
already in memory. Cases:

- simple: 1,000 H100 GPU-hours, no deadline, default purchase options;
- constrained: 1,500,000 H100 GPU-hours within a year on at most 256 GPUs at once, with
  commitments (reserved, savings plans, committed use) allowed, so the MILP mixes 1-year
  terms with on-demand under the GPU cap; top 3 alternatives;
- spot: 20,000 A100 GPU-hours in us-* regions within a week, spot allowed, 10 % overhead;
- one-cluster: the constrained case on one provider, region and instance type (purchase
  options may mix), solved cluster by cluster with the best-so-far as a bound;
- budget: the most H100 GPU-hours 2,000,000 USD buys within a year on at most 256 GPUs at
  once, commitments allowed (a most-work solve, then a cheapest-for-that-work solve);
- equivalent: 200,000 H100-equivalent GPU-hours from any GPU of known throughput within 30
  days on at most 512 GPUs at once, an A100 measured at 0.35 of an H100;
- training: all three at once: the most H100-equivalent GPU-hours 500,000 USD buys within
  30 days on one cluster of at most 128 GPUs;
- spot-auto: the spot case with ``spot_overhead: auto`` (each spot offer's loss from its
  interruption bucket, 30-minute checkpoints, 10-minute restarts);
- cluster-auto: 150,000 H100 GPU-hours within 30 days on one cluster of at most 256 GPUs,
  spot allowed and priced ``auto``, so the planner re-prices the cluster's spot instances
  until their count agrees with the loss charged.

AWS offers get synthetic interruption rates (the Spot Instance Advisor's five buckets, sampled
per region and instance type); Azure and GCP have none, as in a real store, so ``auto`` prices
them with the documented default.

The catalog is synthetic but shaped like the real one: AWS, Azure and GCP instance shapes with
their GPU counts (fractional A10 on Azure), per-provider purchase options (AWS reserved terms
x payments x offering classes and savings plans, Azure spot / low priority / reservations /
savings plans, GCP spot and committed use), region and option price factors, sampled with a
fixed seed; one offer in five lists capacity (half of those sold out) for ``available-now``.
Larger stores have more regions. SQLite runs on a temporary file; PostgreSQL too when ``--pg
URL`` or ``GPUHOURS_TEST_DATABASE_URL`` is set, in a schema dropped afterwards.

    python bench/bench_planner.py [--sizes 1000,10000,100000] [--repeat 100] [--pg URL]
                                  [--gc-freeze] [--cases training,spot-auto]

Most of a p99 above the p50 is a generation-2 collection of the cyclic garbage collector: a
pass over the ~100k objects the process holds after start-up (tens of ms), which the objects
each plan allocates (a row and a record per candidate offer, the model, the plan) trigger
every hundred-odd plans at 10k offers. ``--gc-freeze`` shows the figures of a server that
calls ``gc.freeze()`` after start-up.

Targets: p50 <= 20 ms and p99 <= 100 ms warm at 10k offers, for every case; cold at 100k
offers p50 <= 20 ms and p99 <= 3x its p50 (the simple, constrained and spot cases).
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import random
import statistics
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from sqlalchemy import Engine

from aggregator.gpus import GpuVocabulary, default_vocabulary
from aggregator.interruptions import InterruptionRate
from aggregator.models import Offer, OfferingClass, Payment, PurchaseOption
from aggregator.planner import from_store, plan_from_store, solve
from aggregator.planner.core import shape_columns
from aggregator.planner.filters import filter_steps, resolve_gpus
from aggregator.planner.throughput import work_scale
from aggregator.plans import PlanRequest
from db import store
from db.engine import make_engine, redacted_url
from db.migrate import upgrade
from db.offer_cache import cache_for
from db.reader import open_reader
from db.scratch import scratch_schema

_planner_query = from_store._query  # the query plan_from_store runs, to time its read alone

NOW = datetime(2025, 6, 1, tzinfo=UTC)
Shape = tuple[str, str, float, float, float]  # instance type, GPU, count, GB per GPU, $/GPU-h

SHAPES: dict[str, list[Shape]] = {
    "aws": [
        ("p5.48xlarge", "H100", 8, 80, 6.88),
        ("p5e.48xlarge", "H200", 8, 141, 7.9),
        ("p4d.24xlarge", "A100", 8, 40, 2.74),
        ("p4de.24xlarge", "A100", 8, 80, 5.12),
        ("g6.xlarge", "L4", 1, 24, 0.8),
        ("g6.12xlarge", "L4", 4, 24, 1.15),
        ("g6.48xlarge", "L4", 8, 24, 1.7),
        ("g6e.xlarge", "L40S", 1, 48, 1.86),
        ("g6e.48xlarge", "L40S", 8, 48, 3.76),
        ("g5.xlarge", "A10G", 1, 24, 1.0),
        ("g5.12xlarge", "A10G", 4, 24, 1.42),
        ("g5.48xlarge", "A10G", 8, 24, 2.04),
        ("g4dn.xlarge", "T4", 1, 16, 0.53),
        ("g4dn.12xlarge", "T4", 4, 16, 0.98),
        ("p3.2xlarge", "V100", 1, 16, 3.06),
        ("p3.16xlarge", "V100", 8, 16, 3.06),
    ],
    "azure": [
        ("Standard_ND96isr_H100_v5", "H100", 8, 80, 12.29),
        ("Standard_NC40ads_H100_v5", "H100NVL", 1, 94, 6.98),
        ("Standard_NC80adis_H100_v5", "H100NVL", 2, 94, 6.98),
        ("Standard_ND96isr_H200_v5", "H200", 8, 141, 13.8),
        ("Standard_NC24ads_A100_v4", "A100", 1, 80, 3.67),
        ("Standard_NC48ads_A100_v4", "A100", 2, 80, 3.67),
        ("Standard_NC96ads_A100_v4", "A100", 4, 80, 3.67),
        ("Standard_ND96asr_v4", "A100", 8, 40, 3.4),
        ("Standard_NC4as_T4_v3", "T4", 1, 16, 0.53),
        ("Standard_NC64as_T4_v3", "T4", 4, 16, 1.09),
        ("Standard_NV6ads_A10_v5", "A10", 1 / 6, 24, 2.72),
        ("Standard_NV12ads_A10_v5", "A10", 1 / 3, 24, 2.19),
        ("Standard_NV36ads_A10_v5", "A10", 1, 24, 1.6),
        ("Standard_NC6s_v3", "V100", 1, 16, 3.06),
    ],
    "gcp": [
        *[(f"a3-highgpu-{n}g", "H100", n, 80, 11.06) for n in (1, 2, 4, 8)],
        ("a3-megagpu-8g", "H100", 8, 80, 11.5),
        *[(f"a2-highgpu-{n}g", "A100", n, 40, 3.67) for n in (1, 2, 4, 8)],
        ("a2-megagpu-16g", "A100", 16, 40, 3.67),
        *[(f"a2-ultragpu-{n}g", "A100", n, 80, 5.07) for n in (1, 2, 4, 8)],
        *[(f"g2-standard-{4 * n}", "L4", n, 24, 0.85) for n in (1, 2, 4, 8)],
        *[(f"n1-standard-8-t4x{n}", "T4", n, 16, 0.55) for n in (1, 2, 4)],
        *[(f"n1-standard-8-v100x{n}", "V100", n, 16, 2.98) for n in (1, 2, 4, 8)],
    ],
}
# (option, term hours, payment, offering class, price factor against on-demand)
Option = tuple[PurchaseOption, int, Payment | None, OfferingClass | None, float]
_PAY = {Payment.NO_UPFRONT: 1.0, Payment.PARTIAL_UPFRONT: 0.96, Payment.ALL_UPFRONT: 0.94}
OPTIONS: dict[str, list[Option]] = {
    "aws": [
        (PurchaseOption.ON_DEMAND, 0, None, None, 1.0),
        (PurchaseOption.SPOT, 0, None, None, 0.42),
        *[
            (
                PurchaseOption.RESERVED,
                term,
                pay,
                cls,
                f * _PAY[pay] * (1.1 if cls.value == "convertible" else 1.0),
            )
            for term, f in ((8760, 0.66), (26280, 0.45))
            for pay in Payment
            for cls in OfferingClass
        ],
        *[
            (PurchaseOption.SAVINGS_PLAN, term, pay, None, f * _PAY[pay])
            for term, f in ((8760, 0.72), (26280, 0.52))
            for pay in Payment
        ],
    ],
    "azure": [
        (PurchaseOption.ON_DEMAND, 0, None, None, 1.0),
        (PurchaseOption.SPOT, 0, None, None, 0.35),
        (PurchaseOption.LOW_PRIORITY, 0, None, None, 0.3),
        (PurchaseOption.RESERVED, 8760, None, None, 0.65),
        (PurchaseOption.RESERVED, 26280, None, None, 0.4),
        (PurchaseOption.SAVINGS_PLAN, 8760, None, None, 0.83),
        (PurchaseOption.SAVINGS_PLAN, 26280, None, None, 0.62),
    ],
    "gcp": [
        (PurchaseOption.ON_DEMAND, 0, None, None, 1.0),
        (PurchaseOption.SPOT, 0, None, None, 0.4),
        (PurchaseOption.COMMITTED, 8760, None, None, 0.63),
        (PurchaseOption.COMMITTED, 26280, None, None, 0.45),
    ],
}
GEOS = {
    "aws": ["us-east", "us-west", "eu-west", "eu-central", "ap-south", "ap-northeast", "sa-east"],
    "azure": ["eastus", "westus", "northeurope", "westeurope", "japaneast", "southindia"],
    "gcp": ["us-central", "us-east", "europe-west", "asia-east", "asia-northeast"],
}


def _regions(provider: str, count: int) -> Iterator[str]:
    geos = GEOS[provider]
    for i in range(count):
        geo, n = geos[i % len(geos)], i // len(geos) + 1
        yield (
            f"{geo}{n}"
            if provider == "azure"
            else f"{geo}-{n}"
            if provider == "aws"
            else f"{geo}{n}"
        )


def make_offers(count: int, seed: int = 0) -> list[Offer]:
    """``count`` distinct offers sampled from a catalog with enough regions to hold them."""
    rng = random.Random(seed)
    per_region = {p: len(SHAPES[p]) * len(OPTIONS[p]) for p in SHAPES}
    regions = math.ceil(count / sum(per_region.values())) * 4  # sample from 4x the need
    pool = [
        (provider, region, shape, option)
        for provider in SHAPES
        for region in _regions(provider, regions)
        for shape in SHAPES[provider]
        for option in OPTIONS[provider]
    ]
    offers: list[Offer] = []
    for i, (provider, region, shape, option) in enumerate(rng.sample(pool, count)):
        instance_type, gpu, gpus, memory, per_gpu = shape
        kind, term, payment, offering_class, factor = option
        region_factor = 0.9 + 0.4 * ((zlib.crc32(f"{provider}/{region}".encode()) % 1000) / 1000)
        price = round(per_gpu * gpus * factor * region_factor * rng.uniform(0.97, 1.03), 6)
        upfront = 0.0
        if payment is Payment.ALL_UPFRONT:
            upfront = math.floor(price * term)
        elif payment is Payment.PARTIAL_UPFRONT:
            upfront = math.floor(price * term / 2)
        offers.append(
            Offer(
                provider=provider,
                region=region,
                instance_type=instance_type,
                gpu=gpu,
                gpu_count=gpus,
                gpu_memory_gb=memory,
                purchase_option=kind,
                term_hours=term,
                payment=payment,
                offering_class=offering_class,
                price_per_hour=price,
                upfront=upfront,
                source={"sku": f"BENCH-{i:07d}"},
                # One offer in five lists capacity, as Lambda and RunPod do: half of them sold out.
                available_in=None if i % 5 else ((f"{region}-dc",) if i % 10 == 0 else ()),
            )
        )
    return offers


# The Spot Instance Advisor's scale: (label, lower and upper bound in % interrupted a month).
ADVISOR_BUCKETS = [("<5%", 0, 5), ("5-10%", 5, 10), ("10-15%", 10, 15), ("15-20%", 15, 20)]
ADVISOR_BUCKETS.append((">20%", 20, 100))


def make_rates(offers: list[Offer], seed: int = 0) -> list[InterruptionRate]:
    """A sampled interruption rate for every AWS (region, instance type) the offers hold."""
    rng = random.Random(seed)
    keys = sorted({(o.region, o.instance_type) for o in offers if o.provider == "aws"})
    rates = []
    for region, instance_type in keys:
        bucket = rng.choices(range(len(ADVISOR_BUCKETS)), weights=(5, 3, 2, 1, 1))[0]
        label, low, high = ADVISOR_BUCKETS[bucket]
        rates.append(
            InterruptionRate(
                provider="aws",
                region=region,
                instance_type=instance_type,
                bucket=bucket,
                bucket_label=label,
                interruption_min_percent=low,
                interruption_max_percent=high,
                savings_percent=rng.uniform(40, 80),
                source={"bench": f"{region}/{instance_type}"},
            )
        )
    return rates


def fill(engine: Engine, offers: list[Offer]) -> None:
    upgrade(engine)
    rates = store.InterruptionSnapshot(
        feed="aws/bench-advisor",
        provider="aws",
        rates=make_rates(offers),
        unchanged=[],
        state={},
        started_at=NOW,
    )
    store.replace_interruption_rates(engine, rates, now=NOW)
    for provider in SHAPES:
        own = [o for o in offers if o.provider == provider]
        snapshot = store.FeedSnapshot(
            feed=f"{provider}/bench",
            provider=provider,
            offers=own,
            unchanged=[],
            state={},
            started_at=NOW,
        )
        store.apply_snapshot(engine, snapshot, now=NOW)
    store.refresh_statistics(engine)  # as a sync does after writing offers


CASES = {
    "simple": PlanRequest(gpu_hours=1000, gpus=["H100"]),
    "constrained": PlanRequest(
        gpu_hours=1_500_000, gpus=["H100"], deadline_hours=8760, max_gpus=256
    ),
    "spot": PlanRequest(
        gpu_hours=20_000,
        gpus=["A100"],
        regions=["us-*"],
        deadline_hours=168,
        purchase_options=[
            "on_demand",
            "spot",
            "low_priority",
            "reserved",
            "savings_plan",
            "committed",
        ],
        spot_overhead=0.1,
    ),
    "one-cluster": PlanRequest(
        gpu_hours=1_500_000,
        gpus=["H100"],
        deadline_hours=8760,
        max_gpus=256,
        one_cluster=True,
    ),
    "budget": PlanRequest(budget=2_000_000, gpus=["H100"], deadline_hours=8760, max_gpus=256),
    "available-now": PlanRequest(
        gpu_hours=1_500_000, gpus=["H100"], deadline_hours=8760, max_gpus=256, available_now=True
    ),
    "equivalent": PlanRequest(
        gpu_hours=200_000,
        equivalent_gpu="H100",
        throughput={"A100": 0.35},
        deadline_hours=720,
        max_gpus=512,
    ),
    "training": PlanRequest(
        budget=500_000,
        equivalent_gpu="H100",
        deadline_hours=720,
        max_gpus=128,
        one_cluster=True,
    ),
    "spot-auto": PlanRequest(
        gpu_hours=20_000,
        gpus=["A100"],
        regions=["us-*"],
        deadline_hours=168,
        purchase_options=["on_demand", "spot", "low_priority"],
        spot_overhead="auto",
    ),
    "cluster-auto": PlanRequest(
        gpu_hours=150_000,
        gpus=["H100"],
        deadline_hours=720,
        max_gpus=256,
        one_cluster=True,
        purchase_options=["on_demand", "spot"],
        spot_overhead="auto",
    ),
}


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def _timed(
    repeat: int, call: Callable[[], object], before: Callable[[], object] | None = None
) -> list[float]:
    """``repeat`` timings of ``call`` in ms after 3 warm-up calls; ``before`` runs untimed
    ahead of each call."""
    for _ in range(3):
        if before is not None:
            before()
        call()
    samples = []
    for _ in range(repeat):
        if before is not None:
            before()
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def _figures(samples: list[float]) -> str:
    return f"p50 {statistics.median(samples):6.1f} p99 {_percentile(samples, 0.99):6.1f}"


def _fresh_plan(url: str, engine: Engine, gpus: GpuVocabulary, request: PlanRequest) -> None:
    """One plan on a new connection: the stdlib reader on SQLite, a new pooled one elsewhere."""
    if engine.dialect.name == "sqlite":
        with open_reader(url) as reader:  # a new reader has an empty memo of its own
            plan_from_store(reader, request, gpus=gpus, now=NOW)
    else:
        cache_for(engine).clear()
        engine.dispose()  # the pool's next connection is a new one
        plan_from_store(engine, request, gpus=gpus, now=NOW)


def bench(
    label: str,
    engine: Engine,
    url: str,
    size: int,
    repeat: int,
    *,
    freeze: bool,
    cases: dict[str, PlanRequest],
) -> None:
    offers = make_offers(size)
    fill(engine, offers)
    del offers
    if freeze:
        gc.collect()
        gc.freeze()
    gpus = default_vocabulary()
    memo = cache_for(engine)
    print(f"{label} ({redacted_url(engine)}), {size:,} offers; times in ms")
    for name, request in cases.items():
        scale = work_scale(request, gpus)
        steps = filter_steps(request, resolve_gpus(request, gpus), scale)
        query = _planner_query(
            gpus,
            steps,
            limit=None,
            cheapest_per_shape=True,
            shape_columns=shape_columns(request, scale),
        )
        full = _planner_query(gpus, steps, limit=None)
        loaded = store.query_offer_records(engine, full)
        read_rows = store.query_offer_records(engine, query)
        plan = plan_from_store(engine, request, gpus=gpus, now=NOW)
        run = partial(plan_from_store, engine, request, gpus=gpus, now=NOW)
        warm = _timed(repeat, run)
        cold = _timed(repeat, run, before=memo.clear)
        fresh = _timed(repeat, partial(_fresh_plan, url, engine, gpus, request))
        reading = _timed(repeat, partial(store.query_offer_records, engine, query))
        solving = _timed(repeat, partial(solve, loaded, request, now=NOW))
        print(
            f"  {name:<12} warm {_figures(warm)}  cold {_figures(cold)}  "
            f"fresh {_figures(fresh)}\n"
            f"  {'':<12} (read p50 {statistics.median(reading):5.1f}: {len(read_rows):,} of "
            f"{len(loaded):,} matching offers; solve p50 {statistics.median(solving):5.1f}; "
            f"{len(plan.lines)} line(s) {plan.total_cost:,.0f} {plan.currency} for "
            f"{plan.equivalent_gpu_hours or plan.gpu_hours:,.0f} GPU-hours, "
            f"{len(plan.alternatives)} alternative(s))"
        )
    if freeze:
        gc.unfreeze()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--pg", default=os.environ.get("GPUHOURS_TEST_DATABASE_URL"))
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated case names")
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="move start-up objects out of the cyclic GC (gc.freeze) before timing",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    cases = {name: CASES[name] for name in args.cases.split(",")}
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            engine = make_engine(url)
            try:
                bench("SQLite", engine, url, size, args.repeat, freeze=args.gc_freeze, cases=cases)
            finally:
                engine.dispose()
        if args.pg:
            with scratch_schema(args.pg, prefix="gh_bench_plan") as url:
                engine = make_engine(url)
                try:
                    bench(
                        "PostgreSQL",
                        engine,
                        url,
                        size,
                        args.repeat,
                        freeze=args.gc_freeze,
                        cases=cases,
                    )
                finally:
                    engine.dispose()
    if not args.pg:
        print("PostgreSQL: skipped (pass --pg URL or set GPUHOURS_TEST_DATABASE_URL)")


if __name__ == "__main__":
    main()
