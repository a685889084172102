"""Schema migrations: an empty database is brought to the schema the code declares.

Every test runs against SQLite and PostgreSQL (``engine`` / ``empty_engine`` fixtures).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, column, insert, inspect, table, text

from aggregator.errors import SchemaOutdated
from aggregator.settings import Settings
from db.engine import make_engine, normalize_url, redacted_url, write_transaction
from db.migrate import alembic_config, check_schema, current_revision, head_revision, upgrade
from db.store import get_offer
from db.store.rows import OFFER_LAYOUT, offer_row, timestamp_param
from db.tables import metadata
from tests.offers import build_offer

TABLES = {"offers", "price_history", "sync_runs", "feed_state", "interruption_rates"}


def schema_differences(engine: Engine) -> list[Any]:
    """What Alembic autogenerate would change to make the database match ``db.tables``."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_upgrade_from_empty_creates_the_schema(empty_engine: Engine) -> None:
    assert current_revision(empty_engine) is None

    upgrade(empty_engine)

    assert current_revision(empty_engine) == head_revision()
    tables = set(inspect(empty_engine).get_table_names())
    assert tables >= TABLES | {"alembic_version"}
    indexes = {ix["name"] for ix in inspect(empty_engine).get_indexes("offers")}
    assert indexes >= {"ix_offers_gpu_live_price", "ix_offers_feed", "ix_offers_provider_region"}
    uniques = {uc["name"] for uc in inspect(empty_engine).get_unique_constraints("offers")}
    assert "uq_offers_natural_key" in uniques


def test_upgrade_twice_is_a_no_op(engine: Engine) -> None:
    upgrade(engine)
    assert current_revision(engine) == head_revision()


def test_check_schema_refuses_an_unmigrated_database_with_the_upgrade_hint(
    empty_engine: Engine,
) -> None:
    with pytest.raises(SchemaOutdated) as excinfo:
        check_schema(empty_engine)

    message = str(excinfo.value)
    assert "has schema none" in message
    assert f"needs {head_revision()}" in message
    assert "`gpuhours db upgrade`" in message
    assert redacted_url(empty_engine) in message

    upgrade(empty_engine)
    check_schema(empty_engine)


def test_check_schema_refuses_a_schema_from_a_newer_gpuhours(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffffffffffff'"))

    with pytest.raises(SchemaOutdated, match="newer gpuhours"):
        check_schema(engine)


def test_redacted_url_hides_the_password() -> None:
    shown = redacted_url("postgres://gh:s3cret@db.example:5432/prices?sslpassword=s3cret")
    assert "s3cret" not in shown
    assert shown.startswith("postgresql+psycopg://gh:***@db.example:5432/prices")


def test_migrated_schema_matches_the_table_definitions(engine: Engine) -> None:
    assert schema_differences(engine) == []


def test_schema_comparison_notices_a_difference(engine: Engine) -> None:
    # Guards the test above against comparing nothing: a dropped index must show up.
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_offers_feed"))

    differences = schema_differences(engine)

    assert [(d[0], d[1].name) for d in differences] == [("add_index", "ix_offers_feed")]


def test_make_engine_defaults_to_a_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "new" / "dir", database_url=None)
    engine = make_engine(settings=settings)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            pragmas = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
    finally:
        engine.dispose()
    assert settings.sqlite_path().is_file()
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 30000,
                       "synchronous": 1}  # fmt: skip


@pytest.mark.parametrize(
    "url", ["postgres://u@h/db", "postgresql://u@h/db", "postgresql+psycopg://u@h/db"]
)
def test_postgres_urls_use_psycopg_3(url: str) -> None:
    assert normalize_url(url).drivername == "postgresql+psycopg"


def _migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    config = alembic_config()
    with write_transaction(engine) as conn:
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)


def _plan_shape_columns(engine: Engine) -> list[str]:
    (index,) = [
        ix for ix in inspect(engine).get_indexes("offers") if ix["name"] == "ix_offers_plan_shape"
    ]
    return [str(name) for name in index["column_names"]]


def test_0006_adds_the_fabric_as_unknown_to_stored_offers_and_covers_the_host_filters(
    empty_engine: Engine,
) -> None:
    _migrate(empty_engine, "0005")
    offer = build_offer(interconnect="EFA", interconnect_gbps=3200)
    now = timestamp_param(empty_engine.dialect, datetime(2025, 3, 1, tzinfo=UTC))
    values = dict(zip(OFFER_LAYOUT, offer_row(offer, "aws/on-demand", now, now), strict=True))
    later = ("interconnect", "interconnect_gbps", "available_in")
    old = {k: v for k, v in values.items() if k not in later}
    with empty_engine.begin() as conn:  # a row as a 0005 gpuhours wrote it
        conn.execute(insert(table("offers", *map(column, old))).values(old))
    shape_before = _plan_shape_columns(empty_engine)

    _migrate(empty_engine, "0006")

    with empty_engine.connect() as conn:
        stored = conn.execute(
            text("SELECT interconnect, interconnect_gbps, vcpus, memory_gb FROM offers")
        ).one()
    assert tuple(stored) == (None, None, 192, 2048)
    assert _plan_shape_columns(empty_engine) == [
        *shape_before,
        "vcpus",
        "memory_gb",
        "interconnect_gbps",
    ]

    _migrate(empty_engine, "0005", down=True)

    columns = {c["name"] for c in inspect(empty_engine).get_columns("offers")}
    assert not columns & {"interconnect", "interconnect_gbps"}
    assert _plan_shape_columns(empty_engine) == shape_before
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM offers")).scalar() == 1


def test_0007_adds_capacity_as_not_listed_to_stored_offers(empty_engine: Engine) -> None:
    _migrate(empty_engine, "0006")
    offer = build_offer(available_in=("us-east-1",))
    now = timestamp_param(empty_engine.dialect, datetime(2025, 3, 1, tzinfo=UTC))
    values = dict(zip(OFFER_LAYOUT, offer_row(offer, "aws/on-demand", now, now), strict=True))
    old = {k: v for k, v in values.items() if k != "available_in"}
    with empty_engine.begin() as conn:  # a row as a 0006 gpuhours wrote it
        conn.execute(insert(table("offers", *map(column, old))).values(old))
    shape_before = _plan_shape_columns(empty_engine)

    _migrate(empty_engine, "0007")

    stored = get_offer(empty_engine, offer.id)
    assert stored is not None
    assert (stored.available_in, stored.available_now) == (None, None)
    assert _plan_shape_columns(empty_engine) == [*shape_before, "available_in"]

    _migrate(empty_engine, "0006", down=True)

    columns = {c["name"] for c in inspect(empty_engine).get_columns("offers")}
    assert "available_in" not in columns
    assert _plan_shape_columns(empty_engine) == shape_before
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM offers")).scalar() == 1
