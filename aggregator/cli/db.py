"""``gpuhours db``: manage the store's schema (``db upgrade`` creates or migrates it)."""

from __future__ import annotations

import typer

from aggregator.cli.core import consoles, emit_json, errors, store_engine
from aggregator.cli.options import JsonOpt

__all__ = ["db_upgrade", "register"]


def register(db_app: typer.Typer) -> None:
    """Add ``upgrade`` to the ``db`` sub-app."""
    db_app.command("upgrade")(db_upgrade)


def db_upgrade(as_json: JsonOpt = False) -> None:
    """Create or migrate the store's schema to the version this gpuhours needs."""
    from aggregator.settings import Settings
    from db.engine import redacted_url
    from db.migrate import current_revision, upgrade

    with errors(as_json):
        settings = Settings()
        with store_engine(settings, check=False) as engine:
            before = current_revision(engine)
            upgrade(engine)
            after = current_revision(engine)
            url = redacted_url(engine)
        if as_json:
            emit_json({"database": url, "from_revision": before, "revision": after})
        else:
            consoles.out.print(f"{url}: schema {before or 'empty'} -> {after}", markup=False)
