"""Vultr GPU prices from its public plan lists (no credentials needed).

Feed ``vultr/plans`` (daily): hourly and preemptible prices of the cloud GPU plans of
``/v2/plans`` and the GPU bare-metal plans of ``/v2/plans-metal``, per location
(:mod:`plugins.vultr.plans`). Settings: ``GPUHOURS_VULTR_API_URL``,
``GPUHOURS_VULTR_MAX_PAGES``. How offers map: docs/providers/vultr.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aggregator.hookspecs import hookimpl

if TYPE_CHECKING:
    from aggregator.providers import Provider
    from plugins.vultr.provider import PlansFeed, VultrProvider

__all__ = ["PlansFeed", "VultrProvider", "register_providers"]


@hookimpl
def register_providers(register: Callable[[Provider], None]) -> None:
    """Register the Vultr provider (entry point ``gpuhours.providers``: ``vultr``)."""
    from plugins.vultr.provider import VultrProvider

    register(VultrProvider())


def __getattr__(name: str) -> Any:
    if name in __all__:
        from plugins.vultr import provider

        return getattr(provider, name)
    raise AttributeError(f"module 'plugins.vultr' has no attribute {name!r}")
