"""The ``oci/price-list`` feed: Oracle's public price list, GPU parts priced onto GPU shapes.

One price holds in every OCI region (Oracle publishes no per-region price), so each shape is
one offer in region ``global``. Preemptible capacity is not in the price list: OCI documents
it as half the on-demand price (docs.oracle.com/en-us/iaas/Content/Compute/Concepts/
preemptible.htm), so shapes that support it get a ``spot`` offer at 50 %, traced to the same
part. Pages are followed while the answer says ``hasMore`` and links a ``next`` page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from aggregator.http.paging import PageChain
from aggregator.http.received import received_at
from aggregator.models import GLOBAL_REGION
from aggregator.providers import Feed, FetchContext
from plugins.json_api import bad_body, json_object
from plugins.oci.price_list import PartPrice, SkipKind, classify
from plugins.oci.settings import OciSettings
from plugins.oci.shapes import GpuShape, shapes_by_part

__all__ = ["PREEMPTIBLE_SHARE", "REGION", "PriceListFeed", "offers_of", "products_url"]

REGION = GLOBAL_REGION
PREEMPTIBLE_SHARE = 0.5
"""Share of the on-demand price a preemptible instance costs (OCI: "50% discount")."""


def products_url(settings: OciSettings) -> str:
    return f"{settings.api_url}/products/"


def offers_of(
    price: PartPrice, shape: GpuShape, observed_at: datetime | None
) -> list[dict[str, Any]]:
    """The on-demand offer of ``shape`` at ``price``, and its preemptible one where supported."""
    on_demand = price.per_gpu_hour * shape.gpu_count
    base: dict[str, Any] = {
        "provider": "oci",
        "region": REGION,
        "instance_type": shape.name,
        "gpu": shape.gpu,
        "gpu_count": shape.gpu_count,
        "gpu_memory_gb": shape.gpu_memory_gb,
        "currency": price.currency,
        "source": {"part_number": price.part_number, "shape": shape.name},
        "observed_at": observed_at,
    }
    offers = [{**base, "purchase_option": "on_demand", "price_per_hour": on_demand}]
    if shape.preemptible:
        offers.append(
            {**base, "purchase_option": "spot", "price_per_hour": on_demand * PREEMPTIBLE_SHARE}
        )
    return offers


async def _pages(
    ctx: FetchContext, settings: OciSettings
) -> AsyncIterator[tuple[list[Any], datetime | None]]:
    """The ``items`` of every page, and when each was received."""
    url = products_url(settings)
    params: Mapping[str, str] | None = {"currencyCode": settings.currency}
    chain = PageChain(
        "the OCI price list",
        link_name="next link",
        max_pages=settings.max_pages,
        max_pages_hint="GPUHOURS_OCI_MAX_PAGES",
        provider="oci",
    )
    link = ""
    while True:
        chain.before_page(link, url)
        response = await ctx.client.get(url, params=params)
        body = json_object(response, provider="oci", what="a price list")
        items = body.get("items")
        if not isinstance(items, list):
            raise bad_body(response, "oci", "a price list", "'items' is not a list")
        ctx.progress(advance=len(items), note=f"page {chain.pages}")
        yield items, received_at(response)
        link = _next_link(body) if body.get("hasMore") is True else ""
        if body.get("hasMore") is True and not link:
            raise bad_body(response, "oci", "a price list", "'hasMore' but no 'next' link")
        chain.after_page(len(items), links_onward=bool(link), url=url)
        if not link:
            chain.finished()
            return
        url, params = link, None  # the next link carries its own query


def _next_link(body: Mapping[str, Any]) -> str:
    links = body.get("links")
    for entry in links if isinstance(links, list) else []:
        if isinstance(entry, Mapping) and entry.get("rel") == "next":
            href = entry.get("href")
            if isinstance(href, str) and href.startswith(("http://", "https://")):
                return href
    return ""


class PriceListFeed(Feed):
    """GPU shape prices from Oracle's public price list: on demand, and preemptible at 50 %."""

    name = "price-list"
    title = "OCI GPU shapes from the public price list (one price in every region)"
    default_interval = timedelta(days=1)

    async def fetch(self, ctx: FetchContext) -> AsyncIterator[Mapping[str, Any]]:
        settings = ctx.settings if isinstance(ctx.settings, OciSettings) else OciSettings()
        parts = shapes_by_part()
        priced: set[str] = set()
        async for items, seen in _pages(ctx, settings):
            for item in items:
                result = classify(item, settings.currency)
                if isinstance(result, PartPrice):
                    shapes = parts.get(result.part_number)
                    if shapes is None:
                        ctx.report_unknown(
                            "GPU part", result.display_name.strip(), once=result.part_number
                        )
                        continue
                    if result.part_number in priced:
                        ctx.reject(f"part {result.part_number} listed twice", result.display_name)
                        continue
                    priced.add(result.part_number)
                    for shape in shapes:
                        for offer in offers_of(result, shape, seen):
                            yield offer
                elif result.is_reject:
                    for shape in parts.get(result.part_number, ()):
                        for key in _keys(shape):
                            ctx.hold(key)
                    ctx.reject(result.reason, item if result.kind is SkipKind.MALFORMED else "")


def _keys(shape: GpuShape) -> list[dict[str, Any]]:
    options = ["on_demand", "spot"] if shape.preemptible else ["on_demand"]
    return [
        {"region": REGION, "instance_type": shape.name, "purchase_option": o, "term_hours": 0}
        for o in options
    ]
