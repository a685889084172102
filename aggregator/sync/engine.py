"""Running feeds: configure, collect, guard, store; one run record per sync, whatever happens.

Where each guard lives (docs/sync.md says what they promise):

* a row: :class:`~aggregator.sync.collect.Collector` validates it (with the price bounds of
  :mod:`aggregator.price_sanity`), holds the stored offer a rejected row names, and rejects a
  spot price that is no discount (:func:`~aggregator.sync.guards.interruptible_not_cheaper`);
  an interruption feed's rows go through :class:`~aggregator.sync.rates.RateCollector`;
* the fetch: bounded here by ``sync_feed_timeout``;
* the result: pure functions of :mod:`aggregator.sync.guards`, run here (too many rejects, an
  empty feed, a recording older than the store);
* against the stored offers, which they need: :func:`db.store.apply_snapshot`, in its write
  transaction (the shrink guard in :mod:`db.store.write`, the price-jump guard
  :func:`db.store.diff.check_jumps`); for interruption rates
  :func:`db.store.replace_interruption_rates` (its shrink guard).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from aggregator.errors import ConfigurationError, StoreError, SyncRejected
from aggregator.http import make_client
from aggregator.models import SyncRun, SyncStatus, utcnow
from aggregator.plugins import FeedRef, Registry
from aggregator.providers import FetchContext, InterruptionFeed, Progress, RelayFeed
from aggregator.settings import Settings
from aggregator.sync.collect import Collector
from aggregator.sync.context import describe_fetch_error, fetch_context, provider_settings
from aggregator.sync.guards import empty_feed, older_than_stored, too_many_rejects
from aggregator.sync.rates import RateCollector
from aggregator.sync.relay import RelayCollector
from db import store

__all__ = ["ProgressFactory", "SyncOutcome", "sync_feed", "sync_feeds"]

log = logging.getLogger("aggregator.sync")

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
        # A provider left unconfigured (no mirror URL, no price sheet) is a choice, not a fault.
        level = logging.INFO if status is SyncStatus.NOT_CONFIGURED else logging.WARNING
        log.log(level, "%s: sync %s: %s", self.ref.id, status.value, message)
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
        """The steps of a sync after configuration: collect, guard, store. A step that finds
        the result unusable raises :class:`_Refused`; this is the one place that records it."""
        collector: Collector | RateCollector
        if isinstance(self.ref.feed, InterruptionFeed):
            collector = RateCollector(self.ref)
        elif isinstance(self.ref.feed, RelayFeed):
            collector = RelayCollector(self.ref, self.registry)
        else:
            collector = Collector(self.ref, self.registry)
        try:
            await self._collect(ctx, collector)
            may_shrink = force or not self.ref.feed.shrink_guard
            await self._guard(ctx, collector, may_shrink=may_shrink)
            min_share = None if may_shrink else self.settings.sync_min_share_of_last
            now = self.observed_at or utcnow()
            if isinstance(collector, RateCollector):
                rates = self._rate_snapshot(ctx, collector)
                return await self._store(
                    store.replace_interruption_rates,
                    self.engine,
                    rates,
                    now=now,
                    min_share_of_live=min_share,
                    run_id=self.run_id,
                )
            return await self._store(
                store.apply_snapshot,
                self.engine,
                self._offer_snapshot(ctx, collector),
                now=now,
                min_share_of_live=min_share,
                jump_share=None if force else self.settings.sync_price_jump_share,
                jump_factor=self.settings.sync_price_jump_factor,
                run_id=self.run_id,
            )
        except _Refused as refused:
            counts = None if refused.bare else _counts(collector, ctx)
            return await self.fail(refused.message, counts=counts)

    async def _collect(self, ctx: FetchContext, collector: Collector | RateCollector) -> None:
        """Run the feed's fetch within its deadline, every row through ``collector``."""
        ref, deadline = self.ref, self.settings.sync_feed_timeout
        try:
            ctx.state = await asyncio.to_thread(store.load_feed_state, self.engine, ref.id)
        except Exception as exc:
            raise _Refused(f"could not read the feed's saved state: {exc}", bare=True) from exc
        fetching = time.monotonic()
        try:
            async with asyncio.timeout(deadline):
                async for item in ref.feed.fetch(ctx):
                    collector.add(item)
        except TimeoutError:
            raise _Refused(
                f"feed {ref.id} did not finish fetching within {deadline:g} s "
                f"(GPUHOURS_SYNC_FEED_TIMEOUT; {time.monotonic() - fetching:.1f} s spent); "
                "nothing was changed"
            ) from None
        except Exception as exc:
            raise _Refused(f"{describe_fetch_error(exc)}; nothing was changed") from exc
        for fields in ctx.held:
            collector.hold(fields)
        if isinstance(collector, Collector) and any(
            o.interruptible for o in collector.offers.values()
        ):
            providers = collector.providers if collector.any_provider else {ref.provider.name}
            try:
                stored = await asyncio.to_thread(self._on_demand_prices, sorted(providers))
            except Exception as exc:
                raise _Refused(f"could not read on-demand prices: {exc}", bare=True) from exc
            collector.refuse_dear_interruptible(stored)

    def _on_demand_prices(self, providers: list[str]) -> dict[tuple[str, str, str, str], float]:
        """The stored on-demand prices of ``providers``, by :func:`~.collect.machine`."""
        return {
            (provider, *machine): price
            for provider in providers
            for machine, price in store.on_demand_prices(self.engine, provider).items()
        }

    async def _guard(
        self, ctx: FetchContext, collector: Collector | RateCollector, *, may_shrink: bool
    ) -> None:
        """The checks of :mod:`aggregator.sync.guards`; raises :class:`_Refused` if one fails."""
        counts = _counts(collector, ctx)
        seen, rejected = counts["seen"], counts["rejected"]
        what = "interruption rates" if isinstance(collector, RateCollector) else "offers"
        last_good = await self._last_good() if self.observed_at is not None else None
        problem = (
            too_many_rejects(seen, rejected, self.settings.sync_max_reject_share)
            or empty_feed(seen, has_unchanged=bool(ctx.unchanged), may_shrink=may_shrink, what=what)
            or older_than_stored(self.observed_at, last_good)
        )
        if problem is not None:
            raise _Refused(problem)

    def _offer_snapshot(self, ctx: FetchContext, collector: Collector) -> store.FeedSnapshot:
        offers = list(collector.offers.values())
        meta = self._meta(ctx, collector)
        if isinstance(collector, RelayCollector):
            rates = list(collector.rates.rates.values())
            return store.FeedSnapshot(
                offers=offers,
                held=collector.held,
                rates=rates,
                rates_held=collector.rates.held,
                pasts=collector.pasts,
                **meta,
            )
        return store.FeedSnapshot(offers=offers, held=collector.held, **meta)

    def _rate_snapshot(
        self, ctx: FetchContext, collector: RateCollector
    ) -> store.InterruptionSnapshot:
        rates = list(collector.rates.values())
        meta = self._meta(ctx, collector)
        return store.InterruptionSnapshot(rates=rates, held=collector.held, **meta)

    def _meta(self, ctx: FetchContext, collector: Collector | RateCollector) -> dict[str, Any]:
        """What a snapshot says besides its rows (:class:`db.store.feed_txn.SnapshotMeta`)."""
        return {
            "feed": self.ref.id,
            "provider": self.ref.provider.name,
            "unchanged": [dict(u.match) for u in ctx.unchanged if u.confirm],
            "unconfirmed": [dict(u.match) for u in ctx.unchanged if not u.confirm],
            "state": ctx.state,
            "started_at": self.started,
            "rejected": _counts(collector, ctx)["rejected"],
            "unknown": len(ctx.unknowns),
            "unknown_names": ctx.unknown_names,
        }

    async def _last_good(self) -> datetime | None:
        try:
            last = await asyncio.to_thread(store.last_good_run, self.engine, self.ref.id)
        except Exception as exc:
            raise _Refused(f"could not read the last sync: {exc}") from exc
        return last.finished_at if last is not None else None

    async def _store(self, write: Callable[..., SyncRun], *args: Any, **kwargs: Any) -> SyncOutcome:
        """Run ``write`` (one store transaction); the store's own guards (shrink, price jumps)
        refuse the result there, with :class:`SyncRejected`."""
        try:
            run = await asyncio.to_thread(write, *args, **kwargs)
        except SyncRejected as exc:
            raise _Refused(str(exc)) from exc
        except Exception as exc:
            raise _Refused(
                f"storing failed: {type(exc).__name__}: {exc}; nothing was changed", bare=True
            ) from exc
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


class _Refused(Exception):
    """A step found the feed's result unusable: ``message`` is what the failed run records;
    ``bare`` runs record no row counts (the failure came before or outside the rows)."""

    def __init__(self, message: str, *, bare: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.bare = bare


def _counts(collector: Collector | RateCollector, ctx: FetchContext) -> dict[str, int]:
    """What a run records of its rows: offers (rates) seen, rows rejected, unknowns skipped."""
    return {
        "seen": collector.seen,
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
    if any(_wrote_offers(outcome) for outcome in outcomes):
        try:
            await asyncio.to_thread(store.refresh_statistics, engine)
        except StoreError as exc:
            log.warning("%s; plans read more slowly until the database's autovacuum runs", exc)
    return outcomes


def _wrote_offers(outcome: SyncOutcome) -> bool:
    run = outcome.run
    if isinstance(outcome.feed.feed, InterruptionFeed) or run.status is SyncStatus.FAILED:
        return False
    return bool(run.new or run.changed or run.withdrawn)
