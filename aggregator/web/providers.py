"""The providers page at ``/providers``: each feed's last good sync, data age and status, and
plugins that failed to load, from the same report as ``GET /v1/providers``."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import HTMLResponse

from aggregator.api.routes.catalog import providers_health
from aggregator.api.routes.shared import READ_SLOTS, limited
from aggregator.api.schemas import ProvidersResponse
from aggregator.api.state import ServiceDep
from aggregator.errors import StoreError
from aggregator.web.access import page_router
from aggregator.web.render import STORE_DOWN, page

__all__ = ["providers_page", "router"]

router = page_router()


@router.get("/providers", response_class=HTMLResponse)
async def providers_page(request: Request, service: ServiceDep) -> HTMLResponse:
    """Feeds and plugins with their health; the query string is not read."""
    health: ProvidersResponse | None = None
    problem, status = None, 200
    try:
        health = await limited("read", READ_SLOTS, providers_health, service)
    except StoreError:
        problem, status = STORE_DOWN, 503
    return page(request, "providers.html", status, health=health, problem=problem)
