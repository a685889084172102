"""Settings of the Azure provider, read from ``GPUHOURS_AZURE_*`` environment variables.

The Retail Prices API needs no credentials, so every setting has a working default and the
provider is always configured.
"""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from aggregator.settings import GpuhoursSettings

__all__ = ["DEFAULT_PRICES_URL", "AzureSettings"]

DEFAULT_PRICES_URL = "https://prices.azure.com/api/retail/prices"


class AzureSettings(GpuhoursSettings):
    """Where the Azure Retail Prices API lives and how politely to page through it."""

    model_config = SettingsConfigDict(env_prefix="GPUHOURS_AZURE_", extra="ignore")

    prices_url: str = Field(
        default=DEFAULT_PRICES_URL,
        description="base URL of the Retail Prices API (a mirror or test server may stand in)",
    )
    regions: str | None = Field(
        default=None,
        description="comma-separated armRegionName allow-list (eastus2,westeurope); "
        "default: all regions",
    )
    ratelimit_low_water: int = Field(
        default=5,
        ge=0,
        description="pause before the next page when "
        "x-ms-ratelimit-remaining-retailPrices-requests is at or below this",
    )
    ratelimit_pause_seconds: float = Field(
        default=10.0, ge=0, description="how long to pause when the remaining budget is low"
    )
    max_pages: int = Field(
        default=5000,
        gt=0,
        description="give up (as a failed sync) after this many pages: a server that never "
        "stops paging must not hold the sync forever",
    )

    @field_validator("prices_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(("http://", "https://")):
            raise ValueError("GPUHOURS_AZURE_PRICES_URL must be an http(s) URL")
        return value

    @property
    def region_allowlist(self) -> tuple[str, ...]:
        """The regions to fetch, in the order given; empty means all."""
        if not self.regions:
            return ()
        names = (r.strip() for r in self.regions.split(","))
        return tuple(dict.fromkeys(n for n in names if n))
