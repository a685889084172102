"""The ``mirror/export`` feed: every offer and interruption rate of another store's export,
with its own provider, source and ``observed_at``, through the sync engine's guards.

An unchanged export costs one conditional request (``If-None-Match`` with the last good
sync's ``ETag``; for a file, reading its header line) and then keeps the mirrored prices
exactly as they are: their observation times stay the exporting store's, so nothing here
claims to have seen a price itself.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import pydantic

from aggregator.errors import ExportFormatError, ProviderUnavailable
from aggregator.export.format import MEDIA_TYPE, ExportHeader
from aggregator.export.origin import origin_state
from aggregator.export.read import read_export
from aggregator.http import redact_url
from aggregator.interruptions import InterruptionRate
from aggregator.models import PastInterval, PastPrice, UtcDatetime, natural_key_id_of
from aggregator.providers import FetchContext, RelayedOffer, RelayFeed
from plugins.mirror.settings import MirrorSettings

__all__ = ["MirrorFeed"]

_CHUNK = 256 * 1024
_STATE_PREFIX = "export:"
_PROGRESS_EVERY = 5000


class MirrorFeed(RelayFeed):
    """The store behind ``GPUHOURS_MIRROR_URL``, as its last export shows it."""

    name: ClassVar[str] = "export"
    title: ClassVar[str] = "Mirror of another gpuhours store"
    default_interval: ClassVar[timedelta] = timedelta(minutes=15)

    async def fetch(
        self, ctx: FetchContext
    ) -> AsyncIterator[InterruptionRate | RelayedOffer | Mapping[str, Any]]:
        settings = ctx.settings
        assert isinstance(settings, MirrorSettings) and settings.url is not None
        key = _STATE_PREFIX + hashlib.sha256(settings.url.encode()).hexdigest()[:12]
        # Only this export's validators are kept: a new URL starts afresh (and its header
        # replaces the origin).
        for name in [n for n in ctx.state if n.startswith(_STATE_PREFIX)]:
            if not name.startswith(key):
                del ctx.state[name]
        if settings.is_http:
            where = redact_url(settings.url)
            chunks = await _http_chunks(ctx, settings, key)
        else:
            where = str(settings.path)
            chunks = await _file_chunks(ctx, settings.path, key)
        if chunks is None:
            ctx.mark_unchanged("the export has not changed", confirm=False)
            return
        count = 0
        async for item in read_export(chunks, where):
            if isinstance(item, ExportHeader):
                ctx.state.update(origin_state(item, where))
                continue
            row = _item(ctx, item)
            if row is not None:
                yield row
            count += 1
            if count % _PROGRESS_EVERY == 0:
                ctx.progress(advance=_PROGRESS_EVERY)


def _item(ctx: FetchContext, line: dict[str, Any]) -> InterruptionRate | RelayedOffer | None:
    """An export line as the engine takes it: an offer's fields, or a validated rate."""
    kind = line.pop("kind")
    if kind == "interruption_rate":
        # The sync engine's modules are imported when a sync reads lines, not whenever the
        # plugin loads (``gpuhours providers`` loads every plugin).
        from aggregator.sync.rates import validate_interruption_rate

        try:
            return validate_interruption_rate(line)
        except ValueError as exc:
            ctx.reject(f"interruption rate: {exc}", line)
            return None
    # A rejected offer line that names its offer holds it at its last good price.
    if not line.get("observed_at"):  # the engine would date it now: a claim never made
        ctx.reject("offer without observed_at", line, offer=line)
        return None
    offer_id = line.pop("id", None)
    first_seen, history = line.pop("first_seen", None), line.pop("history", None)
    provider = line.get("provider")
    expected = natural_key_id_of(line, provider) if isinstance(provider, str) else None
    if expected is not None and offer_id != expected:
        reason = f"offer id {str(offer_id)[:40]!r} does not match its natural key"
        ctx.reject(reason, line, offer=line)
        return None
    try:
        past = _PAST.validate_python({"first_seen": first_seen, "history": history})
    except pydantic.ValidationError as exc:
        from aggregator.sync.collect import first_error

        ctx.reject(f"offer {first_error(exc)}", line, offer=line)
        return None
    source = line.get("source")
    history = [  # the offer's own source where equal: one mapping held, not two
        PastPrice(
            i.price_per_hour, i.upfront, i.currency,
            source if i.source == source else i.source, i.valid_from, i.valid_to,
        )
        for i in past.history
    ]  # fmt: skip
    return RelayedOffer(fields=line, first_seen=past.first_seen, history=history)


class _Past(pydantic.BaseModel):
    """What an offer line says of the offer's past besides the offer itself."""

    first_seen: UtcDatetime
    history: list[PastInterval] = pydantic.Field(min_length=1)


_PAST = pydantic.TypeAdapter(_Past)


async def _http_chunks(
    ctx: FetchContext, settings: MirrorSettings, key: str
) -> AsyncIterator[bytes] | None:
    """The export's bytes from its server; ``None`` when it answers 304 Not Modified."""
    assert settings.url is not None
    headers = {"Accept": MEDIA_TYPE}
    if settings.token is not None and settings.token.get_secret_value():
        headers["Authorization"] = f"Bearer {settings.token.get_secret_value()}"
    response = await ctx.conditional_get(settings.url, state_key=key, headers=headers)
    if response is None:
        return None

    async def chunks() -> AsyncIterator[bytes]:
        try:
            async for chunk in response.aiter_bytes(_CHUNK):
                yield chunk
        finally:
            await response.aclose()

    return chunks()


async def _file_chunks(ctx: FetchContext, path: Path, key: str) -> AsyncIterator[bytes] | None:
    """The export file's bytes; ``None`` when its header names the export last stored."""
    where = str(path)
    try:
        handle = await asyncio.to_thread(path.open, "rb")
    except OSError as exc:
        raise ProviderUnavailable(f"cannot read the export file {where}: {exc.strerror}") from None
    try:
        # Tag and body from one handle: a file renamed over this one meanwhile is read next
        # time, never taken for the one already stored.
        tag = await _file_tag(handle, where)
        await asyncio.to_thread(handle.seek, 0)
    except BaseException:
        handle.close()
        raise
    if ctx.state.get(f"{key}:tag") == tag:
        handle.close()
        return None
    ctx.state[f"{key}:tag"] = tag

    async def chunks() -> AsyncIterator[bytes]:
        try:
            while chunk := await asyncio.to_thread(handle.read, _CHUNK):
                yield chunk
        finally:
            handle.close()

    return chunks()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


async def _file_tag(handle: BinaryIO, where: str) -> str:
    """The tag of the export in ``handle`` from its header line alone (a few KiB read)."""

    async def head() -> AsyncIterator[bytes]:
        while chunk := await asyncio.to_thread(handle.read, 16 * 1024):
            yield chunk

    stream = read_export(head(), where)
    try:
        header = await anext(stream)
    except StopAsyncIteration:  # pragma: no cover - read_export raises first
        raise ExportFormatError(f"{where} is empty: not a gpuhours export") from None
    finally:
        await stream.aclose()
    assert isinstance(header, ExportHeader)
    # Not the server's tag (the header does not hold the store's first sync): the version and
    # the feeds' last syncs, so a re-export of an unchanged store is recognized.
    syncs = sorted((feed, f.last_success_at.isoformat()) for feed, f in header.feeds.items())
    return f"{header.store_version}:{_digest(repr(syncs))}"
