"""The web pages ``gpuhours serve`` answers at ``/``: offers, one offer, a plan, providers.

Thin pages over the functions the JSON routes call, rendered on the server (they work without
JavaScript; only the price chart needs it), with every asset served from :data:`STATIC_URL`,
nothing from a CDN. With a read token set, the pages need it as the read routes do. What each
page shows and accepts: docs/web.md.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from aggregator.web import offers, plan, providers
from aggregator.web.access import PageDenied, denied_page
from aggregator.web.render import STATIC_DIR, STATIC_URL

__all__ = ["STATIC_URL", "install"]


def install(app: FastAPI) -> None:
    """Add the pages and their static files to ``app``."""
    for family in (offers, plan, providers):
        app.include_router(family.router)
    app.add_exception_handler(PageDenied, denied_page)
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="web-static")
