"""Opening the configured store: an engine whose schema matches this code.

A brand-new SQLite file is created and migrated on first use, so a laptop user needs no setup;
anything else at an older schema is refused. SQLAlchemy and Alembic are imported inside
:func:`open_store` only: the commands that read a current SQLite store (``gpuhours offers``,
``history``, ``cheapest``) run on the stdlib ``sqlite3`` driver without ever loading them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from aggregator.settings import Settings

__all__ = ["open_store"]


def open_store(settings: Settings, *, check: bool = True, writable: bool = False) -> Engine:
    """An engine on the configured store whose schema matches this code.

    With ``writable``, a store that can only be read (see :func:`db.engine.check_writable`)
    is refused at once instead of failing every write later.

    A brand-new SQLite file (no tables at all), at the default path or named by
    ``GPUHOURS_DATABASE_URL``, is created and migrated on first use, so a laptop user needs no
    setup; any database that holds tables at an older schema, and any PostgreSQL database, is
    refused with a message saying to run ``gpuhours db upgrade`` (shared services migrate
    deliberately).
    """
    from db.engine import check_writable, make_engine
    from db.read import check_schema_version, schema_revision

    engine = make_engine(settings.database_url, settings=settings)
    try:
        if check:
            # The light checks of db.read: Alembic (a tenth of a second to import) is loaded
            # only to create a new store's schema.
            if (
                engine.dialect.name == "sqlite"
                and schema_revision(engine) is None
                and _is_empty(engine)
            ):
                from db.migrate import upgrade

                upgrade(engine)
            check_schema_version(engine)
        if writable:
            check_writable(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def _is_empty(engine: Engine) -> bool:
    from sqlalchemy import inspect

    return not inspect(engine).get_table_names()
