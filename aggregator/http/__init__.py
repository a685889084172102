"""The one HTTP client of gpuhours: timeouts, a total deadline, retries, typed errors, record
and replay, and secrets kept out of everything it writes.

:func:`make_client` stacks the layers (:mod:`.deadline`, :mod:`.retry`, :mod:`.recording`,
:mod:`.received`, :mod:`.network`, or :mod:`.replay` instead of the network); what the client
promises, and the record directory's layout, are in ``docs/http.md``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Final

import httpx

from aggregator.errors import ConfigurationError
from aggregator.http.deadline import DeadlineClient
from aggregator.http.failures import translate_error
from aggregator.http.network import _NetworkTransport
from aggregator.http.received import RECEIVED_AT_HEADER, ReceivedAtTransport, received_at
from aggregator.http.recording import RecordTransport
from aggregator.http.redaction import _redact_httpx_logs, redact_url
from aggregator.http.replay import ReplayTransport
from aggregator.http.retry import Sleep, _RetryingTransport
from aggregator.settings import Settings
from aggregator.version import gpuhours_version

__all__ = [
    "RECEIVED_AT_HEADER",
    "USER_AGENT",
    "RecordTransport",
    "ReplayTransport",
    "make_client",
    "received_at",
    "redact_url",
    "translate_error",
]


USER_AGENT: Final = f"gpuhours/{gpuhours_version()} (+https://github.com/gpuhours/gpuhours)"


def make_client(
    settings: Settings | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    record_dir: Path | None = None,
    replay_dir: Path | None = None,
    sleep: Sleep | None = None,
) -> httpx.AsyncClient:
    """The client every feed uses; see the module docstring for what it promises.

    ``transport`` replaces the network (tests pass ``httpx.MockTransport`` or a respx mock);
    ``record_dir`` saves every response there; ``replay_dir`` answers from such a directory
    instead of the network (retries and typed errors still apply). ``sleep`` waits between
    retries (``asyncio.sleep`` by default; tests pass a recorder). The caller closes the
    client (``async with``).
    """
    settings = settings if settings is not None else Settings()
    network: httpx.AsyncBaseTransport
    if replay_dir is not None:
        if record_dir is not None:
            raise ConfigurationError(
                "--record and --replay cannot be used together: replaying answers from a "
                "recording, so there would be nothing new to record"
            )
        if transport is not None:
            raise ConfigurationError("replay_dir replaces the network; do not pass a transport")
        if not Path(replay_dir).is_dir():
            raise ConfigurationError(f"replay directory {replay_dir} does not exist")
        network = ReplayTransport(replay_dir)
    else:
        network = ReceivedAtTransport(transport if transport is not None else _NetworkTransport())
        if record_dir is not None:
            try:
                Path(record_dir).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigurationError(
                    f"cannot create the record directory {record_dir}: {exc}"
                ) from exc
            network = RecordTransport(network, record_dir)
    _redact_httpx_logs()
    return DeadlineClient(
        total_timeout=settings.http_total_timeout,
        transport=_RetryingTransport(
            network,
            retries=settings.http_retries,
            max_wait=settings.http_max_retry_wait,
            sleep=sleep if sleep is not None else asyncio.sleep,
            total_timeout=settings.http_total_timeout,
        ),
        timeout=httpx.Timeout(settings.http_read_timeout, connect=settings.http_connect_timeout),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=True,
    )
