"""Reading the sellers' interruption data, over a :class:`db.reader.Reader` like the offer reads
(no SQLAlchemy needed on SQLite): what the planner prices spot interruptions with."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from aggregator.interruptions import InterruptionRate, RateKey
from db.offer_sql import SqlParams
from db.read import utc_datetime
from db.reader import Reader, as_reader

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = ["RATE_COLUMNS", "interruption_rates"]

# Instance types per IN (...) list: well under both databases' bound-parameter limits.
_CHUNK = 5000
# fmt: off
RATE_COLUMNS = (
    "provider", "region", "instance_type", "bucket", "bucket_label", "interruption_min_percent",
    "interruption_max_percent", "savings_percent", "source", "observed_at",
)
# fmt: on
"""The ``interruption_rates`` columns :func:`interruption_rates` reads, in its order."""


def interruption_rates(
    source: Reader | Engine, keys: Iterable[RateKey]
) -> dict[RateKey, InterruptionRate]:
    """The stored interruption rate of each ``(provider, region, instance_type)`` in ``keys``.

    Returns a dict whose keys are exactly those of ``keys`` that the store holds a rate for,
    each mapped to that rate (one per key, whichever feed stored it last); a key without
    stored data is absent, so the caller applies its own default. A rate is as its feed
    published it: ``bucket`` and ``bucket_label`` in the seller's scale,
    ``interruption_min_percent`` <= ``interruption_max_percent`` in 0..100 (percent of
    instances interrupted in the trailing month), ``savings_percent`` as advertised (negative
    when spot costs more than on-demand, ``None`` when not published), ``source`` naming where
    it came from, ``observed_at`` timezone-aware UTC (when the response was received). All
    rows are read in one snapshot of the store; matching is exact and case-sensitive. Raises
    :class:`~aggregator.errors.StoreError` when the store cannot be read.
    """
    wanted = set(keys)
    types = sorted({instance_type for _, _, instance_type in wanted})
    found: dict[RateKey, InterruptionRate] = {}
    outer = as_reader(source)
    with outer.errors_as("reading interruption rates"), outer.snapshot() as reader:
        for start in range(0, len(types), _CHUNK):
            params = SqlParams()
            in_list = params.in_list("t", types[start : start + _CHUNK])
            rows = reader.execute(
                f"SELECT {', '.join(RATE_COLUMNS)} FROM interruption_rates "
                f"WHERE instance_type IN {in_list}",
                params,
            )
            for row in rows:
                key = (row[0], row[1], row[2])
                if key in wanted:
                    found[key] = _rate(row)
    return found


def _rate(row: Sequence[Any]) -> InterruptionRate:
    """The row (:data:`RATE_COLUMNS`) as a rate, built without validation: the store holds
    validated rates only (a test holds the result equal to a validated one)."""
    r = dict(zip(RATE_COLUMNS, row, strict=True))
    savings = r["savings_percent"]
    return InterruptionRate.model_construct(
        provider=r["provider"],
        region=r["region"],
        instance_type=r["instance_type"],
        bucket=int(r["bucket"]),
        bucket_label=r["bucket_label"],
        interruption_min_percent=float(r["interruption_min_percent"]),
        interruption_max_percent=float(r["interruption_max_percent"]),
        savings_percent=None if savings is None else float(savings),
        source=json.loads(r["source"]),
        observed_at=utc_datetime(r["observed_at"]),
    )
