"""The Azure provider and its feeds, imported only when a command needs providers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import timedelta
from typing import Any, ClassVar

from pydantic_settings import BaseSettings

from aggregator import Feed, FetchContext, Provider
from plugins.azure.pages import Sleep, first_urls, iter_pages, page_chain
from plugins.azure.retail import OfferSet, classify
from plugins.azure.settings import AzureSettings

__all__ = ["AzureProvider", "RetailFeed"]


class RetailFeed(Feed):
    """``azure/retail``: every GPU price of the Retail Prices API, all purchase options."""

    name = "retail"
    title = "Azure Retail Prices: on-demand, spot, low priority, reservations, savings plans"
    default_interval = timedelta(days=1)

    def __init__(self, sleep: Sleep | None = None) -> None:
        # The pause taken when the rate-limit budget runs low; tests inject a recorder.
        self._sleep: Sleep = sleep if sleep is not None else asyncio.sleep

    async def fetch(self, ctx: FetchContext) -> AsyncIterator[Mapping[str, Any]]:
        settings = ctx.settings if isinstance(ctx.settings, AzureSettings) else AzureSettings()
        regions = settings.region_allowlist
        offers = OfferSet()
        rows = 0

        def paused(remaining: int, seconds: float) -> None:
            ctx.log.info(
                "%s: %d Retail Prices requests left in this window; pausing %.1f s",
                ctx.feed_id,
                remaining,
                seconds,
            )

        # An explicit GPUHOURS_AZURE_MAX_PAGES is the way to accept a feed that really grew.
        learned = "max_pages" not in settings.model_fields_set
        for region, url in zip(
            regions or ("",), first_urls(settings.prices_url, regions), strict=True
        ):
            pages = iter_pages(
                ctx.client,
                url,
                max_pages=settings.max_pages,
                low_water=settings.ratelimit_low_water,
                pause_seconds=settings.ratelimit_pause_seconds,
                sleep=self._sleep,
                on_pause=paused,
                chain=page_chain(
                    settings.max_pages, state=ctx.state, region=region, learned=learned
                ),
            )
            async for page in pages:
                rows += len(page.items)
                ctx.progress(advance=len(page.items), note=f"{rows} rows, {len(offers)} offers")
                for item in page.items:
                    verdict = classify(item)
                    if verdict.rejected:
                        ctx.reject(verdict.rejected, item)
                    for key in verdict.unpriced:
                        if not regions or key["region"] in regions:
                            ctx.hold(key)
                    if verdict.unknown:
                        ctx.report_unknown(
                            f"Azure VM size {verdict.unknown}", _brief(item), once=verdict.unknown
                        )
                    for priced in verdict.offers:
                        if regions and priced.key[0] not in regions:
                            continue  # the server's region filter is not trusted either
                        if page.received_at is not None:
                            priced.offer["observed_at"] = page.received_at
                        for dropped in offers.add(priced):
                            ctx.reject(
                                "two prices for the same offer",
                                dropped.offer["source"],
                                offer=dropped.offer,
                            )
        for offer in offers.offers():
            yield offer


def _brief(item: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("armSkuName", "armRegionName", "meterName", "productName", "type", "meterId")
    return {k: item.get(k) for k in keys}


class AzureProvider(Provider):
    """Microsoft Azure, priced from its public Retail Prices API."""

    name = "azure"
    title = "Microsoft Azure"
    settings_class: ClassVar[type[BaseSettings] | None] = AzureSettings

    def __init__(self, sleep: Sleep | None = None) -> None:
        self._feeds = (RetailFeed(sleep=sleep),)

    def feeds(self) -> Sequence[Feed]:
        return self._feeds
