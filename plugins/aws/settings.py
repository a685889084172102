"""Settings of the AWS plugin, read from ``GPUHOURS_AWS_*`` environment variables.

The endpoint bases are settings so that a mirror, a caching proxy or a test server can stand in
for AWS. ``GPUHOURS_AWS_REGIONS`` limits which regions the offer-file feeds download:
a first full sync of every region fetches several GB of CSV.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from aggregator.providers import FetchContext
from aggregator.settings import GpuhoursSettings

__all__ = [
    "DEFAULT_PRICING_URL",
    "DEFAULT_SPOT_ADVISOR_URL",
    "DEFAULT_SPOT_URL",
    "AwsSettings",
    "settings_of",
]

DEFAULT_PRICING_URL = "https://pricing.us-east-1.amazonaws.com"
DEFAULT_SPOT_URL = "https://website.spot.ec2.aws.a2z.com/spot.js"
DEFAULT_SPOT_ADVISOR_URL = "https://spot-bid-advisor.s3.amazonaws.com/spot-advisor-data.json"


class AwsSettings(GpuhoursSettings):
    """Where the AWS feeds read prices from, and which regions they fetch."""

    model_config = SettingsConfigDict(env_prefix="GPUHOURS_AWS_", extra="ignore")

    pricing_url: str = Field(
        default=DEFAULT_PRICING_URL,
        description="base of the Price List Bulk API (offer files and savings-plan files)",
    )
    spot_url: str = Field(
        default=DEFAULT_SPOT_URL, description="the public spot price feed (JSONP)"
    )
    spot_advisor_url: str = Field(
        default=DEFAULT_SPOT_ADVISOR_URL,
        description="the Spot Instance Advisor's data (interruption frequency per instance type)",
    )
    regions: str = Field(
        default="",
        description="comma-separated region codes to fetch (e.g. us-east-1,us-west-2); "
        "empty means every region the region index lists",
    )

    @property
    def pricing_base(self) -> str:
        """``pricing_url`` without a trailing slash, ready for paths to be appended."""
        return self.pricing_url.rstrip("/")

    @property
    def region_allowlist(self) -> frozenset[str] | None:
        """The regions to fetch, or ``None`` for all of them."""
        wanted = frozenset(r.strip() for r in self.regions.split(",") if r.strip())
        return wanted or None


def settings_of(ctx: FetchContext) -> AwsSettings:
    """The AWS settings the core handed to a feed (read from the environment if none were)."""
    settings = ctx.settings
    return settings if isinstance(settings, AwsSettings) else AwsSettings()
