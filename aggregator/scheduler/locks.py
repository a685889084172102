"""The scheduler's leader lock: at most one process syncs on schedule against one store.

What is promised:

* :func:`leader_lock` picks the lock for the store: a PostgreSQL session-level advisory lock
  for PostgreSQL, an exclusive ``flock`` on a file next to the database for SQLite, and an
  in-process lock for an in-memory SQLite database (which no other process can see anyway).
* Both cross-process locks are released by the operating system or the database server when
  the holder dies, however it dies: the advisory lock belongs to a dedicated database session
  (closed when the process exits or its connection drops; server-side TCP keepalives are set on
  that session so a vanished host is noticed within about a minute), the ``flock`` to an open
  file descriptor. A standby that keeps calling :meth:`LeaderLock.try_acquire` takes over.
* :meth:`LeaderLock.still_held` asks the authority (the database's ``pg_locks``) rather than
  trusting memory, so a leader whose lock session was lost notices it and stops scheduling.

The PostgreSQL lock key is the pair (``LOCK_CLASS``, ``hashtext(current_schema())``), so two
gpuhours deployments sharing one database in different schemas each have their own leader, and
the key cannot collide with the per-feed transaction locks of :mod:`db.store` (single 64-bit
keys).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

__all__ = [
    "LOCK_CLASS",
    "FileLock",
    "LeaderLock",
    "LocalLock",
    "PostgresAdvisoryLock",
    "leader_lock",
]

log = logging.getLogger(__name__)

LOCK_CLASS = 0x67_70_68_73  # "gphs": the first key of the two-key advisory lock

# Server-side keepalives on the lock session: a leader whose host vanished loses the lock after
# about idle + interval x count seconds instead of the kernel default of two hours.
_KEEPALIVE_SETTINGS = {
    "tcp_keepalives_idle": "30",
    "tcp_keepalives_interval": "10",
    "tcp_keepalives_count": "3",
}


class LeaderLock(Protocol):
    """A lock one process at a time can hold; see the module docstring."""

    description: str

    def try_acquire(self) -> bool:
        """Take the lock if it is free; never blocks. True if this process now holds it."""
        ...

    def still_held(self) -> bool:
        """Whether this process still holds the lock (False after losing its session)."""
        ...

    def release(self) -> None:
        """Give the lock up; a no-op when not held."""
        ...


class PostgresAdvisoryLock:
    """A session-level advisory lock held on a connection of its own, outside any pool."""

    def __init__(self, engine: Engine) -> None:
        self._engine = create_engine(
            engine.url,
            poolclass=NullPool,
            connect_args={"application_name": "gpuhours-scheduler"},
        )
        self._conn: Connection | None = None
        self.description = "PostgreSQL advisory lock"

    def try_acquire(self) -> bool:
        if self._conn is not None and self.still_held():
            return True
        self._close()
        conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            for name, value in _KEEPALIVE_SETTINGS.items():
                conn.execute(
                    text("SELECT set_config(:name, :value, false)"), {"name": name, "value": value}
                )
            got = conn.execute(
                text("SELECT pg_try_advisory_lock(:cls, hashtext(current_schema()))"),
                {"cls": LOCK_CLASS},
            ).scalar_one()
        except Exception:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def still_held(self) -> bool:
        if self._conn is None:
            return False
        try:
            held = self._conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND pid = pg_backend_pid() AND granted "
                    "AND objsubid = 2 AND CAST(classid AS bigint) = :cls "
                    "AND CAST(objid AS bigint) = "
                    "(CAST(hashtext(current_schema()) AS bigint) & 4294967295)"
                ),
                {"cls": LOCK_CLASS},
            ).scalar_one()
        except Exception as exc:
            log.warning("leader lock session lost: %s", type(exc).__name__)
            self._close()
            return False
        return bool(held)

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(
                text("SELECT pg_advisory_unlock(:cls, hashtext(current_schema()))"),
                {"cls": LOCK_CLASS},
            )
        except Exception as exc:  # the session is gone, and the lock with it
            log.debug("releasing the leader lock: %s", exc)
        self._close()

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception as exc:
                log.debug("closing the leader lock session: %s", exc)
            self._conn = None

    def dispose(self) -> None:
        """Release and close the lock's own engine."""
        self.release()
        self._engine.dispose()


class FileLock:
    """An exclusive ``flock`` on ``path``; the file itself is left in place (it is harmless)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self.description = f"file lock {path}"

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def still_held(self) -> bool:
        if self._fd is None:
            return False
        try:  # the lock is only meaningful while the path still names the locked file
            return os.fstat(self._fd).st_ino == os.stat(self.path).st_ino
        except OSError:
            return False

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None

    def dispose(self) -> None:
        self.release()


class LocalLock:
    """For stores only this process can see (in-memory SQLite): one holder per process."""

    _held: set[str] = set()
    _guard = threading.Lock()

    def __init__(self, name: str) -> None:
        self.name = name
        self._mine = False
        self.description = "in-process lock"

    def try_acquire(self) -> bool:
        with self._guard:
            if self._mine:
                return True
            if self.name in self._held:
                return False
            self._held.add(self.name)
            self._mine = True
            return True

    def still_held(self) -> bool:
        return self._mine

    def release(self) -> None:
        with self._guard:
            if self._mine:
                self._held.discard(self.name)
                self._mine = False

    def dispose(self) -> None:
        self.release()


def leader_lock(engine: Engine) -> PostgresAdvisoryLock | FileLock | LocalLock:
    """The leader lock that fits ``engine``'s database (see the module docstring)."""
    backend = engine.url.get_backend_name()
    if backend == "postgresql":
        return PostgresAdvisoryLock(engine)
    if backend == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:" or database.startswith("file:"):
            return LocalLock(str(engine.url))
        path = Path(database).expanduser().resolve()
        return FileLock(path.with_name(path.name + ".scheduler.lock"))
    raise ValueError(f"no leader lock for database backend {backend!r}")
