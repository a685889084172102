"""The catalog routes: the GPUs the registry knows, and the providers with their feeds' health.

``/v1/providers`` is what ``gpuhours providers`` shows, plus each feed's schedule and failure
streak.
"""

from __future__ import annotations

from fastapi import Response

from aggregator import catalog
from aggregator.api.routes.shared import (
    DATA_AGE,
    JSON,
    STORE_DOWN,
    age_seconds,
    family_router,
    set_age,
)
from aggregator.api.schemas import FeedHealth, GpusResponse, ProvidersResponse
from aggregator.api.state import Service, ServiceDep
from aggregator.scheduler import intervals
from db.store import consecutive_failures

__all__ = ["list_gpus", "list_providers", "providers_health", "router"]

router = family_router("catalog", reads=True)


@router.get(
    "/v1/gpus",
    response_class=JSON,
    response_model=GpusResponse,
    summary="Known GPU names",
)
async def list_gpus(service: ServiceDep) -> GpusResponse:
    """Canonical GPU names with memory variants, BF16 TFLOPS and accepted aliases."""
    return catalog.gpu_list(service.registry)


@router.get(
    "/v1/providers",
    response_class=JSON,
    response_model=ProvidersResponse,
    summary="Plugins, feeds, last sync and data age",
    responses={200: {"headers": DATA_AGE}, **STORE_DOWN},
)
def list_providers(response: Response, service: ServiceDep) -> ProvidersResponse:
    """What ``gpuhours providers`` shows, plus each feed's schedule and failure streak."""
    health = providers_health(service)
    set_age(response, age_seconds(f.last_success_at for f in health.feeds))
    return health


def providers_health(service: Service) -> ProvidersResponse:
    """The providers report with each feed's schedule in force and failure streak (blocking:
    it reads the store; the JSON route and the web page both answer with it)."""
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
    return ProvidersResponse(plugins=report.plugins, feeds=feeds, price_terms=report.price_terms)
