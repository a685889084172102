"""The export format: one store's live offers and interruption rates as gzip-compressed JSON
Lines, for another store to mirror.

:mod:`.format` holds its facts (name, version, header and end lines, tag, JSON Schema),
:mod:`.write` writes one from a store snapshot (``gpuhours export``, ``GET /v1/export``),
:mod:`.read` reads one line by line (the ``mirror`` provider), :mod:`.origin` records where a
mirror's prices came from. docs/export.md describes the format.
"""

from __future__ import annotations

from aggregator.export.format import (
    FILE_SUFFIX,
    FORMAT_NAME,
    FORMAT_VERSION,
    MEDIA_TYPE,
    ExportEnd,
    ExportHeader,
    export_json_schema,
    export_tag,
)
from aggregator.export.write import ExportSummary, write_export

__all__ = [
    "FILE_SUFFIX",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MEDIA_TYPE",
    "ExportEnd",
    "ExportHeader",
    "ExportSummary",
    "export_json_schema",
    "export_tag",
    "write_export",
]
