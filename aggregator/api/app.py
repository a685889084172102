"""The FastAPI application: wiring, error handling and per-request bookkeeping.

:func:`create_app` is a factory (``uvicorn --factory aggregator.api:create_app``) that tests
give a store and a registry; a service opens the configured store itself. It starts even when
the store is down or outdated, so ``/readyz`` can say why. :class:`RequestBookkeeping` gives
every response an ``X-Request-Id``, counts it by route template, logs 5xx and slow answers, and
turns an unhandled exception into a JSON 500 naming the request id. What each failure answers
and how long answers are shared: docs/api.md.
"""

from __future__ import annotations

import functools
import gc
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from sqlalchemy import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aggregator import catalog, web
from aggregator.api.body_limit import BodyLimit
from aggregator.api.cache import AnswerCache, ApiSettings, StoreVersion
from aggregator.api.errors import error_response, install_error_handlers
from aggregator.api.metrics import RequestMetrics
from aggregator.api.responses import StrictJSONResponse
from aggregator.api.routes import router
from aggregator.api.schemas import ErrorResponse
from aggregator.api.state import Service
from aggregator.errors import GpuhoursError
from aggregator.plugins import Registry, load_registry
from aggregator.scheduler import SchedulerSettings
from aggregator.settings import Settings
from aggregator.store_access import open_store
from aggregator.version import gpuhours_version
from db.migrate import head_revision

__all__ = ["SLOW_REQUEST_SECONDS", "RequestBookkeeping", "create_app"]

log = logging.getLogger("aggregator.api")

SLOW_REQUEST_SECONDS = 1.0
_REQUEST_ID = "x-request-id"


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    registry: Registry | None = None,
    schedule: SchedulerSettings | None = None,
    api: ApiSettings | None = None,
) -> FastAPI:
    """The gpuhours HTTP API over ``engine`` (default: the configured store).

    ``schedule`` (the feeds' intervals, shown by ``/v1/providers`` and ``/metrics``) and
    ``api`` (the answer memo) default to what ``GPUHOURS_*`` variables say. Raises
    :class:`~aggregator.errors.InvalidInput` when the price terms file has a mistake.
    """
    settings = settings or Settings()
    api = api or ApiSettings()
    owns_engine = engine is None
    if engine is None:
        engine = _open_store(settings)
    service = Service(
        settings=settings,
        engine=engine,
        registry=registry if registry is not None else load_registry(settings),
        schedule=schedule or SchedulerSettings(),
        required_revision=head_revision(),
        answers=AnswerCache(api.api_cache_seconds, api.api_cache_entries),
        version=StoreVersion(
            functools.partial(catalog.store_version, engine), api.api_version_check_seconds
        ),
        owns_engine=owns_engine,
    )
    # A terms file with a mistake stops start-up in every worker, however the app is started,
    # rather than failing each plan request later (InvalidInput names the term and the key).
    service.registry.active_terms()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Everything loaded so far (modules, plugins, the app) lives as long as the process;
        # moving it out of the collector's reach keeps full collections from walking ~100k
        # long-lived objects in the middle of a request (50-70 ms pauses measured at p99).
        gc.collect()
        gc.freeze()
        yield
        if service.owns_engine:
            service.engine.dispose()

    # FastAPIOffline: /docs and /redoc load Swagger UI and ReDoc from files this server serves,
    # not from a CDN, so they work offline.
    app = FastAPIOffline(
        title="gpuhours",
        summary="The cheapest way to buy N GPU-hours across the clouds and GPU clouds.",
        version=gpuhours_version(),
        lifespan=lifespan,
        default_response_class=StrictJSONResponse,
        responses={
            413: {"model": ErrorResponse, "description": "Request body over the size limit"},
            500: {"model": ErrorResponse, "description": "Unexpected server error"},
        },
    )
    app.state.service = service
    app.include_router(router)
    web.install(app)
    install_error_handlers(app)
    app.add_middleware(BodyLimit)  # inside the bookkeeping: 413s are counted and carry an id
    app.add_middleware(RequestBookkeeping, metrics=service.metrics)
    return app


def _open_store(settings: Settings) -> Engine:
    try:
        return open_store(settings)
    except GpuhoursError as exc:
        log.warning("the store is not usable yet (/readyz reports it): %s", exc)
        return open_store(settings, check=False)


# -- per-request bookkeeping ---------------------------------------------------------------------


class RequestBookkeeping:
    """Pure ASGI middleware: request id, metrics, logging of failures, last-resort 500.

    An exception no handler took is logged with its traceback and answered with a JSON 500
    here, inside Starlette's own error middleware, so it is neither shown to the client nor
    raised again into the server.
    """

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        clock = time.perf_counter()
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        state = {"status": 500, "started": False}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                state["started"] = True
                headers = list(message.get("headers", []))
                headers.append((_REQUEST_ID.encode(), request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception(
                "unhandled error",
                extra={"request_id": request_id, "method": scope["method"], "path": scope["path"]},
            )
            if not state["started"]:
                response = error_response(
                    500,
                    "InternalError",
                    f"internal error; the server log has the details (request id {request_id})",
                    headers={_REQUEST_ID: request_id},
                )
                await response(scope, receive, send)
                state["status"] = 500
        finally:
            seconds = time.perf_counter() - clock
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            status = int(state["status"])
            self.metrics.observe(scope["method"], template, status, seconds)
            if status >= 500 or seconds > SLOW_REQUEST_SECONDS:
                log.warning(
                    "request answered %d in %.3fs",
                    status,
                    seconds,
                    extra={
                        "request_id": request_id,
                        "method": scope["method"],
                        "route": template,
                        "status": status,
                        "duration_seconds": round(seconds, 4),
                    },
                )


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == _REQUEST_ID.encode():
            text = bytes(value).decode("latin-1").strip()
            if 0 < len(text) <= 128 and text.isprintable():
                return text
    return None
