"""Alembic environment of gpuhours, driven programmatically by :mod:`db.migrate`.

:func:`db.migrate.upgrade` passes an open connection (inside a write transaction) through
``config.attributes["connection"]``, so a migration commits or rolls back as a whole on both
dialects. Without one (a developer running alembic against ``GPUHOURS_DATABASE_URL`` through
:func:`db.migrate.alembic_config`), an engine is made from the settings.

``render_as_batch`` lets future migrations alter tables on SQLite (which cannot ALTER most
things in place); the timestamp type renders as plain ``sa.DateTime(timezone=True)`` so
migration files do not import application code.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from db.engine import make_engine, write_transaction
from db.tables import UtcDateTime, metadata


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine()
    try:
        with write_transaction(engine) as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("gpuhours migrations run online only (`gpuhours db upgrade`)")
run_migrations_online()
