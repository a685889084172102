"""Settings of the OCI provider, read from ``GPUHOURS_OCI_*`` environment variables.

Oracle's price list needs no credentials, so every setting has a working default and the
provider is always configured.
"""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from aggregator.settings import GpuhoursSettings
from plugins.setting_values import http_base_url

__all__ = ["DEFAULT_API_URL", "OciSettings"]

DEFAULT_API_URL = "https://apexapps.oracle.com/pls/apex/cetools/api/v1"


class OciSettings(GpuhoursSettings):
    """Where Oracle's public price list is, in which currency to read it, how far to page."""

    model_config = SettingsConfigDict(env_prefix="GPUHOURS_OCI_", extra="ignore")

    api_url: str = Field(
        default=DEFAULT_API_URL,
        description="base URL of the price list API; /products/ is appended (a mirror or test "
        "server may stand in)",
    )
    currency: str = Field(
        default="USD",
        pattern=r"^[A-Z]{3}$",
        description="ISO currency code of the price list to read (Oracle publishes several)",
    )
    max_pages: int = Field(
        default=100,
        gt=0,
        le=10_000,
        description="give up (as a failed sync) after this many pages",
    )

    @field_validator("api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_base_url(value, "GPUHOURS_OCI_API_URL", DEFAULT_API_URL)
