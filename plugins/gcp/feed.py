"""The ``gcp/catalog`` feed: page through Compute Engine's SKUs, then compose machine prices.

Every page is read on every sync (the catalog offers nothing to make a request conditional,
and it is a handful of pages). Each SKU is classified as it arrives
(:func:`plugins.gcp.skus.parse_sku`) and only usable ones are kept in a
:class:`~plugins.gcp.compose.PriceIndex`, so memory stays small; machines are composed
(:func:`plugins.gcp.compose.compose`) when the last page is in. Parts that cannot be read are
rejected, unknown GPU SKUs reported, the rest only tallied in the log: docs/providers/gcp.md.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx

from aggregator.errors import ProviderAuthError, ProviderError, ProviderResponseError
from aggregator.http import redact_url
from aggregator.http.paging import PageChain
from aggregator.http.received import received_at
from aggregator.models import Offer
from aggregator.providers import Feed, FetchContext
from plugins.gcp.compose import ComposeStats, PriceIndex, compose
from plugins.gcp.settings import GcpSettings
from plugins.gcp.skus import SERVICE_ID, PricedSku, SkipKind, parse_sku

__all__ = ["CURRENCY", "KEY_HINT", "PAGE_SIZE", "CatalogFeed", "iter_pages", "skus_url"]

CURRENCY = "USD"
PAGE_SIZE = 5000

KEY_HINT = (
    "set GPUHOURS_GCP_API_KEY to a valid Cloud Billing API key (an API key of a Google Cloud "
    "project with the Cloud Billing API enabled)"
)


def skus_url(settings: GcpSettings) -> str:
    return f"{settings.billing_url}/v1/services/{SERVICE_ID}/skus"


def _auth_error(exc: ProviderError, feed_id: str) -> ProviderAuthError:
    error = ProviderAuthError(
        f"the Cloud Billing API refused our API key: {KEY_HINT}. ({exc})",
        provider="gcp",
        feed=feed_id,
        url=exc.url,
    )
    for attr in ("status_code", "attempts"):  # set per instance by aggregator.http
        setattr(error, attr, getattr(exc, attr, None))
    return error


def _is_bad_key(exc: ProviderResponseError) -> bool:
    # Google answers 400 INVALID_ARGUMENT "API key not valid" (reason API_KEY_INVALID) for a
    # key that does not exist, and 403 for a missing key or one without the API enabled.
    text = str(exc)
    return getattr(exc, "status_code", None) == 400 and (
        "API_KEY_INVALID" in text or "API key not valid" in text
    )


async def iter_pages(
    ctx: FetchContext, settings: GcpSettings
) -> AsyncIterator[tuple[list[Any], datetime | None]]:
    """The ``skus`` list of every page, and when it was received, following
    ``nextPageToken`` until it is empty.

    The chain is guarded by :class:`aggregator.http.paging.PageChain`: a token that comes back,
    20 empty pages in a row that still link onward, far more pages than any good sync saw (kept
    in ``ctx.state``), or ``GPUHOURS_GCP_MAX_PAGES`` end it with an error. An explicit
    ``GPUHOURS_GCP_MAX_PAGES`` replaces the learned limit, for a catalog that really grew.
    """
    url = skus_url(settings)
    params: dict[str, str] = {}
    if settings.api_key is not None:
        params["key"] = settings.api_key.get_secret_value()
    params.update(currencyCode=CURRENCY, pageSize=str(PAGE_SIZE))
    chain = PageChain(
        "the Cloud Billing catalog",
        link_name="page token",
        max_pages=settings.max_pages,
        max_pages_hint="GPUHOURS_GCP_MAX_PAGES",
        state=ctx.state,
        state_key="pages",
        learned="max_pages" not in settings.model_fields_set,
        provider="gcp",
    )
    token = ""
    while True:
        chain.before_page(token, url)
        request_params = {**params, "pageToken": token} if token else params
        try:
            response = await ctx.client.get(url, params=request_params)
        except ProviderAuthError as exc:
            raise _auth_error(exc, ctx.feed_id) from exc
        except ProviderResponseError as exc:
            if _is_bad_key(exc):
                raise _auth_error(exc, ctx.feed_id) from exc
            raise
        body = _json(response)
        skus = body.get("skus", [])
        token = body.get("nextPageToken") or ""
        if not isinstance(skus, list) or not isinstance(token, str):
            raise _bad_body(response, "'skus' is not a list or 'nextPageToken' not a string")
        ctx.progress(advance=len(skus), note=f"page {chain.pages}")
        yield skus, received_at(response)
        chain.after_page(len(skus), links_onward=bool(token), url=url)
        if not token:
            chain.finished()
            return


def _json(response: httpx.Response) -> Mapping[str, Any]:
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad_body(response, f"the body is not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise _bad_body(response, "the body is not a JSON object")
    return body


def _bad_body(response: httpx.Response, what: str) -> ProviderResponseError:
    url = redact_url(response.request.url)
    return ProviderResponseError(
        f"GET {url} answered with a page gpuhours cannot use: {what}", provider="gcp", url=url
    )


class CatalogFeed(Feed):
    """GPU machine prices composed from the Cloud Billing catalog (on demand, spot, 1/3-year)."""

    name = "catalog"
    title = "Compute Engine GPU machines from the Cloud Billing Catalog API"
    default_interval = timedelta(days=1)

    async def fetch(self, ctx: FetchContext) -> AsyncIterator[Offer]:
        settings = ctx.settings if isinstance(ctx.settings, GcpSettings) else GcpSettings()
        index = PriceIndex()
        skipped: Counter[SkipKind] = Counter()
        used = 0
        async for skus, seen in iter_pages(ctx, settings):
            for raw in skus:
                result = parse_sku(raw, currency=CURRENCY) if isinstance(raw, dict) else None
                if isinstance(result, PricedSku):
                    index.add(dataclasses.replace(result, observed_at=seen))
                    used += 1
                    continue
                if result is None:
                    ctx.reject("a SKU that is not a JSON object", raw)
                    continue
                skipped[result.kind] += 1
                if result.is_reject:
                    ctx.reject(result.reason, _brief(raw))
                    if result.component is not None:
                        index.add_unpriced(result.component, result.regions)
                elif result.kind is SkipKind.UNKNOWN_GPU:
                    ctx.report_unknown("GPU SKU", _brief(raw), once=result.subject)
        reported: set[tuple[str, ...]] = set()
        for conflict in index.resolve():  # one reject per set of clashing SKUs, not per region
            ids = tuple(s.sku_id for s in conflict.skus)
            if ids not in reported:
                reported.add(ids)
                ctx.reject(conflict.describe(), list(ids))
        stats = ComposeStats()
        for offer in compose(index, stats=stats):
            yield offer
        for key in stats.held:
            ctx.hold(key)
        ctx.log.info(
            "%s: %d SKUs used, skipped %s; %d offers; %d candidates priced where the machine "
            "is not sold; candidates without a part: %s",
            ctx.feed_id,
            used,
            dict(skipped),
            stats.offers,
            stats.not_sold,
            dict(stats.missing),
        )


def _brief(raw: Mapping[str, Any]) -> str:
    return f"{raw.get('skuId', '?')} {raw.get('description', '?')!r}"
