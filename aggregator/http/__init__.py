"""The one HTTP client of gpuhours: timeouts, retries, typed errors, record and replay.

Every feed fetches through the client :func:`make_client` builds (it arrives as
``FetchContext.client``). What that client promises:

* Every request has a timeout: ``GPUHOURS_HTTP_CONNECT_TIMEOUT`` to connect,
  ``GPUHOURS_HTTP_READ_TIMEOUT`` for each read, write and wait for a pooled connection.
  Redirects are followed. The User-Agent names gpuhours, so a provider can tell who calls.
* Every request ends in bounded time: ``GPUHOURS_HTTP_TOTAL_TIMEOUT`` seconds from the send
  to the last byte of the body, however slowly the server trickles bytes in. One request
  means everything it takes: its redirects, all its attempts and the waits between them
  share one deadline (the user's question is "did this request take too long", not "did one
  try"). A wait that would pass the deadline is not taken; an attempt, or a chunk of a body
  being streamed, is cut off when the deadline passes. The time counts while the caller
  iterates a streamed body too, its own work between chunks included. Running out raises
  :class:`ProviderUnavailable` naming the URL, the seconds spent and the setting.
* GET and HEAD are retried on connection errors, timeouts, 429 and 500/502/503/504, at most
  ``GPUHOURS_HTTP_RETRIES`` times. Between attempts it waits what ``Retry-After`` asks for
  (seconds or an HTTP date), else exponential backoff with jitter. All waits of one request
  together stay within ``GPUHOURS_HTTP_MAX_RETRY_WAIT``: when the next wait would not fit, it
  gives up at once rather than sleeping. Other methods are sent once (they may not be safe to
  repeat).
* Requests raise gpuhours errors, not httpx ones. A final status >= 400 raises
  :class:`ProviderAuthError` (401, 403), :class:`ProviderRateLimited` (429, with
  ``retry_after``), :class:`ProviderUnavailable` (5xx) or :class:`ProviderResponseError` (other
  4xx); transport failures raise :class:`ProviderUnavailable`, also when they happen while the
  body is being read. Status errors carry ``status_code`` and all carry ``attempts`` (``None``
  when unknown). :func:`translate_error` maps what httpx raises outside the transports (too
  many redirects, undecodable bodies) for the sync engine's backstop.
* Responses stay streamed: a successful body is never read here, so a feed can walk a
  several-hundred-MB AWS offer file line by line. Error bodies are small; up to 64 KiB is read
  to quote the server's explanation in the message.
* Secrets stay out of messages, logs and recordings: URLs pass through :func:`redact_url`,
  and httpx's own ``HTTP Request: GET ...`` log line is redacted as well.

Layers, outermost first::

    DeadlineClient         starts the request's total deadline (redirects share it)
    _RetryingTransport     retries, waits, typed errors; bounds attempts, waits and the
                           body stream by the deadline
      RecordTransport      only with --record DIR: tees every response into DIR
        ReceivedAtTransport stamps each live response with the time it was received
          network          the ``transport`` given, or httpx.AsyncHTTPTransport through the
                           proxy that HTTP(S)_PROXY / ALL_PROXY / NO_PROXY name;
        with --replay DIR: ReplayTransport answers from DIR instead (with the recorded stamp)

Why not httpx-retries: its
``total_timeout`` shortens the last wait to fit the budget and retries anyway, and
``max_backoff_wait`` cuts a server's ``Retry-After`` short, so a server asking for 1000 s is
asked again after 120 s and answers with another 429. Its sleep is always
``asyncio.sleep``, and its ``Retry`` copies itself through a constructor that a subclass
cannot extend. When an exception ends the retries, it does not report how many attempts were
made. The loop in :mod:`aggregator.http.retry` is short enough to own.

Record directory layout (the format :class:`ReplayTransport` reads)::

    DIR/<host>/<hash>.json     {"method", "url", "key", "status", "headers", "body"}
    DIR/<host>/<hash>.body     the decoded body bytes (or <hash>.body.gz, gzip-compressed)

``key`` is ``"<METHOD> <url>"`` where url is the redacted URL without fragment and with its
query parameters sorted (name, then value) and re-encoded; ``<hash>`` is the first 16 hex
digits of the SHA-256 of the key. Because secrets are redacted before keying, a replay matches
whatever API key it is run with. ``url`` is the redacted URL as requested; ``headers`` is a
list of ``[name, value]`` pairs (a plain object is accepted too) without cookies,
credentials, headers that echo a secret, and the wire-framing headers ``content-encoding``,
``content-length`` and ``transfer-encoding``, which would not describe the stored bytes.
The body is stored decoded (httpx undoes a gzip content-encoding), so any ``.body`` file can
be gzipped into ``.body.gz`` for a bundled snapshot. Request bodies are not part of the key.

Modules, one job each:

* :mod:`~aggregator.http.redaction`: :func:`redact_url`, finding and scrubbing secrets, and
  the filter on httpx's log line.
* :mod:`~aggregator.http.failures`: :func:`translate_error` and the messages of the
  :class:`ProviderError` subclasses (which :mod:`aggregator.errors` defines) a request raises.
* :mod:`~aggregator.http.deadline`: the total deadline of a request, and the client and
  body stream that keep it.
* :mod:`~aggregator.http.retry`: the retrying transport.
* :mod:`~aggregator.http.paging`: the guards that make a chain of pages end.
* :mod:`~aggregator.http.recording`: :class:`RecordTransport`, recording keys and which
  headers may be stored.
* :mod:`~aggregator.http.replay`: :class:`ReplayTransport`.
* :mod:`~aggregator.http.network`: the network transport with the environment's proxy.
* :mod:`~aggregator.http.received`: the received-at stamp and :func:`received_at`, which
  plugins use for their offers' ``observed_at``.
* this package: :func:`make_client`, which stacks them, and :data:`USER_AGENT`.
"""

from __future__ import annotations

import asyncio
from importlib import metadata
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


def _version() -> str:
    try:
        return metadata.version("gpuhours")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


USER_AGENT: Final = f"gpuhours/{_version()} (+https://github.com/gpuhours/gpuhours)"


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
