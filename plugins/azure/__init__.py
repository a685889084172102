"""Azure GPU prices from the public Azure Retail Prices API (no credentials needed).

Feed ``azure/retail`` (daily) reads
``GET {GPUHOURS_AZURE_PRICES_URL}?api-version=2023-01-01-preview&$filter=serviceName eq
'Virtual Machines' and startswith(armSkuName, 'Standard_N')`` (plus ``and armRegionName eq
'<region>'`` per region when ``GPUHOURS_AZURE_REGIONS`` is set) and follows ``NextPageLink``
exactly as given until it is null. The filter only narrows the download: every row is judged
again by :func:`plugins.azure.retail.classify`.

What it keeps, all regions, prices in the row's ``currencyCode``:

* on-demand, spot and low priority (``type`` Consumption; spot / low priority from the
  `` Spot`` / `` Low Priority`` suffix of ``skuName`` or ``meterName``);
* reservations, 1 and 3 years (and 5 where published): ``retailPrice`` is the whole term's
  price, so the hourly price is it divided by 8760 / 26280 / 43800 hours; ``payment`` is left
  unset and ``upfront`` 0 because Azure charges the same total upfront or monthly;
* savings plans: one offer per entry of an on-demand row's ``savingsPlan`` array (hourly).

What it skips silently: other services, rows without ``armSkuName``, non-GPU sizes, Windows
products, DevTestConsumption, Dedicated Hosts, Cloud Services, non-hourly units. A size in an
Azure GPU family (``Standard_NC*``, ``ND*``, ``NG*``, ``NV*``) that :mod:`plugins.azure.skus`
does not know is reported through ``ctx.report_unknown`` once per size and sync, never guessed.
Malformed rows (no price, unknown reservation term, contradictory spot/low-priority names) and
unresolvable duplicate prices are counted with ``ctx.reject``.

Every offer's ``source`` names its row: ``meter_id``, ``sku_id``, ``product_id``,
``arm_sku_name``, plus ``reservation_term`` and ``term_price`` (the published whole-term
price) or ``savings_plan_term``.

Settings (environment):

``GPUHOURS_AZURE_PRICES_URL``              API base, default ``https://prices.azure.com/api/retail/prices``
``GPUHOURS_AZURE_REGIONS``                 comma-separated armRegionName list; default all
``GPUHOURS_AZURE_RATELIMIT_LOW_WATER``     pause when the remaining request budget is <= this (5)
``GPUHOURS_AZURE_RATELIMIT_PAUSE_SECONDS`` length of that pause (10)
``GPUHOURS_AZURE_MAX_PAGES``               fail rather than page forever (5000)

The API sends no ETag or Last-Modified, so there is nothing to send a conditional request
with: each sync reads every page and the store's diff decides what changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any, ClassVar

from pydantic_settings import BaseSettings

from aggregator import Feed, FetchContext, Provider, hookimpl
from plugins.azure.retail import OfferSet, Sleep, classify, first_urls, iter_pages
from plugins.azure.settings import AzureSettings

__all__ = ["AzureProvider", "RetailFeed", "register_providers"]


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

        for url in first_urls(settings.prices_url, regions):
            pages = iter_pages(
                ctx.client,
                url,
                max_pages=settings.max_pages,
                low_water=settings.ratelimit_low_water,
                pause_seconds=settings.ratelimit_pause_seconds,
                sleep=self._sleep,
                on_pause=paused,
            )
            async for page in pages:
                rows += len(page.items)
                ctx.progress(advance=len(page.items), note=f"{rows} rows, {len(offers)} offers")
                for item in page.items:
                    verdict = classify(item)
                    if verdict.rejected:
                        ctx.reject(verdict.rejected, item)
                    if verdict.unknown:
                        ctx.report_unknown(
                            f"Azure VM size {verdict.unknown}", _brief(item), once=verdict.unknown
                        )
                    for priced in verdict.offers:
                        if regions and priced.key[0] not in regions:
                            continue  # the server's region filter is not trusted either
                        for dropped in offers.add(priced):
                            ctx.reject("two prices for the same offer", dropped.offer["source"])
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


@hookimpl
def register_providers(register: Callable[[Provider], None]) -> None:
    """Register the Azure provider (entry point ``gpuhours.providers``: ``azure``)."""
    register(AzureProvider())
