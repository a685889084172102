"""What a provider plugin subclasses: :class:`Provider`, :class:`Feed`, :class:`FetchContext`.

A provider is registered once (through the ``register_providers`` hook) and owns one or more
feeds. A feed is the unit of syncing and scheduling: ``aws/on-demand``, ``azure/retail``. Its
``fetch(ctx)`` is an async generator of offers (of interruption rates, for an
:class:`InterruptionFeed`); the sync engine validates, stores and accounts for them. Feeds
never touch the database and never build their own HTTP client: everything they need arrives
on the context, which is what lets tests replay recorded responses and lets one failing feed
not disturb the others.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from aggregator.gpus import GpuVocabulary, default_vocabulary

if TYPE_CHECKING:  # types only: loading a plugin must not cost httpx and pydantic-settings
    import httpx
    from pydantic_settings import BaseSettings

    from aggregator.interruptions import InterruptionRate
    from aggregator.models import Offer, PastPrice

__all__ = [
    "Feed",
    "FetchContext",
    "InterruptionFeed",
    "Progress",
    "Provider",
    "RelayFeed",
    "RelayedOffer",
    "Unchanged",
]

log = logging.getLogger(__name__)


class Progress(Protocol):
    """Receives progress from a running feed (the CLI draws it, the scheduler logs it)."""

    def __call__(self, *, advance: int = 0, total: int | None = None, note: str = "") -> None: ...


def _no_progress(*, advance: int = 0, total: int | None = None, note: str = "") -> None:
    return None


@dataclass(frozen=True)
class Unchanged:
    """A part of a feed that the source says has not changed since the last good sync.

    ``match`` holds offer field values (``{"region": "us-east-1"}``); an empty match means the
    whole feed. Stored offers that match are kept instead of being withdrawn, and confirmed
    as seen now; with ``confirm`` False they keep their own ``observed_at`` (a relay of
    another store's observations has not seen the prices itself).
    """

    match: Mapping[str, str]
    reason: str
    confirm: bool = True


@dataclass
class FetchContext:
    """Everything a feed's ``fetch`` may use.

    ``state`` is a small string map that persists between successful syncs of this feed
    (ETags, Last-Modified values, offer-file versions); changes made during a sync are saved
    only if that sync succeeds. ``gpus`` is the GPU vocabulary of every loaded plugin (the
    built-in GPUs plus those ``register_gpus`` added): resolve GPU names with it, not with the
    built-in vocabulary alone.
    """

    client: httpx.AsyncClient
    feed_id: str
    settings: BaseSettings | None = None
    gpus: GpuVocabulary = field(default_factory=default_vocabulary)
    state: dict[str, str] = field(default_factory=dict)
    progress: Progress = _no_progress
    log: logging.Logger = field(default_factory=lambda: log)
    unchanged: list[Unchanged] = field(default_factory=list)
    rejects: list[tuple[str, str]] = field(default_factory=list)
    held: list[Mapping[str, Any]] = field(default_factory=list)
    unknowns: list[tuple[str, str]] = field(default_factory=list)
    unknown_names: list[str] = field(default_factory=list)
    _reported_once: set[Hashable] = field(default_factory=set, repr=False)

    def mark_unchanged(
        self, reason: str = "not modified", *, confirm: bool = True, **match: str
    ) -> None:
        """Keep stored offers matching ``match`` (all of the feed when empty) as they are;
        ``confirm=False`` leaves their ``observed_at`` alone (see :class:`Unchanged`)."""
        self.unchanged.append(Unchanged(match=dict(match), reason=reason, confirm=confirm))

    def reject(
        self, reason: str, raw: object = "", *, offer: Mapping[str, Any] | None = None
    ) -> None:
        """Count a source row that should have been an offer but could not be made one.

        Pass ``offer`` (at least the natural-key fields: ``region``, ``instance_type``,
        ``purchase_option``, and ``zone``, ``term_hours``, ``payment``, ``offering_class``
        where they apply) when the row names its offer but its price cannot be used: the
        stored offer then keeps its last good price instead of being withdrawn.
        """
        self.rejects.append((reason, _short(raw)))
        self.log.info("%s: rejected row: %s: %s", self.feed_id, reason, _short(raw))
        if offer is not None:
            self.hold(offer)

    def hold(self, offer: Mapping[str, Any]) -> None:
        """Keep the stored offer with ``offer``'s natural key exactly as it is this sync.

        For an offer the source still lists but whose price this sync could not establish
        (one of its parts was rejected): neither withdrawn nor re-confirmed.
        """
        self.held.append(offer)

    def report_unknown(self, what: str, raw: object, *, once: Hashable | None = None) -> None:
        """Count a row skipped because the plugin's tables do not know it (never guessed).

        With ``once`` (an instance type, a SKU name ...), only the first report of that key in
        this sync counts: the same unknown thing often fills a row per region.
        """
        if once is not None:
            if once in self._reported_once:
                return
            self._reported_once.add(once)
        self.unknowns.append((what, _short(raw)))
        self.unknown_names.append(_unknown_name(what, once))
        self.log.info("%s: skipped unknown %s: %s", self.feed_id, what, _short(raw))

    async def conditional_get(
        self,
        url: str,
        *,
        state_key: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response | None:
        """GET ``url`` with ``If-None-Match``/``If-Modified-Since`` from the last good sync,
        and ``headers`` (an ``Authorization`` header is sent, never recorded or logged).

        Returns ``None`` when the source answers 304 Not Modified; otherwise the (streamed)
        response, whose validators are remembered in ``state`` under ``state_key``. The caller
        must close the response (use it as ``async with``-less: ``await resp.aclose()``).
        """
        sent: dict[str, str] = dict(headers or {})
        if etag := self.state.get(f"{state_key}:etag"):
            sent["If-None-Match"] = etag
        if modified := self.state.get(f"{state_key}:last-modified"):
            sent["If-Modified-Since"] = modified
        request = self.client.build_request("GET", url, params=params, headers=sent)
        response = await self.client.send(request, stream=True)
        if response.status_code == 304:
            await response.aclose()
            return None
        response.raise_for_status()
        if etag := response.headers.get("etag"):
            self.state[f"{state_key}:etag"] = etag
        if modified := response.headers.get("last-modified"):
            self.state[f"{state_key}:last-modified"] = modified
        return response


def _unknown_name(what: str, once: Hashable | None) -> str:
    """A short name for an unknown thing: ``what``, with the ``once`` key if it adds to it."""
    parts = once if isinstance(once, tuple) else (once,)
    extra = [str(p) for p in parts if p is not None and str(p) not in what]
    return _short(" ".join([what, *extra]), 120)


def _short(raw: object, limit: int = 300) -> str:
    text = raw if isinstance(raw, str) else repr(raw)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Feed(ABC):
    """One independently synced stream of offers from a provider.

    Subclasses set ``name`` (``on-demand``, ``spot``: lower case, no slash) and
    ``default_interval``, and implement :meth:`fetch`. Yield :class:`Offer` objects or plain
    mappings of offer fields; mappings are validated by the sync engine, so one bad row is
    counted as rejected instead of ending the feed. A feed of interruption data subclasses
    :class:`InterruptionFeed` instead.
    """

    name: ClassVar[str]
    title: ClassVar[str] = ""
    default_interval: ClassVar[timedelta] = timedelta(days=1)
    shrink_guard: ClassVar[bool] = True
    """Refuse a sync that returns nothing or far fewer offers than are live (``--force`` lifts
    it). Keep it for a cloud's price API, where a short answer means a broken source. Set it
    to False for a list the user curates, where a shorter list is the intended change (a price
    sheet whose rates expire): then whatever the feed yields, even nothing, is applied."""

    @abstractmethod
    def fetch(
        self, ctx: FetchContext
    ) -> AsyncIterator[Offer | InterruptionRate | RelayedOffer | Mapping[str, Any]]:
        """Yield every offer currently published by this feed's source (a
        :class:`RelayedOffer` only from a :class:`RelayFeed`)."""


class InterruptionFeed(Feed):
    """A feed of the seller's interruption data instead of offers.

    :meth:`fetch` yields :class:`~aggregator.interruptions.InterruptionRate` objects or plain
    mappings of their fields, validated like offers. A successful sync replaces the rates this
    feed stored before, all at once; a failed or empty one keeps them (docs/plugins.md).
    """

    @abstractmethod
    def fetch(self, ctx: FetchContext) -> AsyncIterator[InterruptionRate | Mapping[str, Any]]:
        """Yield every interruption rate currently published by this feed's source."""


class RelayFeed(Feed):
    """A feed that relays prices another gpuhours store already collected (the ``mirror``).

    Its offers keep their own ``provider`` (any name, not only this provider's), and it may
    also yield :class:`~aggregator.interruptions.InterruptionRate` objects: the sync engine
    stores both in one transaction, with every guard of an offer sync. Where an offer (or a
    rate) is also held by another feed of the store, the newer observation wins
    (docs/sync.md).
    """


@dataclass(frozen=True)
class RelayedOffer:
    """An offer a :class:`RelayFeed` passes on with its past in the store it comes from.

    ``fields`` are the offer's (validated like any feed's row), ``first_seen`` when that store
    first stored it, ``history`` its price intervals there (validated, e.g. as
    :class:`~aggregator.models.PastInterval`), oldest first, the last one open at the offer's
    price. An offer the relay stores new or at a new price takes this past
    instead of starting one, so its history reads as it does in the other store.
    """

    fields: Mapping[str, Any]
    first_seen: datetime
    history: Sequence[PastPrice]


class Provider(ABC):
    """A cloud (or any other seller of GPU time) and its feeds.

    ``settings_class`` is an optional pydantic-settings model (use the ``GPUHOURS_`` env
    prefix) that gpuhours instantiates and hands to the feeds as ``ctx.settings``.
    """

    name: ClassVar[str]
    title: ClassVar[str] = ""
    settings_class: ClassVar[type[BaseSettings] | None] = None

    @abstractmethod
    def feeds(self) -> Sequence[Feed]:
        """The feeds this provider offers."""

    def not_configured_reason(self, settings: BaseSettings | None) -> str | None:
        """Why this provider cannot sync at all with ``settings``, or None."""
        return None

    def missing_credentials(self, settings: BaseSettings | None) -> str | None:
        """Why the live price API cannot be called (e.g. no API key), or None.

        Not asked when replaying recorded responses, which need no credentials.
        """
        return None
