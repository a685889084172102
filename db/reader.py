"""Read-only access to the store through either the stdlib ``sqlite3`` or SQLAlchemy.

A :class:`Reader` runs SQL text with ``:named`` parameters and returns rows as tuples; the
read functions of :mod:`db.read` are written against it. Where it comes from:

- :func:`open_reader` ``(url)``: for a ``sqlite:///path`` URL a stdlib ``sqlite3`` connection,
  so a one-shot command never imports SQLAlchemy (about 0.3 s of start-up); for any other URL
  an SQLAlchemy engine made by :func:`db.engine.make_engine` (imported only then). Either way
  the whole ``with`` block reads one snapshot of the database.
- :func:`reader_for` ``(engine)``: a reader over an engine a service already holds; each read
  takes a pooled connection of its own, as the store's functions always did.

Both open SQLite files through :func:`connect_sqlite_file`: a WAL store whose ``-shm`` file
cannot be created or grown (read-only file system, full disk) is opened read-only instead,
with one warning per store and process; writes then fail as on any read-only database.

Driver errors become :class:`~aggregator.errors.StoreError` in the words of
:func:`db.engine.database_error` (what failed, where, the driver's first line) through
:meth:`Reader.failure`. This module imports no SQLAlchemy at module level.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from aggregator.errors import StoreError

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

__all__ = [
    "ConnectionReader",
    "EngineReader",
    "Reader",
    "Rows",
    "SqliteReader",
    "as_reader",
    "connect_sqlite_file",
    "open_reader",
    "read_only_reason",
    "reader_for",
    "sqlite_path",
]

log = logging.getLogger(__name__)

Rows = Sequence[Sequence[Any]]
"""What :meth:`Reader.execute` returns: a sequence of rows, each indexable and unpackable."""

# What db.engine sets on SQLite connections: wait for a writer's lock rather than fail.
_BUSY_TIMEOUT_MS = 30000
_SECRET_QUERY_KEYS = ("password", "secret", "token", "key")
# Free bytes below which a failing -shm is put down to a full disk (it needs 32 KiB to grow).
_SHM_ROOM = 64 * 1024
# Stores this process opened read-only, by real path: why (each is warned about once).
_read_only: dict[str, str] = {}
_read_only_lock = threading.Lock()


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
        connection.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        connection.execute("BEGIN")
    except BaseException:
        connection.close()
        raise
    return connection


def connect_sqlite_file(path: str, *, create: bool, **connect_args: Any) -> sqlite3.Connection:
    """An autocommit ``sqlite3`` connection on the file at ``path`` that can read it.

    Opened read-write (``create``: the file is made if missing). When that connection cannot
    read because SQLite cannot create or grow the WAL index (the ``-shm`` file: read-only
    directory or file system, full disk) the file is opened ``mode=ro`` instead, and as a last
    resort ``immutable=1``, which ignores the ``-wal`` file and so is used only while that file
    is missing or empty. A store opened so is logged once as a WARNING and remembered for
    :func:`read_only_reason`. Raises the driver's error when nothing can read the file.
    """
    mode = "rwc" if create else "rw"
    try:
        return _readable(_file_uri(path, f"mode={mode}"), connect_args)
    except sqlite3.Error as exc:
        if not (_journal_failure(exc) and os.path.isfile(path)):
            raise
        first = exc
    reason = _shm_reason(path, first)
    try:
        connection = _readable(_file_uri(path, "mode=ro"), connect_args)
    except sqlite3.Error:
        if _wal_has_content(path):
            raise sqlite3.OperationalError(
                f"{first}: the store {reason}, and its -wal file holds committed changes "
                "that only a connection able to create the -shm file can read; make "
                f"{os.path.dirname(path) or '.'} writable with free space, then retry"
            ) from first
        connection = _readable(_file_uri(path, "mode=ro&immutable=1"), connect_args)
    _note_read_only(path, reason)
    return connection


def read_only_reason(path: str) -> str | None:
    """Why this process opened the SQLite store at ``path`` read-only, or ``None`` if it did not."""
    with _read_only_lock:
        return _read_only.get(os.path.realpath(path))


def _file_uri(path: str, query: str) -> str:
    return "file:" + quote(path, safe="/") + "?" + query


def _readable(target: str, connect_args: Mapping[str, Any]) -> sqlite3.Connection:
    """A connection on ``target`` that has read the schema (reading needs the WAL index)."""
    connection: sqlite3.Connection = sqlite3.connect(
        target, uri=True, isolation_level=None, **connect_args
    )
    try:
        connection.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        connection.execute("SELECT count(*) FROM sqlite_master").fetchall()
    except BaseException:
        connection.close()
        raise
    return connection


def _journal_failure(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` is SQLite failing to open or size a journal file, not a bad database.

    Measured: a read-only file system (or an unusable ``-shm`` path) gives
    ``SQLITE_CANTOPEN``, a full disk ``SQLITE_IOERR_SHMSIZE``.
    """
    name = getattr(exc, "sqlite_errorname", "")
    return (
        name in ("SQLITE_CANTOPEN", "SQLITE_FULL")
        or name.startswith("SQLITE_IOERR")
        or name.startswith("SQLITE_READONLY_")
    )


def _shm_reason(path: str, exc: sqlite3.Error) -> str:
    """Why the ``-shm`` file of ``path`` is unusable, in words for the warning."""
    shm = path + "-shm"
    try:
        fd = os.open(shm, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        return f"cannot create its -shm file ({(err.strerror or str(err)).lower()})"
    os.close(fd)
    try:
        stat = os.statvfs(os.path.dirname(os.path.abspath(path)))
        full = stat.f_bavail * stat.f_frsize < _SHM_ROOM
    except OSError:
        full = False
    if full:
        return "cannot grow its -shm file (no space left on device)"
    return f"cannot use its -shm file ({exc})"


def _wal_has_content(path: str) -> bool:
    try:
        return os.path.getsize(path + "-wal") > 0
    except OSError:
        return False


def _note_read_only(path: str, reason: str) -> None:
    """Remember that ``path`` was opened read-only; warn the first time in this process."""
    key = os.path.realpath(path)
    with _read_only_lock:
        first = key not in _read_only
        _read_only[key] = reason
    if first:
        log.warning(
            "store %s opened read-only: %s; prices are readable, syncing is not", path, reason
        )


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
