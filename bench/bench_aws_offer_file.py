"""Benchmark: streaming an EC2 offer file (CSV) through the AWS plugin's parser.

Prints throughput (MB/s) and peak memory at two file sizes; memory must not grow with the size.
Targets: >= 150 MB/s on one core, peak RSS < 200 MB.

What is measured
----------------
A CSV in the real layout is generated into a temporary directory (deleted afterwards): the
preamble and 91-column header of AWS's file, then rows copied from the real offer-file sample
(``tests/fixtures/aws/3-global-pricing-file-sample.csv``: Windows, RHEL, SUSE, Ubuntu Pro,
dedicated and unused-reservation rows, reserved terms with upfront-fee rows) with fresh SKUs,
so real non-GPU rows dominate as they do in AWS's files. To keep the pre-filter honest, about
5 % of the rows are made Linux / Shared / Used non-GPU machines (they pass the raw-line
pre-filter and must be csv-parsed, then dropped): more than the ~2-3 % Linux shared rows a real
file has. Every ~10,000 rows the 55 rows of the constructed us-east-1 GPU file follow (on-demand,
reserved with their upfront-fee rows, excluded variants), with fresh SKUs: ~0.5 % of the rows.

Each size is parsed in a fresh child process (so ``ru_maxrss`` is that run's peak alone),
reading the file in 1 MiB chunks and turning every price point into an offer, the same work
the feed does per chunk. It runs twice: through the synchronous driver and through the
asynchronous one the feed uses (an async generator of chunks standing in for httpx's
``aiter_bytes``). A third, slower run under ``tracemalloc`` reports the peak of Python
allocations.

Run::

    python bench/bench_aws_offer_file.py              # 100 MB and 500 MB
    python bench/bench_aws_offer_file.py --sizes 50 600 --linux-share 0.25
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import shutil
import string
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from plugins.aws.offer_file import OfferFileParser, PricePoint  # noqa: E402
from plugins.aws.offers import offer_from_point  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "aws"
CHUNK = 1 << 20
LINUX_SHARE = 0.05
GPU_EVERY = 10_000  # one block of the GPU file's 55 rows per ~10,000 rows


def _lines(path: Path) -> tuple[list[str], str, list[str]]:
    lines = path.read_text().splitlines(keepends=True)
    header_at = next(i for i, line in enumerate(lines) if line.startswith('"SKU"'))
    return lines[:header_at], lines[header_at], lines[header_at + 1 :]


def _as_linux_shared(row: str) -> str:
    """A sample row turned into a Linux / Shared / Used / no-software row (still no GPU)."""
    fields = row.split('","')
    swaps = {
        '"Windows"': '"Linux"',
        '"RHEL"': '"Linux"',
        '"SUSE"': '"Linux"',
        '"Dedicated"': '"Shared"',
        '"UnusedCapacityReservation"': '"Used"',
        '"SQL Web"': '"NA"',
        '"SQL Std"': '"NA"',
    }
    text = '","'.join(fields)
    for old, new in swaps.items():
        text = text.replace(old, new)
    return text


def _fresh_skus(rows: list[str], rng: random.Random) -> str:
    """``rows`` with every SKU replaced by a new random one (rows sharing a SKU keep sharing)."""
    alphabet = string.ascii_uppercase + string.digits
    mapping: dict[str, str] = {}
    out = []
    for row in rows:
        old = row[1:17]
        new = mapping.setdefault(old, "".join(rng.choices(alphabet, k=16)))
        out.append(row.replace(old, new))
    return "".join(out)


def generate(path: Path, megabytes: int, *, linux_share: float = LINUX_SHARE, seed: int = 3) -> int:
    """Write a >= ``megabytes`` MB offer file in the real layout; returns its size in bytes."""
    rng = random.Random(seed)
    preamble, header, sample_rows = _lines(FIXTURES / "3-global-pricing-file-sample.csv")
    _, _, gpu_rows = _lines(FIXTURES / "ec2-us-east-1-gpu.csv")
    linux_rows = [_as_linux_shared(r) for r in sample_rows]
    target = megabytes * 1_000_000
    written = 0
    rows = 0
    with path.open("w", newline="") as out:
        for line in (*preamble, header):
            out.write(line)
            written += len(line)
        while written < target:
            # One copy of the sample (its reserved terms stay together under one fresh SKU
            # each), some rows swapped for their Linux / Shared / Used variant.
            chosen = [
                linux if rng.random() < linux_share else row
                for row, linux in zip(sample_rows, linux_rows, strict=True)
            ]
            text = _fresh_skus(chosen, rng)
            rows += len(chosen)
            if rows % GPU_EVERY < len(chosen):
                text += _fresh_skus(gpu_rows, rng)
                rows += len(gpu_rows)
            out.write(text)
            written += len(text)
    return written


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


async def _achunks(path: Path) -> AsyncIterator[bytes]:
    for chunk in _chunks(path):
        yield chunk


def _count(parser: OfferFileParser, results: Iterator[object]) -> dict[str, int]:
    counts = {"points": 0, "offers": 0, "problems": 0}
    for result in results:
        if isinstance(result, PricePoint):
            counts["points"] += 1
            counts["offers"] += hasattr(offer_from_point(result), "price_per_hour")
        else:
            counts["problems"] += 1
    counts["candidates"] = parser.stream.candidates
    counts["lines"] = parser.stream.lines_read
    return counts


def parse_once(path: Path, mode: str) -> dict[str, object]:
    """Parse ``path`` once in this process and report time and memory."""
    if mode == "tracemalloc":
        tracemalloc.start()
    start = time.perf_counter()
    parser = OfferFileParser(what=str(path))
    if mode == "async":

        async def run() -> list[object]:
            return [r async for r in parser.aparse(_achunks(path))]

        counts = _count(parser, iter(asyncio.run(run())))
    else:
        counts = _count(parser, parser.parse(_chunks(path)))
    seconds = time.perf_counter() - start
    report: dict[str, object] = {
        "mode": mode,
        "bytes": path.stat().st_size,
        "seconds": seconds,
        "mb_per_s": path.stat().st_size / 1e6 / seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        **counts,
    }
    if mode == "tracemalloc":
        report["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    return report


def _child(path: Path, mode: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, __file__, "--parse", str(path), "--mode", mode],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 500], help="MB")
    parser.add_argument(
        "--linux-share",
        type=float,
        default=LINUX_SHARE,
        help="share of rows made Linux/Shared/Used (they pass the pre-filter); default 0.05",
    )
    parser.add_argument("--parse", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="sync", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.parse:
        print(json.dumps(parse_once(args.parse, args.mode)))
        return

    workdir = Path(tempfile.mkdtemp(prefix="gpuhours-bench-aws-"))
    try:
        print(
            f"{'size':>8} {'mode':>11} {'MB/s':>7} {'peak RSS':>9} {'traced':>8} "
            f"{'lines':>9} {'parsed':>8} {'offers':>7} {'seconds':>8}"
        )
        for size in args.sizes:
            path = workdir / f"offer-file-{size}mb.csv"
            started = time.perf_counter()
            generate(path, size, linux_share=args.linux_share)
            made = time.perf_counter() - started
            print(f"# generated {path.stat().st_size / 1e6:.0f} MB in {made:.1f} s", flush=True)
            for mode in ("sync", "async", "tracemalloc"):
                r = _child(path, mode)
                traced = f"{r['traced_peak_mb']:.1f}MB" if "traced_peak_mb" in r else "-"
                print(
                    f"{r['bytes'] / 1e6:>6.0f}MB {mode:>11} {r['mb_per_s']:>7.1f} "  # type: ignore[operator]
                    f"{r['peak_rss_mb']:>7.1f}MB {traced:>8} {r['lines']:>9} "
                    f"{r['candidates']:>8} {r['offers']:>7} {r['seconds']:>8.2f}",
                    flush=True,
                )
            path.unlink()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
