"""Row codecs: how offers, history intervals and sync runs become rows and back.

Bulk rows are plain tuples in the column orders :data:`OFFER_LAYOUT` and
:data:`HISTORY_LAYOUT` (tuples bind faster than dicts in ``sqlite3``), holding values the driver
takes as they are: :mod:`db.store.bulk` hands them over without SQLAlchemy's per-row
processing. The one non-native value, a timestamp, is converted once per distinct value by
:func:`timestamp_param` with the column type's own bind processor, so what is stored is what an
ordinary Core statement would write.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Dialect, Row

from aggregator.models import Offer, SyncRun, natural_key_id
from db.capacity import encode_places
from db.tables import UtcDateTime

__all__ = [
    "CURRENCY",
    "FIRST_SEEN",
    "GPU_COUNT",
    "HISTORY_LAYOUT",
    "ID",
    "INSTANCE_TYPE",
    "OFFER_LAYOUT",
    "OPTION",
    "PRICE",
    "PROVIDER",
    "REGION",
    "SOURCE",
    "UPFRONT",
    "TupleRow",
    "encode_source",
    "offer_row",
    "run_values",
    "sync_run",
    "timestamp_param",
]

OFFER_LAYOUT = (
    "id",
    "feed",
    "provider",
    "region",
    "zone",
    "instance_type",
    "gpu",
    "gpu_count",
    "gpu_memory_gb",
    "vcpus",
    "memory_gb",
    "interconnect",
    "interconnect_gbps",
    "available_in",
    "purchase_option",
    "term_hours",
    "payment",
    "offering_class",
    "price_per_hour",
    "upfront",
    "currency",
    "price_per_gpu_hour",
    "interruptible",
    "billing_increment_seconds",
    "billing_minimum_seconds",
    "source",
    "first_seen",
    "observed_at",
    "withdrawn_at",
)
HISTORY_LAYOUT = (
    "offer_id",
    "price_per_hour",
    "upfront",
    "currency",
    "source",
    "valid_from",
    "valid_to",
)
# Positions in an offer row.
ID = OFFER_LAYOUT.index("id")
PRICE = OFFER_LAYOUT.index("price_per_hour")
UPFRONT = OFFER_LAYOUT.index("upfront")
CURRENCY = OFFER_LAYOUT.index("currency")
SOURCE = OFFER_LAYOUT.index("source")
PROVIDER = OFFER_LAYOUT.index("provider")
REGION = OFFER_LAYOUT.index("region")
INSTANCE_TYPE = OFFER_LAYOUT.index("instance_type")
GPU_COUNT = OFFER_LAYOUT.index("gpu_count")
OPTION = OFFER_LAYOUT.index("purchase_option")
FIRST_SEEN = OFFER_LAYOUT.index("first_seen")

TupleRow = tuple[Any, ...]

_TIMESTAMP = UtcDateTime()
_encode_string = json.encoder.encode_basestring_ascii  # what json.dumps uses for str


def encode_source(source: Mapping[str, str]) -> str:
    """``json.dumps(source, sort_keys=True, separators=(",", ":"))``, several times faster.

    ``Offer.source`` is a flat ``dict[str, str]``, so encoding each string with the C string
    encoder skips building a JSON encoder per call (a measurable share of a 100k-offer sync).
    """
    return (
        "{"
        + ",".join(
            _encode_string(key) + ":" + _encode_string(value)
            for key, value in sorted(source.items())
        )
        + "}"
    )


def offer_row(offer: Offer, feed: str, now: Any, seen: Any) -> TupleRow:
    """The ``offers`` row of an offer in :data:`OFFER_LAYOUT` order, as a sync at ``now``
    stores it, seen at ``seen``. Both are already in the form bulk rows need
    (:func:`timestamp_param`). This is the hot path of a sync: no ORM, no dicts.
    """
    # The natural key (with absent parts as "") is computed once, for the id and the columns.
    key = offer.natural_key()
    provider, region, zone, instance_type, purchase_option, term_hours, payment, offering_class = (
        key
    )
    billing = offer.billing
    return (
        natural_key_id(*key),
        feed,
        provider,
        region,
        zone,
        instance_type,
        offer.gpu,
        offer.gpu_count,
        offer.gpu_memory_gb,
        offer.vcpus,
        offer.memory_gb,
        offer.interconnect,
        offer.interconnect_gbps,
        encode_places(offer.available_in),
        purchase_option,
        term_hours,
        payment,
        offering_class,
        offer.price_per_hour,
        offer.upfront,
        offer.currency,
        offer.price_per_gpu_hour,
        offer.interruptible,
        billing.increment_seconds if billing else None,
        billing.minimum_seconds if billing else None,
        encode_source(offer.source),
        now,
        seen,
        None,
    )


def timestamp_param(dialect: Dialect, value: datetime) -> Any:
    """``value`` as bulk rows must hold it on ``dialect``."""
    processor = _TIMESTAMP.dialect_impl(dialect).bind_processor(dialect)
    return processor(value) if processor is not None else value


def run_values(run: SyncRun) -> dict[str, Any]:
    """The ``sync_runs`` column values of ``run`` (all but its id)."""
    values = run.model_dump(exclude={"id", "duration_seconds"})
    values["status"] = run.status.value
    values["unknown_names"] = json.dumps(run.unknown_names) if run.unknown_names else None
    return values


def sync_run(row: Row[Any]) -> SyncRun:
    """The :class:`SyncRun` a ``sync_runs`` row holds."""
    values = row._asdict()
    names = values.get("unknown_names")
    values["unknown_names"] = json.loads(names) if names else []
    return SyncRun.model_validate(values)
