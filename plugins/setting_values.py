"""Checks the built-in plugins' settings share: an API base URL and an optional secret.

Used as the bodies of each settings class's validators, so every plugin says the same thing,
naming its own variable, about the same mistake.
"""

from __future__ import annotations

from typing import Any

__all__ = ["blank_as_none", "http_base_url"]


def http_base_url(value: str, variable: str, example: str | None = None) -> str:
    """``value`` stripped of spaces and of the trailing slashes the API's own paths follow;
    ValueError naming ``variable`` (and an ``example``) unless it is an http(s) URL."""
    value = value.strip().rstrip("/")
    if not value.startswith(("http://", "https://")):
        hint = f", e.g. {example}" if example else ""
        raise ValueError(f"{variable} must be an http(s) URL{hint}")
    return value


def blank_as_none(value: Any) -> Any:
    """An empty or all-blank secret (``GPUHOURS_X_API_KEY=``) counts as not set."""
    return None if isinstance(value, str) and not value.strip() else value
