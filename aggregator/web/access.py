"""The read token on the web pages: with ``GPUHOURS_API_READ_TOKEN`` set, a page needs it
exactly as the JSON read routes do (``Authorization: Bearer``, or the admin token), so the
pages never show what the API would refuse; a refusal is a page saying so, not JSON."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials
from starlette.responses import HTMLResponse

from aggregator.api.auth import AccessDenied, read_scheme, require_reader
from aggregator.web.render import page

__all__ = ["PageDenied", "denied_page", "page_router", "require_page_reader"]


class PageDenied(AccessDenied):
    """:class:`AccessDenied` on a web page: answered with an HTML page."""


async def require_page_reader(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(read_scheme),  # noqa: B008
) -> None:
    """A FastAPI dependency: :func:`require_reader`, refusing with :class:`PageDenied`."""
    try:
        await require_reader(request, credentials)
    except AccessDenied as exc:
        raise PageDenied(exc.status_code, exc.message) from None


async def denied_page(request: Request, exc: Exception) -> HTMLResponse:
    assert isinstance(exc, PageDenied)
    response = page(request, "denied.html", exc.status_code, message=exc.message)
    if exc.status_code == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def page_router() -> APIRouter:
    """The router of a family of pages: left out of the OpenAPI schema (they are HTML, not
    API), each page behind the read token when one is set."""
    return APIRouter(include_in_schema=False, dependencies=[Depends(require_page_reader)])
