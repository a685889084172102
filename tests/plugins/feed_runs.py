"""Helpers the OCI and Lambda plugin tests share: run a feed against a stand-in server through
the production client, record a stand-in's answers for the test kit, and sync into a store."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic_settings import BaseSettings
from sqlalchemy import Engine
from typer.testing import CliRunner

from aggregator.cli import app
from aggregator.http import RecordTransport, make_client
from aggregator.models import Offer, SyncRun, SyncStatus
from aggregator.plugins import load_registry
from aggregator.providers import Feed, FetchContext
from aggregator.settings import Settings
from aggregator.sync import sync_feeds
from db.engine import make_engine
from db.migrate import upgrade

Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class Run:
    """What one fetch yielded (validated as offers) and the context it ran with."""

    offers: list[Offer]
    ctx: FetchContext

    def find(self, instance_type: str, purchase_option: str = "on_demand") -> Offer:
        (offer,) = (
            o
            for o in self.offers
            if o.instance_type == instance_type and o.purchase_option.value == purchase_option
        )
        return offer


def fetch(feed: Feed, feed_id: str, handler: Handler, settings: BaseSettings) -> Run:
    """Run ``feed`` against ``handler`` through the production client (retries off)."""

    async def go() -> Run:
        transport = httpx.MockTransport(handler)
        async with make_client(Settings(http_retries=0), transport=transport) as client:
            ctx = FetchContext(client=client, feed_id=feed_id, settings=settings)
            rows: list[Mapping[str, Any]] = [row async for row in feed.fetch(ctx)]  # type: ignore[misc]
            return Run([Offer.model_validate(r) for r in rows], ctx)

    return asyncio.run(go())


def record(directory: Path, handler: Handler, urls: list[tuple[str, Mapping[str, str]]]) -> Path:
    """Save ``handler``'s answers to GETs of ``urls`` (with headers) as a replayable recording."""

    async def go() -> None:
        transport = RecordTransport(httpx.MockTransport(handler), directory)
        async with httpx.AsyncClient(transport=transport) as client:
            for url, headers in urls:
                await client.get(url, headers=dict(headers))

    asyncio.run(go())
    return directory


def sync(engine: Engine, name: str, plugin: object, handler: Handler) -> SyncRun:
    """Sync every feed of plugin ``name`` into ``engine`` against ``handler``; its one run."""
    settings = Settings(http_retries=0)
    registry = load_registry(settings, load_entrypoints=False, extra_plugins=[(name, plugin)])
    refs = registry.select_feeds([name])
    (outcome,) = asyncio.run(
        sync_feeds(refs, registry, engine, settings, transport=httpx.MockTransport(handler))
    )
    return outcome.run


def plan_after_sync(
    directory: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    plugin: object,
    handler: Handler,
    *cheapest_args: str,
) -> dict[str, Any]:
    """Sync plugin ``name`` into a new SQLite store, then the JSON plan of ``gpuhours cheapest``."""
    database = f"sqlite:///{directory / 'gpuhours.db'}"
    engine = make_engine(database)
    try:
        upgrade(engine)
        run = sync(engine, name, plugin, handler)
        assert run.status is SyncStatus.OK, run.error
    finally:
        engine.dispose()
    monkeypatch.setenv("GPUHOURS_DATABASE_URL", database)
    result = CliRunner().invoke(app, ["cheapest", *cheapest_args, "--json"])
    assert result.exit_code == 0, result.output
    plan: dict[str, Any] = json.loads(result.stdout)
    return plan
