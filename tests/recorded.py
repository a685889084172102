"""Writing a record directory (the layout ``gpuhours sync --record`` writes, docs/http.md) from
a recorded body, for APIs whose public recordings are plain response bodies."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

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
