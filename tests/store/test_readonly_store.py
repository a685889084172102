"""Reads work when SQLite cannot create a WAL store's ``-shm`` file (read-only or full disk).

Tests run as root, where permission bits stop nothing, so the failure is made real another
way: a dangling symlink at the ``-shm`` path, which SQLite can neither open nor create, gives
the ``SQLITE_CANTOPEN`` a read-only file system gives. (A directory there does not: SQLite
then still reads, from a private WAL index.) A full disk, which SQLite reports as
``SQLITE_IOERR_SHMSIZE``, is the same code path. Both readers must answer, warn once, and refuse
writes with a message saying why.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from aggregator.errors import StoreError
from db import migrate, read
from db.engine import database_error, make_engine, write_transaction
from db.offer_sql import OfferQuery
from db.reader import open_reader
from db.sqlite_file import connect_sqlite_file, read_only_reason
from tests.offers import build_offer, save_offers

NOW = datetime(2025, 6, 1, tzinfo=UTC)
_WARNING = "opened read-only"


def _store(tmp_path: Path) -> Path:
    """A migrated WAL store holding one offer, closed cleanly (no -wal, no -shm left)."""
    path = tmp_path / "gpuhours.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    save_offers(engine, [build_offer()], now=NOW)
    engine.dispose()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


def _block_shm(path: Path) -> None:
    """Make the ``-shm`` file impossible to create (or open), as on a read-only disk."""
    os.symlink(path.parent / "missing-dir" / "shm", f"{path}-shm")


@pytest.fixture
def blocked(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Path:
    """A store whose -shm cannot be created, with warnings captured."""
    path = _store(tmp_path)
    _block_shm(path)
    caplog.set_level(logging.WARNING)
    return path


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if _WARNING in r.getMessage()]


def test_blocked_shm_stops_a_plain_connection(tmp_path: Path) -> None:
    """The simulation is real: without the fallback SQLite cannot read such a store."""
    path = _store(tmp_path)
    _block_shm(path)
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as caught:
        connection.execute("SELECT count(*) FROM offers").fetchall()
    connection.close()
    assert caught.value.sqlite_errorname == "SQLITE_CANTOPEN"


def test_stdlib_reader_reads_and_warns_once(
    blocked: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = blocked
    for _ in range(3):  # one command opens the store twice; a process may open it often
        with open_reader(f"sqlite:///{path}") as reader:
            read.check_schema_version(reader)
            assert len(read.query_offers(reader, OfferQuery())) == 1
    warnings = _warnings(caplog)
    assert len(warnings) == 1
    assert str(path) in warnings[0]
    assert "cannot create its -shm file" in warnings[0]
    assert "syncing is not" in warnings[0]
    assert read_only_reason(str(path)) is not None


def test_engine_reads_warns_once_and_refuses_writes(
    blocked: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(f"sqlite:///{blocked}")
    try:
        for _ in range(3):
            assert len(read.query_offers(engine, OfferQuery())) == 1
            with engine.connect() as a, engine.connect() as b:  # two pooled connections
                a.execute(text("SELECT 1")).all()
                b.execute(text("SELECT 1")).all()
        assert len(_warnings(caplog)) == 1
        error = _write_error(engine)
    finally:
        engine.dispose()
    assert "read-only" in str(error)
    assert "cannot create its -shm file" in str(error)


def _write_error(engine: Engine) -> StoreError:
    try:
        with write_transaction(engine) as conn:
            conn.execute(text("UPDATE store_version SET version = version + 1"))
    except SQLAlchemyError as exc:
        return database_error(engine, "syncing", exc)
    raise AssertionError("a write succeeded on a store opened read-only")


def test_stored_wal_changes_are_not_skipped(tmp_path: Path) -> None:
    """``immutable=1`` would ignore committed changes still in the -wal file: refuse instead."""
    path = _store(tmp_path)
    Path(f"{path}-wal").write_bytes(b"\0" * 4096)  # stands for frames not checkpointed
    _block_shm(path)
    with (
        pytest.raises(StoreError, match="-wal file holds committed changes"),
        open_reader(f"sqlite:///{path}"),
    ):
        pass


def test_full_disk_is_read_read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk fails the read-write open with an I/O error; the read-only open answers."""
    path = _store(tmp_path)
    real_connect = sqlite3.connect

    def connect(target: str, **kwargs: Any) -> sqlite3.Connection:
        if "mode=rw" in target:
            error = sqlite3.OperationalError("disk I/O error")
            error.sqlite_errorname = "SQLITE_IOERR_SHMSIZE"
            raise error
        connection: sqlite3.Connection = real_connect(target, **kwargs)
        return connection

    monkeypatch.setattr(sqlite3, "connect", connect)
    connection = connect_sqlite_file(str(path), create=False)
    try:
        assert connection.execute("SELECT count(*) FROM offers").fetchone() == (1,)
    finally:
        connection.close()
    assert read_only_reason(str(path)) is not None


def test_a_missing_store_is_still_an_error(tmp_path: Path) -> None:
    with (
        pytest.raises(StoreError, match="opening the store failed"),
        open_reader(f"sqlite:///{tmp_path / 'none.db'}"),
    ):
        pass
    assert not (tmp_path / "none.db").exists()


def test_a_writable_store_is_not_read_only(tmp_path: Path) -> None:
    path = _store(tmp_path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        with write_transaction(engine) as conn:
            conn.execute(text("UPDATE store_version SET version = version + 1"))
    finally:
        engine.dispose()
    assert read_only_reason(str(path)) is None


def test_sync_on_a_store_that_can_only_be_read_stops_at_once_with_exit_4(
    blocked: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from aggregator.cli import app

    monkeypatch.setenv("GPUHOURS_DATABASE_URL", f"sqlite:///{blocked}")
    before = blocked.read_bytes()
    result = CliRunner().invoke(app, ["sync", "--replay", "bundled", "--json"])
    assert result.exit_code == 4, result.output
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "StoreError"
    assert "can only be read" in error["message"] and "nothing was synced" in error["message"]
    assert blocked.read_bytes() == before
    offers = CliRunner().invoke(app, ["offers", "--json"])  # reading still works
    assert offers.exit_code == 0 and len(json.loads(offers.stdout)["offers"]) == 1
