"""Settings of the mirror provider, read from ``GPUHOURS_MIRROR_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from aggregator.settings import GpuhoursSettings

__all__ = ["MirrorSettings"]


class MirrorSettings(GpuhoursSettings):
    """Which export to mirror, and the token its server asks for."""

    model_config = SettingsConfigDict(env_prefix="GPUHOURS_MIRROR_", extra="ignore")

    url: str | None = Field(
        default=None,
        description="the export to mirror: an http(s) URL of another gpuhours' /v1/export, "
        "or the path (or file:// URL) of a file `gpuhours export` wrote; unset: no mirror",
    )
    token: SecretStr | None = Field(
        default=None,
        description="sent as 'Authorization: Bearer <token>' (the server's "
        "GPUHOURS_API_READ_TOKEN); never logged or recorded",
    )

    @field_validator("url")
    @classmethod
    def _url_or_path(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        scheme, separator, _ = value.partition("://")
        if separator and scheme.lower() not in ("http", "https", "file"):
            raise ValueError(
                f"names a {scheme!r} URL; give an http(s) URL of another gpuhours' "
                "/v1/export or the path of an export file"
            )
        return value

    @property
    def is_http(self) -> bool:
        return self.url is not None and self.url.lower().startswith(("http://", "https://"))

    @property
    def path(self) -> Path:
        """The export file a non-http ``url`` names."""
        assert self.url is not None
        return Path(self.url[len("file://") :] if self.url.startswith("file://") else self.url)
