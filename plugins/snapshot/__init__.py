"""The offline price snapshot: recorded price-API responses shipped with gpuhours.

``gpuhours sync --replay bundled`` answers the built-in plugins' requests from ``responses/``
(the replay format of :mod:`aggregator.http`), so a machine with no network gets a working
store. The prices are as old as the recordings they come from (see ``PROVENANCE.md``); run
``gpuhours sync`` with network access for live prices. ``tools/build_snapshot.py`` rebuilds it.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["AGE_NOTE", "SNAPSHOT_DIR", "bundled_feeds"]

SNAPSHOT_DIR = Path(__file__).resolve().parent / "responses"

AGE_NOTE = (
    "prices from the bundled offline snapshot: AWS offer files of 2025-05 (us-east-1; "
    "reserved and savings-plan rates constructed from published figures), spot prices of "
    "2021-04 and Spot Instance Advisor interruption rates of 2025-06, "
    "Azure retail prices of 2021-12 (francecentral), 2026-01 (eastus2) and 2026-08 "
    "(mexicocentral and a few other regions), GCP SKUs of 2023-03 and 2024-09 (H100 machines "
    "in 42 regions) plus SKUs built from a published catalog; OCI's price list and RunPod's "
    "GPU types of 2026-08; Lambda's published prices of 2026-09 (a list built from them, "
    "capacity not listed); Vultr's bare-metal GPU plans of 2025-01 (an excerpt, no cloud GPU "
    "plans); run `gpuhours sync` with network access for live prices"
)


def bundled_feeds() -> frozenset[str]:
    """The feeds the snapshot holds recordings of: those its ``OBSERVED_AT.json`` dates.

    A bundled sync runs only these of the built-in feeds: another (a seller added since the
    snapshot was built, the mirror) would ask for responses that were never recorded.
    """
    from aggregator.sync import load_observed_at

    return frozenset(load_observed_at(SNAPSHOT_DIR))
