"""Service logs are JSON lines with the bound fields, and secrets never reach them."""

from __future__ import annotations

import json
import logging
import os
import sys

import pytest

from aggregator.logs import JsonFormatter, log_context, redact, secret_values_from_env

TOKEN = "admin-token-3f9c1e"
GCP_KEY = "AIzaSyFAKE-gcp-key-123456"
DB_PASSWORD = "pg-pass-7781"


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("aggregator.test", logging.WARNING, __file__, 1, message, args, None)
    rec.__dict__.update(extra)
    return rec


def test_a_line_is_one_json_object_with_bound_and_extra_fields() -> None:
    formatter = JsonFormatter(secrets=[])
    with log_context(feed="aws/spot", run_id="r1"), log_context(instance="host:1"):
        line = formatter.format(record("sync %s", "finished", duration_seconds=1.5))
    document = json.loads(line)
    assert document["message"] == "sync finished" and document["level"] == "warning"
    assert document["logger"] == "aggregator.test" and document["ts"].endswith("+00:00")
    assert (document["feed"], document["run_id"], document["instance"]) == (
        "aws/spot",
        "r1",
        "host:1",
    )
    assert document["duration_seconds"] == 1.5
    assert "feed" not in json.loads(formatter.format(record("outside")))


def test_secret_values_come_from_secret_looking_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("GPUHOURS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GPUHOURS_ADMIN_TOKEN", TOKEN)
    monkeypatch.setenv("GPUHOURS_GCP_API_KEY", GCP_KEY)
    monkeypatch.setenv("GPUHOURS_DATABASE_URL", f"postgresql://app:{DB_PASSWORD}@db/gpuhours")
    monkeypatch.setenv("GPUHOURS_AWS_REGIONS", "us-east-1")
    assert set(secret_values_from_env()) == {TOKEN, GCP_KEY, DB_PASSWORD}


@pytest.mark.parametrize(
    "text",
    [
        f"GET https://billing.example/v1/skus?key={GCP_KEY}&pageSize=5000 failed",
        f"Authorization: Bearer {TOKEN}",
        f"could not connect to postgresql://app:{DB_PASSWORD}@db:5432/gpuhours",
        f"token={TOKEN}",
    ],
)
def test_secrets_are_redacted_by_value_and_by_shape(text: str) -> None:
    assert all(
        s not in redact(text, [TOKEN, GCP_KEY, DB_PASSWORD]) for s in (TOKEN, GCP_KEY, DB_PASSWORD)
    )
    assert all(s not in redact(text) for s in (TOKEN, GCP_KEY, DB_PASSWORD))  # shapes alone


def test_tracebacks_are_redacted_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPUHOURS_ADMIN_TOKEN", TOKEN)
    formatter = JsonFormatter()
    try:
        raise RuntimeError(f"the token was {TOKEN}")
    except RuntimeError:
        rec = record("failed")
        rec.exc_info = sys.exc_info()
    line = formatter.format(rec)
    assert TOKEN not in line and "RuntimeError" in json.loads(line)["exception"]
