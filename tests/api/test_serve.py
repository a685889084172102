"""``gpuhours serve --scheduler`` for real: uvicorn on a loopback port, a fresh local SQLite
store created on start, the scheduler syncing beside the API, JSON logs, clean SIGTERM.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.fake_plugins import FAKES_DIR, offer_row
from tests.paths import REPO

Catalog = Callable[[list[dict[str, Any]]], Path]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_with_the_scheduler_on_a_new_local_store(
    fake_catalog: Catalog, tmp_path: Path
) -> None:
    fake_catalog([offer_row(), offer_row(instance_type="fk.1xh100", price_per_hour=12.0)])
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GPUHOURS_")},
        "GPUHOURS_FAKE_CATALOG": os.environ["GPUHOURS_FAKE_CATALOG"],
        "PYTHONPATH": os.pathsep.join([str(FAKES_DIR), str(REPO)]),
        "GPUHOURS_DATA_DIR": str(tmp_path / "data"),
        "GPUHOURS_PLUGINS": "fakecloud",
        "GPUHOURS_SCHEDULE": json.dumps({"fakecloud/http": "off"}),
        "GPUHOURS_LEADER_POLL_SECONDS": "0.1",
        "GPUHOURS_SCHEDULE_JITTER": "0",
        "GPUHOURS_SHUTDOWN_GRACE_SECONDS": "2",
    }
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "aggregator", "serve", "--port", str(port),
             "--scheduler"],
            env=env, cwd=REPO, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            offers: dict[str, Any] = {"count": 0}
            with httpx.Client(base_url=base, timeout=5) as client:
                while time.monotonic() < deadline and offers["count"] < 2:
                    with contextlib.suppress(httpx.TransportError):
                        offers = client.get("/v1/offers").json()
                    time.sleep(0.1)
                assert offers["count"] == 2, "the scheduler did not sync in time"
                assert client.get("/healthz").json() == {"status": "ok"}
                assert client.get("/readyz").json()["status"] == "ready"
                feeds = {f["id"]: f for f in client.get("/v1/providers").json()["feeds"]}
                assert feeds["fakecloud/static"]["last_run"]["status"] == "ok"
                assert client.post("/v1/sync/fakecloud/static").status_code == 403  # no token
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=20) == 0
        finally:
            if server.poll() is None:
                server.kill()
                server.wait(timeout=10)
    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    messages = [line["message"] for line in lines]
    assert "leader: scheduling syncs" in messages and "sync finished" in messages
    assert "scheduler stopped" in messages
    assert any(line["logger"].startswith("uvicorn") for line in lines)
    assert not [line for line in lines if line["level"] == "error"]
    assert (tmp_path / "data" / "gpuhours.db").exists()
