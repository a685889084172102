"""Settings of the GCP provider, read from ``GPUHOURS_GCP_*`` environment variables."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from aggregator.settings import GpuhoursSettings
from plugins.setting_values import blank_as_none

__all__ = ["DEFAULT_BILLING_URL", "GcpSettings"]

DEFAULT_BILLING_URL = "https://cloudbilling.googleapis.com"


class GcpSettings(GpuhoursSettings):
    """Where the Cloud Billing Catalog API is and the API key it wants.

    ``GPUHOURS_GCP_BILLING_URL`` may point at a mirror or a test server; the API's own paths
    and query strings are appended to it. ``GPUHOURS_GCP_API_KEY`` is a Google Cloud API key
    from a project with the Cloud Billing API enabled; it is a ``SecretStr`` so it never
    prints, and the shared HTTP client redacts ``key=`` in URLs, logs and errors.
    """

    model_config = SettingsConfigDict(env_prefix="GPUHOURS_GCP_", extra="ignore")

    billing_url: str = Field(
        default=DEFAULT_BILLING_URL, description="base URL of the Cloud Billing Catalog API"
    )
    api_key: SecretStr | None = Field(default=None, description="a Cloud Billing API key")
    max_pages: int = Field(
        default=1000,
        gt=0,
        le=100_000,
        description="give up (as a failed sync) after this many pages; set explicitly, it "
        "also replaces the limit learned from earlier syncs",
    )

    @field_validator("billing_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError(
                "GPUHOURS_GCP_BILLING_URL must be an http(s) URL, "
                "e.g. https://cloudbilling.googleapis.com"
            )
        return value

    @field_validator("api_key", mode="before")
    @classmethod
    def _empty_key_is_none(cls, value: Any) -> Any:
        return blank_as_none(value)
