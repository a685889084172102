"""Sync once, plan anywhere: a store synced from the bundled snapshot, exported and mirrored
into another store, answers ``offers`` and ``cheapest`` exactly as the first one does."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import pytest

from aggregator.export import FORMAT_VERSION
from db.engine import make_engine
from tests.fake_plugins import dump_tables
from tests.plugins.mirror.stores import Store, stores

__all__ = ["stores"]  # the fixture, for pytest

ROLES = [
    pytest.param("sqlite", "sqlite", id="sqlite-to-sqlite"),
    pytest.param("postgres", "sqlite", id="postgres-to-sqlite", marks=pytest.mark.postgres),
    pytest.param("sqlite", "postgres", id="sqlite-to-postgres", marks=pytest.mark.postgres),
    pytest.param("postgres", "postgres", id="postgres-to-postgres", marks=pytest.mark.postgres),
]


def synced_server(stores: Any, kind: str = "sqlite") -> Store:
    server: Store = stores(kind, "server")
    result = server.run("sync", "--replay", "bundled")
    assert result.exit_code == 0, result.output
    return server


def export_to(server: Store, path: Path) -> dict[str, Any]:
    summary: dict[str, Any] = server.json("export", str(path))
    return summary


def mirror(laptop: Store, path: Path) -> Any:
    return laptop.json("sync", "mirror", GPUHOURS_MIRROR_URL=str(path))


def mirrored_laptop(stores: Any, tmp_path: Path) -> tuple[Store, Path, Store]:
    """A synced SQLite server, its export file, and a SQLite laptop that mirrored it."""
    server = synced_server(stores)
    path = tmp_path / "prices.jsonl.gz"
    export_to(server, path)
    laptop = stores("sqlite", "laptop")
    mirror(laptop, path)
    return server, path, laptop


@pytest.mark.parametrize(("server_kind", "laptop_kind"), ROLES)
def test_a_mirror_answers_offers_and_cheapest_exactly_as_its_server(
    stores: Any, tmp_path: Path, server_kind: str, laptop_kind: str
) -> None:
    server = synced_server(stores, server_kind)
    summary = export_to(server, tmp_path / "prices.jsonl.gz")
    assert summary["offers"] > 1000 and summary["interruption_rates"] > 0
    laptop = stores(laptop_kind, "laptop")
    (run,) = mirror(laptop, tmp_path / "prices.jsonl.gz")["runs"]
    assert (run["feed"], run["status"], run["rejected"]) == ("mirror/export", "ok", 0)
    assert run["seen"] == summary["offers"]  # the run counts offers; rates are listed apart

    mirrored, original = laptop.answers(), server.answers()
    assert mirrored["offers"] == original["offers"]  # ids, prices, sources, observed_at
    assert mirrored["history"] == original["history"]
    assert mirrored["h100"] == original["h100"]
    assert mirrored["a100_spot"] == original["a100_spot"]
    rated = [n for n in mirrored["a100_spot"]["notes"] if "seller's interruption data" in n]
    assert rated and not rated[0].startswith("0 of"), "the plan must use mirrored rates"
    providers = {o["provider"] for o in mirrored["offers"]}
    # each keeps its own provider: every seller the snapshot holds
    assert providers == {"aws", "azure", "gcp", "oci", "lambda", "runpod", "vultr"}


def test_providers_says_what_is_mirrored_from_where_and_how_old(
    stores: Any, tmp_path: Path
) -> None:
    _, path, laptop = mirrored_laptop(stores, tmp_path)
    feeds = {f["id"]: f for f in laptop.json("providers", GPUHOURS_MIRROR_URL=str(path))["feeds"]}
    origin = feeds["mirror/export"]["mirrored_from"]
    assert origin["url"] == str(path) and origin["gpuhours_version"]
    assert set(origin["feeds"]) >= {"aws/on-demand", "azure/retail", "gcp/catalog"}
    assert origin["feeds"]["aws/spot"].startswith("2021-04")  # the snapshot's real age
    text = laptop.run("providers", GPUHOURS_MIRROR_URL=str(path)).stdout
    assert f"mirror/export: mirrors {path}" in text and "aws/spot" in text


def test_an_unchanged_export_file_keeps_every_price_and_its_age(
    stores: Any, tmp_path: Path
) -> None:
    server, path, laptop = mirrored_laptop(stores, tmp_path)
    before = laptop.json("offers", "--limit", "100000")
    engine = make_engine(f"sqlite:///{laptop.env['GPUHOURS_DATA_DIR']}/gpuhours.db")
    try:
        tables = dump_tables(engine, "offers", "price_history", "interruption_rates")
        export_to(server, path)  # a new file of the same store snapshot
        (run,) = mirror(laptop, path)["runs"]
        assert run["status"] == "unchanged" and run["unchanged"] == len(before["offers"])
        assert dump_tables(engine, "offers", "price_history", "interruption_rates") == tables
    finally:
        engine.dispose()
    assert laptop.json("offers", "--limit", "100000") == before


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _corrupted(data: bytes) -> bytes:
    broken = bytearray(data)
    broken[len(broken) // 2] ^= 0x5A
    return bytes(broken)


def _newer(data: bytes) -> bytes:
    text = gzip.decompress(data).replace(
        f'"format_version":{FORMAT_VERSION}'.encode(),
        f'"format_version":{FORMAT_VERSION + 1}'.encode(),
        1,
    )
    return gzip.compress(text)


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        pytest.param(_truncated, "truncated", id="truncated"),
        pytest.param(_corrupted, "corrupted|truncated", id="corrupted"),
        pytest.param(_newer, "upgrade gpuhours", id="newer-format"),
    ],
)
def test_a_broken_export_fails_the_mirror_sync_and_changes_nothing(
    stores: Any, tmp_path: Path, spoil: Any, message: str
) -> None:
    server, path, laptop = mirrored_laptop(stores, tmp_path)
    assert server.run("sync", "--replay", "bundled", "--force").exit_code == 0  # a new version
    export_to(server, path)
    path.write_bytes(spoil(path.read_bytes()))
    engine = make_engine(f"sqlite:///{laptop.env['GPUHOURS_DATA_DIR']}/gpuhours.db")
    try:
        tables = ("offers", "price_history", "interruption_rates", "feed_state", "store_version")
        before = dump_tables(engine, *tables)
        result = laptop.run("sync", "mirror", "--json", GPUHOURS_MIRROR_URL=str(path))
        assert result.exit_code == 3, result.output
        (run,) = json.loads(result.stdout)["runs"]
        assert run["status"] == "failed"
        assert str(path) in run["error"] and "nothing was changed" in run["error"]
        assert re.search(message, run["error"]), run["error"]
        assert dump_tables(engine, *tables) == before
    finally:
        engine.dispose()


def test_a_missing_file_and_a_bad_url_fail_with_what_to_fix(stores: Any, tmp_path: Path) -> None:
    laptop = stores("sqlite", "laptop")
    missing = tmp_path / "nowhere.jsonl.gz"
    (run,) = laptop.json("sync", "mirror", codes=(3,), GPUHOURS_MIRROR_URL=str(missing))["runs"]
    assert run["status"] == "failed" and f"cannot read the export file {missing}" in run["error"]
    (run,) = laptop.json("sync", "mirror", codes=(3,), GPUHOURS_MIRROR_URL="ftp://x/y")["runs"]
    assert run["status"] == "failed" and "GPUHOURS_MIRROR_URL" in run["error"]
    (run,) = laptop.json("sync", "mirror")["runs"]
    assert run["status"] == "not_configured" and "GPUHOURS_MIRROR_URL" in run["error"]
