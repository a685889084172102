"""The committed lock, pyproject.toml and the installed environment agree.

``requirements.txt`` pins every distribution the suite runs with; the README's commands
and ``.ci/run`` install with ``pip install -c requirements.txt``. These tests fail when a
requirement was changed without re-locking, when the lock still names something nothing
requires, or when this environment holds versions other than the locked ones.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.paths import REPO

LOCK = REPO / "requirements.txt"
# What a virtual environment brings by itself, and the project installed from the work tree.
NOT_LOCKED = {"pip", "setuptools", "gpuhours"}


def locked() -> dict[str, tuple[str, Requirement]]:
    """Locked name -> (version, the pin with its markers), for this interpreter and platform.

    A universal lock may pin one name twice under exclusive markers (numpy for Python 3.11 and
    for 3.12+); the pin whose markers hold here wins, else the first one.
    """
    pins: dict[str, tuple[str, Requirement]] = {}
    for line in LOCK.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        requirement = Requirement(line)
        (spec,) = requirement.specifier
        assert spec.operator == "==", f"{line!r}: the lock pins exact versions"
        name = canonicalize_name(requirement.name)
        if name not in pins or applies_here(requirement):
            pins[name] = (spec.version, requirement)
    return pins


def declared() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    texts = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        texts += extra
    return [Requirement(text) for text in texts]


def applies_here(requirement: Requirement) -> bool:
    return requirement.marker is None or requirement.marker.evaluate({"extra": ""})


def test_every_declared_requirement_is_locked_at_a_version_it_allows() -> None:
    pins = locked()
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in {LOCK.name}: re-lock (README, 'Upgrading')"
        version = pins[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{LOCK.name} pins {name}=={version}, outside pyproject's {requirement}: re-lock"
        )


def test_the_lock_names_only_what_the_requirements_pull_in() -> None:
    pins = locked()
    needed: set[str] = set()
    todo = [r for r in declared() if applies_here(r)]
    environment = default_environment()
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in needed:
            continue
        needed.add(name)
        for text in importlib.metadata.requires(name) or []:
            child = Requirement(text)
            extras = requirement.extras or {""}
            marker = child.marker
            if marker is None or any(
                marker.evaluate({**environment, "extra": extra}) for extra in extras
            ):
                todo.append(child)
    here = {name for name, (_, pin) in pins.items() if applies_here(pin)}
    assert here - needed == set(), "the lock names distributions nothing requires: re-lock"


def test_this_environment_holds_exactly_the_locked_versions() -> None:
    pins = locked()
    installed = {
        canonicalize_name(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()
    }
    wrong = {
        name: (version, pins[name][0] if name in pins else "not locked")
        for name, version in installed.items()
        if name not in NOT_LOCKED and (name not in pins or pins[name][0] != version)
    }
    assert not wrong, (
        "installed versions differ from requirements.txt (installed, locked): "
        f"{wrong}; install with `pip install -c requirements.txt -e '.[dev]'`"
    )


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
    install_and_run, install_and_test = blocks[0], blocks[1]
    assert "-c requirements.txt" in install_and_run
    assert "-c requirements.txt" in install_and_test
    ci = (REPO / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == install_and_test


def test_the_pip_lock_is_the_export_of_uv_lock() -> None:
    """``uv.lock`` is the lock; ``requirements.txt`` is what pip reads of it: same pins."""
    packages = tomllib.loads((REPO / "uv.lock").read_text())["package"]
    in_uv = {
        (canonicalize_name(p["name"]), p["version"])
        for p in packages
        if canonicalize_name(p["name"]) not in NOT_LOCKED
    }
    in_pip = set()
    for line in LOCK.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            requirement = Requirement(line)
            (spec,) = requirement.specifier
            in_pip.add((canonicalize_name(requirement.name), spec.version))
    assert in_uv == in_pip
