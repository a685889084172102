"""``gpuhours export``: the export on standard output or in a file, never a cut file, and bad
input as exit 2."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from tests.plugins.mirror.stores import stores

__all__ = ["stores"]  # the fixture, for pytest


def test_export_to_standard_output_writes_the_gzip_export(stores: Any, tmp_path: Path) -> None:
    server = stores("sqlite", "server")
    assert server.run("sync", "--replay", "bundled").exit_code == 0
    result = server.run("export", "-")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in gzip.decompress(result.stdout_bytes).splitlines()]
    assert lines[0]["kind"] == "header" and lines[-1]["kind"] == "end"
    assert lines[-1]["offers"] == sum(1 for line in lines if line["kind"] == "offer") > 1000
    path = tmp_path / "prices.jsonl.gz"
    assert server.run("export", str(path)).exit_code == 0
    assert (
        gzip.decompress(path.read_bytes()).splitlines()[1:]
        == gzip.decompress(result.stdout_bytes).splitlines()[1:]
    )  # the same lines; only the header's time differs
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary


def test_export_refuses_what_it_cannot_do_with_exit_2(stores: Any, tmp_path: Path) -> None:
    server = stores("sqlite", "server")
    both = server.run("export", "-", "--json")
    assert both.exit_code == 2 and "name a file" in both.output
    nowhere = server.run("export", str(tmp_path / "missing" / "x.jsonl.gz"))
    assert nowhere.exit_code == 2 and "does not exist" in nowhere.output
    folder = server.run("export", str(tmp_path))
    assert folder.exit_code == 2 and "is a directory" in folder.output


def test_an_empty_export_does_not_empty_a_mirror(stores: Any, tmp_path: Path) -> None:
    server = stores("sqlite", "server")
    assert server.run("sync", "--replay", "bundled").exit_code == 0
    full, empty = tmp_path / "full.jsonl.gz", tmp_path / "empty.jsonl.gz"
    assert server.run("export", str(full)).exit_code == 0
    assert stores("sqlite", "fresh").run("export", str(empty)).exit_code == 0
    laptop = stores("sqlite", "laptop")
    assert laptop.run("sync", "mirror", GPUHOURS_MIRROR_URL=str(full)).exit_code == 0
    before = laptop.json("offers", "--limit", "100000")
    (run,) = laptop.json("sync", "mirror", codes=(3,), GPUHOURS_MIRROR_URL=str(empty))["runs"]
    assert run["status"] == "failed" and "returned no offers" in run["error"]
    assert laptop.json("offers", "--limit", "100000") == before
