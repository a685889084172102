"""Per-region price files: the region index, skipping unchanged versions, streaming a CSV.

Both offer-file feeds (``aws/on-demand`` and ``aws/savings-plan``) walk a ``region_index.json``
to one versioned CSV per region; :func:`regional_offers` is that walk. A region whose file
version (with :data:`PARSER_REVISION`) is the one the last successful sync recorded in
``ctx.state`` is skipped with ``ctx.mark_unchanged``; a fetched region's version is recorded
only after its whole file was read, so a cut-short download is fetched again. A point whose
region is not its file's is skipped: "unchanged" is decided per file. See
docs/providers/aws.md, "Regions, and files that have not changed".
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from aggregator.errors import ProviderResponseError
from aggregator.http.received import received_at
from aggregator.models import Offer
from aggregator.providers import FetchContext
from plugins.aws.csv_stream import PushParser, adrive
from plugins.aws.offers import Unknown
from plugins.aws.reporting import Outcomes
from plugins.aws.rows import RowProblem
from plugins.aws.settings import settings_of

__all__ = [
    "PARSER_REVISION",
    "RegionFile",
    "changed_region_files",
    "fetch_region_index",
    "regional_offers",
    "stream_csv",
]

#: Bump when the parsers read the files differently, so stored versions no longer match.
PARSER_REVISION = "2"

T = TypeVar("T")


@dataclass(frozen=True)
class RegionFile:
    """One region's price file as the region index lists it."""

    region: str
    version_url: str

    @property
    def csv_path(self) -> str:
        """The CSV form of the file: the version URL with ``.json`` replaced by ``.csv``."""
        stem, dot, ext = self.version_url.rpartition(".")
        if not dot or ext != "json":
            raise ProviderResponseError(
                f"region {self.region}: version URL {self.version_url!r} does not end in .json"
            )
        return f"{stem}.csv"

    @property
    def state_value(self) -> str:
        return f"{PARSER_REVISION}|{self.version_url}"


def _region_files(data: Any, url: str) -> list[RegionFile]:
    regions = data.get("regions") if isinstance(data, dict) else None
    entries: Iterable[Any]
    if isinstance(regions, dict):
        entries = regions.values()
    elif isinstance(regions, list):
        entries = regions
    else:
        raise ProviderResponseError(f"{url} has no 'regions' object: not a region index")
    files: list[RegionFile] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise ProviderResponseError(f"{url}: a region entry is not an object: {entry!r}")
        region = entry.get("regionCode")
        version_url = entry.get("currentVersionUrl") or entry.get("versionUrl")
        if not isinstance(region, str) or not region or not isinstance(version_url, str):
            raise ProviderResponseError(f"{url}: region entry without code or URL: {entry!r}")
        files.append(RegionFile(region, version_url))
    if not files:
        raise ProviderResponseError(f"{url} lists no regions")
    return sorted(files, key=lambda f: f.region)


async def fetch_region_index(ctx: FetchContext, url: str) -> list[RegionFile]:
    """The region files ``url`` (a ``region_index.json``) lists, sorted by region."""
    response = await ctx.client.get(url)
    try:
        data = json.loads(response.content)
    except ValueError as exc:
        raise ProviderResponseError(f"{url} is not JSON ({exc}): not a region index") from exc
    return _region_files(data, url)


async def changed_region_files(
    ctx: FetchContext,
    files: list[RegionFile],
    *,
    state_prefix: str,
    allowlist: frozenset[str] | None,
) -> AsyncIterator[RegionFile]:
    """The files to download: selected regions whose version changed since the last good sync.

    Unchanged regions are marked with ``ctx.mark_unchanged(region=...)``. A region is recorded
    as fetched when the caller asks for the next file (or the iteration ends), i.e. after it
    consumed the whole file.
    """
    selected = files if allowlist is None else [f for f in files if f.region in allowlist]
    if allowlist is not None:
        absent = sorted(allowlist - {f.region for f in files})
        if absent:
            ctx.log.warning(
                "%s: GPUHOURS_AWS_REGIONS names regions the region index does not list: %s",
                ctx.feed_id,
                ", ".join(absent),
            )
    ctx.progress(total=len(selected))
    for file in selected:
        key = f"{state_prefix}:{file.region}"
        if ctx.state.get(key) == file.state_value:
            ctx.mark_unchanged("price file version unchanged", region=file.region)
            ctx.progress(advance=1, note=f"{file.region}: unchanged")
            continue
        yield file
        ctx.state[key] = file.state_value
        ctx.progress(advance=1, note=file.region)


async def stream_csv(
    ctx: FetchContext,
    url: str,
    make_parser: Callable[[str], PushParser[T]],
    outcomes: Outcomes | None = None,
) -> AsyncIterator[T]:
    """Stream ``url`` through a parser made by ``make_parser(url)``; yields what it yields.

    The body is consumed chunk by chunk as it arrives; a connection that breaks off raises
    (the core's client turns it into a ProviderError), and so does a body that ends mid-row.
    ``outcomes`` learns when the response was received, for its offers' ``observed_at``.
    """
    async with ctx.client.stream("GET", url) as response:
        if outcomes is not None:
            outcomes.seen = received_at(response)
        async for item in adrive(make_parser(url), response.aiter_bytes()):
            yield item


async def regional_offers(
    ctx: FetchContext,
    index_path: str,
    *,
    state_prefix: str,
    make_parser: Callable[[str], PushParser[Any]],
    point_type: type[T],
    to_outcome: Callable[[T], Offer | RowProblem | Unknown | None],
    file_kind: str,
) -> AsyncIterator[Offer]:
    """The offers of every changed regional file named by the index at ``index_path``.

    ``make_parser(url)`` yields ``point_type`` points (dataclasses with a ``region``, empty
    when the row names none) or :class:`RowProblem` s; ``to_outcome`` turns a point into an
    offer, a problem or an unknown, which :class:`Outcomes` reports. ``state_prefix`` keys
    the recorded file versions; ``file_kind`` names the files in the warning.
    """
    settings = settings_of(ctx)
    base = settings.pricing_base
    files = await fetch_region_index(ctx, base + index_path)
    outcomes = Outcomes(ctx)
    async for file in changed_region_files(
        ctx, files, state_prefix=state_prefix, allowlist=settings.region_allowlist
    ):
        elsewhere = 0
        async for result in stream_csv(ctx, base + file.csv_path, make_parser, outcomes):
            if isinstance(result, point_type):
                point: Any = result
                if not point.region:
                    result = replace(point, region=file.region)
                elif point.region != file.region:
                    elsewhere += 1
                    continue
                outcome = to_outcome(result)
            else:
                outcome = result
            offer = outcomes.offer(outcome)
            if offer is not None:
                yield offer
        if elsewhere:
            ctx.log.warning(
                "%s: skipped %d GPU prices of other regions in the %s of %s",
                ctx.feed_id,
                elsewhere,
                file_kind,
                file.region,
            )
