"""The ``gpuhours`` command line: thin commands over :mod:`aggregator.catalog`, the sync engine,
the planner and the API server.

:mod:`aggregator.cli.core` holds the app and what every command shares; each family of
commands lives in its own module and is added to the app here. ``main`` is the console script.
"""

from __future__ import annotations

from aggregator.cli import db, export, offers, plan, providers, service, sync
from aggregator.cli.core import app, db_app

__all__ = ["app", "main"]

# In this order in `gpuhours --help`; the `db` group comes after the commands.
sync.register(app)
offers.register(app)
providers.register(app)
plan.register(app)
export.register(app)
service.register(app)
db.register(db_app)


def main() -> None:
    """Console-script entry point."""
    app()
