"""Structured JSON logs for the service processes (``gpuhours serve`` and ``gpuhours scheduler``).

What is promised:

* One JSON object per line on stderr: ``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``message``
  and every field bound with :func:`log_context` or passed as ``extra=`` (``feed``, ``run_id``,
  ``duration_seconds``, ``instance``, ``request_id`` ...). A log collector needs no parser.
* Secrets never reach the output. Every formatted line is scrubbed of the values of secret
  environment variables (``GPUHOURS_ADMIN_TOKEN``, ``GPUHOURS_GCP_API_KEY`` and any other
  ``GPUHOURS_*`` variable whose name says key, token, secret or password), of the password in
  ``GPUHOURS_DATABASE_URL``, and of secret-looking patterns whatever their value (``key=...``
  query parameters, ``Bearer ...`` credentials, ``user:password@`` in URLs). Scrubbing the
  finished line, not the arguments, also covers exception messages and tracebacks.
* Configuration is by dictionary (:func:`logging_config`) so uvicorn can apply it in each of its
  worker processes; :func:`configure_logging` applies the same dictionary in-process.
"""

from __future__ import annotations

import contextvars
import json
import logging
import logging.config
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote

from sqlalchemy.engine import make_url

__all__ = [
    "JsonFormatter",
    "bound_fields",
    "configure_logging",
    "log_context",
    "logging_config",
    "redact",
    "secret_values_from_env",
]

_CONTEXT: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "gpuhours_log_context", default=MappingProxyType({})
)
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)", re.IGNORECASE)
_PATTERNS = (
    # ?key=... / &api_key=... / token=... in URLs and messages
    (
        re.compile(r"(?i)\b([\w.-]*(?:key|token|secret|password|passwd|signature)=)[^&\s\"',;]+"),
        r"\1***",
    ),
    # Authorization: Bearer <token> / Basic <credentials>
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 ***"),
    # scheme://user:password@host
    (re.compile(r"([a-z][a-z0-9+.-]*://[^:/@\s]+):[^@\s/]+@", re.IGNORECASE), r"\1:***@"),
)
# Record attributes that are logging's own, never copied into the JSON object.
_RESERVED = frozenset(
    {
        *logging.LogRecord("", 0, "", 0, "", (), None).__dict__,
        "message",
        "asctime",
        "color_message",  # uvicorn's coloured duplicate of the message
    }
)
_MIN_SECRET_LENGTH = 4  # shorter values would redact ordinary words


def secret_values_from_env(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values that must never be printed, read from ``GPUHOURS_*`` environment variables."""
    env = os.environ if environ is None else environ
    values: list[str] = []
    for name, value in env.items():
        if not name.upper().startswith("GPUHOURS_") or not value:
            continue
        if _SECRET_NAME.search(name):
            values.append(value)
        elif name.upper() == "GPUHOURS_DATABASE_URL":
            try:
                password = make_url(value).password
            except Exception:
                continue
            if password:
                values.extend({str(password), unquote(str(password))})
    return sorted({v for v in values if len(v) >= _MIN_SECRET_LENGTH}, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every known secret value and secret-looking pattern replaced by ``***``."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Bind ``fields`` to every record logged inside the block (this thread or task only).

    Context variables follow ``asyncio`` tasks and ``asyncio.to_thread``, so a sync's
    ``feed`` and ``run_id`` appear on the lines the sync engine and the feed log as well.
    """
    token = _CONTEXT.set({**_CONTEXT.get(), **fields})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def bound_fields() -> Mapping[str, Any]:
    """The fields :func:`log_context` has bound in the current context."""
    return _CONTEXT.get()


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object; see the module docstring for the fields.

    ``secrets`` defaults to :func:`secret_values_from_env` at construction, which is what lets
    uvicorn build this formatter from a plain dictionary in each worker process.
    """

    def __init__(self, secrets: Iterable[str] | None = None) -> None:
        super().__init__()
        self.secrets = list(secret_values_from_env() if secrets is None else secrets)

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        document.update(_CONTEXT.get())
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                document[key] = value
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            document["stack"] = self.formatStack(record.stack_info)
        line = json.dumps(document, default=str, ensure_ascii=False)
        return redact(line, self.secrets)


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` dictionary: JSON lines on stderr for everything.

    uvicorn's own loggers are routed through the same handler; its access log is left off
    (the API logs failed and slow requests itself, and a line per request costs throughput).
    """
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "aggregator.logs.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": True},
            "apscheduler": {"handlers": [], "level": "WARNING", "propagate": True},
            "alembic": {"handlers": [], "level": "WARNING", "propagate": True},
            "httpx": {"handlers": [], "level": "WARNING", "propagate": True},
        },
    }


def configure_logging(level: str = "INFO") -> None:
    """Send every log record of this process to stderr as JSON lines."""
    logging.config.dictConfig(logging_config(level))
