"""The HTTP routes, one module per family, thin over the catalog, the planner and the sync engine.

Each route checks nothing itself that the core checks: filters go through
:func:`aggregator.offer_query.build_offer_query` (as ``gpuhours offers`` does), plans through
:func:`aggregator.planner.plan_from_store` (as ``gpuhours cheapest``), syncs through
:func:`aggregator.sync.sync_feeds` (as ``gpuhours sync``). Query parameter names are the CLI's
option names, so ``--gpu H100 --region 'us-*'`` is ``?gpu=H100&region=us-*``.

Nothing blocks the event loop: store reads and solving run in FastAPI's thread pool (a plain
``def`` route, or a limited thread-pool call inside an ``async`` one); dependencies are
``async``. :mod:`.shared` holds what the families share; ``router`` holds every family's routes
in the order they are matched.
"""

from __future__ import annotations

from fastapi import APIRouter

from aggregator.api.routes import admin, catalog, export, offers, ops, plans
from aggregator.api.routes.offers import MAX_PAGE, MEMO_MAX_PAGE

__all__ = ["MAX_PAGE", "MEMO_MAX_PAGE", "router"]

# The families' own routes, not included routers: FastAPI matches them in this order, and
# ``router.routes`` lists every route itself.
router = APIRouter(
    routes=[
        *offers.router.routes,
        *plans.router.routes,
        *catalog.router.routes,
        *export.router.routes,
        *admin.router.routes,
        *ops.router.routes,
    ]
)
