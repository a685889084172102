"""When a recording's prices were seen at their source: the ``OBSERVED_AT.json`` of a replay.

A recording made by ``--record`` has none (its prices count as seen when replayed); a shipped
snapshot has one, so its prices keep their real age.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from aggregator.errors import ConfigurationError

__all__ = ["OBSERVED_AT_FILE", "load_observed_at"]

OBSERVED_AT_FILE = "OBSERVED_AT.json"


def load_observed_at(directory: Path) -> dict[str, datetime]:
    """Per-feed times a recording's prices were seen, from ``OBSERVED_AT.json`` if present."""
    path = directory / OBSERVED_AT_FILE
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text())
        return {str(k): datetime.fromisoformat(v) for k, v in raw.items()}
    except (ValueError, AttributeError, TypeError) as exc:
        raise ConfigurationError(f"{path} is not a valid observed-at map: {exc}") from None
