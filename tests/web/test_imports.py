"""Only the server loads the web pages: the CLI's other commands never import them or Jinja2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

WEB = ("aggregator.web", "jinja2", "fastapi_offline")


def loaded_after(statement: str) -> list[str]:
    probe = (
        f"{statement}\nimport json, sys\n"
        f"print(json.dumps(sorted(m for m in {WEB!r} if m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return list(json.loads(out.splitlines()[-1]))


@pytest.mark.parametrize("arguments", [["--help"], ["gpus", "--json"], ["serve", "--help"]])
def test_a_command_other_than_serving_loads_no_web_page(arguments: list[str]) -> None:
    statement = (
        "from aggregator.cli import app\n"
        "try:\n"
        f"    app({arguments!r})\n"
        "except SystemExit:\n"
        "    pass"
    )
    assert loaded_after(statement) == []


def test_the_app_loads_the_web_pages() -> None:
    assert loaded_after("import aggregator.api.app") == sorted(WEB)
