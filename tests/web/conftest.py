"""A store synced from the bundled snapshot, on each dialect, and the app serving it.

The snapshot is what ``gpuhours sync --replay bundled`` reads: real recorded AWS, Azure and
GCP price responses, about 1,100 offers. One store per module and dialect, since the pages
only read it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from aggregator.api import create_app
from aggregator.api.cache import ApiSettings
from aggregator.plugins import load_registry
from aggregator.scheduler import SchedulerSettings
from aggregator.settings import Settings
from db.engine import make_engine
from db.migrate import upgrade
from db.scratch import scratch_schema
from tests.conftest import TEST_DATABASE_URL_ENV, postgres_url
from tests.snapshot import sync_snapshot

SETTINGS = {"plugins": "aws,azure,gcp", "http_retries": 0}


def _fill(engine: Engine) -> None:
    outcomes = sync_snapshot(engine, Settings(**SETTINGS))
    assert all(not o.failed for o in outcomes), [o.run.error for o in outcomes]


def _store(dialect: str, directory: Path) -> Iterator[Engine]:
    if dialect == "sqlite":
        engine = make_engine(f"sqlite:///{directory / 'gpuhours.db'}")
        upgrade(engine)
        _fill(engine)
        yield engine
        engine.dispose()
        return
    url = postgres_url()
    if url is None:
        pytest.skip(f"set {TEST_DATABASE_URL_ENV} to run PostgreSQL tests")
    with scratch_schema(url, prefix="gh_web") as scoped:
        engine = make_engine(scoped)
        upgrade(engine)
        _fill(engine)
        yield engine
        engine.dispose()


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ],
)
def snapshot_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A migrated store holding the bundled snapshot, on each dialect."""
    yield from _store(request.param, tmp_path_factory.mktemp("web-store"))


def web_app(engine: Engine, cache_seconds: float = 60.0, **overrides: Any) -> FastAPI:
    """The app ``gpuhours serve`` runs, over ``engine``, with the built-in plugins (and
    ``overrides`` of the settings)."""
    settings = Settings(**{**SETTINGS, **overrides})
    return create_app(
        settings,
        engine=engine,
        registry=load_registry(settings),
        schedule=SchedulerSettings(),
        api=ApiSettings(api_cache_seconds=cache_seconds, api_version_check_seconds=0),
    )


@pytest.fixture(scope="module")
def web(snapshot_engine: Engine) -> Iterator[TestClient]:
    """A client of the app over the snapshot store (server errors answered, not raised)."""
    with TestClient(web_app(snapshot_engine), raise_server_exceptions=False) as client:
        yield client
