"""The one place that creates database engines, so SQLite and PostgreSQL behave alike.

SQLite is the default (a file under the user's data dir), tuned on every new connection (WAL,
foreign keys, a 30 s busy timeout, ``synchronous=NORMAL``, a 64 MiB page cache) and opened
through :func:`db.sqlite_file.connect_sqlite_file`, which falls back to read-only when the
disk refuses the ``-shm`` file. The ``sqlite3`` driver's own transaction handling is off, so
SQLAlchemy emits ``BEGIN``: every read is then a snapshot, and :func:`write_transaction`
starts with ``BEGIN IMMEDIATE``, which waits for the write lock instead of failing on it
later. Why each setting: docs/store.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import SQLAlchemyError

from aggregator.errors import ConfigurationError, StoreError
from aggregator.settings import Settings, get_settings
from db.sqlite_file import BUSY_TIMEOUT_MS

__all__ = [
    "check_writable",
    "database_error",
    "make_engine",
    "normalize_url",
    "redacted_url",
    "store_errors",
    "write_transaction",
]

_IMMEDIATE = "gpuhours_begin_immediate"
_SECRET_QUERY_KEYS = ("password", "secret", "token", "key")


def normalize_url(url: str | URL) -> URL:
    """Parse ``url`` and pick the psycopg 3 driver for bare PostgreSQL URLs.

    ``postgres://`` (what Heroku-style services hand out) and ``postgresql://`` would otherwise
    select psycopg2, which gpuhours does not depend on.
    """
    if isinstance(url, str) and url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | None = None, settings: Settings | None = None) -> Engine:
    """Create the engine for ``url``, else ``settings.database_url``, else the SQLite file.

    The default SQLite file is :meth:`Settings.sqlite_path`; its directory is created. The
    caller owns the engine and should ``dispose()`` it when done.
    """
    if url is None:
        settings = settings or get_settings()
        url = settings.store_url()
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return create_engine(parsed, pool_pre_ping=True)


def _sqlite_engine(url: URL) -> Engine:
    path = _file_path(url)
    if path is not None:
        _make_parent(Path(path))
    engine = create_engine(url)

    if path is not None:

        @event.listens_for(engine, "do_connect")
        def _do_connect(_dialect: Any, _record: Any, _cargs: Any, cparams: Any) -> Any:
            # A read-only fallback connection takes the pragmas below too: on a WAL file
            # journal_mode=WAL writes nothing, and an immutable one ignores it.
            from db.sqlite_file import connect_sqlite_file

            args = {k: v for k, v in cparams.items() if k not in ("database", "uri")}
            return connect_sqlite_file(path, create=True, **args)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy (the "begin" hook below emits BEGIN).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA cache_size=-65536")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _file_path(url: URL) -> str | None:
    """The file a plain ``sqlite:///path`` URL names (not memory, not a ``file:`` URI)."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    if str(url.query.get("uri", "")).lower() in ("true", "1"):
        return None
    return str(Path(database).expanduser())


def _make_parent(path: Path) -> None:
    """Create the store's directory; one that cannot be made is left for the connect to report
    (an existing store on a read-only disk still reads)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if not path.parent.is_dir():
            raise ConfigurationError(
                f"cannot create the store's directory {path.parent}: "
                f"{exc.strerror or exc}; point GPUHOURS_DATA_DIR (or GPUHOURS_DATABASE_URL) "
                "at a place gpuhours may write"
            ) from None


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction meant to write; committed unless the body raises.

    On SQLite the transaction starts with ``BEGIN IMMEDIATE`` (it waits for other writers up to
    the busy timeout rather than failing halfway through); on other dialects it is an ordinary
    transaction.
    """
    with engine.connect() as conn:
        conn.execution_options(**{_IMMEDIATE: True})
        with conn.begin():
            yield conn


def redacted_url(engine_or_url: Engine | URL | str) -> str:
    """The database URL with its password (and secret-looking query values) hidden, for messages."""
    if isinstance(engine_or_url, Engine):
        url = engine_or_url.url
    elif isinstance(engine_or_url, URL):
        url = engine_or_url
    else:
        try:
            url = normalize_url(engine_or_url)
        except Exception:  # an unparsable URL may still hold a password: show nothing of it
            return "<unparsable database URL>"
    secret_keys = [k for k in url.query if any(s in k.lower() for s in _SECRET_QUERY_KEYS)]
    if secret_keys:
        url = url.update_query_dict({k: "***" for k in secret_keys})
    return url.render_as_string(hide_password=True)


def database_error(engine: Engine, doing: str, exc: SQLAlchemyError) -> StoreError:
    """A :class:`StoreError` for ``exc`` saying what failed where, without SQL or secrets.

    Only the driver's first message line is kept: SQLAlchemy's own text repeats the statement
    and (for executemany) parameters, which are noise in a user-facing error.
    """
    orig = getattr(exc, "orig", None)
    lines = str(orig if orig is not None else exc).strip().splitlines()
    reason = lines[0] if lines else type(exc).__name__
    read_only = _read_only_note(engine, orig)
    return StoreError(
        f"{doing} failed on the database at {redacted_url(engine)}: {reason}{read_only}"
    )


@contextmanager
def store_errors(engine: Engine, doing: str) -> Iterator[None]:
    """Turn any :class:`SQLAlchemyError` raised in the body into :func:`database_error`'s."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise database_error(engine, doing, exc) from exc


def check_writable(engine: Engine) -> None:
    """Raise :class:`StoreError` if the store was opened read-only (a SQLite file whose
    journal files cannot be created), before a command that must write starts its work."""
    if engine.dialect.name != "sqlite" or not engine.url.database:
        return
    from db.sqlite_file import read_only_reason

    with engine.connect():  # opening is what finds out
        pass
    why = read_only_reason(str(Path(engine.url.database).expanduser()))
    if why is not None:
        raise StoreError(
            f"the store at {redacted_url(engine)} can only be read: it {why}; nothing was "
            "synced (free space or make its directory writable, then retry)"
        )


def _read_only_note(engine: Engine, orig: object) -> str:
    """What to add to a failed write's message when the store was opened read-only."""
    if engine.dialect.name != "sqlite" or not engine.url.database:
        return ""
    if getattr(orig, "sqlite_errorname", "") != "SQLITE_READONLY":
        return ""
    from db.sqlite_file import read_only_reason

    why = read_only_reason(str(Path(engine.url.database).expanduser()))
    if why is None:
        return ""
    return (
        f" (the store was opened read-only: it {why}; free space or make its directory "
        "writable, then retry)"
    )
