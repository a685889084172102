"""Bulk inserts and upserts of tuple rows, one way per dialect, at the driver's own speed.

SQLAlchemy's per-row parameter processing costs more than the database's own inserts (it
halved SQLite throughput at 100k offers, and PostgreSQL's batched ``VALUES`` ran at 18k rows/s;
ORM objects and ``session.merge()`` are about 30x slower still), so the statement is compiled
once and the rows go to the driver as they are:

- SQLite: ``sqlite3``'s ``executemany`` of ``INSERT .. ON CONFLICT (id) DO UPDATE``;
- PostgreSQL: ``COPY`` into the table, or for an upsert into a temporary staging table
  (dropped at commit) followed by one ``INSERT .. SELECT .. ON CONFLICT (id) DO UPDATE``.

Rows must therefore hold driver-ready values (see :mod:`db.store.rows`).
``bench/bench_upsert.py`` prints what this achieves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Table, select
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table
from sqlalchemy.dialects import postgresql, sqlite

from aggregator.errors import StoreError
from db.store.rows import TupleRow

if TYPE_CHECKING:
    import psycopg

__all__ = ["bulk_insert"]


def bulk_insert(
    conn: Connection, table: Table, layout: tuple[str, ...], rows: list[TupleRow], *, upsert: bool
) -> None:
    """Insert tuple ``rows`` (columns in ``layout`` order) at the driver's bulk speed.

    With ``upsert`` a row whose id exists updates every column but ``id`` and ``first_seen``.
    """
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "sqlite":
        stmt: Any = sqlite.insert(table)
        if upsert:
            stmt = stmt.on_conflict_do_update(
                index_elements=[table.c.id], set_=_update_set(table, stmt.excluded)
            )
        compiled = stmt.compile(dialect=conn.dialect, column_keys=list(layout))
        if tuple(compiled.positiontup or ()) != layout:  # pragma: no cover - a coding error
            raise StoreError(f"bulk statement binds {compiled.positiontup}, rows hold {layout}")
        conn.exec_driver_sql(str(compiled), rows)
    elif dialect == "postgresql":
        target = table.name
        if upsert:
            target = f"gpuhours_stage_{table.name}"
            conn.exec_driver_sql(
                f"CREATE TEMPORARY TABLE {target} "
                f"(LIKE {table.name} INCLUDING DEFAULTS) ON COMMIT DROP"
            )
        _pg_copy(conn, target, layout, rows)
        if upsert:
            stage = sa_table(target, *(sa_column(name) for name in layout))
            insert_select = postgresql.insert(table).from_select(list(layout), select(stage))
            conn.execute(
                insert_select.on_conflict_do_update(
                    index_elements=[table.c.id], set_=_update_set(table, insert_select.excluded)
                )
            )
            conn.exec_driver_sql(f"DROP TABLE {target}")
    else:
        raise StoreError(f"unsupported database dialect {dialect!r}: use SQLite or PostgreSQL")


def _update_set(table: Table, excluded: Any) -> dict[str, Any]:
    return {c.name: excluded[c.name] for c in table.c if c.name not in ("id", "first_seen")}


def _pg_copy(
    conn: Connection, table_name: str, layout: tuple[str, ...], rows: list[TupleRow]
) -> None:
    driver_connection = cast("psycopg.Connection[Any]", conn.connection.driver_connection)
    columns = ", ".join(layout)
    with (
        driver_connection.cursor() as cursor,
        cursor.copy(f"COPY {table_name} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
