"""The ``aws/spot`` feed: current spot prices of GPU instances from AWS's public spot feed.

The feed is JSONP (the file behind the EC2 spot pricing page), fetched with a conditional GET:
"not modified" keeps the stored spot offers. :func:`parse_jsonp` accepts it with or without
the ``callback(...)`` wrapper and with trailing commas; :func:`region_code` maps legacy region
names through :data:`LEGACY_REGIONS` and reports any other unknown name rather than guess.
Only the ``linux`` column is read, per instance-hour and region; GPU counts come from the
family table, since the feed has none. The format and what is skipped: docs/providers/aws.md,
"Spot prices".
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import timedelta
from typing import Any, ClassVar

from aggregator.errors import ProviderResponseError
from aggregator.http.received import received_at
from aggregator.models import Offer, PurchaseOption
from aggregator.providers import Feed, FetchContext
from plugins.aws.families import NOT_GPU_FAMILIES, family_of
from plugins.aws.offers import LINUX_BILLING, GpuFit, Unknown, fit_gpu, make_offer
from plugins.aws.reporting import Outcomes
from plugins.aws.rows import RowProblem
from plugins.aws.settings import settings_of

__all__ = [
    "LEGACY_REGIONS",
    "VALUE_COLUMN",
    "SpotFeed",
    "parse_jsonp",
    "region_code",
    "spot_offers",
]

#: Legacy spot-feed region names and the regions they mean (AWS's own spot pages map them).
LEGACY_REGIONS: Mapping[str, str] = {
    "us-east": "us-east-1",
    "us-west": "us-west-1",
    "eu-ireland": "eu-west-1",
    "apac-sin": "ap-southeast-1",
    "apac-syd": "ap-southeast-2",
    "apac-tokyo": "ap-northeast-1",
}
_REGION_CODE = re.compile(
    r"^(?:us|eu|ap|sa|ca|me|af|il|mx)(?:-gov)?"
    r"-(?:north|south|east|west|central|northeast|northwest|southeast|southwest)-[1-9][0-9]?$"
)
_CALLBACK = re.compile(r"^[A-Za-z_$][\w$.]*\s*\(")
# A JSON string (kept as it is) or a comma that only whitespace separates from ] or }.
_STRING_OR_TRAILING_COMMA = re.compile(r'("(?:[^"\\]|\\.)*")|,(\s*[\]}])')
_NO_PRICE = ("N/A", "N/A*")
VALUE_COLUMN = "linux"


def region_code(name: str) -> str | None:
    """The region code for a spot-feed region name, or ``None`` if it is not known."""
    if name in LEGACY_REGIONS:
        return LEGACY_REGIONS[name]
    return name if _REGION_CODE.match(name) else None


def parse_jsonp(text: str) -> Any:
    """The JSON value inside ``callback(...)`` (wrapper optional), trailing commas allowed."""
    body = text.strip().lstrip("\ufeff")
    wrapper = _CALLBACK.match(body)
    if wrapper:
        body = body[wrapper.end() :].rstrip().removesuffix(";").rstrip()
        if not body.endswith(")"):
            raise ProviderResponseError("the spot feed opens callback( but never closes it")
        body = body[:-1]
    body = _STRING_OR_TRAILING_COMMA.sub(lambda m: m.group(1) or m.group(2), body)
    try:
        return json.loads(body)
    except ValueError as exc:
        raise ProviderResponseError(f"the spot feed is not JSON(P): {exc}") from exc


def _items(value: Any, key: str, where: str) -> list[Any]:
    items = value.get(key) if isinstance(value, dict) else None
    if not isinstance(items, list):
        raise ProviderResponseError(f"the spot feed has no {key!r} list in {where}")
    return items


def _linux_price(size: Mapping[str, Any], currency: str) -> str | None:
    for column in size.get("valueColumns") or ():
        if isinstance(column, dict) and column.get("name") == VALUE_COLUMN:
            prices = column.get("prices")
            if isinstance(prices, dict):
                text = prices.get(currency)
                return text if isinstance(text, str) else None
    return None


def spot_offers(data: Any) -> Iterator[Offer | RowProblem | Unknown]:
    """Every GPU spot offer in a parsed spot feed, plus what could not be used."""
    config = data.get("config") if isinstance(data, dict) else None
    regions = _items(config, "regions", "config")
    currencies = config.get("currencies") if isinstance(config, dict) else None
    currency = currencies[0] if isinstance(currencies, list) and currencies else "USD"
    version = str(data.get("vers", "")) if isinstance(data, dict) else ""
    for entry in regions:
        name = entry.get("region") if isinstance(entry, dict) else None
        if not isinstance(name, str):
            yield RowProblem("a spot region without a name", repr(entry)[:300])
            continue
        code = region_code(name)
        if code is None:
            yield Unknown("spot region", name)
            continue
        for group in _items(entry, "instanceTypes", f"region {name}"):
            group_name = str(group.get("type", "")) if isinstance(group, dict) else ""
            gpu_group = "gpu" in group_name.lower()
            for size in _items(group, "sizes", f"{name}/{group_name}"):
                if not isinstance(size, dict) or not isinstance(size.get("size"), str):
                    yield RowProblem("a spot size without a name", repr(size)[:300])
                    continue
                offer = _spot_offer(size, code, name, group_name, gpu_group, currency, version)
                if offer is not None:
                    yield offer


def _spot_offer(
    size: Mapping[str, Any],
    region: str,
    feed_region: str,
    group: str,
    gpu_group: bool,
    currency: str,
    version: str,
) -> Offer | RowProblem | Unknown | None:
    instance_type: str = size["size"]
    fit = fit_gpu(instance_type) if "." in instance_type else None
    if fit is None:
        if gpu_group and family_of(instance_type) not in NOT_GPU_FAMILIES:
            # The feed files it under GPUs, but the table does not know it.
            return Unknown("spot instance type", f"{group} {instance_type}")
        return None
    if not isinstance(fit, GpuFit):
        return fit
    text = _linux_price(size, currency)
    if text is None or text in _NO_PRICE:
        return None
    try:
        price = float(text)
    except ValueError:
        return RowProblem(
            f"spot price {text!r} is not a number",
            f"{feed_region} {instance_type}",
            offer={"region": region, "instance_type": instance_type, "purchase_option": "spot"},
        )
    return make_offer(
        fit,
        region=region,
        instance_type=instance_type,
        purchase_option=PurchaseOption.SPOT,
        price_per_hour=price,
        currency=currency,
        billing=LINUX_BILLING,
        source={
            "spot_region": feed_region,
            "instance_type": instance_type,
            "column": VALUE_COLUMN,
            "feed_version": version,
        },
    )


class SpotFeed(Feed):
    """Spot prices of GPU instances, per region."""

    name: ClassVar[str] = "spot"
    title: ClassVar[str] = "EC2 spot prices (public spot price feed)"
    default_interval: ClassVar[timedelta] = timedelta(minutes=15)

    async def fetch(self, ctx: FetchContext) -> AsyncIterator[Offer | Mapping[str, Any]]:
        settings = settings_of(ctx)
        response = await ctx.conditional_get(settings.spot_url, state_key="spot-feed")
        if response is None:
            ctx.mark_unchanged("spot feed not modified")
            return
        try:
            body = await response.aread()
        finally:
            await response.aclose()
        data = parse_jsonp(body.decode("utf-8", errors="replace"))
        outcomes = Outcomes(ctx, seen=received_at(response))
        for outcome in spot_offers(data):
            offer = outcomes.offer(outcome)
            if offer is not None:
                yield offer
