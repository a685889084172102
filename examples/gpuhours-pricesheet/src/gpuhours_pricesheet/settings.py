"""Settings of the price-sheet provider, read from ``GPUHOURS_PRICESHEET_*`` variables."""

from __future__ import annotations

import posixpath
import urllib.parse
from typing import Any, Literal, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["NOT_CONFIGURED", "PriceSheetSettings", "SheetFormat"]

SheetFormat = Literal["yaml", "csv"]

NOT_CONFIGURED = (
    "set GPUHOURS_PRICESHEET_PATH to a price sheet: a local .yaml, .yml or .csv file, "
    "or an http(s) URL of one"
)

_SUFFIXES: dict[str, SheetFormat] = {".yaml": "yaml", ".yml": "yaml", ".csv": "csv"}


class PriceSheetSettings(BaseSettings):
    """Where the price sheet is and, when its name does not say, which format it is in."""

    model_config = SettingsConfigDict(env_prefix="GPUHOURS_PRICESHEET_", extra="ignore")

    path: str | None = Field(
        default=None,
        description="a local file (relative paths are relative to the working directory; "
        "~ is expanded) or an http(s) URL",
    )
    format: Literal["auto", "yaml", "csv"] = Field(
        default="auto", description="auto: from the name's suffix (.yaml, .yml, .csv)"
    )

    @field_validator("path", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    @field_validator("format", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _format_known(self) -> Self:
        if self.path is not None and self.format == "auto" and self._suffix_format() is None:
            raise ValueError(
                f"GPUHOURS_PRICESHEET_PATH {self.display_name!r} does not end in .yaml, .yml "
                "or .csv; set GPUHOURS_PRICESHEET_FORMAT to yaml or csv"
            )
        return self

    @property
    def is_url(self) -> bool:
        """Whether the sheet is fetched over HTTP (through gpuhours' shared client)."""
        return self.path is not None and self.path.lower().startswith(("http://", "https://"))

    @property
    def sheet_format(self) -> SheetFormat:
        """The format to parse the sheet as (``path`` must be set)."""
        if self.format != "auto":
            return self.format
        found = self._suffix_format()
        if found is None:  # excluded by the validator; kept for type checkers
            raise ValueError("the sheet's format is unknown")
        return found

    @property
    def display_name(self) -> str:
        """How messages and offers name the sheet: the path, or the URL without credentials,
        query or fragment (a private export link may carry a token there)."""
        if self.path is None:
            return ""
        if self.is_url:
            parts = urllib.parse.urlsplit(self.path)
            host = parts.netloc.rpartition("@")[2]
            return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))
        return self.path

    def _suffix_format(self) -> SheetFormat | None:
        if self.path is None:
            return None
        name = urllib.parse.urlsplit(self.path).path if self.is_url else self.path
        return _SUFFIXES.get(posixpath.splitext(name.replace("\\", "/"))[1].lower())
