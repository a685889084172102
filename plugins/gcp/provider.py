"""The Google Cloud provider and its feeds, imported only when a command needs providers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from pydantic_settings import BaseSettings

from aggregator import Feed, Provider
from plugins.gcp.feed import CatalogFeed
from plugins.gcp.settings import GcpSettings

__all__ = ["NOT_CONFIGURED", "GcpProvider"]

NOT_CONFIGURED = "set GPUHOURS_GCP_API_KEY to a Cloud Billing API key"


class GcpProvider(Provider):
    """Google Cloud: one feed, ``gcp/catalog``, that needs an API key."""

    name: ClassVar[str] = "gcp"
    title: ClassVar[str] = "Google Cloud"
    settings_class: ClassVar[type[BaseSettings] | None] = GcpSettings

    def feeds(self) -> Sequence[Feed]:
        return [CatalogFeed()]

    def missing_credentials(self, settings: BaseSettings | None) -> str | None:
        if not isinstance(settings, GcpSettings) or settings.api_key is None:
            return NOT_CONFIGURED
        return None
