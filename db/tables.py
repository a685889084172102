"""The tables of the price store, as SQLModel classes.

They are a storage representation, not the API: :mod:`db.store` hands readers
:mod:`aggregator.models` objects, and its hot paths use the Core ``Table`` objects exported
below with plain dict rows; the SQLModel classes declare the schema once, so Alembic can
compare a database with it. Choices the store relies on, such as ``''`` rather than NULL in
natural-key columns (NULLs never collide in a unique constraint) and ids derived from the
natural key: docs/store.md, "The tables".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from aggregator.models import NATURAL_KEY_FIELDS

__all__ = [
    "NATURAL_KEY_COLUMNS",
    "OFFER_MATCH_COLUMNS",
    "FeedStateRow",
    "InterruptionRateRow",
    "OfferRow",
    "PriceHistoryRow",
    "StoreVersionRow",
    "SyncRunRow",
    "UtcDateTime",
    "feed_state",
    "interruption_rates",
    "metadata",
    "offers",
    "price_history",
    "store_version",
    "sync_runs",
]


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is written and read as timezone-aware UTC on every dialect.

    PostgreSQL gets ``timestamp with time zone``; SQLite gets its text ``DATETIME`` holding the
    UTC wall time, which sorts and compares correctly because every value is converted to UTC
    before it is written.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the store needs timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _ts(*, nullable: bool) -> Any:
    # sa_column needs a fresh Column per field; typed Any because sqlmodel's Field() is.
    return Field(sa_column=Column(UtcDateTime(), nullable=nullable))


NATURAL_KEY_COLUMNS = NATURAL_KEY_FIELDS
"""The columns of an offer's natural key: its fields, one column each, in the same order."""


class OfferRow(SQLModel, table=True):
    """The current state of one offer: its last seen price and its lifecycle timestamps."""

    __tablename__ = "offers"
    __table_args__ = (
        UniqueConstraint(*NATURAL_KEY_COLUMNS, name="uq_offers_natural_key"),
        Index("ix_offers_gpu_live_price", "gpu", "withdrawn_at", "price_per_gpu_hour"),
        # Covers the planner's cheapest-per-shape read (db.offer_sql): its filters (the host,
        # fabric and capacity ones included) and the MIN(price_per_hour) per shape
        # come from the index alone, and the cheapest rows are found by a seek on the leading
        # columns and the price (migration 0003).
        Index(
            "ix_offers_plan_shape",
            "gpu",
            "withdrawn_at",
            "interruptible",
            "purchase_option",
            "gpu_count",
            "term_hours",
            "provider",
            "currency",
            "price_per_hour",
            "gpu_memory_gb",
            "region",
            "vcpus",
            "memory_gb",
            "interconnect_gbps",
            "available_in",
        ),
        Index("ix_offers_feed", "feed"),
        Index("ix_offers_provider_region", "provider", "region"),
    )

    id: str = Field(sa_column=Column(String(20), primary_key=True))
    feed: str = Field(sa_column=Column(String, nullable=False))
    provider: str = Field(sa_column=Column(String, nullable=False))
    region: str = Field(sa_column=Column(String, nullable=False))
    zone: str = Field(sa_column=Column(String, nullable=False))
    instance_type: str = Field(sa_column=Column(String, nullable=False))
    gpu: str = Field(sa_column=Column(String, nullable=False))
    gpu_count: float = Field(sa_column=Column(Float, nullable=False))
    gpu_memory_gb: float = Field(sa_column=Column(Float, nullable=False))
    vcpus: float | None = Field(sa_column=Column(Float, nullable=True))
    memory_gb: float | None = Field(sa_column=Column(Float, nullable=True))
    interconnect: str | None = Field(sa_column=Column(String, nullable=True))
    interconnect_gbps: float | None = Field(sa_column=Column(Float, nullable=True))
    # Comma-separated places (db.capacity.encode_places); NULL: the seller lists none.
    available_in: str | None = Field(sa_column=Column(String, nullable=True))
    purchase_option: str = Field(sa_column=Column(String, nullable=False))
    term_hours: int = Field(sa_column=Column(Integer, nullable=False))
    payment: str = Field(sa_column=Column(String, nullable=False))
    offering_class: str = Field(sa_column=Column(String, nullable=False))
    price_per_hour: float = Field(sa_column=Column(Float, nullable=False))
    upfront: float = Field(sa_column=Column(Float, nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    price_per_gpu_hour: float = Field(sa_column=Column(Float, nullable=False))
    interruptible: bool = Field(sa_column=Column(Boolean, nullable=False))
    billing_increment_seconds: int | None = Field(sa_column=Column(Integer, nullable=True))
    billing_minimum_seconds: int | None = Field(sa_column=Column(Integer, nullable=True))
    source: str = Field(sa_column=Column(Text, nullable=False))
    first_seen: datetime = _ts(nullable=False)
    observed_at: datetime = _ts(nullable=False)
    withdrawn_at: datetime | None = _ts(nullable=True)


class PriceHistoryRow(SQLModel, table=True):
    """One interval during which an offer had one price; ``valid_to`` NULL = still current."""

    __tablename__ = "price_history"
    __table_args__ = (Index("ix_price_history_offer_valid_from", "offer_id", "valid_from"),)

    id: int | None = Field(
        default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True)
    )
    offer_id: str = Field(
        sa_column=Column(
            String(20),
            ForeignKey("offers.id", name="fk_price_history_offer_id_offers"),
            nullable=False,
        )
    )
    price_per_hour: float = Field(sa_column=Column(Float, nullable=False))
    upfront: float = Field(sa_column=Column(Float, nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    source: str = Field(sa_column=Column(Text, nullable=False))
    valid_from: datetime = _ts(nullable=False)
    valid_to: datetime | None = _ts(nullable=True)


class SyncRunRow(SQLModel, table=True):
    """The record of one feed sync (see :class:`aggregator.models.SyncRun`)."""

    __tablename__ = "sync_runs"
    __table_args__ = (Index("ix_sync_runs_feed_started_at", "feed", "started_at"),)

    id: int | None = Field(
        default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True)
    )
    feed: str = Field(sa_column=Column(String, nullable=False))
    provider: str = Field(sa_column=Column(String, nullable=False))
    started_at: datetime = _ts(nullable=False)
    finished_at: datetime | None = _ts(nullable=True)
    status: str = Field(sa_column=Column(String(20), nullable=False))
    seen: int = Field(sa_column=Column(Integer, nullable=False))
    new: int = Field(sa_column=Column(Integer, nullable=False))
    changed: int = Field(sa_column=Column(Integer, nullable=False))
    unchanged: int = Field(sa_column=Column(Integer, nullable=False))
    withdrawn: int = Field(sa_column=Column(Integer, nullable=False))
    rejected: int = Field(sa_column=Column(Integer, nullable=False))
    unknown: int = Field(sa_column=Column(Integer, nullable=False))
    unknown_names: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    error: str | None = Field(sa_column=Column(Text, nullable=True))


class FeedStateRow(SQLModel, table=True):
    """A small persisted map per feed (ETags, source versions) for conditional fetches."""

    __tablename__ = "feed_state"

    feed: str = Field(sa_column=Column(String, primary_key=True))
    key: str = Field(sa_column=Column(String, primary_key=True))
    value: str = Field(sa_column=Column(Text, nullable=False))


class InterruptionRateRow(SQLModel, table=True):
    """A seller's interruption data for one instance type in one region (see
    :class:`aggregator.interruptions.InterruptionRate`), owned by the feed that last stored it."""

    __tablename__ = "interruption_rates"
    __table_args__ = (
        PrimaryKeyConstraint("provider", "region", "instance_type", name="pk_interruption_rates"),
        Index("ix_interruption_rates_feed", "feed"),
    )

    provider: str = Field(sa_column=Column(String, nullable=False))
    region: str = Field(sa_column=Column(String, nullable=False))
    instance_type: str = Field(sa_column=Column(String, nullable=False))
    feed: str = Field(sa_column=Column(String, nullable=False))
    bucket: int = Field(sa_column=Column(Integer, nullable=False))
    bucket_label: str = Field(sa_column=Column(String, nullable=False))
    interruption_min_percent: float = Field(sa_column=Column(Float, nullable=False))
    interruption_max_percent: float = Field(sa_column=Column(Float, nullable=False))
    savings_percent: float | None = Field(sa_column=Column(Float, nullable=True))
    source: str = Field(sa_column=Column(Text, nullable=False))
    observed_at: datetime = _ts(nullable=False)


class StoreVersionRow(SQLModel, table=True):
    """A single row whose ``version`` goes up in every transaction that changes offers or
    interruption rates.

    Readers that keep offers in memory (the planner's read cache) compare it to the version
    they read with: unequal means the offers may have changed. It is a row updated at the end
    of the writing transaction, not a sequence, so a reader never sees the new number before
    the offers it counts are committed.
    """

    __tablename__ = "store_version"

    id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    version: int = Field(sa_column=Column(BigInteger, nullable=False))


metadata = SQLModel.metadata
offers: Table = metadata.tables["offers"]
price_history: Table = metadata.tables["price_history"]
sync_runs: Table = metadata.tables["sync_runs"]
feed_state: Table = metadata.tables["feed_state"]
store_version: Table = metadata.tables["store_version"]
interruption_rates: Table = metadata.tables["interruption_rates"]

OFFER_MATCH_COLUMNS = frozenset({"id", "instance_type", "gpu", "currency", *NATURAL_KEY_COLUMNS})
"""Offer columns an ``unchanged`` match of a feed snapshot may name.

Text-like columns only, compared as strings (``term_hours`` as ``"8760"``; an absent zone,
payment or offering class as ``""``), so a match means the same on every dialect.
"""
