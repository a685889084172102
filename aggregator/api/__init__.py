"""The gpuhours HTTP API (FastAPI): thin routes over the store, the planner and the sync engine.

``create_app`` is the one entry point; ``uvicorn --factory aggregator.api:create_app`` or
``gpuhours serve`` run it. Modules: :mod:`.app` (factory, request bookkeeping),
:mod:`.routes` (one module per route family), :mod:`.schemas` (response bodies),
:mod:`.errors`, :mod:`.auth` (admin token), :mod:`.metrics` (Prometheus text), :mod:`.paging`
(cursors), :mod:`.state`.
"""

from aggregator.api.app import create_app

__all__ = ["create_app"]
