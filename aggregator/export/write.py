"""Writing an export: one snapshot of the store as gzip-compressed JSON Lines.

Byte for byte the same for the same store snapshot and time (gzip's own timestamp is left at
zero), so ``gpuhours export`` and ``GET /v1/export`` hand out equal files.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from datetime import datetime
from typing import IO, TYPE_CHECKING

from aggregator.export.format import ExportEnd, ExportHeader, FeedLastSync, export_tag
from aggregator.json_text import NonFiniteNumber
from aggregator.models import utcnow
from aggregator.version import gpuhours_version
from db.export_rows import StoreExport, store_export

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from db.reader import Reader

__all__ = ["ExportSummary", "write_export"]

_COMPRESSION = 6  # zlib's default: level 9 took twice as long for 3 % less here


@dataclass(frozen=True)
class ExportSummary:
    """What an export holds: its header, its line counts and its tag (``ETag``)."""

    header: ExportHeader
    end: ExportEnd
    tag: str


def _header(data: StoreExport, now: datetime) -> ExportHeader:
    return ExportHeader(
        gpuhours_version=gpuhours_version(),
        schema_version=data.schema_version,
        store_version=data.store_version,
        exported_at=now,
        feeds={
            feed: FeedLastSync(provider=sync.provider, last_success_at=sync.last_success_at)
            for feed, sync in data.feeds.items()
        },
    )


def write_export(
    source: Reader | Engine, out: IO[bytes], *, now: datetime | None = None
) -> ExportSummary:
    """Write the store's export to ``out`` (binary; left open) and say what it holds.

    Offers are read and written a batch at a time, so memory stays bounded by the batch.
    """
    encode = json.JSONEncoder(allow_nan=False, separators=(",", ":"), ensure_ascii=False).encode
    with (
        store_export(source) as data,
        gzip.GzipFile(fileobj=out, mode="wb", compresslevel=_COMPRESSION, mtime=0) as packed,
    ):
        header = _header(data, now or utcnow())
        packed.write(header.model_dump_json().encode() + b"\n")
        offers = rates = 0
        try:
            for batch in data.offer_batches():
                packed.write("".join(encode(item) + "\n" for item in batch).encode())
                offers += len(batch)
            rate_lines = data.rates()
            packed.write("".join(encode(item) + "\n" for item in rate_lines).encode())
            rates = len(rate_lines)
        except ValueError as exc:  # a NaN in the store: a bug upstream, never written out
            raise NonFiniteNumber(f"refusing to export a non-finite number: {exc}") from exc
        end = ExportEnd(offers=offers, interruption_rates=rates)
        packed.write(end.model_dump_json().encode() + b"\n")
    return ExportSummary(
        header=header, end=end, tag=export_tag(data.store_version, data.first_sync)
    )
