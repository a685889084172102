"""Shared fixtures: a migrated database on each dialect, and an offer factory.

``engine`` runs a test against SQLite (a fresh temporary file) and PostgreSQL. The PostgreSQL
variant needs ``GPUHOURS_TEST_DATABASE_URL`` (skipped otherwise) and gets a schema of its own
per test (``CREATE SCHEMA gh_test_<random>``, selected through ``search_path``, dropped
afterwards), so tests running concurrently against the same database never see each other.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from db.engine import make_engine
from db.migrate import upgrade
from db.scratch import scratch_schema
from tests.offers import OfferFactory, build_offer

# Fixtures of the sync and CLI tests (test-only plugins installed through entry points).
pytest_plugins = ["tests.fake_plugins", "pytester"]

TEST_DATABASE_URL_ENV = "GPUHOURS_TEST_DATABASE_URL"


def postgres_url() -> str | None:
    """The PostgreSQL URL tests may use, or ``None``."""
    return os.environ.get(TEST_DATABASE_URL_ENV) or None


def _sqlite_engine(directory: Path, *, migrate: bool) -> Engine:
    engine = make_engine(f"sqlite:///{directory / 'gpuhours.db'}")
    if migrate:
        upgrade(engine)
    return engine


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """A URL whose connections use a fresh, empty PostgreSQL schema (dropped afterwards)."""
    url = postgres_url()
    if url is None:
        pytest.skip(f"set {TEST_DATABASE_URL_ENV} to run PostgreSQL tests")
    with scratch_schema(url, prefix="gh_test") as scoped:
        yield scoped


def _database(request: pytest.FixtureRequest, tmp_path: Path, *, migrate: bool) -> Engine:
    if request.param == "sqlite":
        engine = _sqlite_engine(tmp_path, migrate=migrate)
    else:
        url = request.getfixturevalue("postgres_schema_url")
        engine = make_engine(url)
        if migrate:
            upgrade(engine)
    request.addfinalizer(engine.dispose)
    return engine


_DIALECTS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=_DIALECTS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    """A database migrated to the newest schema, on each dialect."""
    return _database(request, tmp_path, migrate=True)


@pytest.fixture(params=_DIALECTS)
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    """An empty database (never migrated), on each dialect."""
    return _database(request, tmp_path, migrate=False)


@pytest.fixture
def make_offer() -> OfferFactory:
    """``make_offer(**overrides) -> Offer``: see :func:`build_offer` for the defaults."""
    return build_offer
