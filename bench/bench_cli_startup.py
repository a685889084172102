"""Whole-process time of one-shot `gpuhours` commands, beside `python -c pass`.

Each command runs as a new process on a store filled from the bundled snapshot (synced once,
beforehand, into a temporary data dir), the way a user types it. Prints the median and the
fastest of ``--runs`` runs, and the median as a multiple of the bare interpreter's start-up.
Asserts nothing.

    python bench/bench_cli_startup.py [--runs 21]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GPUHOURS = [sys.executable, "-m", "aggregator"]
COMMANDS: list[tuple[str, list[str]]] = [
    ("python -c pass", [sys.executable, "-c", "pass"]),
    ("gpuhours --help", [*GPUHOURS, "--help"]),
    ("gpuhours gpus --json", [*GPUHOURS, "gpus", "--json"]),
    ("gpuhours providers --json", [*GPUHOURS, "providers", "--json"]),
    (
        "gpuhours offers --gpu H100 --json",
        [*GPUHOURS, "offers", "--gpu", "H100", "--json"],
    ),
    (
        "gpuhours cheapest --gpu H100 --gpu-hours 1000 --json",
        [*GPUHOURS, "cheapest", "--gpu", "H100", "--gpu-hours", "1000", "--json"],
    ),
]


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        env = {**os.environ, "GPUHOURS_DATA_DIR": data_dir}
        for name in ("GPUHOURS_DATABASE_URL", "GPUHOURS_PLUGINS", "GPUHOURS_TERMS_FILE"):
            env.pop(name, None)
        subprocess.run(
            [*GPUHOURS, "sync", "--replay", "bundled", "--json"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=Path(__file__).resolve().parents[1],
        )
        medians: dict[str, float] = {}
        print(f"{'command':<55} {'median s':>9} {'fastest s':>10} {'x pass':>7}")
        for label, command in COMMANDS:
            timed(command, env)  # warm the OS file cache and the bytecode
            times = [timed(command, env) for _ in range(args.runs)]
            medians[label] = statistics.median(times)
            ratio = medians[label] / medians["python -c pass"]
            print(f"{label:<55} {medians[label]:>9.3f} {min(times):>10.3f} {ratio:>7.1f}")
    print(f"({args.runs} runs each, {sys.executable}, {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
