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
``GPUHOURS_AZURE_MAX_PAGES``               fail rather than page forever (5000); a chain far longer
                                           than any good sync saw also fails, and setting this
                                           explicitly replaces that learned limit

The API sends no ETag or Last-Modified, so there is nothing to send a conditional request
with: each sync reads every page and the store's diff decides what changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aggregator.hookspecs import hookimpl

if TYPE_CHECKING:
    from aggregator.providers import Provider
    from plugins.azure.provider import AzureProvider, RetailFeed

__all__ = ["AzureProvider", "RetailFeed", "register_providers"]


@hookimpl
def register_providers(register: Callable[[Provider], None]) -> None:
    """Register the Azure provider (entry point ``gpuhours.providers``: ``azure``).

    The provider's module (feeds, parsers, settings) is imported here, not when the plugin
    loads: commands that only need the GPU vocabulary or price terms never pay for it.
    """
    from plugins.azure.provider import AzureProvider

    register(AzureProvider())


def __getattr__(name: str) -> Any:
    if name in __all__:
        from plugins.azure import provider

        return getattr(provider, name)
    raise AttributeError(f"module 'plugins.azure' has no attribute {name!r}")
