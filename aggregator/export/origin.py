"""Where a mirrored store's prices come from: the export header's facts, kept in the mirror
feed's persisted state so that ``gpuhours providers`` can say what is mirrored from where and
how old it is."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from pydantic import BaseModel, Field, ValidationError

from aggregator.export.format import ExportHeader
from aggregator.models import UtcDatetime

__all__ = [
    "ORIGIN_KEY",
    "ORIGIN_PREFIX",
    "MirrorOrigin",
    "origin_from_state",
    "origin_from_text",
    "origin_state",
]

ORIGIN_PREFIX = "origin:"
"""Prefix of the feed-state keys that hold a mirror's origin."""
ORIGIN_KEY = ORIGIN_PREFIX + "export"
"""The feed-state key of the origin (its JSON)."""
_KEY = ORIGIN_KEY


class MirrorOrigin(BaseModel):
    """The export a mirror feed last stored: where from, what wrote it, and how old each of
    its feeds' data was when it was exported."""

    url: str = Field(description="the export's URL or path (secrets redacted)")
    gpuhours_version: str
    store_version: int
    exported_at: UtcDatetime
    feeds: dict[str, UtcDatetime] = Field(
        description="each feed of the exporting store: when its last good sync finished"
    )

    def oldest_sync(self) -> datetime | None:
        """When the least recently synced feed of the exporting store last synced."""
        return min(self.feeds.values(), default=None)


def origin_state(header: ExportHeader, url: str) -> dict[str, str]:
    """The feed-state entries that record ``header`` of the export read from ``url``."""
    origin = MirrorOrigin(
        url=url,
        gpuhours_version=header.gpuhours_version,
        store_version=header.store_version,
        exported_at=header.exported_at,
        feeds={feed: sync.last_success_at for feed, sync in header.feeds.items()},
    )
    return {_KEY: origin.model_dump_json()}


def origin_from_state(state: Mapping[str, str]) -> MirrorOrigin | None:
    """The origin a feed's state records, or ``None`` (not a mirror, or unreadable)."""
    return origin_from_text(state.get(_KEY))


def origin_from_text(text: str | None) -> MirrorOrigin | None:
    """The origin stored as ``text`` under :data:`ORIGIN_KEY`, or ``None``."""
    if text is None:
        return None
    try:
        return MirrorOrigin.model_validate(json.loads(text))
    except (ValueError, ValidationError):
        return None
