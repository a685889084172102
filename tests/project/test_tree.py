"""The source tree holds no unresolved merge: conflict markers hide in docstrings from linters."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.paths import REPO

MARKER = re.compile(r"^(<{7}|>{7})( |$)", re.MULTILINE)
SOURCES = sorted(
    path
    for folder in ("aggregator", "db", "plugins", "tests", "docs", "bench", "tools")
    for pattern in ("*.py", "*.md")
    for path in (REPO / folder).rglob(pattern)
    if "fixtures" not in path.parts
)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_conflict_markers(path: Path) -> None:
    assert not MARKER.search(path.read_text(encoding="utf-8"))
