"""Running one feed once against recorded responses, the way ``gpuhours sync --replay`` does.

The feed gets what a sync gives it: a client from :func:`aggregator.http.make_client` (so
retries, typed errors and redaction apply) whose network is :class:`ReplayTransport`, and a
context from :func:`aggregator.sync.fetch_context` with the provider's settings and an empty
``state`` (a first sync). Two things differ, both so that a test is fast and precise:

* the replay transport is wrapped to note every request that was not recorded, even when the
  feed catches the resulting error and carries on;
* waits between retries are skipped (a recorded 503 is retried at once, not after backoff).

Nothing is validated here; :mod:`aggregator.testing.checks` judges what was collected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pydantic_settings import BaseSettings

from aggregator.errors import ReplayMiss
from aggregator.gpus import GpuVocabulary
from aggregator.http import ReplayTransport, make_client, redact_url
from aggregator.plugins import FeedRef
from aggregator.settings import Settings
from aggregator.sync import describe_fetch_error, fetch_context

__all__ = ["FeedRun", "replay_feed"]


@dataclass
class FeedRun:
    """What one replay of a feed produced.

    ``misses`` describe the requests that had no recording (the feed would have used the
    network); ``error`` is the sync engine's description of what ``fetch`` raised, if it did.
    """

    items: list[object] = field(default_factory=list)
    rejects: list[tuple[str, str]] = field(default_factory=list)
    unknowns: list[tuple[str, str]] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)
    requests: int = 0
    error: str | None = None

    @property
    def completed(self) -> bool:
        return self.error is None


class _OfflineTransport(httpx.AsyncBaseTransport):
    """The network replaced by recordings, or by nothing: notes each request it cannot answer."""

    def __init__(self, responses: Path | None) -> None:
        self._replay = ReplayTransport(responses) if responses is not None else None
        self.misses: list[str] = []
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self._replay is None:
            target = f"{request.method} {redact_url(request.url)}"
            miss = ReplayMiss(
                f"{target}: no recorded responses were given (responses=None), so the feed "
                "may not make any request",
                url=redact_url(request.url),
            )
            self.misses.append(str(miss))
            raise miss
        try:
            return await self._replay.handle_async_request(request)
        except ReplayMiss as exc:  # its message names the redacted URL and the file looked for
            self.misses.append(str(exc))
            raise

    async def aclose(self) -> None:
        if self._replay is not None:
            await self._replay.aclose()


async def _no_wait(seconds: float) -> None:
    return None


async def replay_feed(
    ref: FeedRef,
    *,
    responses: Path | None,
    settings: Settings,
    provider_settings: BaseSettings | None,
    gpus: GpuVocabulary | None = None,
) -> FeedRun:
    """Run ``ref``'s fetch to its end (or its first exception) against ``responses``.

    ``settings`` are the core settings (HTTP retries and timeouts); ``provider_settings``
    become ``ctx.settings``, ``gpus`` ``ctx.gpus``. Never raises for what the feed does.
    """
    transport = _OfflineTransport(responses)
    run = FeedRun()
    async with make_client(settings, transport=transport, sleep=_no_wait) as client:
        ctx = fetch_context(ref, client, provider_settings, state={}, gpus=gpus)
        try:
            async for item in ref.feed.fetch(ctx):
                run.items.append(item)
        except Exception as exc:  # the kit reports it; it must not end the other checks
            run.error = describe_fetch_error(exc)
    run.rejects = list(ctx.rejects)
    run.unknowns = list(ctx.unknowns)
    run.misses = transport.misses
    run.requests = transport.requests
    return run
