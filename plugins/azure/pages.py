"""Requesting Azure Retail Prices pages: the first query, then every ``NextPageLink`` as given.

:func:`first_urls` builds the first request (one, or one per listed region); then
:func:`iter_pages` requests exactly the link the previous page returned until it is null (the
API emits odd links, such as ``$top=-980&$skip=1000``, and page sizes vary, so nothing is
rebuilt). An :class:`aggregator.http.paging.PageChain` ends a chain that loops, stalls or grows
far past what good syncs needed, and the next page waits a little when the rate-limit header
says the budget is nearly spent. The limits: docs/providers/azure.md, "Paging".
"""

from __future__ import annotations

import dataclasses
import json
import re
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import httpx

from aggregator.errors import ProviderResponseError
from aggregator.http.paging import PageChain
from aggregator.http.received import received_at
from plugins.azure.retail import PROVIDER

__all__ = [
    "API_VERSION",
    "BASE_FILTER",
    "RATELIMIT_HEADER",
    "Page",
    "Sleep",
    "first_urls",
    "iter_pages",
    "page_chain",
    "parse_page",
    "remaining_requests",
]

API_VERSION: Final = "2023-01-01-preview"
RATELIMIT_HEADER: Final = "x-ms-ratelimit-remaining-retailPrices-requests"

# Only the download is narrowed by this; classify() judges every row on its own.
BASE_FILTER: Final = "serviceName eq 'Virtual Machines' and startswith(armSkuName, 'Standard_N')"

_REGION_NAME: Final = re.compile(r"^[a-z0-9]+$")

Sleep = Callable[[float], Awaitable[None]]


def first_urls(base_url: str, regions: tuple[str, ...] = ()) -> list[str]:
    """The first request of each page chain: one for all regions, or one per listed region.

    The filter is percent-encoded here (``%20``, ``%27``) as the API's own links are; region
    names are checked so nothing can be injected into the OData expression.
    """
    filters = [BASE_FILTER]
    if regions:
        bad = [r for r in regions if not _REGION_NAME.match(r)]
        if bad:
            raise ValueError(
                f"GPUHOURS_AZURE_REGIONS: {', '.join(map(repr, bad))} is not an Azure "
                "armRegionName (lower-case letters and digits, e.g. eastus2)"
            )
        filters = [f"{BASE_FILTER} and armRegionName eq '{region}'" for region in regions]
    separator = "&" if "?" in base_url else "?"
    return [
        f"{base_url}{separator}api-version={API_VERSION}"
        f"&$filter={urllib.parse.quote(expression, safe='')}"
        for expression in filters
    ]


@dataclass(frozen=True)
class Page:
    """One page of the API: its items (not yet judged) and the link to the next page."""

    items: list[Any]
    next_link: str | None
    received_at: datetime | None = None  # when the response was received (its stamp)


def parse_page(body: bytes, *, url: str = "") -> Page:
    """Decode one response body; anything but the documented envelope is an error."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProviderResponseError(
            f"Azure Retail Prices answered with a body that is not JSON ({exc})", url=url or None
        ) from exc
    if not isinstance(document, dict) or not isinstance(document.get("Items"), list):
        raise ProviderResponseError(
            "Azure Retail Prices answered without an 'Items' list; the API may have changed, "
            "or GPUHOURS_AZURE_PRICES_URL points at something else",
            url=url or None,
        )
    next_link = document.get("NextPageLink")
    if next_link is not None and not isinstance(next_link, str):
        raise ProviderResponseError(
            f"Azure Retail Prices sent a NextPageLink that is not a string: {next_link!r}",
            url=url or None,
        )
    return Page(items=document["Items"], next_link=next_link or None)


def remaining_requests(headers: httpx.Headers) -> int | None:
    """The rate-limit budget the API reports, or None when it does not say (or says nonsense)."""
    value = headers.get(RATELIMIT_HEADER)
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


async def iter_pages(
    client: httpx.AsyncClient,
    url: str,
    *,
    max_pages: int,
    low_water: int,
    pause_seconds: float,
    sleep: Sleep,
    on_pause: Callable[[int, float], None] | None = None,
    chain: PageChain | None = None,
) -> AsyncIterator[Page]:
    """Every page of one chain, following ``NextPageLink`` exactly as given until it is null.

    ``chain`` guards the chain (see :func:`page_chain`); without one, only a repeated link, a
    run of empty pages and ``max_pages`` stop it.
    """
    chain = chain if chain is not None else page_chain(max_pages)
    next_url: str | None = url
    while next_url is not None:
        chain.before_page(next_url, next_url)
        response = await client.get(next_url)
        page = parse_page(response.content, url=str(response.request.url))
        page = dataclasses.replace(page, received_at=received_at(response))
        yield page
        chain.after_page(len(page.items), links_onward=page.next_link is not None, url=next_url)
        remaining = remaining_requests(response.headers)
        if page.next_link is not None and remaining is not None and remaining <= low_water:
            if on_pause is not None:
                on_pause(remaining, pause_seconds)
            await sleep(pause_seconds)
        next_url = page.next_link
    chain.finished()


def page_chain(
    max_pages: int,
    *,
    state: MutableMapping[str, str] | None = None,
    region: str = "",
    learned: bool = True,
) -> PageChain:
    """The guard of one chain: the most pages it sent is kept in ``state`` per region (or all)."""
    return PageChain(
        "Azure Retail Prices",
        link_name="NextPageLink",
        max_pages=max_pages,
        max_pages_hint="GPUHOURS_AZURE_MAX_PAGES",
        state=state,
        state_key=f"pages:{region or 'all'}",
        learned=learned,
        provider=PROVIDER,
    )
