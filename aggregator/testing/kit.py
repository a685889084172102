"""``check_provider``: replay every feed of a provider twice and run every check on it.

What is promised: no database and no network are used; every check in
:data:`~aggregator.testing.report.CHECKS` runs on every feed (a failed first replay skips only
the checks that need a finished one); all failures are collected before anything is raised, so
one run of the kit shows everything that is wrong.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from pydantic_settings import BaseSettings

from aggregator.errors import ConfigurationError
from aggregator.gpus import GpuVocabulary, default_vocabulary
from aggregator.plugins import FeedRef
from aggregator.providers import InterruptionFeed, Provider
from aggregator.settings import Settings
from aggregator.sync import provider_settings
from aggregator.testing.checks import (
    check_determinism,
    check_items,
    check_offline,
    check_rate_items,
    check_run,
)
from aggregator.testing.replay_run import replay_feed
from aggregator.testing.report import (
    CheckFailure,
    FeedReport,
    ProviderCheckFailed,
    ProviderReport,
)

__all__ = ["check_provider"]

T = TypeVar("T")


def check_provider(
    provider: Provider,
    responses: Path | str | None = None,
    settings: BaseSettings | None = None,
    feeds: Sequence[str] | None = None,
    vocabulary: GpuVocabulary | None = None,
) -> ProviderReport:
    """Check ``provider``'s feeds against recorded responses; raise if any check fails.

    ``responses`` is a directory written by ``gpuhours sync --record DIR`` (the format
    :class:`~aggregator.http.ReplayTransport` reads); ``None`` means the feeds may make no
    request at all. ``settings`` become ``ctx.settings`` (default: the provider's
    ``settings_class()`` read from the environment, as a sync does). ``feeds`` names the feeds
    to check (``"spot"`` or ``"aws/spot"``; default all). ``vocabulary`` is what GPU names must
    resolve in (default the built-in one; pass one that includes GPUs your plugin registers).

    Returns the :class:`ProviderReport` when every check passes, else raises
    :class:`ProviderCheckFailed` (an ``AssertionError``) listing every failure. Raises
    :class:`ConfigurationError` when the test itself is set up wrong: no such directory,
    invalid settings, or a provider that says it is not configured with these settings.
    """
    __tracebackhide__ = True  # pytest: show the caller's line, not the kit's
    report = _run(_check(provider, responses, settings, feeds, vocabulary))
    if report.failures:
        raise ProviderCheckFailed(report)
    return report


async def _check(
    provider: Provider,
    responses: Path | str | None,
    settings: BaseSettings | None,
    feeds: Sequence[str] | None,
    vocabulary: GpuVocabulary | None,
) -> ProviderReport:
    directory = Path(responses) if responses is not None else None
    if directory is not None and not directory.is_dir():
        raise ConfigurationError(f"responses directory {directory} does not exist")
    if settings is None:
        settings = provider_settings(provider)
    reason = provider.not_configured_reason(settings)
    if reason is not None:
        raise ConfigurationError(
            f"provider {provider.name!r} is not configured with these settings ({reason}); "
            "pass settings= that configure it"
        )
    vocabulary = vocabulary if vocabulary is not None else default_vocabulary()
    core = Settings()  # HTTP behaviour and the reject share, exactly as a sync reads them
    report = ProviderReport(provider=provider.name)
    for ref in _select(provider, feeds):
        first = await replay_feed(
            ref,
            responses=directory,
            settings=core,
            provider_settings=settings,
            gpus=vocabulary,
        )
        if isinstance(ref.feed, InterruptionFeed):
            verdict = check_rate_items(ref.id, provider.name, first.items)
        else:
            verdict = check_items(ref.id, provider.name, first.items, vocabulary)
        report.feeds[ref.id] = FeedReport(
            feed=ref.id,
            offers=len(verdict.offers),
            interruption_rates=len(verdict.rates),
            invalid=verdict.invalid,
            rejects=len(first.rejects),
            unknowns=len(first.unknowns),
            requests=first.requests,
        )
        failures = check_run(ref.id, first, max_reject_share=core.sync_max_reject_share)
        failures += verdict.failures
        if first.completed:
            second = await replay_feed(
                ref,
                responses=directory,
                settings=core,
                provider_settings=settings,
                gpus=vocabulary,
            )
            failures += check_offline(ref.id, second)
            failures += check_determinism(ref.id, first, second)
        report.failures += _unique(failures)
    return report


def _select(provider: Provider, names: Sequence[str] | None) -> list[FeedRef]:
    refs = [FeedRef(provider, feed) for feed in provider.feeds()]
    if names is None:
        return refs
    by_name = {ref.feed.name: ref for ref in refs} | {ref.id: ref for ref in refs}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        known = ", ".join(ref.id for ref in refs) or "none"
        raise ValueError(f"provider {provider.name!r} has no feed {unknown[0]!r} (known: {known})")
    return list({by_name[name].id: by_name[name] for name in names}.values())


def _unique(failures: list[CheckFailure]) -> list[CheckFailure]:
    """Failures without repeats (a miss seen in both replays is reported once)."""
    return list(dict.fromkeys(failures))


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run the kit's coroutine, also from a test that is itself running an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
