"""The export format's facts: its name and version, its header and end lines, its tag and
its JSON Schema. docs/export.md describes it for readers in other languages."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from aggregator.interruptions import InterruptionRate
from aggregator.models import Offer, PastInterval, UtcDatetime

__all__ = [
    "FILE_SUFFIX",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MAX_LINES",
    "MAX_LINE_BYTES",
    "MEDIA_TYPE",
    "ExportEnd",
    "ExportHeader",
    "FeedLastSync",
    "export_json_schema",
    "export_tag",
]

FORMAT_NAME: Literal["gpuhours-export"] = "gpuhours-export"
FORMAT_VERSION = 2
"""Raised whenever a line's meaning changes or a reader must learn something new to read it
right; a reader refuses versions above its own. 2: offers gained ``available_in``."""
MEDIA_TYPE = "application/gzip"
FILE_SUFFIX = ".jsonl.gz"
MAX_LINE_BYTES = 1024 * 1024
"""Longest line a reader accepts (an offer line is under 1 KiB): a longer one is corruption,
and the bound keeps a reader's memory bounded whatever it is sent."""
MAX_LINES = 5_000_000
"""Most lines a reader accepts (a full catalog of the three big clouds is about 100,000)."""


class FeedLastSync(BaseModel):
    """A feed of the exporting store and when its last good sync finished."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str
    last_success_at: UtcDatetime


class ExportHeader(BaseModel):
    """The first line: what wrote the export and what its offers are as of."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["header"] = "header"
    format: Literal["gpuhours-export"] = "gpuhours-export"
    format_version: int = Field(default=FORMAT_VERSION, ge=1)
    gpuhours_version: str = Field(min_length=1, max_length=100)
    schema_version: str | None = Field(max_length=100, description="the store's schema")
    store_version: int = Field(ge=0, description="rises with every change of the offers")
    exported_at: UtcDatetime
    feeds: dict[str, FeedLastSync] = Field(
        description="each feed of the exporting store with a good sync, by feed id"
    )


class ExportEnd(BaseModel):
    """The last line: how many lines of each kind came before it, so a cut file is noticed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["end"] = "end"
    offers: int = Field(ge=0)
    interruption_rates: int = Field(ge=0)


def export_tag(store_version: int, first_sync: datetime | None) -> str:
    """The export's ``ETag``: it changes with the store version (every sync that writes a
    row) and the format version, and only then; the start of the store's first sync tells
    apart two stores that happen to be at one version."""
    stamp = first_sync.isoformat() if first_sync else ""
    digest = hashlib.sha256(f"{store_version}|{stamp}".encode()).hexdigest()[:12]
    return f'"{FORMAT_VERSION}-{store_version}-{digest}"'


def _line(model: type[BaseModel], kind: str, extra: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.pop("title", None)
    properties = {"kind": {"const": kind}, **extra, **schema["properties"]}
    return {
        **schema,
        "properties": properties,
        "required": ["kind", *extra, *schema.get("required", [])],
        "additionalProperties": False,
    }


def export_json_schema() -> dict[str, Any]:
    """The JSON Schema every line of an export validates against (``docs/export.schema.json``
    is this, written out; a test keeps the two equal)."""
    interval = PastInterval.model_json_schema()
    interval.pop("title", None)
    offer = _line(
        Offer,
        "offer",
        {
            "id": {"type": "string", "minLength": 1},
            "first_seen": {"type": "string", "format": "date-time"},
            "history": {
                "type": "array",
                "minItems": 1,
                "items": {"$ref": "#/$defs/PastInterval"},
                "description": "the offer's price intervals, oldest first; the last is open",
            },
        },
    )
    rate = _line(InterruptionRate, "interruption_rate", {})
    lines: dict[str, Any] = {
        "header": ExportHeader.model_json_schema(),
        "offer": offer,
        "interruption_rate": rate,
        "end": ExportEnd.model_json_schema(),
    }
    defs: dict[str, Any] = {"PastInterval": interval}
    for schema in lines.values():
        defs.update(schema.pop("$defs", {}))
        schema.pop("title", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://gpuhours.dev/schemas/{FORMAT_NAME}-{FORMAT_VERSION}.json",
        "title": f"{FORMAT_NAME} version {FORMAT_VERSION}: one line (JSON Lines, gzip)",
        "description": "Each line of an export is one of these objects, told apart by "
        "`kind`: one header first, then offers and interruption rates, one end line last.",
        "oneOf": [{"$ref": f"#/$defs/{name}_line"} for name in lines],
        "$defs": {**defs, **{f"{name}_line": schema for name, schema in lines.items()}},
    }
