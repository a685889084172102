"""The export route: the store's live offers in the export format, for another gpuhours to
mirror, as ``gpuhours export`` writes them (docs/export.md).

Its ``ETag`` is the tag of the store version the body was read at, so it changes exactly when
the offers do, and a request whose ``If-None-Match`` names the current tag is answered 304
after one small read. The last body built is kept (one, per process): every mirror of an
unchanged store after the first costs no rebuild.
"""

from __future__ import annotations

import io
from typing import Annotated

from fastapi import Header, Response

from aggregator.api.routes.shared import (
    BAD_INPUT,
    READ_DENIED,
    READ_SLOTS,
    STORE_DOWN,
    as_json_errors,
    family_router,
    limited,
)
from aggregator.api.state import Service, ServiceDep
from aggregator.export import FILE_SUFFIX, MEDIA_TYPE, export_tag, write_export
from db.export_rows import export_marker

__all__ = ["ExportResponse", "export", "router"]

router = family_router("export", reads=True)


class ExportResponse(Response):
    """The export's bytes (gzip JSON Lines, never JSON: the strict JSON writer has no part)."""

    media_type = MEDIA_TYPE


_ETAG = {"ETag": {"description": "the tag of the store version exported", "schema": {}}}


def _named(if_none_match: str | None, tag: str) -> bool:
    """Whether an ``If-None-Match`` value names ``tag`` (weak or strong, or ``*``)."""
    if not if_none_match:
        return False
    given = {part.strip().removeprefix("W/") for part in if_none_match.split(",")}
    return "*" in given or tag in given


def _build(service: Service, tag: str) -> tuple[str, bytes]:
    """The export body of the store now, and its tag; the last one built when still current."""
    with service.export_lock:
        last = service.last_export
        if last is not None and last[0] == tag:
            return last
        buffer = io.BytesIO()
        summary = write_export(service.engine, buffer)
        service.last_export = (summary.tag, buffer.getvalue())
        return service.last_export


@router.get(
    "/v1/export",
    response_class=ExportResponse,
    summary="The store's live offers, for another gpuhours to mirror",
    responses={
        200: {
            "content": {MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            "description": "gzip-compressed JSON Lines: a header, offers, interruption "
            "rates, an end line (docs/export.md)",
            "headers": _ETAG,
        },
        304: {"description": "Not modified: If-None-Match names the current tag"},
        **as_json_errors({**READ_DENIED, **BAD_INPUT, **STORE_DOWN}),
    },
)
async def export(
    service: ServiceDep,
    if_none_match: Annotated[str | None, Header(max_length=1024)] = None,
) -> Response:
    """The export of the store; 304 when ``If-None-Match`` names its current ``ETag``."""
    version, last_sync = await limited("read", READ_SLOTS, export_marker, service.engine)
    tag = export_tag(version, last_sync)
    headers = {"Cache-Control": "no-cache"}
    if _named(if_none_match, tag):
        return ExportResponse(status_code=304, headers={**headers, "ETag": tag})
    tag, body = await limited("export", 1, _build, service, tag)
    filename = f"gpuhours-export{FILE_SUFFIX}"
    headers.update({"ETag": tag, "Content-Disposition": f'attachment; filename="{filename}"'})
    return ExportResponse(content=body, headers=headers)
