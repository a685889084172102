"""Stores for mirror tests, each run through the CLI: a SQLite file or a PostgreSQL schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aggregator.cli import app
from db.scratch import scratch_schema
from tests.conftest import TEST_DATABASE_URL_ENV, postgres_url

_CLEARED = (
    "GPUHOURS_DATABASE_URL",
    "GPUHOURS_PLUGINS",
    "GPUHOURS_GCP_API_KEY",
    "GPUHOURS_MIRROR_URL",
    "GPUHOURS_MIRROR_TOKEN",
    "GPUHOURS_TERMS_FILE",
)
DIFFERENT_BY_DESIGN = ("feed",)
"""What a mirrored offer tells about the mirror itself: the feed holding it there."""


@dataclass
class Store:
    """One store and the environment the CLI runs on it with."""

    env: dict[str, str | None]
    runner: CliRunner = field(default_factory=CliRunner)

    def run(self, *args: str, **env: str | None) -> Any:
        result = self.runner.invoke(app, list(args), env={**self.env, **env})
        assert "Traceback" not in result.output, result.output
        return result

    def json(self, *args: str, codes: tuple[int, ...] = (0, 1), **env: str | None) -> Any:
        result = self.run(*args, "--json", **env)
        assert result.exit_code in codes, result.output
        return json.loads(result.stdout)

    def answers(self) -> dict[str, Any]:
        """What a mirror must answer as its server does: offers and their price history
        (without the mirror's own bookkeeping), and plans, one of them priced with the
        interruption rates."""
        offers = self.json("offers", "--limit", "100000")["offers"]
        history = self.json("history", "--limit", "100000")["offers"]
        own = DIFFERENT_BY_DESIGN
        return {
            "offers": [{k: v for k, v in o.items() if k not in own} for o in offers],
            "history": [
                {**h, "offer": {k: v for k, v in h["offer"].items() if k not in own}}
                for h in history
            ],
            "h100": self.json("cheapest", "--gpu", "H100", "--gpu-hours", "1000"),
            "a100_spot": self.json(
                "cheapest", "--gpu", "A100", "--gpu-hours", "5000", "--spot",
                "--spot-overhead", "auto", "--deadline", "72h",
            ),
        }  # fmt: skip


def make_store(kind: str, directory: Path, stack: ExitStack) -> Store:
    env: dict[str, str | None] = dict.fromkeys(_CLEARED)
    env["GPUHOURS_DATA_DIR"] = str(directory)
    store = Store(env)
    if kind == "postgres":
        url = postgres_url()
        if url is None:
            pytest.skip(f"set {TEST_DATABASE_URL_ENV} to run PostgreSQL tests")
        store.env["GPUHOURS_DATABASE_URL"] = stack.enter_context(scratch_schema(url))
        assert store.run("db", "upgrade").exit_code == 0
    return store


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Any]:
    """``stores(kind, name) -> Store``: a fresh store of ``kind`` (sqlite or postgres)."""
    with ExitStack() as stack:
        yield lambda kind, name: make_store(kind, tmp_path / name, stack)
