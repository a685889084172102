"""gpuhours provider plugin: GPU prices from your own price sheet (YAML or CSV).

Provider ``pricesheet``, one feed ``pricesheet/sheet`` (hourly). The sheet holds rates that
no public price list has: what your company contracted with a GPU cloud, or what your
internal cluster charges back per GPU-hour. Each row is one rate (region, instance type, GPU,
GPUs per node, purchase option, term, price, currency, validity dates; see
:mod:`gpuhours_pricesheet.rates`); rows in force today become offers that compete with the
clouds' in ``gpuhours cheapest``.

Settings (environment):

``GPUHOURS_PRICESHEET_PATH``    a local ``.yaml``/``.yml``/``.csv`` file, or an http(s) URL of
                                one (fetched through gpuhours' HTTP client, so ``--record``
                                and ``--replay`` work). Without it the feed is not configured.
``GPUHOURS_PRICESHEET_FORMAT``  ``yaml`` or ``csv`` when the name does not end in one.

A sheet with any bad row is refused whole, with every problem named by line and field; the
sync is then recorded as failed and the stored prices stay as they were. Rows not in force
today (``valid_from`` later, ``valid_until`` past) are not offered, and the sync logs which
ones and why. The feed re-reads the sheet every hour, so a rate starting tomorrow appears and
an expired one is withdrawn within an hour of midnight UTC without anyone editing anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

from aggregator import Feed, FetchContext, Offer, Provider, hookimpl
from aggregator.errors import ConfigurationError
from aggregator.gpus import GpuVocabulary
from pydantic_settings import BaseSettings

from gpuhours_pricesheet.errors import Problem, SheetError
from gpuhours_pricesheet.rates import Rate, parse_sheet
from gpuhours_pricesheet.settings import NOT_CONFIGURED, PriceSheetSettings

__all__ = [
    "PROVIDER",
    "PriceSheetProvider",
    "PriceSheetSettings",
    "Problem",
    "Rate",
    "SheetError",
    "SheetFeed",
    "parse_sheet",
    "register_providers",
]

PROVIDER = "pricesheet"

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


class SheetFeed(Feed):
    """``pricesheet/sheet``: the rates of the sheet that are in force today."""

    name = "sheet"
    title = "Rates from your price sheet (GPUHOURS_PRICESHEET_PATH)"
    # Cheap to read, and validity dates should take effect on the day they name.
    default_interval = timedelta(hours=1)
    # The sheet is the whole truth: when rates expire, a shorter (or empty) sheet is intended,
    # not a sign of a broken source, so gpuhours applies it instead of refusing it.
    shrink_guard = False

    def __init__(self, *, vocabulary: GpuVocabulary | None = None, clock: Clock = _now) -> None:
        # None: the vocabulary gpuhours hands over in ctx.gpus, which includes GPUs other
        # plugins registered; tests may pin one.
        self._vocabulary = vocabulary
        self._clock = clock

    async def fetch(self, ctx: FetchContext) -> AsyncIterator[Offer]:
        settings = ctx.settings if isinstance(ctx.settings, PriceSheetSettings) else None
        if settings is None or settings.path is None:
            raise ConfigurationError(NOT_CONFIGURED)
        sheet = settings.display_name
        url = sheet if settings.is_url else None
        ctx.progress(note=f"reading {sheet}")
        data = await _read(ctx, settings)
        rates = parse_sheet(
            data,
            settings.sheet_format,
            sheet=sheet,
            vocabulary=self._vocabulary if self._vocabulary is not None else ctx.gpus,
            provider=PROVIDER,
            feed=ctx.feed_id,
            url=url,
        )
        today = self._clock().astimezone(UTC).date()
        skipped = [(rate, why) for rate in rates if (why := rate.not_in_force(today))]
        in_force = [rate for rate in rates if rate.not_in_force(today) is None]
        ctx.progress(
            advance=len(rates), total=len(rates), note=f"{len(in_force)} of {len(rates)} in force"
        )
        if skipped:
            ctx.log.warning(
                "%s: %d of %d rates in %s are not in force on %s and were not offered: %s",
                ctx.feed_id,
                len(skipped),
                len(rates),
                sheet,
                today.isoformat(),
                "; ".join(f"line {rate.line} ({why})" for rate, why in skipped),
            )
        for rate in in_force:
            yield rate.offer


async def _read(ctx: FetchContext, settings: PriceSheetSettings) -> bytes:
    assert settings.path is not None
    if settings.is_url:
        # Error statuses and network failures arrive as gpuhours ProviderError subclasses.
        response = await ctx.client.get(settings.path)
        return response.content
    path = Path(settings.path).expanduser()
    try:
        return await asyncio.to_thread(path.read_bytes)
    except OSError as exc:
        raise SheetError(
            settings.display_name,
            [Problem(f"cannot be read: {exc.strerror or exc} (GPUHOURS_PRICESHEET_PATH)")],
            provider=PROVIDER,
            feed=ctx.feed_id,
        ) from None


class PriceSheetProvider(Provider):
    """Rates from a price sheet you keep: contracted cloud prices, internal chargeback."""

    name: ClassVar[str] = PROVIDER
    title: ClassVar[str] = "Price sheet (contracted and internal rates)"
    settings_class: ClassVar[type[BaseSettings] | None] = PriceSheetSettings

    def __init__(self, *, vocabulary: GpuVocabulary | None = None, clock: Clock = _now) -> None:
        self._feeds = (SheetFeed(vocabulary=vocabulary, clock=clock),)

    def feeds(self) -> Sequence[Feed]:
        return self._feeds

    def not_configured_reason(self, settings: BaseSettings | None) -> str | None:
        if not isinstance(settings, PriceSheetSettings) or settings.path is None:
            return NOT_CONFIGURED
        return None


@hookimpl
def register_providers(register: Callable[[Provider], None]) -> None:
    """Register the price-sheet provider (entry point ``gpuhours.providers``: ``pricesheet``)."""
    register(PriceSheetProvider())
