"""Fixtures that install the test-only plugins in ``tests/fakeplugins`` through entry points.

``tests/fakeplugins`` holds a ``.dist-info`` with real ``gpuhours.providers`` entry points, so
putting that folder on ``sys.path`` makes the loader find them exactly as it would find a
pip-installed third-party plugin.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

FAKES_DIR = Path(__file__).parent / "fakeplugins"
FAKE_MODULES = ("gh_fake_cloud", "gh_fake_broken", "gh_fake_misbehaving")


@pytest.fixture
def fake_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.syspath_prepend(str(FAKES_DIR))
    importlib.invalidate_caches()
    try:
        yield
    finally:
        for name in FAKE_MODULES:
            sys.modules.pop(name, None)


def offer_row(**overrides: Any) -> dict[str, Any]:
    """A raw offer row as the fake feed yields it (a mapping, validated by the sync engine)."""
    row: dict[str, Any] = {
        "provider": "fakecloud",
        "region": "us-east-1",
        "instance_type": "fk.8xh100",
        "gpu": "H100",
        "gpu_count": 8,
        "gpu_memory_gb": 80,
        "vcpus": 192,
        "memory_gb": 2048,
        "purchase_option": "on_demand",
        "price_per_hour": 98.32,
        "source": {"sku": "FK-1"},
    }
    row.update(overrides)
    return row


@pytest.fixture
def fake_catalog(
    fake_plugins: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[list[dict[str, Any]]], Path]:
    """Write the fake static feed's catalog; call again to change what the next sync sees."""
    path = tmp_path / "fake-catalog.json"
    monkeypatch.setenv("GPUHOURS_FAKE_CATALOG", str(path))

    def write(rows: list[dict[str, Any]]) -> Path:
        path.write_text(json.dumps(rows))
        return path

    write([])
    return write


def dump_tables(engine: Any, *names: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the named tables, sorted: for "nothing changed" comparisons."""
    from sqlalchemy import MetaData, select

    meta = MetaData()
    meta.reflect(engine, only=list(names))
    with engine.connect() as conn:
        return {
            name: sorted((tuple(row) for row in conn.execute(select(meta.tables[name]))), key=repr)
            for name in names
        }


STORE_TABLES = ("offers", "price_history", "feed_state")
