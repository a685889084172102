"""The Vultr provider and its one feed, imported only when a command needs providers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, Final

import httpx
from pydantic_settings import BaseSettings

from aggregator import Feed, FetchContext, Provider
from aggregator.errors import ProviderResponseError
from aggregator.http.paging import PageChain
from aggregator.http.received import received_at
from plugins.json_api import json_object
from plugins.verdicts import Verdict, report
from plugins.vultr.plans import PROVIDER, judge_metal, judge_plan
from plugins.vultr.settings import VultrSettings

__all__ = ["PlansFeed", "VultrProvider"]

_PER_PAGE: Final = 500
_Judge = Callable[..., Verdict]  # judge_plan / judge_metal: (item, gpus, *, observed_at)

# (path, query, list key, judge)
_LISTS: Final = (
    ("/v2/plans", {"type": "all", "per_page": str(_PER_PAGE)}, "plans", judge_plan),
    ("/v2/plans-metal", {"per_page": str(_PER_PAGE)}, "plans_metal", judge_metal),
)


class PlansFeed(Feed):
    """``vultr/plans``: hourly and preemptible prices of every cloud GPU and bare-metal GPU plan."""

    name = "plans"
    title = "Vultr plans: cloud GPU and bare metal, hourly and preemptible"
    default_interval = timedelta(days=1)

    async def fetch(self, ctx: FetchContext) -> AsyncIterator[Mapping[str, Any]]:
        settings = ctx.settings if isinstance(ctx.settings, VultrSettings) else VultrSettings()
        seen: set[tuple[str, str]] = set()
        for path, query, list_key, judge in _LISTS:
            url = f"{settings.api_url}{path}"
            async for items, observed_at in _pages(ctx.client, url, query, list_key, settings):
                for item in items:
                    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                        ctx.reject(f"{list_key} entry without an id", item)
                        continue
                    if (list_key, item["id"]) in seen:
                        ctx.reject("plan listed twice", item["id"])
                        continue
                    seen.add((list_key, item["id"]))
                    verdict = judge(item, ctx.gpus, observed_at=observed_at)
                    for offer in report(ctx, verdict, item["id"], what="Vultr GPU"):
                        yield offer


async def _pages(
    client: httpx.AsyncClient,
    url: str,
    query: Mapping[str, str],
    list_key: str,
    settings: VultrSettings,
) -> AsyncIterator[tuple[list[Any], datetime | None]]:
    """Every page of one list, following ``meta.links.next`` cursors until one is empty.

    A missing ``meta`` block counts as the last page: one page of 500 holds every plan Vultr
    sells today.
    """
    chain = PageChain(
        f"Vultr {url.rsplit('/', 1)[-1]}",
        link_name="meta.links.next cursor",
        max_pages=settings.max_pages,
        max_pages_hint="GPUHOURS_VULTR_MAX_PAGES",
        provider=PROVIDER,
    )
    cursor = ""
    while True:
        chain.before_page(cursor, url)
        params = {**query, **({"cursor": cursor} if cursor else {})}
        response = await client.get(url, params=params)
        document = json_object(
            response, provider=PROVIDER, what="a plan list", setting="GPUHOURS_VULTR_API_URL"
        )
        items = document.get(list_key)
        if not isinstance(items, list):
            raise ProviderResponseError(
                f"Vultr API answered without a {list_key!r} list; the API may have changed, "
                "or GPUHOURS_VULTR_API_URL points at something else",
                provider=PROVIDER,
                url=url,
            )
        cursor = _next_cursor(document.get("meta"), url)
        yield items, received_at(response)
        chain.after_page(len(items), links_onward=bool(cursor), url=url)
        if not cursor:
            chain.finished()
            return


def _next_cursor(meta: object, url: str) -> str:
    if meta is None:
        return ""
    links = meta.get("links") if isinstance(meta, dict) else None
    cursor = links.get("next", "") if isinstance(links, dict) else None
    if not isinstance(cursor, str | None):
        raise ProviderResponseError(
            f"Vultr API sent a meta.links.next that is not a string: {cursor!r}"[:300],
            provider=PROVIDER,
            url=url,
        )
    return cursor or ""


class VultrProvider(Provider):
    """Vultr, priced from its public plan lists."""

    name = PROVIDER
    title = "Vultr"
    settings_class: ClassVar[type[BaseSettings] | None] = VultrSettings

    def feeds(self) -> Sequence[Feed]:
        return (PlansFeed(),)
