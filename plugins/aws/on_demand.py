"""The ``aws/on-demand`` feed: on-demand and reserved GPU prices from the EC2 offer files.

``GET {GPUHOURS_AWS_PRICING_URL}/offers/v1.0/aws/AmazonEC2/current/region_index.json``, then
for every selected region whose offer-file version changed since the last good sync, its CSV
(``currentVersionUrl`` with ``.json`` -> ``.csv``), streamed line by line. What is kept and how
reserved terms are combined: :mod:`plugins.aws.offer_file`; GPU facts and checks:
:mod:`plugins.aws.offers`. Prices keep the currency the file states (CNY in the China regions).

Rows whose ``Region Code`` differs from the region of the file they are in (none are expected:
every location, Local and Wavelength Zones included, has its own file) are skipped with one
warning per file, because "unchanged" bookkeeping is per file: an offer must come from its own
region's file.

The region index itself is fetched unconditionally (it is small): a "not modified" index would
hide a region newly added to ``GPUHOURS_AWS_REGIONS``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any, ClassVar

from aggregator.models import Offer
from aggregator.providers import Feed, FetchContext
from plugins.aws.offer_file import OfferFileParser, PricePoint
from plugins.aws.offers import offer_from_point
from plugins.aws.regional import changed_region_files, fetch_region_index, stream_csv
from plugins.aws.reporting import Outcomes
from plugins.aws.settings import settings_of

__all__ = ["EC2_REGION_INDEX_PATH", "OnDemandFeed"]

EC2_REGION_INDEX_PATH = "/offers/v1.0/aws/AmazonEC2/current/region_index.json"


class OnDemandFeed(Feed):
    """On-demand and reserved (1 and 3 years, every payment option and class) GPU prices."""

    name: ClassVar[str] = "on-demand"
    title: ClassVar[str] = "EC2 on-demand and reserved instance prices (offer files)"
    default_interval: ClassVar[timedelta] = timedelta(days=1)

    async def fetch(self, ctx: FetchContext) -> AsyncIterator[Offer | Mapping[str, Any]]:
        settings = settings_of(ctx)
        base = settings.pricing_base
        files = await fetch_region_index(ctx, base + EC2_REGION_INDEX_PATH)
        outcomes = Outcomes(ctx)
        async for file in changed_region_files(
            ctx, files, state_prefix="offer-file", allowlist=settings.region_allowlist
        ):
            elsewhere = 0
            async for result in stream_csv(
                ctx, base + file.csv_path, lambda url: OfferFileParser(what=url)
            ):
                if isinstance(result, PricePoint):
                    if not result.region:
                        result = replace(result, region=file.region)
                    elif result.region != file.region:
                        elsewhere += 1
                        continue
                    outcome = offer_from_point(result)
                else:
                    outcome = result
                offer = outcomes.offer(outcome)
                if offer is not None:
                    yield offer
            if elsewhere:
                ctx.log.warning(
                    "%s: skipped %d GPU prices of other regions in the offer file of %s",
                    ctx.feed_id,
                    elsewhere,
                    file.region,
                )
