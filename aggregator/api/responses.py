"""JSON responses written by :func:`aggregator.json_text.dumps`, the one strict JSON writer.

FastAPI's default for a ``response_model`` serializes through pydantic's JSON mode, which
writes ``null`` for NaN and infinities; every JSON route here answers through
:class:`StrictJSONResponse` instead, so a non-finite number raises
:class:`~aggregator.json_text.NonFiniteNumber` (a logged 500) rather than reaching a client.
``model_dump(mode="json")`` keeps such floats as floats, for ``dumps`` to refuse.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from starlette.responses import JSONResponse

from aggregator.json_text import dumps

__all__ = ["StrictJSONResponse", "json_response"]


class StrictJSONResponse(JSONResponse):
    """``application/json`` through :func:`aggregator.json_text.dumps` (compact)."""

    def render(self, content: Any) -> bytes:
        if isinstance(content, BaseModel):
            content = content.model_dump(mode="json")
        return dumps(content, compact=True).encode("utf-8")


def json_response(
    body: BaseModel, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> StrictJSONResponse:
    """``body`` as a strict JSON response."""
    return StrictJSONResponse(body.model_dump(mode="json"), status_code, headers=headers)
