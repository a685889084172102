"""Every error the API answers, as one JSON shape, and the handlers that produce them.

Bad input (FastAPI's own request validation and the core's :class:`InvalidInput`) is 422
naming the field; an infeasible plan is 422 with the planner's reason; a store that cannot be
used is 503 (its message, which names the database, stays in the server log); admin denials
are 401/403; unknown routes 404/405. No handler ever puts a traceback in a response.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from aggregator.api.auth import AdminDenied
from aggregator.api.schemas import ErrorDetail, ErrorResponse, FieldError
from aggregator.errors import (
    GpuhoursError,
    InvalidInput,
    NoFeasiblePlan,
    SchemaOutdated,
    StoreError,
)
from db.migrate import check_schema

__all__ = ["error_response", "install_error_handlers"]

log = logging.getLogger("aggregator.api")


def error_response(
    status_code: int,
    kind: str,
    message: str,
    *,
    field: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An :class:`ErrorResponse` body with ``status_code``."""
    body = ErrorResponse(
        error=ErrorDetail(type=kind, message=message, field=field, errors=errors or [])
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=status_code, headers=headers)


def _field_error(error: Any) -> FieldError:
    loc = [str(part) for part in error.get("loc", ())]
    location = loc[0] if loc else None
    name = ".".join(loc[1:]) or None
    return FieldError(field=name, location=location, message=str(error.get("msg", "invalid")))


async def _validation(request: Request, exc: Exception) -> JSONResponse:
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


async def _invalid_input(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidInput)
    errors = [FieldError(field=exc.field, location=None, message=str(exc))]
    return error_response(422, type(exc).__name__, str(exc), field=exc.field, errors=errors)


async def _no_plan(request: Request, exc: Exception) -> JSONResponse:
    return error_response(422, "NoFeasiblePlan", str(exc))


async def _store_failed(request: Request, exc: Exception) -> JSONResponse:
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


async def _gpuhours_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s answering %s %s: %s", type(exc).__name__, request.method, request.url.path, exc)
    return error_response(500, type(exc).__name__, str(exc))


async def _denied(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AdminDenied)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    kind = "Unauthorized" if exc.status_code == 401 else "Forbidden"
    return error_response(exc.status_code, kind, exc.message, headers=headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:  # FastAPI's "error parsing the body": bad input like any other
        errors = [FieldError(field=None, location="body", message=str(exc.detail))]
        return error_response(422, "InvalidInput", f"body: {exc.detail}", errors=errors)
    kinds = {404: "NotFound", 405: "MethodNotAllowed"}
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
    app.add_exception_handler(AdminDenied, _denied)
    app.add_exception_handler(StarletteHTTPException, _http_error)
