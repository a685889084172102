"""The store's offer reads, over a :class:`db.reader.Reader`: no SQLAlchemy needed on SQLite.

:mod:`db.store` re-exports these under the same names; each accepts a reader or an
SQLAlchemy ``Engine`` (wrapped by :func:`db.reader.reader_for`). All offer reads run the one
statement :func:`db.offer_sql.offer_select` builds. Values come back as the SQLAlchemy column
types would return them (timestamps timezone-aware UTC via :func:`utc_datetime`, which does
what :class:`db.tables.UtcDateTime` does), so both drivers give equal models.

:func:`check_schema_version` is :func:`db.migrate.check_schema` without Alembic: it reads
``alembic_version`` and compares with :mod:`db.schema_head`, with the same messages.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from aggregator.errors import SchemaOutdated
from aggregator.models import (
    Billing,
    OfferingClass,
    Payment,
    PriceInterval,
    PurchaseOption,
    StoredOffer,
)
from aggregator.offer_view import OfferFields, PlannableOffer
from aggregator.shapes import cheapest_per_shape, refinement
from db.capacity import decode_places
from db.offer_sql import OfferQuery, SqlParams, offer_select
from db.reader import Reader, as_reader
from db.schema_head import KNOWN_REVISIONS, SCHEMA_HEAD

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = [
    "OFFER_COLUMNS",
    "OfferRecord",
    "check_schema_version",
    "data_version",
    "get_offer",
    "offer_histories",
    "price_history",
    "query_offer_records",
    "query_offers",
    "schema_revision",
    "utc_datetime",
]

# Ids per IN (...) list: well under SQLite's 32766 and PostgreSQL's 65535 bound parameters.
_CHUNK = 5000
_T = TypeVar("_T")
_O = TypeVar("_O", bound=PlannableOffer)


@dataclass(frozen=True, slots=True)
class OfferRecord(OfferFields):
    """An offer as the planner reads it: what :func:`query_offer_records` returns.

    The fields of :class:`~aggregator.models.StoredOffer` that planning uses (those of
    :class:`~aggregator.offer_view.OfferFields`, then the price), with the same values
    (``zone``, ``payment`` and ``offering_class`` ``None`` when absent, ``observed_at``
    timezone-aware UTC), built without validation: the store only holds validated offers.
    """

    price_per_hour: float
    currency: str
    observed_at: datetime

    @property
    def price_per_gpu_hour(self) -> float:
        return self.price_per_hour / self.gpu_count


_RECORD_COLUMNS = tuple(f.name for f in fields(OfferRecord))
# fmt: off
OFFER_COLUMNS = (
    "id", "feed", "provider", "region", "zone", "instance_type", "gpu", "gpu_count",
    "gpu_memory_gb", "vcpus", "memory_gb", "interconnect", "interconnect_gbps", "available_in",
    "purchase_option", "term_hours", "payment", "offering_class", "price_per_hour", "upfront",
    "currency", "billing_increment_seconds", "billing_minimum_seconds", "source", "observed_at",
    "first_seen", "withdrawn_at",
)
# fmt: on
"""The ``offers`` columns :func:`query_offers` reads, in the order it unpacks them."""
_HISTORY_COLUMNS = "offer_id, price_per_hour, upfront, currency, source, valid_from, valid_to"


class _Members(dict[str, _T]):
    """Stored text to enum member, a dict lookup instead of a call of the enum (several times
    slower); text that is no member goes to ``parse``, which raises the enum's ``ValueError``."""

    def __init__(self, members: Mapping[str, _T], parse: Callable[[str], _T]) -> None:
        super().__init__(members)
        self._parse = parse

    def __missing__(self, text: str) -> _T:
        return self._parse(text)


_PURCHASE_OPTIONS = _Members({o.value: o for o in PurchaseOption}, PurchaseOption)
_PAYMENTS = _Members[Payment | None]({"": None, **{p.value: p for p in Payment}}, Payment)
_OFFERING_CLASSES = _Members[OfferingClass | None](
    {"": None, **{c.value: c for c in OfferingClass}}, OfferingClass
)


def utc_datetime(value: Any) -> datetime:
    """A stored timestamp as an aware UTC datetime, whichever driver returned it.

    SQLite holds :class:`db.tables.UtcDateTime` values as ISO text of the UTC wall time
    (``2025-06-01 00:00:00.000000``); PostgreSQL drivers return aware datetimes. This is
    ``UtcDateTime.process_result_value`` after the dialect's own parsing.
    """
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"not a stored timestamp: {value!r}")
    if value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _optional_datetime(value: Any) -> datetime | None:
    return None if value is None else utc_datetime(value)


def data_version(source: Reader | Engine) -> int:
    """A number that changes whenever a committed transaction changed offers or interruption
    rates.

    Every :func:`db.store.apply_snapshot` adds one in the transaction that writes the offers,
    and :func:`db.store.replace_interruption_rates` in one that changes a rate.
    Read in the same snapshot as offers (:meth:`db.reader.Reader.snapshot`) it labels them
    exactly; read before them, in another snapshot, it is a lower bound: the offers are at
    least that new.
    """
    reader = as_reader(source)
    with reader.errors_as("reading the store version"):
        rows = reader.execute("SELECT version FROM store_version WHERE id = 1")
    return int(rows[0][0] or 0) if rows else 0


def query_offers(source: Reader | Engine, q: OfferQuery) -> list[StoredOffer]:
    """Offers matching ``q``, cheapest first by ``q.sort`` (ties by id), at most ``q.limit``.

    All filtering, ordering and limiting happen in SQL and behave the same on SQLite and
    PostgreSQL. Withdrawn offers are left out unless ``q.include_withdrawn``.
    """
    reader = as_reader(source)
    plain = _reduced_in_python(q)
    sql, params = offer_select(plain or q, OFFER_COLUMNS, reader.dialect)
    with reader.errors_as("querying offers"):
        rows = reader.execute(sql, params)
    offers = [_stored_offer(row) for row in rows]
    return offers if plain is None else _reduce(offers, q)


def query_offer_records(source: Reader | Engine, q: OfferQuery) -> list[OfferRecord]:
    """The offers :func:`query_offers` returns for ``q``, in its order, as :class:`OfferRecord`.

    The same statement with fewer columns and no validation: the planner's read path, several
    times faster than building pydantic models. ``observed_at`` is decoded once per distinct
    stored value (a sync stamps a whole feed with one timestamp).
    """
    reader = as_reader(source)
    plain = _reduced_in_python(q)
    sql, params = offer_select(plain or q, _RECORD_COLUMNS, reader.dialect)
    with reader.errors_as("querying offers"):
        rows = reader.execute(sql, params)
    observed: dict[Any, datetime] = {}
    records: list[OfferRecord] = []
    append = records.append
    options, payments, classes = _PURCHASE_OPTIONS, _PAYMENTS, _OFFERING_CLASSES
    for (
        offer_id,
        provider,
        region,
        zone,
        instance_type,
        gpu,
        gpu_count,
        gpu_memory_gb,
        purchase_option,
        term_hours,
        payment,
        offering_class,
        vcpus,
        memory_gb,
        interconnect,
        interconnect_gbps,
        available_in,
        price_per_hour,
        currency,
        raw_observed_at,
    ) in rows:
        observed_at = observed.get(raw_observed_at)
        if observed_at is None:
            observed_at = observed[raw_observed_at] = utc_datetime(raw_observed_at)
        append(
            OfferRecord(
                offer_id,
                provider,
                region,
                zone or None,
                instance_type,
                gpu,
                gpu_count,
                gpu_memory_gb,
                options[purchase_option],
                term_hours,
                payments[payment],
                classes[offering_class],
                vcpus,
                memory_gb,
                interconnect,
                interconnect_gbps,
                decode_places(available_in),
                price_per_hour,
                currency,
                observed_at,
            )
        )
    return records if plain is None else _reduce(records, q)


def _reduced_in_python(q: OfferQuery) -> OfferQuery | None:
    """The plain query to reduce per shape in Python instead of SQL, or ``None``.

    Split per cluster (``instance_type`` among the shape columns), nearly every matching offer
    is a shape of its own: the SQL reduction's join back then seeks once per row and costs more
    than reading them all (10k offers on SQLite: 78 ms against 30 ms), for little to drop.
    """
    if not q.cheapest_per_shape or "instance_type" not in q.shape_columns:
        return None
    return replace(q, cheapest_per_shape=False, shape_columns=(), limit=None)


def _reduce(offers: list[_O], q: OfferQuery) -> list[_O]:
    """What the SQL reduction of ``q`` keeps of ``offers`` (its plain result, in order)."""
    kept = cheapest_per_shape(offers, refinement(q.shape_columns))
    return kept if q.limit is None else kept[: q.limit]


def get_offer(source: Reader | Engine, offer_id: str) -> StoredOffer | None:
    """One offer by id, withdrawn or not; ``None`` if the store never had it."""
    reader = as_reader(source)
    with reader.errors_as("reading an offer"):
        rows = reader.execute(
            f"SELECT {', '.join(OFFER_COLUMNS)} FROM offers WHERE id = :id", {"id": offer_id}
        )
    return _stored_offer(rows[0]) if rows else None


def price_history(source: Reader | Engine, offer_ids: Sequence[str]) -> list[PriceInterval]:
    """Every price interval of the given offers, ordered by offer id, then ``valid_from``."""
    ids = sorted(set(offer_ids))
    intervals: list[PriceInterval] = []
    outer = as_reader(source)
    with outer.errors_as("reading price history"), outer.snapshot() as reader:
        for start in range(0, len(ids), _CHUNK):  # sorted ids: chunk results concatenate
            params = SqlParams()
            in_list = params.in_list("id", ids[start : start + _CHUNK])
            rows = reader.execute(
                f"SELECT {_HISTORY_COLUMNS} FROM price_history WHERE offer_id IN {in_list} "
                "ORDER BY offer_id, valid_from, id",
                params,
            )
            for offer_id, price, upfront, currency, source_json, valid_from, valid_to in rows:
                intervals.append(
                    PriceInterval(
                        offer_id=offer_id,
                        price_per_hour=price,
                        upfront=upfront,
                        currency=currency,
                        source=json.loads(source_json),
                        valid_from=utc_datetime(valid_from),
                        valid_to=_optional_datetime(valid_to),
                    )
                )
    return intervals


def offer_histories(
    source: Reader | Engine, q: OfferQuery
) -> list[tuple[StoredOffer, list[PriceInterval]]]:
    """The offers :func:`query_offers` returns for ``q``, each with its price intervals.

    Offers and intervals are read in one snapshot: read apart, a sync committing in between
    pairs the old current price with intervals in which that price has already ended.
    """
    outer = as_reader(source)
    with outer.errors_as("reading price history"), outer.snapshot() as reader:
        offers = query_offers(reader, q)
        intervals = price_history(reader, [o.id for o in offers])
    by_offer: dict[str, list[PriceInterval]] = {o.id: [] for o in offers}
    for interval in intervals:
        by_offer[interval.offer_id].append(interval)
    return [(o, by_offer[o.id]) for o in offers]


def schema_revision(source: Reader | Engine) -> str | None:
    """The ``alembic_version`` the database is at; ``None`` for a database never migrated."""
    reader = as_reader(source)
    exists = (
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        if reader.dialect == "sqlite"
        else "SELECT count(*) FROM (SELECT to_regclass('alembic_version') AS t) AS r "
        "WHERE t IS NOT NULL"
    )
    with reader.errors_as("reading the schema version"), reader.snapshot() as snap:
        if not snap.execute(exists)[0][0]:
            return None
        rows = snap.execute("SELECT version_num FROM alembic_version")
    return str(rows[0][0]) if rows else None


def check_schema_version(source: Reader | Engine) -> None:
    """Raise :class:`SchemaOutdated` unless the database is at :data:`db.schema_head.SCHEMA_HEAD`.

    :func:`db.migrate.check_schema`'s job and messages, without loading Alembic.
    """
    reader = as_reader(source)
    current = schema_revision(reader)
    if current == SCHEMA_HEAD:
        return
    if current is not None and current not in KNOWN_REVISIONS:
        raise SchemaOutdated(
            f"the database at {reader.location} has schema {current}, which this gpuhours "
            f"(schema {SCHEMA_HEAD}) does not know: it was upgraded by a newer gpuhours; "
            "upgrade gpuhours"
        )
    raise SchemaOutdated(
        f"the database at {reader.location} has schema {current or 'none'} but this gpuhours "
        f"needs {SCHEMA_HEAD}: run `gpuhours db upgrade`"
    )


def _stored_offer(row: Sequence[Any]) -> StoredOffer:
    """The row (:data:`OFFER_COLUMNS`) as a :class:`StoredOffer`, built without validation.

    Every stored row was validated as an :class:`~aggregator.models.Offer` on its way in, so
    validating again only cost time: about 50 us a row, most of an offers page's CPU.
    Enumerations, timestamps and the source are decoded here; a test holds the result equal
    to a validated model.
    """
    r = dict(zip(OFFER_COLUMNS, row, strict=True))
    increment_seconds = r["billing_increment_seconds"]
    billing = (
        Billing.model_construct(
            increment_seconds=increment_seconds,
            minimum_seconds=r["billing_minimum_seconds"] or 0,
        )
        if increment_seconds is not None
        else None
    )
    return StoredOffer.model_construct(
        feed=r["feed"],
        provider=r["provider"],
        region=r["region"],
        zone=r["zone"] or None,
        instance_type=r["instance_type"],
        gpu=r["gpu"],
        gpu_count=float(r["gpu_count"]),
        gpu_memory_gb=float(r["gpu_memory_gb"]),
        vcpus=None if r["vcpus"] is None else float(r["vcpus"]),
        memory_gb=None if r["memory_gb"] is None else float(r["memory_gb"]),
        interconnect=r["interconnect"],
        interconnect_gbps=(
            None if r["interconnect_gbps"] is None else float(r["interconnect_gbps"])
        ),
        available_in=decode_places(r["available_in"]),
        purchase_option=_PURCHASE_OPTIONS[r["purchase_option"]],
        term_hours=int(r["term_hours"]),
        payment=_PAYMENTS[r["payment"]],
        offering_class=_OFFERING_CLASSES[r["offering_class"]],
        price_per_hour=float(r["price_per_hour"]),
        upfront=float(r["upfront"]),
        currency=r["currency"],
        billing=billing,
        source=json.loads(r["source"]),
        observed_at=utc_datetime(r["observed_at"]),
        first_seen=utc_datetime(r["first_seen"]),
        withdrawn_at=_optional_datetime(r["withdrawn_at"]),
    )
