"""Commands import only what they use: the structure that keeps `gpuhours` start-up fast.

Timings are measured by ``bench/bench_cli_startup.py``; these tests pin which modules a
command's import graph may reach, which is what the timings follow from.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys

import pytest

import aggregator

HEAVY = ("sqlalchemy", "sqlmodel", "alembic", "httpx", "highspy", "numpy", "rich", "pydantic")


def loaded_after(statement: str) -> set[str]:
    """Top-level packages of ``HEAVY`` that a fresh interpreter holds after ``statement``."""
    probe = (
        f"{statement}\nimport json, sys\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_importing_the_cli_loads_no_database_http_solver_or_terminal_library() -> None:
    assert loaded_after("import aggregator.cli") == set()


@pytest.mark.parametrize(
    "module",
    [
        "plugins.aws",
        "plugins.azure",
        "plugins.gcp",
        "plugins.lambdacloud",
        "plugins.mirror",
        "plugins.oci",
        "plugins.runpod",
        "plugins.vultr",
    ],
)
def test_loading_a_builtin_plugin_imports_its_provider_only_when_registered(module: str) -> None:
    assert loaded_after(f"import {module}") == set()


def test_the_gpu_vocabulary_loads_without_providers_settings_or_pydantic() -> None:
    statement = (
        "from aggregator.plugins import load_registry\n"
        "registry = load_registry(providers=False, price_terms=False)\n"
        "assert registry.gpus.specs() and not registry.feeds"
    )
    assert loaded_after(statement) == set()


def test_the_package_exports_each_public_name_from_where_it_lives() -> None:
    assert set(aggregator._HOME) == set(aggregator.__all__)
    for name in aggregator.__all__:
        home = importlib.import_module(aggregator._HOME[name])
        assert getattr(aggregator, name) is getattr(home, name)


def test_the_allow_list_variable_is_the_one_settings_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from aggregator.plugin_names import PLUGINS_ENV, parse_allowlist
    from aggregator.settings import Settings

    monkeypatch.setenv(PLUGINS_ENV, " aws, gcp ,")
    assert Settings().plugin_allowlist == parse_allowlist(" aws, gcp ,") == {"aws", "gcp"}


@pytest.fixture(scope="module")
def bundled_store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a user whose default store holds the bundled snapshot."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPUHOURS_")}
    env["GPUHOURS_DATA_DIR"] = str(tmp_path_factory.mktemp("data"))
    sync = [sys.executable, "-m", "aggregator", "sync", "--replay", "bundled", "--json"]
    subprocess.run(sync, env=env, capture_output=True, check=True, timeout=300)
    return env


def run_loading(
    env: dict[str, str], command: list[str], modules: tuple[str, ...]
) -> tuple[dict[str, object], list[str]]:
    """``gpuhours COMMAND`` in a fresh interpreter: its JSON document, and which of
    ``modules`` it left loaded."""
    probe = (
        "import json, sys\n"
        "from aggregator.cli import app\n"
        "try:\n"
        f"    app({command!r})\n"
        "except SystemExit as done:\n"
        "    assert not done.code, done.code\n"
        f"print(json.dumps(sorted(m for m in {modules!r} if m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out[: out.rindex("\n[")]), json.loads(out.splitlines()[-1])


@pytest.mark.parametrize(
    ("command", "key"),
    [
        (["cheapest", "--gpu", "H100", "--gpu-hours", "1000", "--json"], "lines"),
        (["offers", "--gpu", "H100", "--json"], "offers"),
        (["history", "--gpu", "H100", "--json"], "offers"),
    ],
)
def test_reading_a_current_sqlite_store_loads_no_sqlalchemy_or_alembic(
    bundled_store: dict[str, str], command: list[str], key: str
) -> None:
    document, loaded = run_loading(bundled_store, command, ("sqlalchemy", "alembic", "httpx"))
    assert document[key]
    assert loaded == []


def test_reporting_providers_on_a_current_store_loads_no_alembic_or_sync_engine(
    bundled_store: dict[str, str],
) -> None:
    """``providers`` loads every plugin and opens the store: neither needs the migrations
    (Alembic) nor the sync engine, which the mirror plugin imports only to sync."""
    modules = ("alembic", "aggregator.sync.engine", "plugins.mirror.feed")
    document, loaded = run_loading(bundled_store, ["providers", "--json"], modules)
    assert document["feeds"]
    assert loaded == ["plugins.mirror.feed"]
