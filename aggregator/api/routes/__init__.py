"""The routes: thin over :mod:`aggregator.catalog`, the planner and the sync engine.

Each route checks nothing itself that the core checks: filters go through
:func:`aggregator.catalog.build_offer_query` (as ``gpuhours offers`` does), plans through
:func:`aggregator.planner.plan_from_store` (as ``gpuhours cheapest``), syncs through
:func:`aggregator.sync.sync_feeds` (as ``gpuhours sync``). Query parameter names are the CLI's
option names, so ``--gpu H100 --region 'us-*'`` is ``?gpu=H100&region=us-*``.

Nothing blocks the event loop: store reads and solving run in FastAPI's thread pool (a plain
``def`` route, or ``run_in_threadpool`` inside an ``async`` one). The two hot routes, offers and
plans, are ``async`` so an answer from the memo (:mod:`aggregator.api.cache`) costs no thread
hop at all; dependencies are ``async`` for the same reason.

Responses that carry prices say how old they are: the ``X-Data-Age-Seconds`` header (and
``data_age_seconds`` where the body has room) is the time since the *oldest* price in the
response was last confirmed at its source.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, Literal

import anyio.to_thread
import pydantic
from annotated_types import Ge, Le
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse
from pydantic import BeforeValidator

from aggregator import catalog
from aggregator.api import paging
from aggregator.api.auth import require_admin
from aggregator.api.errors import error_response
from aggregator.api.metrics import CONTENT_TYPE, StoreMetrics
from aggregator.api.responses import StrictJSONResponse, json_response
from aggregator.api.schemas import (
    DATA_AGE_HEADER,
    ErrorResponse,
    FeedHealth,
    GpusResponse,
    HealthResponse,
    OffersPage,
    ProvidersResponse,
    ReadinessResponse,
    SyncResponse,
)
from aggregator.api.state import Service, ServiceDep
from aggregator.errors import InvalidInput, StoreError
from aggregator.limits import MAX_LIST_ITEMS, MAX_PATTERN_WILDCARDS, MAX_TEXT_LENGTH
from aggregator.logs import log_context
from aggregator.models import (
    WHOLE_NUMBER,
    FiniteInput,
    Glob,
    Plan,
    PlanRequest,
    PurchaseOption,
    StoredOffer,
    SyncRun,
    Text,
    option_spelling,
    utcnow,
)
from aggregator.plugins import FeedRef
from aggregator.scheduler import intervals
from aggregator.sync import sync_feeds
from db.migrate import check_schema, current_revision
from db.store import consecutive_failures, sync_run_counts

__all__ = ["MAX_PAGE", "MEMO_MAX_PAGE", "router"]

log = logging.getLogger("aggregator.api")


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


_READ_SLOTS = 2
_PLAN_SLOTS = 1
"""How many offer reads and plans one process runs at once.

Python's sqlite3 and the row decoding hold the GIL for most of a read, and planning is CPU
work under the GIL too; many threadpool threads doing either at once only contend for it
(measured in-process: plans/s fell from ~75 on one thread to ~45 on four). A request beyond
these slots waits its turn; processes (``--workers``) add parallelism.
"""
_limiters: dict[str, anyio.CapacityLimiter] = {}


async def _limited(kind: str, slots: int, fn: Any, *args: Any) -> Any:
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


router = APIRouter(
    dependencies=[Depends(_reject_unknown_query_parameters)],
    default_response_class=StrictJSONResponse,
)
# FastAPI serializes a returned model in pydantic's JSON mode (NaN -> null) unless a route
# names its response class, so every JSON route passes ``response_class=JSON`` explicitly.
JSON = StrictJSONResponse

MAX_PAGE = 500
MEMO_MAX_PAGE = 100  # larger pages are not memoized: bounds the memo's memory
# Core field names (CLI options) -> PlanRequest field names, for 422s on plan routes.
_PLAN_FIELDS = {
    "gpu": "gpus",
    "provider": "providers",
    "region": "regions",
    "purchase_option": "purchase_options",
}


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description}


Responses = dict[int | str, dict[str, Any]]
BAD_INPUT: Responses = {422: _error("Bad input: the error names the field")}
STORE_DOWN: Responses = {503: _error("The price store is unavailable or its schema is not current")}
DATA_AGE = {
    DATA_AGE_HEADER: {
        "description": "Seconds since the oldest price in the response was confirmed at its "
        "source (absent when the response holds no price)",
        "schema": {"type": "integer"},
    }
}


def _json(body: pydantic.BaseModel, age: float | None, status_code: int = 200) -> Response:
    """``body`` serialized once, with its data age header.

    Returning a ready :class:`Response` skips FastAPI's second validation of a model this code
    has just built (and that validation's extra hop through the thread pool): about an eighth
    of an offers request. ``response_model`` on the route still documents the body.
    """
    response = json_response(body, status_code)
    _set_age(response, age)
    return response


def _age_seconds(times: Iterable[datetime | None]) -> float | None:
    known = [t for t in times if t is not None]
    if not known:
        return None
    return max(0.0, (utcnow() - min(known)).total_seconds())


def _set_age(response: Response, age: float | None) -> None:
    if age is not None:
        response.headers[DATA_AGE_HEADER] = str(int(age))


# -- offers ---------------------------------------------------------------------------------------


@router.get(
    "/v1/offers",
    response_class=JSON,
    response_model=OffersPage,
    summary="List offers, cheapest first",
    tags=["offers"],
    responses={
        200: {"headers": DATA_AGE},
        **BAD_INPUT,
        **STORE_DOWN,
    },
)
async def list_offers(
    service: ServiceDep,
    gpu: Annotated[
        list[Text] | None,
        Query(
            max_length=MAX_LIST_ITEMS,
            description="GPU name or alias (H100, a100:80); repeatable",
        ),
    ] = None,
    min_gpu_memory_gb: Annotated[
        Annotated[FiniteInput, Ge(0)] | None, Query(description="minimum GB per GPU")
    ] = None,
    provider: Annotated[
        list[Text] | None,
        Query(max_length=MAX_LIST_ITEMS, description="provider name; repeatable"),
    ] = None,
    region: Annotated[
        list[Glob] | None,
        Query(
            max_length=MAX_LIST_ITEMS,
            description="region or glob (us-*, *east*; at most "
            f"{MAX_PATTERN_WILDCARDS} wildcards); repeatable",
        ),
    ] = None,
    purchase_option: Annotated[
        list[Annotated[PurchaseOption, BeforeValidator(option_spelling)]] | None,
        Query(
            max_length=len(PurchaseOption),
            description="on_demand, spot, low_priority, reserved, savings_plan, committed "
            "(dashes accepted); repeatable",
        ),
    ] = None,
    spot: Annotated[
        bool | None,
        Query(description="true: only interruptible offers (spot, low priority); false: none"),
    ] = None,
    sort: Annotated[
        Literal["gpu-hour", "hour", "price_per_gpu_hour", "price_per_hour"],
        Query(description="order by price per GPU-hour (default) or per instance-hour"),
    ] = "gpu-hour",
    limit: Annotated[
        Annotated[int, Ge(1), Le(MAX_PAGE), WHOLE_NUMBER], Query(description="offers per page")
    ] = 20,
    cursor: Annotated[
        str | None,
        Query(min_length=1, max_length=512, description="next_cursor of the previous page"),
    ] = None,
    include_withdrawn: Annotated[
        bool, Query(description="also offers no longer published")
    ] = False,
) -> Response:
    """Offers matching the filters (all of them combine), one page at a time.

    The same filters and order as ``gpuhours offers``; pass ``next_cursor`` back as ``cursor``
    with the same filters to get the next page.
    """
    gpus, providers, regions = gpu or [], provider or [], region or []
    options = [option.value for option in purchase_option or []]
    filters: dict[str, Any] = {
        "gpu": gpus,
        "min_gpu_memory_gb": min_gpu_memory_gb,
        "provider": providers,
        "region": regions,
        "purchase_option": options,
        "spot": spot,
        "sort": catalog.SORT_KEYS[sort],
        "include_withdrawn": include_withdrawn,
    }
    digest = paging.fingerprint(filters)
    offset = paging.decode_cursor(cursor, digest) if cursor else 0
    key = ("offers", digest, offset, limit)
    version = service.version.current()
    cached = service.answers.get(key, version)
    if cached is not None:
        page, more = cached
        return _offers_page(page, more, offset, limit, digest)
    query = catalog.build_offer_query(
        service.registry,
        gpus=gpus,
        min_gpu_memory_gb=min_gpu_memory_gb,
        providers=providers,
        regions=regions,
        purchase_options=options,
        interruptible=spot,
        include_withdrawn=include_withdrawn,
        sort=catalog.SORT_KEYS[sort],
        limit=offset + limit + 1,
    )
    found = await _limited("read", _READ_SLOTS, catalog.find_offers, service.engine, query)
    page = found[offset : offset + limit]
    more = len(found) > offset + limit
    if len(page) <= MEMO_MAX_PAGE:
        service.answers.put(key, version, (page, more))
    return _offers_page(page, more, offset, limit, digest)


def _offers_page(
    page: list[StoredOffer], more: bool, offset: int, limit: int, digest: str
) -> Response:
    age = _age_seconds(o.observed_at for o in page)
    body = OffersPage.model_construct(  # the offers came validated from the store
        offers=page,
        count=len(page),
        next_cursor=paging.encode_cursor(offset + limit, digest) if more else None,
        data_age_seconds=age,
    )
    return _json(body, age)


@router.get(
    "/v1/offers/{offer_id}/history",
    response_class=JSON,
    response_model=catalog.OfferHistory,
    summary="An offer's price intervals",
    tags=["offers"],
    responses={
        200: {"headers": DATA_AGE},
        404: _error("No offer with this id was ever stored"),
        **BAD_INPUT,
        **STORE_DOWN,
    },
)
def offer_history(
    service: ServiceDep,
    offer_id: Annotated[
        str, Path(description="an offer id from /v1/offers", min_length=1, max_length=64)
    ],
) -> Response:
    """Every price the store recorded for one offer (withdrawn offers included)."""
    query = catalog.build_offer_query(
        service.registry, ids=[offer_id], include_withdrawn=True, limit=1
    )
    found = catalog.offer_history(service.engine, query)
    if not found:
        return error_response(
            404, "NotFound", f"no offer with id {offer_id!r} was ever stored", field="offer_id"
        )
    return _json(found[0], _age_seconds([found[0].offer.observed_at]))


# -- plans ----------------------------------------------------------------------------------------

_PLAN_RESPONSES: Responses = {
    200: {"headers": DATA_AGE},
    422: _error("Bad input naming the field, or no feasible plan with the planner's reason"),
    **STORE_DOWN,
}


async def _plan(service: Service, request: PlanRequest) -> Response:
    from aggregator.planner import plan_from_store

    key = ("plan", request.model_dump_json())
    version = service.version.current()  # read before the plan: it files the memos under it
    plan: Plan | None = service.answers.get(key, version)
    if plan is not None:
        return _json(plan, _age_seconds(line.observed_at for line in plan.lines))
    try:
        plan = await _limited(
            "plan",
            _PLAN_SLOTS,
            functools.partial(plan_from_store, store_version=version),
            service.engine,
            service.registry,
            request,
        )
    except InvalidInput as exc:
        exc.field = _PLAN_FIELDS.get(exc.field or "") or exc.field
        raise
    service.answers.put(key, version, plan)
    return _json(plan, _age_seconds(line.observed_at for line in plan.lines))


async def _strict_json_body(request: Request) -> None:
    """Hold a JSON body to its schema's types: no ``"10"`` for a number, no ``false`` for 0.

    FastAPI validates bodies in pydantic's lax Python mode, which coerces such values; the
    OpenAPI schema promises JSON types, so the body is validated again in strict JSON mode.
    """
    raw = await request.body()
    try:
        PlanRequest.model_validate_json(raw or b"null", strict=True)
    except pydantic.ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


@router.post(
    "/v1/plan",
    response_class=JSON,
    response_model=Plan,
    summary="The cheapest way to buy N GPU-hours",
    tags=["plans"],
    responses=_PLAN_RESPONSES,
    dependencies=[Depends(_strict_json_body)],
)
async def post_plan(request: PlanRequest, service: ServiceDep) -> Response:
    """Plan with the request in the body (the same request as ``gpuhours cheapest``)."""
    return await _plan(service, request)


@router.get(
    "/v1/plan",
    response_class=JSON,
    response_model=Plan,
    summary="The cheapest way to buy N GPU-hours (query parameters)",
    tags=["plans"],
    responses=_PLAN_RESPONSES,
)
async def get_plan(request: Annotated[PlanRequest, Query()], service: ServiceDep) -> Response:
    """Plan with the request as query parameters: ``?gpu_hours=1000&gpus=H100&max_gpus=64``.

    List fields repeat (``gpus=H100&gpus=A100``); the fields and their rules are those of the
    ``POST`` body.
    """
    return await _plan(service, request)


# -- catalog facts --------------------------------------------------------------------------------


@router.get(
    "/v1/gpus",
    response_class=JSON,
    response_model=GpusResponse,
    summary="Known GPU names",
    tags=["catalog"],
)
async def list_gpus(service: ServiceDep) -> GpusResponse:
    """Canonical GPU names with memory variants, BF16 TFLOPS and accepted aliases."""
    return catalog.gpu_list(service.registry)


@router.get(
    "/v1/providers",
    response_class=JSON,
    response_model=ProvidersResponse,
    summary="Plugins, feeds, last sync and data age",
    tags=["catalog"],
    responses={200: {"headers": DATA_AGE}, **STORE_DOWN},
)
def list_providers(response: Response, service: ServiceDep) -> ProvidersResponse:
    """What ``gpuhours providers`` shows, plus each feed's schedule and failure streak."""
    report = catalog.providers_report(
        service.registry, service.engine, feed_timeout=service.settings.sync_feed_timeout
    )
    failures = consecutive_failures(service.engine)
    schedule = intervals(service.registry, service.schedule)
    feeds = []
    for status in report.feeds:
        interval = schedule.get(status.id)
        feeds.append(
            FeedHealth.model_validate(
                {
                    **status.model_dump(exclude={"age_seconds", "stale"}),
                    "interval_seconds": interval or status.interval_seconds,
                    "scheduled": interval is not None,
                    "consecutive_failures": failures.get(status.id, 0),
                }
            )
        )
    _set_age(response, _age_seconds(f.last_success_at for f in feeds))
    return ProvidersResponse(plugins=report.plugins, feeds=feeds, price_terms=report.price_terms)


# -- admin ----------------------------------------------------------------------------------------


@router.post(
    "/v1/sync/{feed:path}",
    response_class=JSON,
    response_model=SyncResponse,
    summary="Sync a feed (or every feed of a provider) now",
    tags=["admin"],
    dependencies=[Depends(require_admin)],
    responses={
        202: {"model": SyncResponse, "description": "Started in the background (wait=false)"},
        401: _error("Missing or wrong admin token"),
        403: _error("Admin endpoints are disabled (no GPUHOURS_ADMIN_TOKEN configured)"),
        409: _error("A sync of this feed started through this server is still running"),
        **BAD_INPUT,
        **STORE_DOWN,
    },
)
def sync_now(
    service: ServiceDep,
    response: Response,
    feed: Annotated[
        str,
        Path(
            description="a feed id (aws/spot) or a provider (aws)",
            min_length=1,
            max_length=MAX_TEXT_LENGTH,
        ),
    ],
    wait: Annotated[
        bool, Query(description="wait for the sync and return its runs (else 202 at once)")
    ] = True,
    force: Annotated[
        bool, Query(description="accept a result far smaller than the live offers")
    ] = False,
) -> SyncResponse | Response:
    """Run the sync engine on the named feeds, exactly as ``gpuhours sync FEED`` does.

    Requires ``Authorization: Bearer $GPUHOURS_ADMIN_TOKEN``. The scheduler's leader lock is
    not taken: the store serializes two syncs of one feed, and either one's result is whole.
    """
    refs = service.registry.select_feeds([feed])
    ids = [ref.id for ref in refs]
    if not service.claim(ids):
        return error_response(
            409, "Conflict", f"a sync of {', '.join(ids)} is already running", field="feed"
        )
    if wait:
        try:
            runs = _run_sync(service, refs, force)
        finally:
            service.release(ids)
        return SyncResponse(feeds=ids, runs=runs, waited=True)
    thread = threading.Thread(
        target=_run_sync_in_background,
        args=(service, refs, force, ids),
        name="gpuhours-api-sync",
        daemon=True,
    )
    try:
        thread.start()
    except BaseException:
        service.release(ids)
        raise
    response.status_code = 202
    return SyncResponse(feeds=ids, runs=[], waited=False)


def _run_sync(service: Service, refs: list[FeedRef], force: bool) -> list[SyncRun]:
    run_id = uuid.uuid4().hex[:12]
    with log_context(run_id=run_id, trigger="api"):
        log.info("sync requested through the API", extra={"feeds": [r.id for r in refs]})
        outcomes = asyncio.run(
            sync_feeds(refs, service.registry, service.engine, service.settings, force=force)
        )
        for outcome in outcomes:
            log.info(
                "sync finished",
                extra={
                    "feed": outcome.feed.id,
                    "status": outcome.run.status.value,
                    "sync_run_id": outcome.run.id,
                    "duration_seconds": round(outcome.seconds, 3),
                },
            )
    return [outcome.run for outcome in outcomes]


def _run_sync_in_background(
    service: Service, refs: list[FeedRef], force: bool, ids: list[str]
) -> None:
    try:
        _run_sync(service, refs, force)
    except Exception:
        log.exception("background sync failed")
    finally:
        service.release(ids)


# -- operations -----------------------------------------------------------------------------------


@router.get(
    "/healthz",
    response_class=JSON,
    response_model=HealthResponse,
    summary="The process is up",
    tags=["ops"],
)
async def healthz() -> HealthResponse:
    """Answers as long as the process serves requests; touches nothing else."""
    return HealthResponse(status="ok")


@router.get(
    "/readyz",
    response_class=JSON,
    response_model=ReadinessResponse,
    summary="The store is reachable and its schema current",
    tags=["ops"],
    responses={503: {"model": ReadinessResponse, "description": "Not ready; reason given"}},
)
def readyz(service: ServiceDep) -> ReadinessResponse | Response:
    """200 when this replica can answer queries; 503 with the reason otherwise."""
    required = service.required_revision
    try:
        check_schema(service.engine)
        return ReadinessResponse(
            status="ready", schema_revision=required, required_revision=required
        )
    except StoreError as exc:
        try:
            current = current_revision(service.engine)
        except StoreError:
            current = None
        body = ReadinessResponse(
            status="not_ready", reason=str(exc), schema_revision=current, required_revision=required
        )
        return json_response(body, 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    tags=["ops"],
    response_class=PlainTextResponse,
    responses={200: {"content": {CONTENT_TYPE.split(";")[0]: {"schema": {"type": "string"}}}}},
)
def metrics(service: ServiceDep) -> PlainTextResponse:
    """Request counts and latencies of this process; sync runs, offers and data age per feed."""
    lines = service.metrics.render()
    try:
        store_lines = StoreMetrics(
            report=catalog.providers_report(
                service.registry,
                service.engine,
                feed_timeout=service.settings.sync_feed_timeout,
            ),
            run_counts=sync_run_counts(service.engine),
            failures=consecutive_failures(service.engine),
            intervals=intervals(service.registry, service.schedule),
        ).render()
        up = 1
    except StoreError as exc:
        log.warning("metrics: the store could not be read: %s", exc)
        store_lines, up = [], 0
    answers = service.answers
    lines += [
        "# HELP gpuhours_api_answers_total Offer pages and plans answered, by where from.",
        "# TYPE gpuhours_api_answers_total counter",
        f'gpuhours_api_answers_total{{source="memo"}} {answers.hits}',
        f'gpuhours_api_answers_total{{source="computed"}} {answers.misses}',
        "# HELP gpuhours_store_up 1 when the store answered the metrics queries.",
        "# TYPE gpuhours_store_up gauge",
        f"gpuhours_store_up {up}",
        *store_lines,
    ]
    return PlainTextResponse("\n".join(lines) + "\n", media_type=CONTENT_TYPE)
