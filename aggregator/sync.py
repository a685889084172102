"""Running feeds: fetch -> validate -> guard -> store, atomically, one failure never spreading.

What is promised:

* A feed's offers are validated one by one; a row that fails is counted as rejected and logged
  with the reason, never stored. GPU names are mapped onto the canonical vocabulary; an unknown
  GPU is a rejected row (logged with the raw text), never a guess.
* The store changes only when the whole fetch succeeded and looks sane: a fetch that raises or
  breaks off, a feed that rejects more than ``sync_max_reject_share`` of its rows, one that
  returns nothing, or one that returns far fewer offers than are live now
  (``sync_min_share_of_last``; ``force`` lifts this guard, and so does a feed whose
  ``shrink_guard`` is False) leaves every stored row as it was and is recorded as a failed run
  with the reason.
* Feeds run concurrently; each catches its own failures, so one broken feed does not stop the
  others. No raw ``httpx`` exception escapes: they become :mod:`aggregator.errors` types.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pydantic
from pydantic_settings import BaseSettings
from sqlalchemy import Engine

from aggregator.errors import (
    ConfigurationError,
    GpuhoursError,
    ProviderError,
    StoreError,
    SyncRejected,
    UnknownGpu,
)
from aggregator.gpus import GpuVocabulary, default_vocabulary
from aggregator.http import make_client, translate_error
from aggregator.models import Offer, SyncRun, SyncStatus, utcnow
from aggregator.plugins import FeedRef, Registry
from aggregator.providers import FetchContext, Progress, Provider
from aggregator.settings import Settings
from db import store

__all__ = [
    "OBSERVED_AT_FILE",
    "SyncOutcome",
    "describe_fetch_error",
    "fetch_context",
    "load_observed_at",
    "provider_settings",
    "sync_feed",
    "sync_feeds",
    "validate_offer",
]

OBSERVED_AT_FILE = "OBSERVED_AT.json"

log = logging.getLogger(__name__)

ProgressFactory = Callable[[FeedRef], Progress]


@dataclass
class SyncOutcome:
    """A finished sync of one feed: the run record plus how long it took end to end."""

    feed: FeedRef
    run: SyncRun
    seconds: float

    @property
    def failed(self) -> bool:
        return self.run.status is SyncStatus.FAILED


def load_observed_at(directory: Path) -> dict[str, datetime]:
    """Per-feed times a recording's prices were seen, from ``OBSERVED_AT.json`` if present.

    A recording made by ``--record`` has none (its prices count as seen when replayed); a
    shipped snapshot has one, so its prices keep their real age.
    """
    path = directory / OBSERVED_AT_FILE
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text())
        return {str(k): datetime.fromisoformat(v) for k, v in raw.items()}
    except (ValueError, AttributeError, TypeError) as exc:
        raise ConfigurationError(f"{path} is not a valid observed-at map: {exc}") from None


class _Collector:
    """Validates and de-duplicates what a feed yields."""

    def __init__(self, ref: FeedRef, registry: Registry) -> None:
        self.ref = ref
        self.registry = registry
        self.offers: dict[str, Offer] = {}
        self.rejected = 0

    def add(self, item: Offer | Mapping[str, Any]) -> None:
        try:
            offer = validate_offer(item)
        except ValueError as exc:
            self._reject(str(exc), item)
            return
        if offer.provider != self.ref.provider.name:
            self._reject(
                f"provider {offer.provider!r} does not match {self.ref.provider.name!r}", item
            )
            return
        try:
            canonical = self.registry.gpus.canonical(offer.gpu)
        except UnknownGpu:
            self._reject(f"unknown GPU {offer.gpu!r}", item)
            return
        if canonical != offer.gpu:
            offer = offer.model_copy(update={"gpu": canonical})
        if offer.id in self.offers:
            self._reject(f"duplicate offer {offer.natural_key()}", item)
            return
        self.offers[offer.id] = offer

    def _reject(self, reason: str, item: object) -> None:
        self.rejected += 1
        log.warning("%s: rejected offer: %s: %.300r", self.ref.id, reason, item)


def validate_offer(item: object) -> Offer:
    """``item`` as an :class:`Offer`: an ``Offer`` as it is, a mapping validated into one.

    Raises :class:`ValueError` whose text is the reject reason the sync engine logs. Shared
    with :mod:`aggregator.testing` so the plugin test kit judges rows exactly as a sync does.
    """
    if isinstance(item, Offer):
        return item
    try:
        return Offer.model_validate(dict(item))  # type: ignore[call-overload]
    except pydantic.ValidationError as exc:
        raise ValueError(_first_error(exc)) from None
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not an offer: {exc}") from None


def _first_error(exc: pydantic.ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "offer"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {err['msg']}{more}"


def provider_settings(provider: Provider) -> BaseSettings | None:
    """The provider's settings read from the environment, or ``None`` if it declares none.

    Raises :class:`ConfigurationError` naming the first invalid setting.
    """
    cls = provider.settings_class
    if cls is None:
        return None
    try:
        return cls()
    except pydantic.ValidationError as exc:
        raise ConfigurationError(
            f"settings of provider {provider.name!r} are invalid: {_first_error(exc)}"
        ) from None


def fetch_context(
    ref: FeedRef,
    client: httpx.AsyncClient,
    settings: BaseSettings | None,
    state: Mapping[str, str],
    gpus: GpuVocabulary | None = None,
) -> FetchContext:
    """The context a feed's ``fetch`` runs with: ``state`` is copied, the log is the feed's,
    ``gpus`` the loaded plugins' vocabulary (default: the built-in one)."""
    return FetchContext(
        client=client,
        feed_id=ref.id,
        settings=settings,
        state=dict(state),
        log=logging.getLogger(f"gpuhours.feed.{ref.id}"),
        gpus=gpus if gpus is not None else default_vocabulary(),
    )


def describe_fetch_error(exc: Exception) -> str:
    """What to record when a feed's ``fetch`` raised ``exc``: httpx errors become ours first."""
    error = exc if isinstance(exc, GpuhoursError) else translate_error(exc)
    if error is None:
        return f"fetch raised {type(exc).__name__}: {exc}"
    if isinstance(error, ProviderError):
        return str(error)
    return f"{type(error).__name__}: {error}"


async def sync_feed(
    ref: FeedRef,
    registry: Registry,
    engine: Engine,
    client: Any,
    settings: Settings,
    *,
    force: bool = False,
    progress: Progress | None = None,
    replaying: bool = False,
    observed_at: datetime | None = None,
) -> SyncOutcome:
    """Sync one feed and record the run. Never raises for feed or provider failures.

    ``replaying`` says the client answers from a recording, so missing credentials do not
    stop the feed. ``observed_at`` is when a recording's prices were seen at the source: it
    becomes the offers' ``observed_at`` and the run's time, so replayed prices show their
    real age; a recording older than the prices already stored is refused.
    """
    started = observed_at or utcnow()
    clock = time.monotonic()
    run_base = {"feed": ref.id, "provider": ref.provider.name, "started_at": started}

    def finish(run: SyncRun) -> SyncOutcome:
        return SyncOutcome(ref, run, time.monotonic() - clock)

    async def fail(
        message: str,
        *,
        status: SyncStatus = SyncStatus.FAILED,
        counts: Mapping[str, int] | None = None,
    ) -> SyncOutcome:
        log.warning("%s: sync %s: %s", ref.id, status.value, message)
        run = SyncRun.model_validate(
            {
                **run_base,
                **(counts or {}),
                "finished_at": utcnow(),
                "status": status,
                "error": message,
            }
        )
        try:
            run = await asyncio.to_thread(store.record_failed_run, engine, run)
        except Exception as exc:  # the store itself failing must still be reported
            log.error("%s: could not record the failed run: %s", ref.id, exc)
        return finish(run)

    try:
        settings_of_provider = provider_settings(ref.provider)
    except ConfigurationError as exc:
        return await fail(str(exc), status=SyncStatus.NOT_CONFIGURED)
    reason = ref.provider.not_configured_reason(settings_of_provider)
    if reason is None and not replaying:
        reason = ref.provider.missing_credentials(settings_of_provider)
    if reason is not None:
        return await fail(reason, status=SyncStatus.NOT_CONFIGURED)

    try:
        state = await asyncio.to_thread(store.load_feed_state, engine, ref.id)
    except Exception as exc:
        return await fail(f"could not read the feed's saved state: {exc}")

    ctx = fetch_context(ref, client, settings_of_provider, state, registry.gpus)
    if progress is not None:
        ctx.progress = progress
    collector = _Collector(ref, registry)
    try:
        async for item in ref.feed.fetch(ctx):
            collector.add(item)
    except Exception as exc:
        return await fail(
            f"{describe_fetch_error(exc)}; nothing was changed",
            counts={
                "seen": len(collector.offers),
                "rejected": collector.rejected + len(ctx.rejects),
                "unknown": len(ctx.unknowns),
            },
        )

    rejected = collector.rejected + len(ctx.rejects)
    seen = len(collector.offers)
    counts = {"seen": seen, "rejected": rejected, "unknown": len(ctx.unknowns)}
    rows = seen + rejected
    if rows and rejected / rows > settings.sync_max_reject_share:
        return await fail(
            f"{rejected} of {rows} rows were rejected (more than "
            f"{settings.sync_max_reject_share:.0%}); the source's format may have changed; "
            "nothing was changed",
            counts=counts,
        )
    force = force or not ref.feed.shrink_guard
    if not seen and not ctx.unchanged and not force:
        return await fail(
            "the feed returned no offers; nothing was changed "
            "(use --force to accept an empty feed)",
            counts=counts,
        )

    if observed_at is not None:
        try:
            last = await asyncio.to_thread(store.last_good_run, engine, ref.id)
        except Exception as exc:
            return await fail(f"could not read the last sync: {exc}", counts=counts)
        if last is not None and last.finished_at is not None and last.finished_at > observed_at:
            return await fail(
                f"the recording's prices (seen {observed_at:%Y-%m-%d}) are older than the "
                f"stored ones (synced {last.finished_at:%Y-%m-%d %H:%M}); nothing was changed",
                counts=counts,
            )

    snapshot = store.FeedSnapshot(
        feed=ref.id,
        provider=ref.provider.name,
        offers=list(collector.offers.values()),
        unchanged=[dict(u.match) for u in ctx.unchanged],
        state=ctx.state,
        started_at=started,
        rejected=rejected,
        unknown=len(ctx.unknowns),
    )
    try:
        run = await asyncio.to_thread(
            store.apply_snapshot,
            engine,
            snapshot,
            now=observed_at or utcnow(),
            min_share_of_live=None if force else settings.sync_min_share_of_last,
        )
    except SyncRejected as exc:
        return await fail(str(exc), counts=counts)
    except Exception as exc:
        return await fail(f"storing failed: {type(exc).__name__}: {exc}; nothing was changed")
    log.info(
        "%s: sync %s: %d seen, %d new, %d changed, %d withdrawn, %d rejected in %.1fs",
        ref.id,
        run.status.value,
        run.seen,
        run.new,
        run.changed,
        run.withdrawn,
        run.rejected,
        time.monotonic() - clock,
    )
    return finish(run)


async def sync_feeds(
    refs: Sequence[FeedRef],
    registry: Registry,
    engine: Engine,
    settings: Settings,
    *,
    force: bool = False,
    record_dir: Path | None = None,
    replay_dir: Path | None = None,
    transport: Any = None,
    progress_factory: ProgressFactory | None = None,
    observed_at: Mapping[str, datetime] | None = None,
) -> list[SyncOutcome]:
    """Sync several feeds concurrently over one shared HTTP client; results in input order.

    ``observed_at`` maps feed ids to the time a recording's prices were seen (replay only).
    """
    async with make_client(
        settings, transport=transport, record_dir=record_dir, replay_dir=replay_dir
    ) as client:
        outcomes = list(
            await asyncio.gather(
                *(
                    sync_feed(
                        ref,
                        registry,
                        engine,
                        client,
                        settings,
                        force=force,
                        progress=progress_factory(ref) if progress_factory else None,
                        replaying=replay_dir is not None,
                        observed_at=(observed_at or {}).get(ref.id),
                    )
                    for ref in refs
                )
            )
        )
    if any(_wrote_offers(outcome.run) for outcome in outcomes):
        try:
            await asyncio.to_thread(store.refresh_statistics, engine)
        except StoreError as exc:
            log.warning("%s; plans read more slowly until the database's autovacuum runs", exc)
    return outcomes


def _wrote_offers(run: SyncRun) -> bool:
    return run.status is not SyncStatus.FAILED and bool(run.new or run.changed or run.withdrawn)
