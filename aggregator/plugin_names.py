"""Which plugins load: the ``GPUHOURS_PLUGINS`` allow-list, read without any settings machinery.

Commands that need only the GPU vocabulary read the variable directly (pydantic-settings alone
takes longer to import than the rest of ``gpuhours gpus``); :class:`~aggregator.settings.Settings`
reads it as ``plugins`` through the same rule.
"""

from __future__ import annotations

__all__ = ["PLUGINS_ENV", "parse_allowlist"]

PLUGINS_ENV = "GPUHOURS_PLUGINS"
"""The allow-list variable: comma-separated plugin (entry point) names; unset loads all."""


def parse_allowlist(text: str | None) -> set[str] | None:
    """Plugin names from a comma-separated list; ``None`` (load all) when unset."""
    if text is None:
        return None
    return {name.strip() for name in text.split(",") if name.strip()}
