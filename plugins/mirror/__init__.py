"""Mirror: another gpuhours store's prices, read from its export (``gpuhours export`` or
``GET /v1/export``), so one service syncs from the clouds and laptops and CI jobs plan on a
copy.

Registered through the ``gpuhours.providers`` entry point ``mirror = "plugins.mirror"``, as a
third-party plugin would be. Feed ``mirror/export`` (every 15 minutes; a conditional request
when the export is an URL). Settings: ``GPUHOURS_MIRROR_URL`` (an http(s) URL of another
gpuhours' ``/v1/export``, or a local export file) and ``GPUHOURS_MIRROR_TOKEN`` (sent as a
bearer token). What is kept, and which observation wins when a provider is also synced
directly: docs/team.md and docs/sync.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aggregator.hookspecs import hookimpl

if TYPE_CHECKING:
    from aggregator.providers import Provider
    from plugins.mirror.provider import MirrorFeed, MirrorProvider

__all__ = ["MirrorFeed", "MirrorProvider", "register_providers"]


@hookimpl
def register_providers(register: Callable[[Provider], None]) -> None:
    """Register the mirror provider.

    Its module (feed, export reader, settings) is imported here, not when the plugin loads:
    commands that only need the GPU vocabulary or price terms never pay for it.
    """
    from plugins.mirror.provider import MirrorProvider

    register(MirrorProvider())


def __getattr__(name: str) -> Any:
    if name in __all__:
        from plugins.mirror import provider

        return getattr(provider, name)
    raise AttributeError(f"module 'plugins.mirror' has no attribute {name!r}")
