"""What an export of the store holds, read in one snapshot: live offers, interruption rates,
each feed's last good sync, the store version and schema.

Rows become the JSON-ready values of the export's lines here, straight from the driver's
tuples: building and dumping 100,000 pydantic models would cost seconds. The values are
those :mod:`db.read` decodes (``''`` key parts as ``None``, timestamps in UTC ISO 8601).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from db.read import data_version, schema_revision, utc_datetime
from db.reader import Reader, as_reader

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = ["FeedSync", "StoreExport", "export_marker", "read_store_export"]

_OFFER_COLUMNS = (
    "id, provider, region, zone, instance_type, gpu, gpu_count, gpu_memory_gb, vcpus, "
    "memory_gb, interconnect, interconnect_gbps, purchase_option, term_hours, payment, "
    "offering_class, price_per_hour, upfront, currency, billing_increment_seconds, "
    "billing_minimum_seconds, source, observed_at"
)
_RATE_COLUMNS = (
    "provider, region, instance_type, bucket, bucket_label, interruption_min_percent, "
    "interruption_max_percent, savings_percent, source, observed_at"
)
_GOOD = "status IN ('ok', 'unchanged')"
_LAST_GOOD = (
    f"SELECT feed, provider, MAX(finished_at) FROM sync_runs WHERE {_GOOD} "
    "GROUP BY feed, provider ORDER BY feed"
)


@dataclass(frozen=True)
class FeedSync:
    """A feed of the exporting store and the end of its last good sync."""

    provider: str
    last_success_at: datetime


@dataclass(frozen=True)
class StoreExport:
    """One snapshot of the store, as the export's lines hold it."""

    store_version: int
    schema_version: str | None
    feeds: dict[str, FeedSync]
    offers: list[dict[str, Any]]
    interruption_rates: list[dict[str, Any]]


def _iso(value: Any) -> str:
    return utc_datetime(value).isoformat()


def _offer(row: Any, observed: dict[Any, str]) -> dict[str, Any]:
    (
        offer_id, provider, region, zone, instance_type, gpu, gpu_count, gpu_memory_gb,
        vcpus, memory_gb, interconnect, interconnect_gbps, purchase_option, term_hours,
        payment, offering_class, price_per_hour, upfront, currency, increment, minimum,
        source, observed_at,
    ) = row  # fmt: skip
    when = observed.get(observed_at)
    if when is None:
        when = observed[observed_at] = _iso(observed_at)
    return {
        "kind": "offer",
        "id": offer_id,
        "provider": provider,
        "region": region,
        "zone": zone or None,
        "instance_type": instance_type,
        "gpu": gpu,
        "gpu_count": gpu_count,
        "gpu_memory_gb": gpu_memory_gb,
        "vcpus": vcpus,
        "memory_gb": memory_gb,
        "interconnect": interconnect,
        "interconnect_gbps": interconnect_gbps,
        "purchase_option": purchase_option,
        "term_hours": term_hours,
        "payment": payment or None,
        "offering_class": offering_class or None,
        "price_per_hour": price_per_hour,
        "upfront": upfront,
        "currency": currency,
        "billing": (
            None
            if increment is None
            else {"increment_seconds": increment, "minimum_seconds": minimum or 0}
        ),
        "source": json.loads(source),
        "observed_at": when,
    }


def _rate(row: Any) -> dict[str, Any]:
    provider, region, instance_type, bucket, label, low, high, savings, source, observed = row
    return {
        "kind": "interruption_rate",
        "provider": provider,
        "region": region,
        "instance_type": instance_type,
        "bucket": bucket,
        "bucket_label": label,
        "interruption_min_percent": low,
        "interruption_max_percent": high,
        "savings_percent": savings,
        "source": json.loads(source),
        "observed_at": _iso(observed),
    }


def read_store_export(source: Reader | Engine) -> StoreExport:
    """Every live offer (by id) and interruption rate, with what labels them, in one snapshot."""
    outer = as_reader(source)
    with outer.errors_as("reading the store for an export"), outer.snapshot() as reader:
        version = data_version(reader)
        schema = schema_revision(reader)
        feeds = {
            feed: FeedSync(provider=provider, last_success_at=utc_datetime(finished))
            for feed, provider, finished in reader.execute(_LAST_GOOD)
            if finished is not None
        }
        observed: dict[Any, str] = {}
        offers = [
            _offer(row, observed)
            for row in reader.execute(
                f"SELECT {_OFFER_COLUMNS} FROM offers WHERE withdrawn_at IS NULL ORDER BY id"
            )
        ]
        rates = [
            _rate(row)
            for row in reader.execute(
                f"SELECT {_RATE_COLUMNS} FROM interruption_rates "
                "ORDER BY provider, region, instance_type"
            )
        ]
    return StoreExport(version, schema, feeds, offers, rates)


def export_marker(source: Reader | Engine) -> tuple[int, datetime | None]:
    """The store version and the end of the last good sync, read together: what an export's
    tag is made of, without reading the offers."""
    outer = as_reader(source)
    with outer.errors_as("reading the store version"), outer.snapshot() as reader:
        version = data_version(reader)
        rows = reader.execute(f"SELECT MAX(finished_at) FROM sync_runs WHERE {_GOOD}")
    last = rows[0][0] if rows else None
    return version, None if last is None else utc_datetime(last)
