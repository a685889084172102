"""Settings of the core, read from ``GPUHOURS_*`` environment variables.

Provider plugins declare their own settings classes (same prefix); this one holds only what
the core uses. Secrets are ``SecretStr`` so they never print.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from aggregator.errors import ConfigurationError
from aggregator.limits import validation_message
from aggregator.plugin_names import parse_allowlist

__all__ = [
    "DATABASE_SCHEMES",
    "GpuhoursSettings",
    "Settings",
    "describe_settings_error",
    "get_settings",
]

DATABASE_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgres", "postgresql", "postgresql+psycopg")
"""URL schemes of the stores gpuhours runs on: SQLite and PostgreSQL (through psycopg 3)."""
_SECRET_WORDS = ("token", "key", "password", "secret", "database_url")
_MAX_ECHO = 60
_SETTINGS_FIELD = re.compile(r'field "([^"]+)"')


def describe_settings_error(exc: ValidationError, prefix: str) -> str:
    """One line naming each bad environment variable, its value (unless it may hold a secret)
    and what it accepts: ``GPUHOURS_HTTP_RETRIES='abc': Input should be a valid integer ...``."""
    parts = []
    for error in exc.errors(include_url=False):
        name = prefix + "_".join(str(p) for p in error["loc"]).upper()
        message = validation_message(error["msg"]).removeprefix(name).lstrip(": ")
        value = error.get("input")
        if isinstance(value, str) and not any(w in name.lower() for w in _SECRET_WORDS):
            shown = value if len(value) <= _MAX_ECHO else value[:_MAX_ECHO] + "..."
            name += f"={shown!r}"
        parts.append(f"{name}: {message}")
    return "; ".join(parts)


class GpuhoursSettings(BaseSettings):
    """Base of every settings class of gpuhours and its plugins: a bad value raises
    :class:`ConfigurationError` naming the variable (exit 2 on the CLI), never a pydantic
    dump; NaN and infinities are refused. Subclasses set ``env_prefix`` (``GPUHOURS_...``)."""

    model_config = SettingsConfigDict(env_prefix="GPUHOURS_", extra="ignore", allow_inf_nan=False)

    def __init__(self, **values: Any) -> None:
        prefix = str(self.model_config.get("env_prefix", ""))
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigurationError(describe_settings_error(exc, prefix)) from None
        except SettingsError as exc:  # a complex value (JSON) that does not parse
            field = _SETTINGS_FIELD.search(str(exc))
            name = prefix + (field[1].upper() if field else "")
            raise ConfigurationError(f"{name}: not valid JSON ({exc.__cause__ or exc})") from None


class Settings(GpuhoursSettings):
    """The core's settings."""

    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file under data_dir"
    )
    data_dir: Path = Field(default_factory=lambda: platformdirs.user_data_path("gpuhours"))
    plugins: str | None = Field(
        default=None, description="comma-separated allow-list of plugin (entry point) names"
    )
    http_connect_timeout: float = Field(default=10.0, gt=0)
    http_read_timeout: float = Field(default=60.0, gt=0)
    http_retries: int = Field(default=5, ge=0)
    http_max_retry_wait: float = Field(
        default=120.0, ge=0, description="cap on the total time spent waiting between retries"
    )
    http_total_timeout: float = Field(
        default=3600.0,
        gt=0,
        description="most seconds one request may take, connect to last byte (a 500 MB offer "
        "file at 2 Mbit/s fits)",
    )
    sync_feed_timeout: float = Field(
        default=7200.0, gt=0, description="most seconds one feed's sync may take, all requests"
    )
    sync_price_jump_share: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="a sync moving more than this share of a feed's existing prices by more "
        "than sync_price_jump_factor fails as suspicious",
    )
    sync_price_jump_factor: float = Field(
        default=10.0, gt=1, description="how far (up or down) a price must move to count"
    )
    sync_max_reject_share: float = Field(
        default=0.2, ge=0, le=1, description="a sync rejecting more than this share fails"
    )
    sync_min_share_of_last: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="a sync returning fewer offers than this share of the last good one fails",
    )
    admin_token: SecretStr | None = None
    api_read_token: SecretStr | None = Field(
        default=None,
        description="when set, the API's read routes need it as a bearer token "
        "(docs/api.md); unset: they are open",
    )
    terms_file: Path | None = Field(
        default=None,
        description="TOML file of your negotiated price terms, applied when planning "
        "(docs/plugins.md, 'Your own prices'); unset or empty: none",
    )

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        scheme, separator, _ = value.strip().partition("://")
        if not separator or scheme.lower() not in DATABASE_SCHEMES:
            given = f"names a {scheme!r} database" if separator else "is not a database URL"
            raise ValueError(
                f"{given}; gpuhours stores prices in SQLite or PostgreSQL: use sqlite:///PATH "
                "or postgresql://USER@HOST/DATABASE"
            )
        return value.strip()

    @field_validator("terms_file", mode="before")
    @classmethod
    def _empty_terms_file_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def plugin_allowlist(self) -> set[str] | None:
        return parse_allowlist(self.plugins)

    def sqlite_path(self) -> Path:
        return self.data_dir / "gpuhours.db"

    def store_url(self) -> str:
        """``database_url``, else the SQLite file of :meth:`sqlite_path`."""
        return self.database_url or f"sqlite:///{self.sqlite_path()}"


def get_settings() -> Settings:
    """Fresh settings from the environment (cheap; not cached so tests can change env)."""
    return Settings()
