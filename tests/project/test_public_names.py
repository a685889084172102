"""Every module says what it exports: ``__all__`` lists exactly its public top-level names.

A public name is a function, class or constant defined at the top of the module (not
imported, not starting with ``_``, not a ``TypeVar``); each must be in ``__all__``, and every
name in ``__all__`` must exist. Migrations are Alembic scripts, not modules anyone imports.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from tests.paths import REPO

MODULES = sorted(
    path
    for package in ("aggregator", "db", "plugins")
    for path in (REPO / package).rglob("*.py")
    if "migrations" not in path.parts
)


def _is_typevar(value: ast.expr | None) -> bool:
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id in ("TypeVar", "ParamSpec")
    )


def _public_and_listed(path: Path) -> tuple[set[str], list[str] | None]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    public: set[str] = set()
    listed: list[str] | None = None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            public.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if not isinstance(target, ast.Name):
                    continue
                if target.id == "__all__":
                    assert node.value is not None
                    listed = list(ast.literal_eval(node.value))
                elif not _is_typevar(node.value):
                    public.add(target.id)
        elif isinstance(node, ast.AugAssign) and getattr(node.target, "id", "") == "__all__":
            listed = [*(listed or []), *ast.literal_eval(node.value)]
    return {n for n in public if not n.startswith("_") and n != "log"}, listed


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(REPO)))
def test_all_lists_every_public_name_and_only_existing_ones(path: Path) -> None:
    public, listed = _public_and_listed(path)
    if listed is None:
        assert not public, f"{path.name} defines {sorted(public)} but has no __all__"
        return
    assert sorted(public - set(listed)) == [], "public but not in __all__"
    module = importlib.import_module(_module_name(path))
    assert [name for name in listed if not hasattr(module, name)] == [], "listed but missing"
