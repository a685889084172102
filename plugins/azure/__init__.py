"""Azure GPU prices from the public Azure Retail Prices API (no credentials needed).

Feed ``azure/retail`` (daily): Virtual Machines prices of the ``Standard_N*`` sizes, every page
followed through ``NextPageLink`` exactly as given (:mod:`plugins.azure.pages`), every row
judged by :func:`plugins.azure.retail.classify` against the size table
:mod:`plugins.azure.skus`. Settings: ``GPUHOURS_AZURE_PRICES_URL``,
``GPUHOURS_AZURE_REGIONS``, ``GPUHOURS_AZURE_RATELIMIT_LOW_WATER``,
``GPUHOURS_AZURE_RATELIMIT_PAUSE_SECONDS`` and ``GPUHOURS_AZURE_MAX_PAGES``. Which rows count,
how reservation prices are read, and the defaults: docs/providers/azure.md.
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
