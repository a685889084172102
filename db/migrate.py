"""Schema migrations: bring a database to the schema this gpuhours needs, or say it is not.

Alembic is configured in code (no ``alembic.ini``): the scripts live in ``db/migrations`` inside
the installed package. Migrations run in one write transaction, so an interrupted upgrade leaves
the previous schema intact (both SQLite and PostgreSQL have transactional DDL).

Developers add a revision by editing :mod:`db.tables` and then autogenerating against a database
at the current head, e.g.::

    from alembic import command
    from db.migrate import alembic_config
    command.revision(alembic_config(), message="add x", autogenerate=True)

(this uses ``GPUHOURS_DATABASE_URL`` or the default SQLite file) and reviewing the result.
"""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from aggregator.errors import SchemaOutdated, StoreError
from db.engine import database_error, redacted_url, write_transaction

__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "check_schema",
    "current_revision",
    "head_revision",
    "upgrade",
]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    """An Alembic configuration pointing at the migrations shipped in this package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


@functools.cache
def head_revision() -> str:
    """The revision this version of gpuhours needs (read once: the scripts ship with it, and
    ``/readyz`` asks on every probe)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise StoreError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; ``None`` for a database never migrated."""
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        raise database_error(engine, "reading the schema version", exc) from exc


def upgrade(engine: Engine) -> None:
    """Migrate the database to the newest schema; a no-op when it is already there."""
    config = alembic_config()
    try:
        with write_transaction(engine) as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    except SQLAlchemyError as exc:
        raise database_error(engine, "upgrading the schema", exc) from exc


def check_schema(engine: Engine) -> None:
    """Raise :class:`SchemaOutdated` unless the database is exactly at :func:`head_revision`.

    Called before reading or writing so that an old database gives a clear instruction instead
    of "no such column" halfway through a sync. A database *newer* than this gpuhours (another
    installation upgraded it) is refused too: this code does not know its schema.
    """
    head = head_revision()
    current = current_revision(engine)
    if current == head:
        return
    where = redacted_url(engine)
    scripts = ScriptDirectory.from_config(alembic_config())
    known = {script.revision for script in scripts.walk_revisions()}
    if current is not None and current not in known:
        raise SchemaOutdated(
            f"the database at {where} has schema {current}, which this gpuhours (schema {head}) "
            "does not know: it was upgraded by a newer gpuhours; upgrade gpuhours"
        )
    raise SchemaOutdated(
        f"the database at {where} has schema {current or 'none'} but this gpuhours needs "
        f"{head}: run `gpuhours db upgrade`"
    )
