"""Filling a store from the bundled snapshot, as ``gpuhours sync --replay bundled`` does."""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine

from aggregator.plugins import load_registry
from aggregator.settings import Settings
from aggregator.sync import SyncOutcome, load_observed_at, sync_feeds
from plugins.snapshot import SNAPSHOT_DIR


def sync_snapshot(engine: Engine, settings: Settings) -> list[SyncOutcome]:
    """Every feed of the plugins ``settings`` load, replayed from the snapshot into ``engine``."""
    registry = load_registry(settings)
    return asyncio.run(
        sync_feeds(
            registry.select_feeds([]),
            registry,
            engine,
            settings,
            replay_dir=SNAPSHOT_DIR,
            observed_at=load_observed_at(SNAPSHOT_DIR),
        )
    )
