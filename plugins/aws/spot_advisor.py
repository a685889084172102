"""The ``aws/spot-advisor`` feed: how often AWS takes back spot capacity of GPU instance types.

AWS's Spot Instance Advisor publishes one public JSON file (no credentials): the interruption
buckets (``ranges``), and per region, operating system and instance type the advertised saving
and the bucket (``spot_advisor[region]["Linux"][type] = {"s": ..., "r": ...}``). Only Linux rows
of families in the GPU table are kept: gpuhours prices nothing else. A malformed file fails the
feed (the stored rates stay); a malformed row is rejected with its reason and its stored rate
kept. What is read and the quirks: docs/providers/aws.md, "Spot interruption rates".
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

import httpx
import pydantic

from aggregator.errors import ProviderResponseError
from aggregator.http.received import received_at
from aggregator.interruptions import MAX_SAVINGS_PERCENT, MIN_SAVINGS_PERCENT, InterruptionRate
from aggregator.providers import FetchContext, InterruptionFeed
from plugins.aws.families import lookup
from plugins.aws.rows import RowProblem
from plugins.aws.settings import settings_of

__all__ = ["MAX_BODY_BYTES", "OS_SECTION", "Bucket", "SpotAdvisorFeed", "advisor_rates", "buckets"]

OS_SECTION = "Linux"
MAX_BODY_BYTES = 64 * 1024 * 1024
"""Largest advisor file read (the real one is about 1 MB): past it the feed fails."""
_REGION_CODE = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}$")


@dataclass(frozen=True)
class Bucket:
    """One interruption bucket: its place in ``ranges`` and the percentages it stands for."""

    index: int
    label: str
    min_percent: float
    max_percent: float
    position: int  # where it stands in the file's ``ranges`` list, for the source pointer


def _number(value: object) -> float | None:
    """A JSON number as a finite float; ``None`` for anything else (booleans included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def buckets(ranges: object) -> dict[int, Bucket]:
    """The file's ``ranges`` by index, each with its lower bound (the previous bucket's upper).

    Raises :class:`ProviderResponseError` unless ``ranges`` is a non-empty list of objects with
    distinct integer ``index``, a ``label`` and a ``max`` in (0, 100] rising with the index.
    """
    if not isinstance(ranges, list) or not ranges:
        raise ProviderResponseError("the Spot Instance Advisor data has no 'ranges' list")
    found: dict[int, tuple[int, str, float]] = {}
    for position, entry in enumerate(ranges):
        index = entry.get("index") if isinstance(entry, dict) else None
        label = entry.get("label") if isinstance(entry, dict) else None
        top = _number(entry.get("max")) if isinstance(entry, dict) else None
        if (
            isinstance(index, bool)
            or not isinstance(index, int)
            or index in found
            or not isinstance(label, str)
            or not 0 < len(label) <= 32
            or top is None
            or not 0 < top <= 100
        ):
            raise ProviderResponseError(
                f"the Spot Instance Advisor data has a malformed range: {repr(entry)[:200]}"
            )
        found[index] = (position, label, top)
    result: dict[int, Bucket] = {}
    below = 0.0
    for index in sorted(found):
        position, label, top = found[index]
        if top <= below:
            raise ProviderResponseError(
                f"the Spot Instance Advisor ranges do not rise: range {index} ends at {top:g} %"
            )
        result[index] = Bucket(index, label, below, top, position)
        below = top
    return result


def advisor_rates(
    data: object, *, url: str, observed_at: datetime | None = None
) -> Iterator[InterruptionRate | RowProblem]:
    """Every Linux GPU rate in a parsed advisor file, plus the rows that could not be read.

    Raises :class:`ProviderResponseError` when the file itself is unusable (not an object, no
    usable ``ranges``, no ``spot_advisor`` object).
    """
    if not isinstance(data, dict):
        raise ProviderResponseError("the Spot Instance Advisor data is not a JSON object")
    scale = buckets(data.get("ranges"))
    regions = data.get("spot_advisor")
    if not isinstance(regions, dict):
        raise ProviderResponseError("the Spot Instance Advisor data has no 'spot_advisor' object")
    for region, systems in regions.items():
        if not _REGION_CODE.match(region) or len(region) > 32:
            yield RowProblem(f"{region[:40]!r} is not a region code", repr(region)[:300])
            continue
        rows = systems.get(OS_SECTION) if isinstance(systems, dict) else None
        if not isinstance(rows, dict):
            yield RowProblem(f"region {region} has no {OS_SECTION} object", repr(systems)[:300])
            continue
        for instance_type, row in rows.items():
            if lookup(instance_type) is not None:  # a GPU family: the rest is not priced
                yield _rate(region, instance_type, row, scale, url, observed_at)


def _rate(
    region: str,
    instance_type: str,
    row: object,
    scale: Mapping[int, Bucket],
    url: str,
    observed_at: datetime | None,
) -> InterruptionRate | RowProblem:
    key = {"region": region, "instance_type": instance_type}
    where = f"{region} {instance_type} {row!r}"[:300]
    index = row.get("r") if isinstance(row, dict) else None
    if isinstance(index, bool) or not isinstance(index, int) or index not in scale:
        return RowProblem(f"unknown range index {index!r}", where, offer=key)
    savings = _number(row.get("s")) if isinstance(row, dict) else None
    if savings is None or not MIN_SAVINGS_PERCENT <= savings <= MAX_SAVINGS_PERCENT:
        shown = row.get("s") if isinstance(row, dict) else None
        return RowProblem(f"savings {shown!r} is not a percentage in -1000..100", where, key)
    bucket = scale[index]
    try:
        return InterruptionRate(
            provider="aws",
            region=region,
            instance_type=instance_type,
            bucket=bucket.index,
            bucket_label=bucket.label,
            interruption_min_percent=bucket.min_percent,
            interruption_max_percent=bucket.max_percent,
            savings_percent=savings,
            source={
                "url": url,
                "path": f"/spot_advisor/{region}/{OS_SECTION}/{instance_type}",
                "range": f"/ranges/{bucket.position}",
            },
            observed_at=observed_at,
        )
    except pydantic.ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        return RowProblem(f"{field}: {error['msg']}", where, offer=key)


async def _bounded_body(response: httpx.Response, url: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ProviderResponseError(
                f"the Spot Instance Advisor data at {url} is larger than {MAX_BODY_BYTES:,} "
                "bytes; not read"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ProviderResponseError(f"the Spot Instance Advisor data is not JSON: {exc}") from None


class SpotAdvisorFeed(InterruptionFeed):
    """Interruption buckets and advertised savings of GPU spot instances, per region."""

    name: ClassVar[str] = "spot-advisor"
    title: ClassVar[str] = "EC2 Spot Instance Advisor (interruption frequency)"
    default_interval: ClassVar[timedelta] = timedelta(days=1)  # a trailing-month statistic

    async def fetch(self, ctx: FetchContext) -> AsyncIterator[InterruptionRate | Mapping[str, Any]]:
        url = settings_of(ctx).spot_advisor_url
        response = await ctx.conditional_get(url, state_key="spot-advisor")
        if response is None:
            ctx.mark_unchanged("Spot Instance Advisor data not modified")
            return
        try:
            body = await _bounded_body(response, url)
        finally:
            await response.aclose()
        for outcome in advisor_rates(_parse(body), url=url, observed_at=received_at(response)):
            if isinstance(outcome, RowProblem):
                ctx.reject(outcome.reason, outcome.raw, offer=outcome.offer)
            else:
                yield outcome
