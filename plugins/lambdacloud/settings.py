"""Settings of the Lambda provider, read from ``GPUHOURS_LAMBDA_*`` environment variables."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from aggregator.settings import GpuhoursSettings
from plugins.setting_values import blank_as_none, http_base_url

__all__ = ["DEFAULT_API_URL", "LambdaSettings"]

DEFAULT_API_URL = "https://cloud.lambdalabs.com"


class LambdaSettings(GpuhoursSettings):
    """Where Lambda's Cloud API is and the API key it wants.

    ``GPUHOURS_LAMBDA_API_KEY`` is a Lambda Cloud API key; it is a ``SecretStr`` so it never
    prints, and it travels only in the ``Authorization`` header, which the shared client never
    logs or records.
    """

    model_config = SettingsConfigDict(env_prefix="GPUHOURS_LAMBDA_", extra="ignore")

    api_url: str = Field(
        default=DEFAULT_API_URL,
        description="base URL of the Lambda Cloud API; /api/v1/instance-types is appended",
    )
    api_key: SecretStr | None = Field(default=None, description="a Lambda Cloud API key")

    @field_validator("api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_base_url(value, "GPUHOURS_LAMBDA_API_URL", DEFAULT_API_URL)

    @field_validator("api_key", mode="before")
    @classmethod
    def _empty_key_is_none(cls, value: Any) -> Any:
        return blank_as_none(value)
