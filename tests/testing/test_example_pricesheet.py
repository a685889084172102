"""The example plugin, examples/gpuhours-pricesheet, as a user gets it: ``pip install`` into a
fresh virtual environment, found through its entry point, synced, competing in ``cheapest``,
and passing its own tests (which use the test kit's ``gpuhours_check`` fixture, so this also
proves the kit's pytest11 entry point works from an installed gpuhours).

The virtual environment sees this environment's packages (``--system-site-packages``), so
gpuhours and its dependencies are not downloaded; the example itself is installed without
dependencies and not editable, from a copy (so the build leaves nothing in the work tree).
The whole module takes about 20-30 s: one venv and one install, shared by its tests.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest

from tests.paths import REPO

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]

EXAMPLE = REPO / "examples" / "gpuhours-pricesheet"
DISTRIBUTION = "gpuhours-pricesheet"


class Venv:
    """A virtual environment with the example installed, and a way to run commands in it."""

    def __init__(self, root: Path, package: Path) -> None:
        self.root = root
        self.package = package  # the copy of the example that was installed
        bindir = "Scripts" if sys.platform == "win32" else "bin"
        self.python = (
            root / "venv" / bindir / ("python.exe" if sys.platform == "win32" else "python")
        )

    def env(self, **extra: str) -> dict[str, str]:
        """This process's environment without gpuhours or pytest settings, plus ``extra``."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("GPUHOURS_", "PYTEST_", "VIRTUAL_ENV", "PYTHONPATH"))
        }
        env.update(PYTHONDONTWRITEBYTECODE="1", GPUHOURS_DATA_DIR=str(self.root / "data"))
        env.update(extra)
        return env

    def run(
        self, *args: str | Path, python: str | Path | None = None, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(python or self.python), *map(str, args)],
            cwd=self.root,
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    def gpuhours(self, *args: str, python: str | Path | None = None, **extra: str) -> Any:
        """Run ``python -m aggregator ARGS --json`` and return the JSON document it printed."""
        done = self.run("-m", "aggregator", *args, "--json", python=python, **extra)
        assert "Traceback" not in done.stderr, done.stderr
        try:
            document = json.loads(done.stdout)
        except ValueError:
            pytest.fail(f"gpuhours {' '.join(args)} printed no JSON:\n{done.stdout}\n{done.stderr}")
        return done.returncode, document


def _build_isolation_args() -> list[str]:
    """``--no-build-isolation`` when this environment can build a wheel offline, else nothing.

    setuptools builds wheels by itself from 70.1 on; older releases need the ``wheel`` package.
    Without either, pip builds in an isolated environment and needs its package index.
    """
    try:
        version = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        return []
    found = re.match(r"(\d+)\.(\d+)", version)
    release = (int(found[1]), int(found[2])) if found else (0, 0)
    if release >= (70, 1) or importlib.util.find_spec("wheel") is not None:
        return ["--no-build-isolation"]
    return []


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    root = tmp_path_factory.mktemp("example-venv")
    package = root / "gpuhours-pricesheet"
    shutil.copytree(
        EXAMPLE,
        package,
        ignore=shutil.ignore_patterns(
            "build", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"
        ),
    )
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(root / "venv")
    env = Venv(root, package)
    if sys.prefix != sys.base_prefix:
        # This interpreter runs in a virtual environment itself: the new venv's "system" site
        # is the base Python's, so add this environment's site-packages (with its .pth files,
        # e.g. an editable gpuhours) after the new venv's own.
        done = env.run("-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
        lines = (f"import site; site.addsitedir({path!r})\n" for path in site.getsitepackages())
        (Path(done.stdout.strip()) / "_gpuhours_parent_env.pth").write_text("".join(lines))
    # pip comes from the system site-packages and installs into the venv it runs in.
    done = env.run(
        "-m",
        "pip",
        "install",
        "--no-deps",
        "--no-input",
        "--disable-pip-version-check",
        *_build_isolation_args(),
        package,
    )
    assert done.returncode == 0, f"pip install failed:\n{done.stdout}\n{done.stderr}"
    return env


def _plugins(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {plugin["name"]: plugin for plugin in document["plugins"]}


def test_found_through_its_entry_point_in_the_venv_only(installed: Venv) -> None:
    code, document = installed.gpuhours("providers")
    assert code == 0, document
    plugin = _plugins(document)["pricesheet"]
    assert (plugin["distribution"], plugin["providers"], plugin["errors"]) == (
        DISTRIBUTION,
        ["pricesheet"],
        [],
    )
    assert "pricesheet/sheet" in {feed["id"] for feed in document["feeds"]}

    # The same gpuhours run by this interpreter does not see it: it came from the venv.
    code, document = installed.gpuhours("providers", python=sys.executable)
    assert code == 0, document
    assert "pricesheet" not in _plugins(document)
    assert {"aws", "azure", "gcp"} <= set(_plugins(document))


def test_syncs_and_wins_cheapest_when_it_is_cheapest(installed: Venv) -> None:
    sheet = installed.package / "examples" / "contract-rates.yaml"
    env = {"GPUHOURS_PRICESHEET_PATH": str(sheet)}

    # The clouds from the bundled snapshot, and the sheet (a local file, read, not replayed).
    _, document = installed.gpuhours("sync", "--replay", "bundled", **env)
    runs = {run["feed"]: run for run in document["runs"]}
    synced = {run["provider"] for run in runs.values() if run["status"] == "ok"}
    assert {"pricesheet", "aws"} <= synced, runs
    # The on-demand H100 and H200 rates have no end date; the reservations come and go.
    assert runs["pricesheet/sheet"]["seen"] >= 2

    code, plan = installed.gpuhours("cheapest", "--gpu", "H100", "--gpu-hours", "1000", **env)
    assert code == 0, plan
    [line] = plan["lines"]
    assert (line["provider"], line["region"], line["instance_type"]) == (
        "pricesheet",
        "us-east",
        "hgx-h100-8x",
    )
    assert (line["purchase_option"], line["gpus_per_instance"]) == ("on_demand", 8.0)
    # 2.10 per GPU-hour x 8 GPUs = 16.80 per node-hour; 1,000 GPU-hours = 125 node-hours.
    assert line["unit_price"] == pytest.approx(16.8)
    assert line["instance_hours"] == pytest.approx(125.0)
    assert plan["currency"] == "USD"
    assert plan["total_cost"] == pytest.approx(2100.0, abs=1e-6)
    # The snapshot's H100 offers were there and lost, the cheapest of them (RunPod's) too.
    beaten = {alt["lines"][0]["provider"]: alt["total_cost"] for alt in plan["alternatives"]}
    assert "runpod" in beaten, plan["alternatives"]
    assert all(cost > 2100.0 for cost in beaten.values())


def test_the_examples_own_tests_pass_in_the_venv(installed: Venv) -> None:
    if importlib.util.find_spec("aggregator.testing") is None:
        pytest.skip("the test kit (aggregator.testing) is not part of this gpuhours yet")
    done = installed.run(
        "-m", "pytest", installed.package / "tests", "-p", "no:cacheprovider", "-q"
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert " passed" in done.stdout and "failed" not in done.stdout, done.stdout
