"""Reading the price store for people: the reports behind both the CLI and the HTTP API.

Offers, their price history, the GPUs gpuhours knows, and the plugins, feeds and price terms
with their health, with the models both interfaces present them in. Nothing here knows about
terminals or HTTP. The filters people give are checked and turned into store queries by
:mod:`aggregator.offer_query`; the store is opened by :mod:`aggregator.store_access`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field, computed_field

from aggregator.export.origin import ORIGIN_KEY, MirrorOrigin, origin_from_text
from aggregator.gpus import gpu_listing
from aggregator.models import PriceInterval, StoredOffer, SyncRun, utcnow
from aggregator.plugins import Registry
from aggregator.settings import Settings
from db import read
from db.offer_sql import OfferQuery

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from db.reader import Reader

# SQLAlchemy is imported only by the report that needs an engine (providers_report), so that
# the reads behind `gpuhours offers` and `history` can run on the stdlib sqlite3 driver.

__all__ = [
    "SORT_KEYS",
    "STALE_AFTER_INTERVALS",
    "FeedStatus",
    "GpuInfo",
    "GpusResponse",
    "OfferHistory",
    "PluginStatus",
    "PriceTermsStatus",
    "ProvidersReport",
    "SortKey",
    "TermStatus",
    "find_offers",
    "gpu_list",
    "offer_history",
    "price_terms_status",
    "providers_report",
    "store_version",
]

SortKey = Literal["price_per_gpu_hour", "price_per_hour"]
SORT_KEYS: dict[str, SortKey] = {
    "gpu-hour": "price_per_gpu_hour",
    "price_per_gpu_hour": "price_per_gpu_hour",
    "hour": "price_per_hour",
    "price_per_hour": "price_per_hour",
}
"""The spellings of ``--sort`` / ``?sort=`` and the order each names."""
STALE_AFTER_INTERVALS = 2


def find_offers(source: Reader | Engine, query: OfferQuery) -> list[StoredOffer]:
    return read.query_offers(source, query)


def store_version(source: Reader | Engine) -> int:
    """A number every committed sync raises: answers computed at one version stay true."""
    return read.data_version(source)


class GpuInfo(BaseModel):
    """A GPU name gpuhours knows, with its memory variants and the other spellings it accepts."""

    name: str
    vendor: str
    memory_gb: list[float]
    bf16_tflops: float | None
    aliases: list[str]


class GpusResponse(BaseModel):
    gpus: list[GpuInfo]


def gpu_list(registry: Registry) -> GpusResponse:
    """Every GPU of the loaded vocabulary (built-in and plugin-registered), as listed."""
    return GpusResponse.model_validate({"gpus": gpu_listing(registry.gpus)})


class OfferHistory(BaseModel):
    """An offer with every price interval the store holds for it."""

    offer: StoredOffer
    intervals: list[PriceInterval]


def offer_history(source: Reader | Engine, query: OfferQuery) -> list[OfferHistory]:
    """Price intervals of the offers matching ``query`` (withdrawn ones included), all read
    in one snapshot of the store."""
    return [OfferHistory(offer=o, intervals=i) for o, i in read.offer_histories(source, query)]


class PluginStatus(BaseModel):
    name: str
    distribution: str | None
    version: str | None
    providers: list[str]
    errors: list[str]


class FeedStatus(BaseModel):
    """A feed, its schedule and how fresh its data is."""

    id: str
    provider: str
    title: str
    interval_seconds: float
    live_offers: int
    interruption_rates: int = Field(
        default=0, description="interruption rates the feed holds (a feed of interruption data)"
    )
    last_run: SyncRun | None
    last_success_at: datetime | None
    unknown_names: list[str] = Field(
        default_factory=list,
        description="what the plugin's tables did not know in the last good sync (sizes, "
        "SKUs): rows skipped, never guessed",
    )
    mirrored_from: MirrorOrigin | None = Field(
        default=None,
        description="for a mirror feed: the export its offers came from, and when that "
        "store's own feeds last synced",
    )
    now: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def age_seconds(self) -> float | None:
        if self.last_success_at is None:
            return None
        return (self.now - self.last_success_at).total_seconds()

    @computed_field  # type: ignore[prop-decorator]
    @property
    def stale(self) -> bool:
        age = self.age_seconds
        return age is None or age > STALE_AFTER_INTERVALS * self.interval_seconds


class TermStatus(BaseModel):
    """One negotiated price term plans apply (see docs/plugins.md, "Your own prices")."""

    label: str = Field(description="how plans name it")
    origin: str = Field(description="where it came from: a plugin, or the file and term number")


class PriceTermsStatus(BaseModel):
    """The price terms plans apply, in order, or why the terms file cannot be used."""

    terms: list[TermStatus] = Field(default_factory=list)
    error: str | None = Field(
        default=None, description="what is wrong with GPUHOURS_TERMS_FILE (plans with terms fail)"
    )


class ProvidersReport(BaseModel):
    plugins: list[PluginStatus]
    feeds: list[FeedStatus]
    price_terms: PriceTermsStatus = Field(default_factory=PriceTermsStatus)
    store_error: str | None = Field(
        default=None, description="why the store could not be read (feeds then show no runs)"
    )


def providers_report(
    registry: Registry,
    engine: Engine | None,
    *,
    store_error: str | None = None,
    feed_timeout: float = float(Settings.model_fields["sync_feed_timeout"].default),
) -> ProvidersReport:
    """Plugins (with load errors), their feeds, last sync and data age.

    Without an ``engine`` (the store could not be opened: ``store_error`` says why) the
    plugins, feeds and terms are still reported: it is the report people read to debug a setup.

    A last run still ``running`` long after any sync could (``feed_timeout``, the
    caller's ``GPUHOURS_SYNC_FEED_TIMEOUT``, plus time to store) is reported as ``interrupted``: the
    process running it died.
    """
    from db import store

    now = utcnow()
    lifetime = store.running_lifetime(feed_timeout)
    latest = store.latest_runs(engine, lifetime=lifetime, now=now) if engine is not None else {}
    good_runs = store.latest_runs(engine, good_only=True) if engine is not None else {}
    live = store.live_offer_counts(engine) if engine is not None else {}
    rates = store.interruption_rate_counts(engine) if engine is not None else {}
    origins = store.feed_state_values(engine, ORIGIN_KEY) if engine is not None else {}
    feeds: list[FeedStatus] = []
    for feed_id, ref in sorted(registry.feeds.items()):
        good = good_runs.get(feed_id)
        interval: timedelta = ref.feed.default_interval
        feeds.append(
            FeedStatus(
                id=feed_id,
                provider=ref.provider.name,
                title=ref.feed.title or ref.provider.title or feed_id,
                interval_seconds=interval.total_seconds(),
                live_offers=live.get(feed_id, 0),
                interruption_rates=rates.get(feed_id, 0),
                last_run=latest.get(feed_id),
                last_success_at=good.finished_at if good else None,
                unknown_names=good.unknown_names if good else [],
                mirrored_from=origin_from_text(origins.get(feed_id)),
                now=now,
            )
        )
    plugins = [
        PluginStatus(
            name=p.name,
            distribution=p.distribution,
            version=p.version,
            providers=list(p.providers),
            errors=list(p.errors),
        )
        for p in registry.plugins
    ]
    return ProvidersReport(
        plugins=plugins,
        feeds=feeds,
        price_terms=price_terms_status(registry),
        store_error=store_error,
    )


def price_terms_status(registry: Registry) -> PriceTermsStatus:
    """The registry's price terms as ``providers`` shows them (never raises for a bad file)."""
    return PriceTermsStatus(
        terms=[TermStatus(label=t.label, origin=t.origin) for t in registry.price_terms],
        error=registry.terms_error,
    )
