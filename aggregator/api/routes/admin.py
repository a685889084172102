"""The admin route: sync a feed now, behind the admin token.

Syncs go through :func:`aggregator.sync.sync_feeds`, as ``gpuhours sync`` does, either while
the request waits or in a background thread; this server runs one sync of a feed at a time.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from typing import Annotated

from fastapi import Depends, Path, Query, Response

from aggregator.api.auth import require_admin
from aggregator.api.errors import error_response
from aggregator.api.routes.shared import BAD_INPUT, JSON, STORE_DOWN, error_doc, family_router
from aggregator.api.schemas import SyncResponse
from aggregator.api.state import Service, ServiceDep
from aggregator.limits import MAX_TEXT_LENGTH
from aggregator.logs import log_context
from aggregator.models import SyncRun
from aggregator.plugins import FeedRef
from aggregator.sync import sync_feeds

__all__ = ["router", "sync_now"]

log = logging.getLogger("aggregator.api")

router = family_router("admin")


@router.post(
    "/v1/sync/{feed:path}",
    response_class=JSON,
    response_model=SyncResponse,
    summary="Sync a feed (or every feed of a provider) now",
    dependencies=[Depends(require_admin)],
    responses={
        202: {"model": SyncResponse, "description": "Started in the background (wait=false)"},
        401: error_doc("Missing or wrong admin token"),
        403: error_doc("Admin endpoints are disabled (no GPUHOURS_ADMIN_TOKEN configured)"),
        409: error_doc("A sync of this feed started through this server is still running"),
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
