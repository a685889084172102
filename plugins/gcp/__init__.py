"""Google Cloud (Compute Engine) GPU prices from the Cloud Billing Catalog API.

Feed ``gcp/catalog`` (daily) reads every Compute Engine SKU and composes the hourly price of
each GPU machine type in :mod:`plugins.gcp.machines` from the SKUs of its parts
(:mod:`plugins.gcp.compose`): on demand, spot, and committed use for 1 and 3 years. Settings:
``GPUHOURS_GCP_API_KEY`` (required and a secret, never logged; without it the feed is not
configured and the other providers sync as usual), ``GPUHOURS_GCP_BILLING_URL`` and
``GPUHOURS_GCP_MAX_PAGES``. Which SKUs count, how prices are composed, what is skipped, and
the defaults: docs/providers/gcp.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aggregator.hookspecs import hookimpl

if TYPE_CHECKING:
    from aggregator.providers import Provider
    from plugins.gcp.provider import NOT_CONFIGURED, GcpProvider

__all__ = ["NOT_CONFIGURED", "GcpProvider", "register_providers"]


@hookimpl
def register_providers(register: Callable[[Provider], None]) -> None:
    """Register the Google Cloud provider.

    The provider's module (feeds, parsers, settings) is imported here, not when the plugin
    loads: commands that only need the GPU vocabulary or price terms never pay for it.
    """
    from plugins.gcp.provider import GcpProvider

    register(GcpProvider())


def __getattr__(name: str) -> Any:
    if name in __all__:
        from plugins.gcp import provider

        return getattr(provider, name)
    raise AttributeError(f"module 'plugins.gcp' has no attribute {name!r}")
