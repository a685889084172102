"""The installed gpuhours version, as its distribution's metadata says."""

from __future__ import annotations

from importlib import metadata

__all__ = ["DISTRIBUTION", "gpuhours_version"]

DISTRIBUTION = "gpuhours"
"""The name gpuhours is installed under; its own plugins come from this distribution."""


def gpuhours_version() -> str:
    """``0.1.0``; ``0+unknown`` when running from a source tree that is not installed."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # pragma: no cover - an uninstalled source tree
        return "0+unknown"
