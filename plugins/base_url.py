"""Checking an API base-URL setting: an http(s) URL, without the trailing slash the API's own
paths are appended after. Shared by the RunPod and Vultr settings."""

from __future__ import annotations

__all__ = ["http_base_url"]


def http_base_url(value: str, variable: str) -> str:
    """``value`` stripped of spaces and trailing slashes; ValueError naming ``variable``."""
    value = value.strip().rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{variable} must be an http(s) URL")
    return value
