"""What every route shares, kept on ``app.state.service`` by :func:`aggregator.api.create_app`."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from aggregator.api.cache import AnswerCache, StoreVersion
from aggregator.api.metrics import RequestMetrics
from aggregator.plugins import Registry
from aggregator.scheduler import SchedulerSettings
from aggregator.settings import Settings

__all__ = ["Service", "ServiceDep", "get_service"]


@dataclass
class Service:
    """Settings, the store, the loaded plugins and this process's live counters.

    ``syncing`` holds the feeds a ``POST /v1/sync`` of this process is running, so a second
    request for the same feed gets 409 instead of queueing behind the first. ``answers`` is
    the memo of :mod:`aggregator.api.cache`, ``version`` the store version it is checked against;
    ``last_export`` the body ``GET /v1/export`` built last.
    """

    settings: Settings
    engine: Engine
    registry: Registry
    schedule: SchedulerSettings
    required_revision: str
    answers: AnswerCache
    version: StoreVersion
    metrics: RequestMetrics = field(default_factory=RequestMetrics)
    owns_engine: bool = False
    syncing: set[str] = field(default_factory=set)
    sync_guard: threading.Lock = field(default_factory=threading.Lock)
    last_export: tuple[str, bytes] | None = None  # (tag, body) of the last export built
    export_lock: threading.Lock = field(default_factory=threading.Lock)

    def claim(self, feeds: list[str]) -> bool:
        """Mark ``feeds`` as syncing; False (and nothing marked) if one already is."""
        with self.sync_guard:
            if self.syncing.intersection(feeds):
                return False
            self.syncing.update(feeds)
            return True

    def release(self, feeds: list[str]) -> None:
        with self.sync_guard:
            self.syncing.difference_update(feeds)
        self.answers.clear()  # what the sync stored shows at once
        self.version.forget()


async def get_service(request: Request) -> Service:
    """The app's :class:`Service` (``async`` so FastAPI calls it inline, not in a thread)."""
    service = request.app.state.service
    assert isinstance(service, Service)
    return service


ServiceDep = Annotated[Service, Depends(get_service)]
