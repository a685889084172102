"""The ``aws/on-demand`` feed: on-demand and reserved GPU prices from the EC2 offer files.

The region index, then the CSV of every selected region whose offer-file version changed since
the last good sync (:mod:`plugins.aws.regional`), parsed by :mod:`plugins.aws.offer_file` and
made into offers by :mod:`plugins.aws.offers`. The index itself is always fetched in full: a
"not modified" index would hide a region newly added to ``GPUHOURS_AWS_REGIONS``. See
docs/providers/aws.md.
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
