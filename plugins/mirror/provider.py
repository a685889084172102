"""The mirror provider and its feed, imported only when a command needs providers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from pydantic_settings import BaseSettings

from aggregator import Feed, Provider
from plugins.mirror.feed import MirrorFeed
from plugins.mirror.settings import MirrorSettings

__all__ = ["MirrorFeed", "MirrorProvider"]


class MirrorProvider(Provider):
    """Another gpuhours store, through its export."""

    name: ClassVar[str] = "mirror"
    title: ClassVar[str] = "Mirror of another gpuhours store"
    settings_class: ClassVar[type[BaseSettings] | None] = MirrorSettings

    def feeds(self) -> Sequence[Feed]:
        return (MirrorFeed(),)

    def not_configured_reason(self, settings: BaseSettings | None) -> str | None:
        assert isinstance(settings, MirrorSettings)
        if settings.url is None:
            return (
                "set GPUHOURS_MIRROR_URL to another gpuhours' export "
                "(https://HOST/v1/export, or a file `gpuhours export` wrote)"
            )
        return None
