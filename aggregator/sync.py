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
* Every row's prices must also be plausible (:mod:`aggregator.price_sanity`: finite, within
  per GPU-hour and per instance-hour bounds in its currency); a row outside them is rejected
  with the reason like any bad row, and the offer's stored price stays as it was (not
  withdrawn, not confirmed). So does that of any other rejected row that names its offer: a
  mapping whose key fields are sound, or a row the plugin rejected with ``offer=`` (a $0,
  negative or unreadable price), so that a broken price never withdraws a good one.
* A spot or low-priority offer priced at or above the on-demand price of the same machine in
  the same region (this feed's or, for a separate spot feed, the store's) is rejected.
* A feed moving more than ``sync_price_jump_share`` of its live offers' prices by more than
  ``sync_price_jump_factor`` at once fails as suspicious and changes nothing (``force`` lifts
  this guard too).
* A feed's whole fetch has a deadline, ``sync_feed_timeout``: past it the feed fails with the
  seconds spent, and the last good prices stay.
* A run is recorded as ``running`` before anything is fetched and that row is finished when
  the sync ends, so a sync whose process died leaves a trace: a ``running`` row older than
  :func:`db.store.running_lifetime` is shown (and, by the feed's next sync, recorded) as
  ``interrupted``. A sync cancelled in this process (Ctrl-C, shutdown) records ``interrupted``.
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
from aggregator.models import (
    Offer,
    PurchaseOption,
    SyncRun,
    SyncStatus,
    natural_key_id_of,
    utcnow,
)
from aggregator.plugins import FeedRef, Registry
from aggregator.price_sanity import price_problem
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
        self.held: list[str] = []  # ids of stored offers whose new rows were rejected
        self.rejected = 0

    def add(self, item: Offer | Mapping[str, Any]) -> None:
        try:
            offer = validate_offer(item)
        except ValueError as exc:
            self._reject(str(exc), item)
            self.hold(item)
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
        implausible = price_problem(offer)
        if implausible is not None:
            self.held.append(offer.id)
            self._reject(implausible, item)
            return
        if offer.id in self.offers:
            self._reject(f"duplicate offer {offer.natural_key()}", item)
            return
        self.offers[offer.id] = offer

    def hold(self, fields: object) -> None:
        """Keep the stored offer a rejected row names (if it names one) at its last price."""
        if isinstance(fields, Mapping):
            offer_id = natural_key_id_of(fields, self.ref.provider.name)
            if offer_id is not None:
                self.held.append(offer_id)

    def refuse_dear_interruptible(self, on_demand: Mapping[tuple[str, str, str], float]) -> None:
        """Reject spot and low-priority offers priced at or above the on-demand price of the
        same machine in the same region: not a discount anyone can buy, most likely a size not
        sold as spot there. ``on_demand`` adds stored prices to this feed's own."""
        own = {
            _machine(o): o.price_per_hour
            for o in self.offers.values()
            if o.purchase_option is PurchaseOption.ON_DEMAND
        }
        prices = {**on_demand, **own}
        for offer_id, offer in list(self.offers.items()):
            if not offer.interruptible:
                continue
            ceiling = prices.get(_machine(offer))
            if ceiling is not None and offer.price_per_hour >= ceiling:
                del self.offers[offer_id]
                reason = (
                    f"{offer.purchase_option.value} price {offer.price_per_hour:g} "
                    f"{offer.currency} is not below the on-demand price {ceiling:g} of "
                    f"{offer.instance_type} in {offer.region}"
                )
                # A seller's own odd row, not a broken feed: counted, logged as unknowns are.
                self._reject(reason, offer.source, level=logging.INFO)

    def _reject(self, reason: str, item: object, *, level: int = logging.WARNING) -> None:
        self.rejected += 1
        log.log(level, "%s: rejected offer: %s: %.300r", self.ref.id, reason, item)


def _machine(offer: Offer) -> tuple[str, str, str]:
    return (offer.region, offer.instance_type, offer.currency)


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
    becomes the run's time and the ``observed_at`` of offers the feed did not date itself
    (plugins date each offer by the response it came from), so replayed prices show their
    real age; a recording older than the prices already stored is refused.
    """
    job = _FeedSync(ref, registry, engine, settings, observed_at)
    try:
        settings_of_provider = provider_settings(ref.provider)
    except ConfigurationError as exc:  # a value set wrong: a failure to fix, not a choice
        return await job.fail(f"{exc}; nothing was fetched")
    reason = ref.provider.not_configured_reason(settings_of_provider)
    if reason is None and not replaying:
        reason = ref.provider.missing_credentials(settings_of_provider)
    if reason is not None:
        return await job.fail(reason, status=SyncStatus.NOT_CONFIGURED)

    try:
        await job.start()
    except Exception as exc:
        return await job.fail(f"could not record the start of the sync: {exc}; nothing was fetched")
    try:
        ctx = fetch_context(ref, client, settings_of_provider, {}, registry.gpus)
        if progress is not None:
            ctx.progress = progress
        return await job.fetch_and_store(ctx, force=force)
    except asyncio.CancelledError:
        job.record_cancelled()
        raise


class _FeedSync:
    """One sync of one feed: its run record (started, then finished once) and its steps."""

    def __init__(
        self,
        ref: FeedRef,
        registry: Registry,
        engine: Engine,
        settings: Settings,
        observed_at: datetime | None,
    ) -> None:
        self.ref = ref
        self.registry = registry
        self.engine = engine
        self.settings = settings
        self.observed_at = observed_at
        self.started = observed_at or utcnow()
        self.clock = time.monotonic()
        self.run_id: int | None = None

    def _run(self, **values: Any) -> SyncRun:
        base = {"feed": self.ref.id, "provider": self.ref.provider.name, "id": self.run_id}
        return SyncRun.model_validate({**base, "started_at": self.started, **values})

    def finish(self, run: SyncRun) -> SyncOutcome:
        return SyncOutcome(self.ref, run, time.monotonic() - self.clock)

    async def start(self) -> None:
        """Record the run as ``running`` (wall-clock start, even when replaying)."""
        lifetime = store.running_lifetime(self.settings.sync_feed_timeout)
        running = self._run(started_at=utcnow(), status=SyncStatus.RUNNING)
        running = await asyncio.to_thread(store.start_run, self.engine, running, lifetime=lifetime)
        self.run_id = running.id

    async def fail(
        self,
        message: str,
        *,
        status: SyncStatus = SyncStatus.FAILED,
        counts: Mapping[str, int] | None = None,
    ) -> SyncOutcome:
        log.warning("%s: sync %s: %s", self.ref.id, status.value, message)
        run = self._run(**(counts or {}), finished_at=utcnow(), status=status, error=message)
        try:
            run = await asyncio.to_thread(store.record_failed_run, self.engine, run)
        except Exception as exc:  # the store itself failing must still be reported
            log.error("%s: could not record the failed run: %s", self.ref.id, exc)
        return self.finish(run)

    def record_cancelled(self) -> None:
        """Finish the run of a sync cancelled in this process (Ctrl-C, shutdown).

        Called while the cancellation unwinds, so synchronously: nothing is awaited.
        """
        note = "the sync was cancelled before it finished; nothing was changed"
        log.warning("%s: sync interrupted: %s", self.ref.id, note)
        run = self._run(finished_at=utcnow(), status=SyncStatus.INTERRUPTED, error=note)
        try:
            store.record_failed_run(self.engine, run)
        except Exception as exc:
            log.error("%s: could not record the interrupted run: %s", self.ref.id, exc)

    async def fetch_and_store(self, ctx: FetchContext, *, force: bool) -> SyncOutcome:
        """Fetch within the feed's deadline, check the result and apply it."""
        ref, settings = self.ref, self.settings
        try:
            ctx.state = await asyncio.to_thread(store.load_feed_state, self.engine, ref.id)
        except Exception as exc:
            return await self.fail(f"could not read the feed's saved state: {exc}")
        collector = _Collector(ref, self.registry)
        deadline = settings.sync_feed_timeout
        fetching = time.monotonic()
        try:
            async with asyncio.timeout(deadline):
                async for item in ref.feed.fetch(ctx):
                    collector.add(item)
        except TimeoutError:
            return await self.fail(
                f"feed {ref.id} did not finish fetching within {deadline:g} s "
                f"(GPUHOURS_SYNC_FEED_TIMEOUT; {time.monotonic() - fetching:.1f} s spent); "
                "nothing was changed",
                counts=_counts(collector, ctx),
            )
        except Exception as exc:
            return await self.fail(
                f"{describe_fetch_error(exc)}; nothing was changed", counts=_counts(collector, ctx)
            )

        for fields in ctx.held:
            collector.hold(fields)
        if any(o.interruptible for o in collector.offers.values()):
            try:
                stored = await asyncio.to_thread(
                    store.on_demand_prices, self.engine, ref.provider.name
                )
            except Exception as exc:
                return await self.fail(f"could not read on-demand prices: {exc}")
            collector.refuse_dear_interruptible(stored)
        counts = _counts(collector, ctx)
        seen, rejected = counts["seen"], counts["rejected"]
        rows = seen + rejected
        if rows and rejected / rows > settings.sync_max_reject_share:
            return await self.fail(
                f"{rejected} of {rows} rows were rejected (more than "
                f"{settings.sync_max_reject_share:.0%}); the source's format may have changed; "
                "nothing was changed",
                counts=counts,
            )
        may_shrink = force or not ref.feed.shrink_guard
        if not seen and not ctx.unchanged and not may_shrink:
            return await self.fail(
                "the feed returned no offers; nothing was changed "
                "(use --force to accept an empty feed)",
                counts=counts,
            )
        refused = await self._older_than_stored()
        if refused is not None:
            return await self.fail(refused, counts=counts)
        snapshot = store.FeedSnapshot(
            feed=ref.id,
            provider=ref.provider.name,
            offers=list(collector.offers.values()),
            unchanged=[dict(u.match) for u in ctx.unchanged],
            state=ctx.state,
            started_at=self.started,
            rejected=rejected,
            unknown=len(ctx.unknowns),
            unknown_names=ctx.unknown_names,
            held=collector.held,
        )
        return await self._apply(snapshot, counts, force=force, may_shrink=may_shrink)

    async def _older_than_stored(self) -> str | None:
        """Why a replayed recording must not be applied, or ``None``."""
        observed_at = self.observed_at
        if observed_at is None:
            return None
        try:
            last = await asyncio.to_thread(store.last_good_run, self.engine, self.ref.id)
        except Exception as exc:
            return f"could not read the last sync: {exc}"
        if last is not None and last.finished_at is not None and last.finished_at > observed_at:
            return (
                f"the recording's prices (seen {observed_at:%Y-%m-%d}) are older than the "
                f"stored ones (synced {last.finished_at:%Y-%m-%d %H:%M}); nothing was changed"
            )
        return None

    async def _apply(
        self,
        snapshot: store.FeedSnapshot,
        counts: Mapping[str, int],
        *,
        force: bool,
        may_shrink: bool,
    ) -> SyncOutcome:
        settings = self.settings
        try:
            run = await asyncio.to_thread(
                store.apply_snapshot,
                self.engine,
                snapshot,
                now=self.observed_at or utcnow(),
                min_share_of_live=None if may_shrink else settings.sync_min_share_of_last,
                jump_share=None if force else settings.sync_price_jump_share,
                jump_factor=settings.sync_price_jump_factor,
                run_id=self.run_id,
            )
        except SyncRejected as exc:
            return await self.fail(str(exc), counts=counts)
        except Exception as exc:
            return await self.fail(
                f"storing failed: {type(exc).__name__}: {exc}; nothing was changed"
            )
        log.info(
            "%s: sync %s: %d seen, %d new, %d changed, %d withdrawn, %d rejected in %.1fs",
            self.ref.id,
            run.status.value,
            run.seen,
            run.new,
            run.changed,
            run.withdrawn,
            run.rejected,
            time.monotonic() - self.clock,
        )
        return self.finish(run)


def _counts(collector: _Collector, ctx: FetchContext) -> dict[str, int]:
    """What a run records of its rows: offers seen, rows rejected, unknown names skipped."""
    return {
        "seen": len(collector.offers),
        "rejected": collector.rejected + len(ctx.rejects),
        "unknown": len(ctx.unknowns),
    }


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
