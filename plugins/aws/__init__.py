"""AWS: GPU instance prices from AWS's public price lists (no credentials needed).

Registered through the ``gpuhours.providers`` entry point ``aws = "plugins.aws"``, as a
third-party plugin would be. Feeds: ``aws/on-demand`` (on-demand and reserved, from the EC2
offer files; daily), ``aws/spot`` (the public spot feed; every 15 minutes),
``aws/savings-plan`` (Compute Savings Plans rates; daily) and ``aws/spot-advisor`` (the Spot
Instance Advisor's interruption buckets; daily). Settings: ``GPUHOURS_AWS_PRICING_URL`` (the
Price List Bulk API's base), ``GPUHOURS_AWS_SPOT_URL`` (the spot feed),
``GPUHOURS_AWS_SPOT_ADVISOR_URL`` (the advisor's data) and ``GPUHOURS_AWS_REGIONS`` (the
regions the offer-file feeds fetch; default all).
Which rows count, how prices are read, and the defaults: docs/providers/aws.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aggregator.hookspecs import hookimpl

if TYPE_CHECKING:
    from aggregator.providers import Provider
    from plugins.aws.provider import AwsProvider

__all__ = ["AwsProvider", "register_providers"]


@hookimpl
def register_providers(register: Callable[[Provider], None]) -> None:
    """Register the AWS provider.

    The provider's module (feeds, parsers, settings) is imported here, not when the plugin
    loads: commands that only need the GPU vocabulary or price terms never pay for it.
    """
    from plugins.aws.provider import AwsProvider

    register(AwsProvider())


def __getattr__(name: str) -> Any:
    if name in __all__:
        from plugins.aws import provider

        return getattr(provider, name)
    raise AttributeError(f"module 'plugins.aws' has no attribute {name!r}")
