"""Settings of the RunPod provider, read from ``GPUHOURS_RUNPOD_*`` environment variables.

The GPU types and their prices are public GraphQL fields, so no key is needed; a key, when
set, is sent as a bearer token (never logged or recorded).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from aggregator.settings import GpuhoursSettings
from plugins.setting_values import blank_as_none, http_base_url

__all__ = ["DEFAULT_API_URL", "RunpodSettings"]

DEFAULT_API_URL = "https://api.runpod.io"


class RunpodSettings(GpuhoursSettings):
    """Where the RunPod GraphQL API is (``/graphql`` is appended) and an optional key."""

    model_config = SettingsConfigDict(env_prefix="GPUHOURS_RUNPOD_", extra="ignore")

    api_url: str = Field(
        default=DEFAULT_API_URL,
        description="base URL of the RunPod API; /graphql is appended (a mirror may stand in)",
    )
    api_key: SecretStr | None = Field(default=None, description="optional RunPod API key")

    @field_validator("api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_base_url(value, "GPUHOURS_RUNPOD_API_URL")

    @field_validator("api_key", mode="before")
    @classmethod
    def _empty_key_is_none(cls, value: Any) -> Any:
        return blank_as_none(value)
