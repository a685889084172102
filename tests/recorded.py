"""Writing a record directory (the layout ``gpuhours sync --record`` writes, docs/http.md) from
a recorded body, for APIs whose public recordings are plain response bodies."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from aggregator.http.recording import _recording_key


def write_response(
    directory: Path,
    method: str,
    url: str,
    body: bytes,
    *,
    params: Mapping[str, str] | None = None,
    received_at: str,
) -> Path:
    """Store ``body`` as the 200 answer to ``method url?params``; returns ``directory``."""
    request = httpx.Request(method, url, params=params)
    folder, key, stem = _recording_key(request)
    host = directory / folder
    host.mkdir(parents=True, exist_ok=True)
    (host / f"{stem}.body").write_bytes(body)
    meta = {
        "method": method,
        "url": str(request.url),
        "key": key,
        "status": 200,
        "headers": [
            ["content-type", "application/json"],
            ["x-gpuhours-received-at", received_at],
        ],
        "body": f"{stem}.body",
    }
    (host / f"{stem}.json").write_text(json.dumps(meta, indent=2))
    return directory


def cli_for(tmp_path: Path, monkeypatch: Any, plugin: str) -> Callable[..., Any]:
    """``gpuhours`` with only ``plugin`` loaded and a fresh SQLite store under ``tmp_path``;
    returns ``invoke(*args)``, which fails the test on a traceback."""
    from typer.testing import CliRunner

    from aggregator.cli import app

    monkeypatch.setenv("GPUHOURS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GPUHOURS_DATABASE_URL", raising=False)
    monkeypatch.setenv("GPUHOURS_PLUGINS", plugin)
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        result = runner.invoke(app, list(args))
        assert "Traceback" not in result.output, result.output
        return result

    return invoke
