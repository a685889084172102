"""Opening a SQLite store file so that it can always be read, even on a read-only or full disk.

A WAL store whose ``-shm`` file cannot be created or grown (read-only file system, full disk)
is opened read-only instead, with one warning per store and process; writes then fail as on
any read-only database, and :func:`read_only_reason` says why.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

__all__ = ["BUSY_TIMEOUT_MS", "connect_sqlite_file", "read_only_reason"]

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30000
"""How long a connection waits for a writer's lock rather than fail (also set by db.engine)."""
_SHM_ROOM = 64 * 1024
_read_only: dict[str, str] = {}  # stores this process opened read-only, by real path: why
_read_only_lock = threading.Lock()


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
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
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
