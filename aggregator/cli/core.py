"""What every ``gpuhours`` command shares: the typer app and its sub-apps, output, the mapping
of errors to one message and an exit code, and the settings, plugins and store it works on."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from aggregator.errors import (
    ConfigurationError,
    GpuhoursError,
    InvalidInput,
    SchemaOutdated,
    StoreError,
)
from aggregator.json_text import NonFiniteNumber, dumps

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy.engine import Engine

    from aggregator.plugins import Registry
    from aggregator.settings import Settings
    from db.reader import Reader

__all__ = [
    "EXIT_INPUT",
    "EXIT_NOTHING",
    "EXIT_OK",
    "EXIT_STORE",
    "EXIT_SYNC_FAILED",
    "app",
    "consoles",
    "context",
    "db_app",
    "emit_json",
    "errors",
    "nothing",
    "say",
    "store_engine",
    "store_reader",
]

# Conventions every command keeps:
# * `--json` prints exactly one JSON document on stdout and nothing else (progress, logs and
#   warnings go to stderr).
# * Exit codes: 0 ok, 1 nothing found, 2 bad input or setup (including a database whose schema
#   is older than this code), 3 a sync failed, 4 the store could not be used.
# * Errors are one clear line naming what failed and what to do; no traceback unless
#   GPUHOURS_DEBUG=1.
# Commands import what they use inside their bodies: `gpuhours --help` and the light commands
# would otherwise pay for SQLAlchemy, pydantic, httpx, rich and highspy (about a second here).

EXIT_OK, EXIT_NOTHING, EXIT_INPUT, EXIT_SYNC_FAILED, EXIT_STORE = 0, 1, 2, 3, 4

app = typer.Typer(
    name="gpuhours",
    help="The cheapest way to buy N GPU-hours across AWS, Google Cloud, Azure and the GPU clouds.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
db_app = typer.Typer(help="Manage the price store's schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more detail.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


class _Consoles:
    """Rich consoles made on use, bound to the current stdout/stderr.

    Output that is not a terminal (a pipe, a file) gets a wide fixed width so tables are not
    cut to 80 columns.
    """

    @property
    def out(self) -> Console:
        from rich.console import Console

        return Console(highlight=False, width=None if sys.stdout.isatty() else 200)

    @property
    def err(self) -> Console:
        from rich.console import Console

        return Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 200)


consoles = _Consoles()


# -- output and errors ------------------------------------------------------------------------


def emit_json(document: Any) -> None:
    """Print ``document`` (pydantic models included) as the command's one JSON document."""
    sys.stdout.write(dumps(_jsonable(document), indent=2) + "\n")
    sys.stdout.flush()


def _jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):  # a pydantic model (pydantic is not imported to check)
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _exit_code_for(exc: GpuhoursError) -> int:
    if isinstance(exc, InvalidInput | ConfigurationError | SchemaOutdated):
        return EXIT_INPUT
    if isinstance(exc, StoreError | NonFiniteNumber):  # the store, or a bug: not the user's input
        return EXIT_STORE
    return EXIT_NOTHING


@contextmanager
def errors(as_json: bool) -> Iterator[None]:
    """Turn gpuhours errors into one message and an exit code; never a traceback."""
    try:
        yield
    except GpuhoursError as exc:
        _fail(exc, _exit_code_for(exc), as_json)
    except typer.Exit:
        raise
    except Exception as exc:
        if os.environ.get("GPUHOURS_DEBUG"):
            raise
        wrapped = StoreError(
            f"unexpected {type(exc).__name__}: {exc} (rerun with GPUHOURS_DEBUG=1 for details)"
        )
        _fail(wrapped, EXIT_STORE, as_json)


def _fail(exc: GpuhoursError, code: int, as_json: bool) -> NoReturn:
    field = getattr(exc, "field", None)
    if as_json:
        emit_json({"error": {"type": type(exc).__name__, "message": str(exc), "field": field}})
    say(f"error: {exc}")
    raise typer.Exit(code)


def nothing(message: str, as_json: bool, document: dict[str, Any]) -> NoReturn:
    """Exit 1 (nothing found), printing ``document`` with ``--json`` and ``message`` on stderr."""
    if as_json:
        emit_json(document)
    say(message)
    raise typer.Exit(EXIT_NOTHING)


def say(message: str) -> None:
    """One plain line on stderr (rich is not needed, nor imported, to print it)."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


# -- what a command works on ------------------------------------------------------------------


def context(*, providers: bool = True) -> tuple[Settings, Registry]:
    """Settings and loaded plugins; ``providers=False`` for commands that only read the store
    (their providers' feed modules are then never imported)."""
    from aggregator.plugins import load_registry
    from aggregator.settings import Settings

    settings = Settings()
    return settings, load_registry(settings, providers=providers)


@contextmanager
def store_engine(
    settings: Settings, *, check: bool = True, writable: bool = False
) -> Iterator[Engine]:
    """An engine on the store (see :func:`aggregator.store_access.open_store`), disposed on
    exit."""
    from aggregator.store_access import open_store

    engine = open_store(settings, check=check, writable=writable)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def store_reader(settings: Settings) -> Iterator[Reader]:
    """A read-only view of the store for one command, on the stdlib driver for SQLite.

    A current store is read without SQLAlchemy or Alembic (0.4 s of imports here). Only a store
    that is not (a new SQLite file to create, an empty one, a schema to refuse) goes through
    :func:`store_engine`, which creates it or raises what is wrong.
    """
    from db.read import check_schema_version
    from db.reader import open_reader, sqlite_path

    url = settings.store_url()
    path = sqlite_path(url)
    current = path is None or path == ":memory:" or Path(path).exists()
    if current:
        with open_reader(url) as reader:
            try:
                check_schema_version(reader)
            except SchemaOutdated:
                if path is None:
                    raise
                current = False
    if not current:
        with store_engine(settings):
            pass
    with open_reader(url) as reader:
        yield reader
