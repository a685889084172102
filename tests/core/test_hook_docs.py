"""Every hook is documented (heading = exact signature) and has a test named after it."""

from __future__ import annotations

import inspect
import re

import pytest

from aggregator import hookspecs
from tests.paths import REPO

HOOKS = [
    (name, fn)
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
    if hasattr(fn, "gpuhours_spec")
]


def test_there_are_hooks() -> None:
    assert {name for name, _ in HOOKS} >= {"register_providers", "register_gpus"}


@pytest.mark.parametrize(("name", "fn"), HOOKS)
def test_hook_is_documented_with_its_signature(name: str, fn: object) -> None:
    params = ", ".join(inspect.signature(fn).parameters)  # type: ignore[arg-type]
    docs = (REPO / "docs" / "plugins.md").read_text()
    assert f"### {name}({params})\n" in docs


@pytest.mark.parametrize(("name", "fn"), HOOKS)
def test_hook_has_a_test(name: str, fn: object) -> None:
    sources = "\n".join(p.read_text() for p in (REPO / "tests").rglob("test_*.py"))
    assert re.search(rf"def test_hook_{name}\b", sources)
