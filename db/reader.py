"""Read-only access to the store through either the stdlib ``sqlite3`` or SQLAlchemy.

A :class:`Reader` runs SQL text with ``:named`` parameters and returns rows as tuples; the
read functions of :mod:`db.read` are written against it. Where it comes from:

- :func:`open_reader` ``(url)``: for a ``sqlite:///path`` URL a stdlib ``sqlite3`` connection,
  so a one-shot command never imports SQLAlchemy (about 0.3 s of start-up); for any other URL
  an SQLAlchemy engine made by :func:`db.engine.make_engine` (imported only then). Either way
  the whole ``with`` block reads one snapshot of the database.
- :func:`reader_for` ``(engine)``: a reader over an engine a service already holds; each read
  takes a pooled connection of its own, like every function of :mod:`db.store`.

Both open SQLite files through :func:`db.sqlite_file.connect_sqlite_file`, which opens a store
read-only when its journal files cannot be created.

Driver errors become :class:`~aggregator.errors.StoreError` in the words of
:func:`db.engine.database_error` (what failed, where, the driver's first line) through
:meth:`Reader.failure`. This module imports no SQLAlchemy at module level.
"""

from __future__ import annotations

import logging
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from aggregator.errors import StoreError
from db.sqlite_file import BUSY_TIMEOUT_MS, connect_sqlite_file

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

__all__ = [
    "ConnectionReader",
    "EngineReader",
    "Reader",
    "Rows",
    "SqliteReader",
    "as_reader",
    "open_reader",
    "reader_for",
    "sqlite_path",
]

log = logging.getLogger(__name__)

Rows = Sequence[Sequence[Any]]
"""What :meth:`Reader.execute` returns: a sequence of rows, each indexable and unpackable."""

_SECRET_QUERY_KEYS = ("password", "secret", "token", "key")
# Free bytes below which a failing -shm is put down to a full disk (it needs 32 KiB to grow).


class Reader(ABC):
    """Something that runs read-only SQL text against one store."""

    dialect: str
    """``"sqlite"`` or ``"postgresql"``."""
    location: str
    """The database URL with secrets hidden, for messages."""

    @abstractmethod
    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Rows:
        """Every row ``sql`` returns, with ``:name`` placeholders bound from ``params``.

        Raises the driver's error (one of :attr:`errors`); callers turn it into a message with
        :meth:`failure`.
        """

    @abstractmethod
    def snapshot(self) -> AbstractContextManager[Reader]:
        """A reader whose statements all see one snapshot of the database (for reads that
        take several statements)."""

    @property
    @abstractmethod
    def errors(self) -> tuple[type[BaseException], ...]:
        """The exception types a failing :meth:`execute` raises."""

    @property
    @abstractmethod
    def memo_owner(self) -> object:
        """The object a per-store memo (:mod:`db.offer_cache`) is kept under: the engine for
        SQLAlchemy readers, so every reader of one engine shares it."""

    def failure(self, doing: str, exc: BaseException) -> StoreError:
        """A :class:`StoreError` for ``exc``: what failed, where, the driver's first line."""
        orig = getattr(exc, "orig", None)
        lines = str(orig if orig is not None else exc).strip().splitlines()
        reason = lines[0] if lines else type(exc).__name__
        return StoreError(f"{doing} failed on the database at {self.location}: {reason}")

    @contextmanager
    def errors_as(self, doing: str) -> Iterator[None]:
        """Turn driver errors raised inside the block into :meth:`failure`."""
        try:
            yield
        except self.errors as exc:
            raise self.failure(doing, exc) from exc


class SqliteReader(Reader):
    """A stdlib ``sqlite3`` connection inside one deferred ``BEGIN`` (one WAL snapshot)."""

    dialect = "sqlite"

    def __init__(self, connection: sqlite3.Connection, location: str) -> None:
        self._connection = connection
        self.location = location

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Rows:
        return self._connection.execute(sql, params or {}).fetchall()

    @contextmanager
    def snapshot(self) -> Iterator[Reader]:
        yield self  # the connection reads one snapshot already

    @property
    def errors(self) -> tuple[type[BaseException], ...]:
        return (sqlite3.Error,)

    @property
    def memo_owner(self) -> object:
        return self


class _SqlAlchemyReader(Reader):
    """Shared by the engine and the connection readers: SQL text through ``text()``."""

    dialect: str

    def _run(self, conn: Connection, sql: str, params: Mapping[str, Any] | None) -> Rows:
        from sqlalchemy import text

        return conn.execute(text(sql), dict(params or {})).all()

    @property
    def errors(self) -> tuple[type[BaseException], ...]:
        from sqlalchemy.exc import SQLAlchemyError

        return (SQLAlchemyError,)


class EngineReader(_SqlAlchemyReader):
    """Reads through an SQLAlchemy engine, one pooled connection per statement."""

    def __init__(self, engine: Engine) -> None:
        from db.engine import redacted_url

        self.engine = engine
        self.dialect = engine.dialect.name
        self.location = redacted_url(engine)

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Rows:
        with self.engine.connect() as conn:
            return self._run(conn, sql, params)

    @contextmanager
    def snapshot(self) -> Iterator[Reader]:
        """SQLite gives one snapshot per transaction already (SQLAlchemy emits ``BEGIN``);
        PostgreSQL's default READ COMMITTED gives it per statement only."""
        with self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            yield ConnectionReader(conn, self.location, owner=self.engine)

    @property
    def memo_owner(self) -> object:
        return self.engine


class ConnectionReader(_SqlAlchemyReader):
    """Reads on one SQLAlchemy connection (inside its transaction)."""

    def __init__(self, conn: Connection, location: str, *, owner: object) -> None:
        self._conn = conn
        self.dialect = conn.dialect.name
        self.location = location
        self._owner = owner

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Rows:
        return self._run(self._conn, sql, params)

    @contextmanager
    def snapshot(self) -> Iterator[Reader]:
        yield self

    @property
    def memo_owner(self) -> object:
        return self._owner


def reader_for(engine: Engine) -> Reader:
    """A reader over ``engine`` (the API and tests hold engines)."""
    return EngineReader(engine)


def as_reader(source: Reader | Engine) -> Reader:
    """``source`` itself when it is a reader, else :func:`reader_for` it."""
    return source if isinstance(source, Reader) else reader_for(source)


def sqlite_path(url: str) -> str | None:
    """The database a ``sqlite://`` URL names (``:memory:`` for none), or ``None`` when
    ``url`` is not SQLite on the stdlib driver.

    Follows SQLAlchemy's rules: ``sqlite:///relative.db``, ``sqlite:////absolute.db``,
    ``sqlite://`` for memory, and ``?uri=true`` for a ``file:`` URI in the path.
    """
    scheme, _, rest = url.partition("://")
    if scheme not in ("sqlite", "sqlite+pysqlite") or not _:
        return None
    parts = urlsplit("sqlite://" + rest)
    if parts.netloc:
        return None  # sqlite://host/... is not a local file
    database = unquote(parts.path[1:]) if parts.path else ""
    return database or ":memory:"


@contextmanager
def open_reader(url: str) -> Iterator[Reader]:
    """A reader on the store at ``url`` for the duration of the block, one snapshot throughout.

    SQLite URLs use the stdlib driver on an existing file (a missing file is a
    :class:`StoreError`, never silently created): ``busy_timeout`` as :mod:`db.engine` sets,
    the journal mode left as the file has it (WAL readers work unchanged), and every statement
    inside one deferred ``BEGIN``. Other URLs go through :func:`db.engine.make_engine`, on one
    connection (``REPEATABLE READ`` on PostgreSQL), disposed of afterwards.
    """
    path = sqlite_path(url)
    if path is not None:
        location = _redacted_sqlite_url(url)
        try:
            connection = _connect_sqlite(url, path)
        except sqlite3.Error as exc:
            raise StoreError(
                f"opening the store failed on the database at {location}: {exc}"
            ) from exc
        try:
            yield SqliteReader(connection, location)
        finally:
            connection.close()  # a read-only transaction: closing rolls it back
        return
    from sqlalchemy.exc import SQLAlchemyError

    from db.engine import database_error, make_engine, redacted_url

    engine = make_engine(url)
    try:
        try:
            opened = engine.connect()
        except SQLAlchemyError as exc:  # the server is down, the URL or password is wrong
            raise database_error(engine, "connecting", exc) from None
        with opened as conn:
            if conn.dialect.name == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            yield ConnectionReader(conn, redacted_url(engine), owner=engine)
    finally:
        engine.dispose()


def _connect_sqlite(url: str, path: str) -> sqlite3.Connection:
    query = dict(parse_qsl(urlsplit(url).query))
    uri = query.get("uri", "").lower() in ("true", "1")
    if path == ":memory:" or uri:
        connection = sqlite3.connect(path, uri=uri, isolation_level=None)
    else:
        # create=False: open the existing file only; a reader must not create an empty store.
        connection = connect_sqlite_file(path, create=False)
    try:
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        connection.execute("BEGIN")
    except BaseException:
        connection.close()
        raise
    return connection


def _redacted_sqlite_url(url: str) -> str:
    """``url`` with secret-looking query values hidden, as :func:`db.engine.redacted_url`."""
    base, sep, query = url.partition("?")
    if not sep:
        return url
    pairs = [
        (key, "***" if any(s in key.lower() for s in _SECRET_QUERY_KEYS) else value)
        for key, value in parse_qsl(query, keep_blank_values=True)
    ]
    return base + "?" + urlencode(pairs, safe="*/:")
