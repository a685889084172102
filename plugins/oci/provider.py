"""The OCI provider and its feed, imported only when a command needs providers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from pydantic_settings import BaseSettings

from aggregator import Feed, Provider
from plugins.oci.feed import PriceListFeed
from plugins.oci.settings import OciSettings

__all__ = ["OciProvider"]


class OciProvider(Provider):
    """Oracle Cloud Infrastructure: one feed, ``oci/price-list``, with no credentials."""

    name: ClassVar[str] = "oci"
    title: ClassVar[str] = "Oracle Cloud Infrastructure"
    settings_class: ClassVar[type[BaseSettings] | None] = OciSettings

    def feeds(self) -> Sequence[Feed]:
        return [PriceListFeed()]
