"""Every error the API answers, as one JSON shape, and the handlers that produce them.

Bad input (FastAPI's own request validation and the core's :class:`InvalidInput`) is 422
naming the field; an infeasible plan is 422 with the planner's reason; a store that cannot be
used is 503 (its message, which names the database, stays in the server log); admin denials
are 401/403; unknown routes 404/405; a body over the size limit 413. No handler ever puts a
traceback in a response, nor echoes a long input whole: messages are cut at
``MAX_MESSAGE_LENGTH`` characters and validation errors never carry the offending value.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from aggregator.api.auth import AccessDenied
from aggregator.api.responses import StrictJSONResponse
from aggregator.api.schemas import ErrorDetail, ErrorResponse, FieldError
from aggregator.errors import (
    GpuhoursError,
    InvalidInput,
    NoFeasiblePlan,
    SchemaOutdated,
    StoreError,
)
from aggregator.limits import validation_message
from db.migrate import check_schema

__all__ = ["MAX_MESSAGE_LENGTH", "error_response", "install_error_handlers", "shorten"]

log = logging.getLogger("aggregator.api")

MAX_MESSAGE_LENGTH = 500
"""Longest error message sent; a longer one (quoting some huge input) is cut."""


def shorten(text: str, limit: int = MAX_MESSAGE_LENGTH) -> str:
    """``text``, cut to ``limit`` characters with a note of how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


def error_response(
    status_code: int,
    kind: str,
    message: str,
    *,
    field: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> StrictJSONResponse:
    """An :class:`ErrorResponse` body with ``status_code`` (messages shortened)."""
    short = [e.model_copy(update={"message": shorten(e.message)}) for e in errors or []]
    body = ErrorResponse(
        error=ErrorDetail(type=kind, message=shorten(message), field=field, errors=short)
    )
    return StrictJSONResponse(
        body.model_dump(mode="json"), status_code=status_code, headers=headers
    )


def _field_error(error: Any) -> FieldError:
    loc = [shorten(str(part), 100) for part in error.get("loc", ())]
    location = loc[0] if loc else None
    # A parameter is named as sent (``?region=...``), without the index of a repeated value.
    parts = loc[1:2] if location in ("query", "path", "header") else loc[1:]
    name = ".".join(parts) or None
    message = validation_message(str(error.get("msg", "invalid")))
    return FieldError(field=name, location=location, message=message)


async def _validation(request: Request, exc: Exception) -> StrictJSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [_field_error(e) for e in exc.errors()]
    first = errors[0] if errors else None
    message = "invalid request"
    if first is not None:
        message = f"{first.field or first.location}: {first.message}"
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more)"
    return error_response(
        422, "InvalidInput", message, field=first.field if first else None, errors=errors
    )


async def _invalid_input(request: Request, exc: Exception) -> StrictJSONResponse:
    assert isinstance(exc, InvalidInput)
    errors = [FieldError(field=exc.field, location=None, message=str(exc))]
    return error_response(422, type(exc).__name__, str(exc), field=exc.field, errors=errors)


async def _no_plan(request: Request, exc: Exception) -> StrictJSONResponse:
    return error_response(422, "NoFeasiblePlan", str(exc))


async def _store_failed(request: Request, exc: Exception) -> StrictJSONResponse:
    log.error("store error answering %s %s: %s", request.method, request.url.path, exc)
    if not isinstance(exc, SchemaOutdated):
        # "no such column" after a deploy usually means a schema older than the code: say so.
        engine = request.app.state.service.engine
        try:
            await run_in_threadpool(check_schema, engine)
        except SchemaOutdated as outdated:
            exc = outdated
        except Exception as probe:
            log.debug("schema probe failed too: %s", probe)
    if isinstance(exc, SchemaOutdated):
        return error_response(
            503, "SchemaOutdated", "the store's schema does not match this server's version"
        )
    return error_response(503, "StoreUnavailable", "the price store is not available")


async def _gpuhours_error(request: Request, exc: Exception) -> StrictJSONResponse:
    log.error("%s answering %s %s: %s", type(exc).__name__, request.method, request.url.path, exc)
    return error_response(500, type(exc).__name__, str(exc))


async def _denied(request: Request, exc: Exception) -> StrictJSONResponse:
    assert isinstance(exc, AccessDenied)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    kind = "Unauthorized" if exc.status_code == 401 else "Forbidden"
    return error_response(exc.status_code, kind, exc.message, headers=headers)


async def _http_error(request: Request, exc: Exception) -> StrictJSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:  # FastAPI's "error parsing the body": bad input like any other
        errors = [FieldError(field=None, location="body", message=str(exc.detail))]
        return error_response(422, "InvalidInput", f"body: {exc.detail}", errors=errors)
    kinds = {404: "NotFound", 405: "MethodNotAllowed", 413: "RequestTooLarge"}
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        # Starlette lists only the first matching route's methods; GET and POST /v1/plan are
        # two routes, and Allow must name every method the resource supports.
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return error_response(
        exc.status_code,
        kinds.get(exc.status_code, "HTTPError"),
        str(exc.detail),
        headers=headers or None,
    )


def _allowed_methods(request: Request) -> list[str]:
    allowed: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        methods = getattr(route, "methods", None)
        if match is not Match.NONE and methods:
            allowed.update(methods)
    return sorted(allowed)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers; Starlette picks the most specific class along the MRO."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(InvalidInput, _invalid_input)
    app.add_exception_handler(NoFeasiblePlan, _no_plan)
    app.add_exception_handler(StoreError, _store_failed)
    app.add_exception_handler(GpuhoursError, _gpuhours_error)
    app.add_exception_handler(AccessDenied, _denied)
    app.add_exception_handler(StarletteHTTPException, _http_error)
