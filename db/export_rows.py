"""What an export of the store holds, read in one snapshot: live offers with their price
intervals, interruption rates, each feed's last good sync, the store version and schema.

Rows become the JSON-ready values of the export's lines here, straight from the driver's
tuples: building and dumping 100,000 pydantic models would cost seconds. The values are
those :mod:`db.read` decodes (``''`` key parts as ``None``, timestamps in UTC ISO 8601).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from db.capacity import decode_places
from db.read import data_version, schema_revision, utc_datetime
from db.reader import Reader, as_reader

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = ["FeedSync", "StoreExport", "export_marker", "store_export"]

_OFFER_COLUMNS = (
    "id, provider, region, zone, instance_type, gpu, gpu_count, gpu_memory_gb, vcpus, "
    "memory_gb, interconnect, interconnect_gbps, available_in, purchase_option, term_hours, "
    "payment, offering_class, price_per_hour, upfront, currency, billing_increment_seconds, "
    "billing_minimum_seconds, source, observed_at, first_seen"
)
_RATE_COLUMNS = (
    "provider, region, instance_type, bucket, bucket_label, interruption_min_percent, "
    "interruption_max_percent, savings_percent, source, observed_at"
)
_OFFER_PAGE = (
    f"SELECT {_OFFER_COLUMNS} FROM offers WHERE withdrawn_at IS NULL AND id > :after "
    "ORDER BY id LIMIT :size"
)
_HISTORY_PAGE = (
    "SELECT h.offer_id, h.price_per_hour, h.upfront, h.currency, h.source, h.valid_from, "
    "h.valid_to FROM price_history h JOIN offers o ON o.id = h.offer_id "
    "WHERE o.withdrawn_at IS NULL AND o.id > :after AND o.id <= :last "
    "ORDER BY h.offer_id, h.valid_from, h.id"
)
_RATES = f"SELECT {_RATE_COLUMNS} FROM interruption_rates ORDER BY provider, region, instance_type"
_BATCH = 5000  # offers read and written at a time: bounds the memory of an export
_GOOD = "status IN ('ok', 'unchanged')"
_FIRST_SYNC = "SELECT MIN(started_at) FROM sync_runs"
_LAST_GOOD = (
    f"SELECT feed, provider, MAX(finished_at) FROM sync_runs WHERE {_GOOD} "
    "GROUP BY feed, provider ORDER BY feed"
)


@dataclass(frozen=True)
class FeedSync:
    """A feed of the exporting store and the end of its last good sync."""

    provider: str
    last_success_at: datetime


class StoreExport:
    """One snapshot of the store, as the export's lines hold it; the offers and rates are
    read in batches as they are iterated (inside :func:`store_export`'s block only)."""

    def __init__(
        self,
        reader: Reader,
        store_version: int,
        schema_version: str | None,
        feeds: dict[str, FeedSync],
    ) -> None:
        self._reader = reader
        self.store_version = store_version
        self.schema_version = schema_version
        self.feeds = feeds
        self.first_sync = _first_sync(reader)

    def offer_batches(self) -> Iterator[list[dict[str, Any]]]:
        """The live offers by id, each with its price intervals, a batch at a time."""
        times = _Times()
        after = ""
        while True:
            rows = self._reader.execute(_OFFER_PAGE, {"after": after, "size": _BATCH})
            if not rows:
                return
            last = rows[-1][0]
            history: dict[str, list[Any]] = {}
            for row in self._reader.execute(_HISTORY_PAGE, {"after": after, "last": last}):
                history.setdefault(row[0], []).append(row)
            yield [_offer(row, times, history.get(row[0], ())) for row in rows]
            after = last

    def rates(self) -> list[dict[str, Any]]:
        """Every interruption rate, by provider, region and instance type."""
        return [_rate(row) for row in self._reader.execute(_RATES)]


def _iso(value: Any) -> str:
    return utc_datetime(value).isoformat()


class _Times(dict[Any, str]):
    """Stored timestamps as ISO text, each distinct one decoded once (a sync stamps a whole
    feed with a few)."""

    def __missing__(self, value: Any) -> str:
        text = self[value] = _iso(value)
        return text


def _offer(row: Any, times: _Times, history: Any) -> dict[str, Any]:
    (
        offer_id, provider, region, zone, instance_type, gpu, gpu_count, gpu_memory_gb,
        vcpus, memory_gb, interconnect, interconnect_gbps, available_in, purchase_option,
        term_hours, payment, offering_class, price_per_hour, upfront, currency, increment, minimum,
        source, observed_at, first_seen,
    ) = row  # fmt: skip
    parsed = json.loads(source)
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
        "available_in": decode_places(available_in),
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
        "source": parsed,
        "observed_at": times[observed_at],
        "first_seen": times[first_seen],
        "history": [
            {
                "price_per_hour": price,
                "upfront": paid,
                "currency": money,
                # An interval's source is nearly always the offer's: parsed once.
                "source": parsed if text == source else json.loads(text),
                "valid_from": times[valid_from],
                "valid_to": None if valid_to is None else times[valid_to],
            }
            for _, price, paid, money, text, valid_from, valid_to in history
        ],
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


@contextmanager
def store_export(source: Reader | Engine) -> Iterator[StoreExport]:
    """The store's export, every part of it read in one snapshot held for the block."""
    outer = as_reader(source)
    with outer.errors_as("reading the store for an export"), outer.snapshot() as reader:
        feeds = {
            feed: FeedSync(provider=provider, last_success_at=utc_datetime(finished))
            for feed, provider, finished in reader.execute(_LAST_GOOD)
            if finished is not None
        }
        yield StoreExport(reader, data_version(reader), schema_revision(reader), feeds)


def export_marker(source: Reader | Engine) -> tuple[int, datetime | None]:
    """What an export's tag is made of, without reading the offers: the store version and
    when the store's first sync started (which tells two stores at one version apart)."""
    outer = as_reader(source)
    with outer.errors_as("reading the store version"), outer.snapshot() as reader:
        return data_version(reader), _first_sync(reader)


def _first_sync(reader: Reader) -> datetime | None:
    rows = reader.execute(_FIRST_SYNC)
    first = rows[0][0] if rows else None
    return None if first is None else utc_datetime(first)
