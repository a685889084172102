"""AWS: GPU instance prices from AWS's public price lists (no credentials needed).

Registered through the ``gpuhours.providers`` entry point ``aws = "plugins.aws"``, exactly as a
third-party plugin would be.

Feeds
-----
``aws/on-demand`` (daily)
    On-demand and reserved prices from the EC2 offer files:
    ``{pricing_url}/offers/v1.0/aws/AmazonEC2/current/region_index.json``, then each selected
    region's CSV, streamed line by line in bounded memory. A region whose offer-file version
    equals the one of the last successful sync is not downloaded again; its stored offers stay.
    Reserved terms (1 and 3 years; no, partial and all upfront; standard and convertible) are
    combined from their hourly and upfront-fee rows into one effective hourly price, with the
    fee in ``upfront``. (:mod:`plugins.aws.on_demand`, :mod:`plugins.aws.offer_file`)
``aws/spot`` (every 15 minutes)
    Spot prices from the public spot feed (JSONP) at ``spot_url``, with legacy region names
    mapped to region codes and ``N/A*`` read as "no price". (:mod:`plugins.aws.spot`)
``aws/savings-plan`` (daily)
    Compute Savings Plans hourly rates of GPU instance types, from
    ``{pricing_url}/savingsPlan/v1.0/aws/AWSComputeSavingsPlan/current/region_index.json`` and
    each region's CSV. (:mod:`plugins.aws.savings_plans`)

What is kept
------------
Only Linux, shared-tenancy, pay-for-the-machine prices of instances with GPUs: no Windows, RHEL,
SUSE, Ubuntu Pro or BYOL rows, no dedicated instances or hosts, no capacity-reservation
(unused / allocated) rows, no pre-installed software (SQL Server ...), no Capacity Blocks, no
EC2 Instance Savings Plans. The GPU model and per-GPU memory come from the family table in
:mod:`plugins.aws.families` (p2, p3, p3dn, p4d, p4de, p5, p5e, p5en, p6-b200, p6-b300, g3, g3s,
g4dn, g4ad, g5, g5g, g6, gr6, g6e), checked against the offer file's ``GPU`` and ``GPU Memory``
columns; a disagreement rejects the row. An instance type with GPUs whose family the table does
not know is reported (``unknown`` in the sync summary, with its name in the log) and skipped,
never guessed. Prices keep the currency AWS publishes them in (CNY in the China regions).
Every offer's ``source`` names the SKU, the offer term code and the rate code(s).

Settings
--------
``GPUHOURS_AWS_PRICING_URL``
    Base of the Price List Bulk API, default ``https://pricing.us-east-1.amazonaws.com``
    (a mirror or test server can stand in).
``GPUHOURS_AWS_SPOT_URL``
    The spot feed, default ``https://website.spot.ec2.aws.a2z.com/spot.js``.
``GPUHOURS_AWS_REGIONS``
    Comma-separated region codes the offer-file feeds fetch (``us-east-1,us-west-2``); empty
    (the default) means every region in the region index. A first full sync of every region
    downloads several GB; limiting regions is the way to make it small. Regions dropped from
    the list have their offers withdrawn at the next sync.
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
