"""What a feed snapshot changes in the store: the snapshot, its checks, and the diff.

Everything here runs before :func:`db.store.apply_snapshot` writes anything: the snapshot's
rows are checked (:func:`validate_snapshot`); then, inside the write transaction, the stored
offers they concern are read (:func:`load_feed`, :func:`load_other_feeds`) and compared with
them (:func:`diff`). The result is a :class:`Plan` that the write carries out, or that a guard
(:func:`check_jumps`) refuses with nothing changed. Rows are the tuples of
:mod:`db.store.rows`, indexed by position: the diff walks every offer of a sync.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Connection, select

from aggregator.errors import SyncRejected
from aggregator.interruptions import InterruptionRate, RateKey
from aggregator.models import Offer, PastPrice
from aggregator.price_sanity import price_problem
from db.store.feed_txn import SnapshotMeta
from db.store.rows import (
    CURRENCY,
    GPU_COUNT,
    ID,
    INSTANCE_TYPE,
    OPTION,
    PRICE,
    PROVIDER,
    REGION,
    SOURCE,
    UPFRONT,
    TupleRow,
)
from db.tables import OFFER_MATCH_COLUMNS, offers

__all__ = [
    "FeedSnapshot",
    "Plan",
    "check_jumps",
    "diff",
    "load_feed",
    "load_other_feeds",
    "newer_elsewhere",
    "validate_snapshot",
]

_JUMP_EXAMPLES = 3


@dataclass(kw_only=True)
class FeedSnapshot(SnapshotMeta):
    """Everything one successful fetch of a feed produced, ready to be stored.

    ``offers`` are validated and unique by natural key. ``unchanged`` lists parts of the feed the
    source reported as not modified (e.g. an AWS region whose offer file version did not
    change): each is a match on offer columns (see :data:`db.tables.OFFER_MATCH_COLUMNS`, values
    compared as text); ``{}`` matches the whole feed. Stored live offers that were not seen but
    match one are kept. ``state`` replaces the feed's persisted state (ETags, versions) as a
    whole. ``held`` are ids of offers the feed returned with prices that could not be used
    (implausible): stored ones stay exactly as they are, neither withdrawn nor confirmed, so
    their last good price survives with its real age. ``rates`` (a relay feed's interruption
    rates, ``None`` for other feeds) are stored in the same transaction, ``rates_held`` keys
    of rates kept as they are; ``pasts`` (a relay's, by offer id) the first-seen time and
    price intervals an offer had in the store it comes from.
    """

    offers: list[Offer]
    held: list[str] = field(default_factory=list)
    rates: list[InterruptionRate] | None = None
    rates_held: list[RateKey] = field(default_factory=list)
    pasts: dict[str, tuple[datetime, list[PastPrice]]] = field(default_factory=dict)


class _Stored(NamedTuple):
    """What the diff needs to know about an offer already in the store."""

    price: tuple[float, float, str]  # price_per_hour, upfront, currency
    live: bool
    match_values: tuple[str, ...]  # values of the columns the unchanged matches name
    as_of: datetime | None  # when last known: observed_at if live, else withdrawn_at


@dataclass
class Plan:
    """The diff of a snapshot against the store, computed before anything is written."""

    history_rows: list[TupleRow] = field(default_factory=list)
    close_ids: list[str] = field(default_factory=list)  # open intervals to end at `now`
    withdraw_ids: list[str] = field(default_factory=list)
    keep_ids: list[str] = field(default_factory=list)
    held: int = 0  # live offers left as they were (see FeedSnapshot.held, .unconfirmed)
    kept_as_is: int = 0  # of those, the ones an unconfirmed match kept
    new: int = 0
    changed: int = 0
    unchanged_seen: int = 0
    live_before: int = 0
    # (row, stored price per hour) of live offers seen at another price in the same currency
    repriced: list[tuple[TupleRow, float]] = field(default_factory=list)


def validate_snapshot(snap: FeedSnapshot, rows: list[TupleRow]) -> tuple[str, ...]:
    """Check what the store relies on; return the columns the unchanged matches name."""
    ids = [row[ID] for row in rows]
    if len(set(ids)) != len(ids):
        first: dict[str, int] = {}
        for index, offer_id in enumerate(ids):
            if first.setdefault(offer_id, index) != index:
                break
        offer = snap.offers[index]
        raise SyncRejected(
            f"feed {snap.feed} returned the same offer more than once "
            f"({' / '.join(map(str, offer.natural_key()))}): not applied"
        )
    columns: set[str] = set()
    for match in [*snap.unchanged, *snap.unconfirmed]:
        unknown = set(match) - OFFER_MATCH_COLUMNS
        if unknown:
            raise SyncRejected(
                f"feed {snap.feed}: an unchanged match names unknown offer column(s) "
                f"{', '.join(sorted(unknown))} (known: {', '.join(sorted(OFFER_MATCH_COLUMNS))})"
            )
        columns.update(match)
    return tuple(sorted(columns))


def _stored_columns(match_columns: tuple[str, ...] = ()) -> list[ColumnElement[Any]]:
    return [
        offers.c.id,
        offers.c.price_per_hour,
        offers.c.upfront,
        offers.c.currency,
        offers.c.withdrawn_at.is_(None).label("live"),
        offers.c.observed_at,
        offers.c.withdrawn_at,
        *(offers.c[name] for name in match_columns),
    ]


def _stored(row: Sequence[Any]) -> _Stored:
    live = bool(row[4])
    return _Stored(
        price=(row[1], row[2], row[3]),
        live=live,
        match_values=tuple(str(value) for value in row[7:]),
        as_of=row[5] if live else row[6],
    )


def load_feed(conn: Connection, feed: str, match_columns: tuple[str, ...]) -> dict[str, _Stored]:
    """Stored state of every offer of ``feed``, live or withdrawn, by id."""
    stmt = select(*_stored_columns(match_columns)).where(offers.c.feed == feed)
    return {row[0]: _stored(row) for row in conn.execute(stmt)}


def load_other_feeds(
    conn: Connection, feed: str, rows: list[TupleRow], stored: dict[str, _Stored]
) -> dict[str, _Stored]:
    """Stored state of seen offers that currently belong to another feed (they move here).

    An id hashes the provider, so only other feeds of the same providers can hold one: their
    offers are read in one query (usually few or none) instead of probing every new id.
    """
    providers = {row[PROVIDER] for row in rows if row[ID] not in stored}
    if not providers:
        return {}
    seen = {row[ID] for row in rows}
    stmt = select(*_stored_columns()).where(
        offers.c.provider.in_(sorted(providers)), offers.c.feed != feed
    )
    return {row[0]: _stored(row) for row in conn.execute(stmt) if row[0] in seen}


def newer_elsewhere(
    snap: FeedSnapshot, rows: list[TupleRow], moved: dict[str, _Stored], now: datetime
) -> set[int]:
    """Positions of ``rows`` (``snap.offers``' rows) that another feed holds with a newer
    observation.

    The newer observation wins: such an offer stays with the feed that saw it later (or
    withdrew it later), so a mirror and a direct sync of one provider never double an offer
    or put an older price over a newer one.
    """
    newer: set[int] = set()
    if not moved:
        return newer
    for index, row in enumerate(rows):
        before = moved.get(row[ID])
        as_of = before.as_of if before is not None else None
        if as_of is not None and as_of > (snap.offers[index].observed_at or now):
            newer.add(index)
    return newer


def diff(
    snap: FeedSnapshot,
    rows: list[TupleRow],
    stored: dict[str, _Stored],
    moved: dict[str, _Stored],
    match_columns: tuple[str, ...],
    now: Any,
) -> Plan:
    """Classify seen offers (``stored``: this feed's, ``moved``: other feeds') and unseen ones."""
    plan = Plan(live_before=sum(1 for before in stored.values() if before.live))
    for row in rows:
        offer_id = row[ID]
        before = stored.get(offer_id) or moved.get(offer_id)
        price = (row[PRICE], row[UPFRONT], row[CURRENCY])
        if before is not None and before.live and before.price == price:
            plan.unchanged_seen += 1
            continue
        if before is None or not before.live:
            plan.new += 1
        else:
            plan.changed += 1
            if before.price[2] == price[2]:
                plan.repriced.append((row, before.price[0]))
        if before is not None:
            # A withdrawn offer's interval is already closed; closing again is a harmless guard.
            plan.close_ids.append(offer_id)
        plan.history_rows.append((offer_id, *price, row[SOURCE], now, None))

    def positions(ms: list[Any]) -> list[tuple[tuple[int, str], ...]]:
        return [tuple((match_columns.index(col), value) for col, value in m.items()) for m in ms]

    matches, as_is = positions(snap.unchanged), positions(snap.unconfirmed)
    seen_ids = {row[ID] for row in rows}
    held = set(snap.held)
    for offer_id, before in stored.items():
        if offer_id in seen_ids or not before.live:
            continue
        values = before.match_values
        if offer_id in held:
            plan.held += 1
            continue
        if any(all(values[i] == v for i, v in m) for m in as_is):
            plan.held += 1
            plan.kept_as_is += 1
            continue
        if any(all(values[i] == v for i, v in m) for m in matches):
            plan.keep_ids.append(offer_id)
        else:
            plan.withdraw_ids.append(offer_id)
            plan.close_ids.append(offer_id)
    return plan


class _Price(NamedTuple):
    """A stored price in the shape :func:`aggregator.price_sanity.price_problem` checks."""

    price_per_hour: float
    gpu_count: float
    currency: str


def check_jumps(snap: FeedSnapshot, plan: Plan, share: float, factor: float) -> None:
    """Refuse a snapshot that moves more than ``share`` of the live offers by ``factor``.

    A stored price that is itself implausible (see :mod:`aggregator.price_sanity`) moving back
    into bounds is a repair, not a jump, and does not count.
    """
    jumps = [
        (row, old)
        for row, old in plan.repriced
        if max(row[PRICE] / old, old / row[PRICE]) > factor
        and price_problem(_Price(old, row[GPU_COUNT], row[CURRENCY])) is None
    ]
    if not plan.live_before or len(jumps) <= share * plan.live_before:
        return
    examples = "; ".join(
        f"{row[INSTANCE_TYPE]} {row[REGION]} {row[OPTION]}: "
        f"{old:g} -> {row[PRICE]:g} {row[CURRENCY]}/h"
        for row, old in jumps[:_JUMP_EXAMPLES]
    )
    raise SyncRejected(
        f"feed {snap.feed} moved {len(jumps)} of its {plan.live_before} live offers' prices by "
        f"more than {factor:g}x (more than {share:.0%} of them), e.g. {examples}: looks like a "
        "broken source; not applied, the stored prices stay (if the prices are right, run "
        "`gpuhours sync --force` to apply them)"
    )
