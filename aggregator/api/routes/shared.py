"""What every route family shares: its router's defaults, response declarations and helpers.

Every family's router rejects unknown query parameters and answers through the strict JSON
response class. Store reads and plans run in the thread pool behind a few slots each. Responses
that carry prices say how old they are: the ``X-Data-Age-Seconds`` header (and
``data_age_seconds`` where the body has room) is the time since the *oldest* price in the
response was last confirmed at its source.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import anyio.to_thread
import pydantic
from fastapi import APIRouter, Depends, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError

from aggregator.api.auth import require_reader
from aggregator.api.responses import StrictJSONResponse, json_response
from aggregator.api.schemas import DATA_AGE_HEADER, ErrorResponse
from aggregator.models import utcnow

__all__ = [
    "BAD_INPUT",
    "DATA_AGE",
    "JSON",
    "PLAN_SLOTS",
    "READ_DENIED",
    "READ_SLOTS",
    "STORE_DOWN",
    "Responses",
    "age_seconds",
    "as_json_errors",
    "error_doc",
    "family_router",
    "json_with_age",
    "limited",
    "set_age",
]


def _known_query_names(dependant: Dependant) -> frozenset[str]:
    names: set[str] = set()
    pending = [dependant]
    while pending:
        current = pending.pop()
        pending.extend(current.dependencies)
        for param in current.query_params:
            model = param.field_info.annotation
            if isinstance(model, type) and issubclass(model, pydantic.BaseModel):
                names.update(f.alias or n for n, f in model.model_fields.items())
            else:
                names.add(param.alias)
    return frozenset(names)


READ_SLOTS = 2
PLAN_SLOTS = 1
"""How many offer reads and plans one process runs at once.

Python's sqlite3 and the row decoding hold the GIL for most of a read, and planning is CPU
work under the GIL too; many threadpool threads doing either at once only contend for it
(measured in-process: plans/s fell from ~75 on one thread to ~45 on four). A request beyond
these slots waits its turn; processes (``--workers``) add parallelism.
"""
_limiters: dict[str, anyio.CapacityLimiter] = {}


async def limited(kind: str, slots: int, fn: Any, *args: Any) -> Any:
    """``fn(*args)`` in the thread pool, at most ``slots`` of this ``kind`` at once."""
    limiter = _limiters.get(kind)
    if limiter is None:  # made lazily: a limiter belongs to the running event loop
        limiter = _limiters[kind] = anyio.CapacityLimiter(slots)
    return await anyio.to_thread.run_sync(fn, *args, limiter=limiter)


async def _reject_unknown_query_parameters(request: Request) -> None:
    """A misspelt filter (``?gpus=H100`` on /v1/offers) is 422, not silently ignored."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None or not request.query_params:
        return
    known: frozenset[str] | None = getattr(route, "_gpuhours_query_names", None)
    if known is None:
        known = _known_query_names(dependant)
        setattr(route, "_gpuhours_query_names", known)  # noqa: B010 - a cache on the route
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", name),
                    "msg": "unknown query parameter",
                    "type": "extra_forbidden",
                }
                for name in unknown
            ]
        )


def family_router(tag: str, *, reads: bool = False) -> APIRouter:
    """The router of one family of routes, each of them documented under ``tag``;
    ``reads``: its routes read the catalog and need the read token when one is set."""
    dependencies = [Depends(_reject_unknown_query_parameters)]
    responses: Responses = {}
    if reads:
        dependencies.append(Depends(require_reader))
        responses.update(READ_DENIED)
    return APIRouter(
        tags=[tag],
        dependencies=dependencies,
        default_response_class=StrictJSONResponse,
        responses=responses,
    )


# FastAPI serializes a returned model in pydantic's JSON mode (NaN -> null) unless a route
# names its response class, so every JSON route passes ``response_class=JSON`` explicitly.
JSON = StrictJSONResponse


def error_doc(description: str) -> dict[str, Any]:
    """The OpenAPI declaration of an error response."""
    return {"model": ErrorResponse, "description": description}


def as_json_errors(responses: Responses) -> Responses:
    """``responses`` declared as JSON whatever the route's own media type (FastAPI files an
    error model under the route's response class, gzip for the export)."""
    ref = {"$ref": f"#/components/schemas/{ErrorResponse.__name__}"}
    return {
        code: {"description": doc["description"], "content": {"application/json": {"schema": ref}}}
        for code, doc in responses.items()
    }


Responses = dict[int | str, dict[str, Any]]
BAD_INPUT: Responses = {422: error_doc("Bad input: the error names the field")}
READ_DENIED: Responses = {401: error_doc("The server sets a read token and the request lacks it")}
STORE_DOWN: Responses = {
    503: error_doc("The price store is unavailable or its schema is not current")
}
DATA_AGE = {
    DATA_AGE_HEADER: {
        "description": "Seconds since the oldest price in the response was confirmed at its "
        "source (absent when the response holds no price)",
        "schema": {"type": "integer"},
    }
}


def json_with_age(body: pydantic.BaseModel, age: float | None, status_code: int = 200) -> Response:
    """``body`` serialized once, with its data age header.

    Returning a ready :class:`Response` skips FastAPI's second validation of a model this code
    has just built (and that validation's extra hop through the thread pool): about an eighth
    of an offers request. ``response_model`` on the route still documents the body.
    """
    response = json_response(body, status_code)
    set_age(response, age)
    return response


def age_seconds(times: Iterable[datetime | None]) -> float | None:
    """Seconds since the oldest of ``times`` (``None`` where none is known)."""
    known = [t for t in times if t is not None]
    if not known:
        return None
    return max(0.0, (utcnow() - min(known)).total_seconds())


def set_age(response: Response, age: float | None) -> None:
    """The data age header on ``response``, when there is an age."""
    if age is not None:
        response.headers[DATA_AGE_HEADER] = str(int(age))
