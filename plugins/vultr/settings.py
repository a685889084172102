"""Settings of the Vultr provider, read from ``GPUHOURS_VULTR_*`` environment variables.

The plan lists are public, so every setting has a working default.
"""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from aggregator.settings import GpuhoursSettings
from plugins.setting_values import http_base_url

__all__ = ["DEFAULT_API_URL", "VultrSettings"]

DEFAULT_API_URL = "https://api.vultr.com"


class VultrSettings(GpuhoursSettings):
    """Where the Vultr API is (``/v2/plans`` and ``/v2/plans-metal`` are appended)."""

    model_config = SettingsConfigDict(env_prefix="GPUHOURS_VULTR_", extra="ignore")

    api_url: str = Field(
        default=DEFAULT_API_URL,
        description="base URL of the Vultr API; /v2/plans and /v2/plans-metal are appended",
    )
    max_pages: int = Field(
        default=100,
        gt=0,
        le=10_000,
        description="give up (as a failed sync) after this many pages of one list",
    )

    @field_validator("api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_base_url(value, "GPUHOURS_VULTR_API_URL")
