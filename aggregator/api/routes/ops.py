"""The operations routes: liveness, readiness (the store and its schema) and Prometheus metrics."""

from __future__ import annotations

import logging

from fastapi import Response
from fastapi.responses import PlainTextResponse

from aggregator import catalog
from aggregator.api.metrics import CONTENT_TYPE, StoreMetrics
from aggregator.api.responses import json_response
from aggregator.api.routes.shared import JSON, family_router
from aggregator.api.schemas import HealthResponse, ReadinessResponse
from aggregator.api.state import ServiceDep
from aggregator.errors import StoreError
from aggregator.scheduler import intervals
from db.migrate import check_schema, current_revision
from db.store import consecutive_failures, sync_run_counts

__all__ = ["healthz", "metrics", "readyz", "router"]

log = logging.getLogger("aggregator.api")

router = family_router("ops")


@router.get(
    "/healthz",
    response_class=JSON,
    response_model=HealthResponse,
    summary="The process is up",
)
async def healthz() -> HealthResponse:
    """Answers as long as the process serves requests; touches nothing else."""
    return HealthResponse(status="ok")


@router.get(
    "/readyz",
    response_class=JSON,
    response_model=ReadinessResponse,
    summary="The store is reachable and its schema current",
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
