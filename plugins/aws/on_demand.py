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
from datetime import timedelta
from typing import Any, ClassVar

from aggregator.models import Offer
from aggregator.providers import Feed, FetchContext
from plugins.aws.offer_file import OfferFileParser, PricePoint
from plugins.aws.offers import offer_from_point
from plugins.aws.regional import regional_offers

__all__ = ["EC2_REGION_INDEX_PATH", "OnDemandFeed"]

EC2_REGION_INDEX_PATH = "/offers/v1.0/aws/AmazonEC2/current/region_index.json"


class OnDemandFeed(Feed):
    """On-demand and reserved (1 and 3 years, every payment option and class) GPU prices."""

    name: ClassVar[str] = "on-demand"
    title: ClassVar[str] = "EC2 on-demand and reserved instance prices (offer files)"
    default_interval: ClassVar[timedelta] = timedelta(days=1)

    async def fetch(self, ctx: FetchContext) -> AsyncIterator[Offer | Mapping[str, Any]]:
        async for offer in regional_offers(
            ctx,
            EC2_REGION_INDEX_PATH,
            state_prefix="offer-file",
            make_parser=lambda url: OfferFileParser(what=url),
            point_type=PricePoint,
            to_outcome=offer_from_point,
            file_kind="offer file",
        ):
            yield offer
