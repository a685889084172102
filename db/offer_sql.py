"""The one SQL text every offer read runs: :class:`OfferQuery` in, ``SELECT`` with ``:named``
parameters out.

Both offer readers (:func:`db.read.query_offers` and :func:`db.read.query_offer_records`) and
both drivers (the stdlib ``sqlite3`` and SQLAlchemy, see :mod:`db.reader`) run what
:func:`offer_select` builds, so a filter is defined once and means the same on SQLite and
PostgreSQL. Only constructs both databases share are used (``lower``, ``LIKE .. ESCAPE``,
``abs``, ``round``, ``GROUP BY`` with ``MIN``, ``CROSS JOIN``, ``ROW_NUMBER() OVER``), and every
value is a bound parameter, so no quoting rule of either dialect matters. IN lists get one
parameter per value (``name_0, name_1 ...``). Only how the cheapest-per-shape reduction joins
back differs by dialect (see :func:`_cheapest_per_shape`), with the same rows. Nothing here
imports SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from aggregator.globs import LIKE_ESCAPE, glob_to_like
from aggregator.gpus import MEMORY_TOLERANCE_GB
from aggregator.models import COMMITMENT_OPTIONS, PurchaseOption
from db.capacity import AVAILABLE_NOW_SQL

__all__ = [
    "GPU_COUNT_TOLERANCE",
    "SHAPE_COLUMNS",
    "OfferQuery",
    "OfferSort",
    "SqlParams",
    "glob_to_like",
    "offer_select",
]

OfferSort = Literal[
    "price_per_gpu_hour",
    "price_per_hour",
    "provider",
    "region",
    "instance_type",
    "gpu",
    "gpu_count",
    "gpu_memory_gb",
    "vcpus",
    "memory_gb",
    "interconnect_gbps",
    "purchase_option",
    "term_hours",
    "observed_at",
]
GPU_COUNT_TOLERANCE = 1e-9
"""How far a GPU count may be from a size and still count as it (float GPU counts such as
1/3 are stored as the nearest double)."""
SHAPE_COLUMNS = frozenset({"gpu", "gpu_memory_gb", "region", "zone", "instance_type"})
"""The columns :attr:`OfferQuery.shape_columns` may split the planner's shapes by."""
_PRICE_SORTS = frozenset({"price_per_gpu_hour", "price_per_hour"})
_TEXT_SORTS = frozenset({"provider", "region", "instance_type", "gpu", "purchase_option"})
_NULLABLE_SORTS = frozenset({"vcpus", "memory_gb", "interconnect_gbps"})
_SORT_COLUMNS: dict[str, str] = {name: name for name in get_args(OfferSort)}


@dataclass
class OfferQuery:
    """What an offer read should return; every filter is optional and they combine (AND).

    The GPU filter accepts an offer whose ``gpu`` is one of ``gpus`` (canonical names) or that
    matches one of ``gpu_variants``: ``(name, memory_gb)`` pairs such as ``("A100", 80)`` for a
    user's ``A100-80GB``, where the memory matches within 0.5 GB and ``None`` means any size.
    Both empty: any GPU.

    ``regions`` are shell-style globs matched against the whole region code: ``*`` is any run of
    characters, ``?`` one character, everything else (``%``, ``_``, ``[`` ...) stands for itself;
    matching ignores ASCII case. An offer matches when any glob matches. See
    :func:`glob_to_like`.

    GPUs per instance: ``gpu_count`` keeps counts equal to it within a relative
    :data:`GPU_COUNT_TOLERANCE` (``math.isclose``); ``min_gpu_count`` / ``max_gpu_count`` are
    inclusive bounds compared as given; ``whole_gpus`` keeps counts within
    :data:`GPU_COUNT_TOLERANCE` of an integer. ``currencies`` empty: any currency.

    Host and fabric: ``min_vcpus_per_gpu`` and ``min_memory_gb_per_gpu`` keep offers whose
    ``vcpus / gpu_count`` (``memory_gb / gpu_count``) is at least the bound, and offers whose
    host size the source does not publish (AWS spot prices carry none): they are not known to
    be starved. ``min_interconnect_gbps`` keeps offers with a documented ``interconnect_gbps``
    of at least the bound; an unknown bandwidth never passes it.

    ``available_now`` keeps offers whose seller listed capacity for them when their price was
    last seen (``available_in`` not empty); where a seller lists no capacity, nothing passes.

    ``cheapest_per_shape`` keeps, of the offers matching everything else, only the cheapest
    per hour of each planner shape (currency, provider, GPUs per instance, interruptible,
    commitment, term; ties go to the first in the result order), which is exactly what
    :func:`aggregator.planner.candidates.cheapest_per_shape` keeps of the full result: the
    planner then reads dozens of rows instead of thousands. ``shape_columns`` (of
    :data:`SHAPE_COLUMNS`) split the shapes further, as the planner's ``refine`` does: by GPU
    and memory for a work-normalized plan, by region, zone and instance type for one cluster.
    """

    gpus: Sequence[str] = ()
    gpu_variants: Sequence[tuple[str, float | None]] = ()
    min_gpu_memory_gb: float | None = None
    providers: Sequence[str] = ()
    regions: Sequence[str] = ()
    purchase_options: Sequence[PurchaseOption] = ()
    interruptible: bool | None = None
    ids: Sequence[str] = ()
    include_withdrawn: bool = False
    sort: OfferSort = "price_per_gpu_hour"
    descending: bool = False
    limit: int | None = None
    offset: int = 0
    gpu_count: float | None = None
    min_gpu_count: float | None = None
    max_gpu_count: float | None = None
    whole_gpus: bool = False
    currencies: Sequence[str] = ()
    min_vcpus_per_gpu: float | None = None
    min_memory_gb_per_gpu: float | None = None
    min_interconnect_gbps: float | None = None
    available_now: bool = False
    cheapest_per_shape: bool = False
    shape_columns: Sequence[str] = ()


class SqlParams(dict[str, Any]):
    """Named parameters of one statement, each added under a fresh name."""

    def add(self, prefix: str, value: Any) -> str:
        """Bind ``value``; returns its placeholder (``:prefix_N``)."""
        name = f"{prefix}_{len(self)}"
        self[name] = value
        return ":" + name

    def in_list(self, prefix: str, values: Iterable[Any]) -> str:
        """``(:p_0, :p_1 ...)`` binding each of ``values`` (at least one)."""
        return "(" + ", ".join(self.add(prefix, value) for value in values) + ")"


def offer_select(
    q: OfferQuery, columns: Sequence[str], dialect: str = "sqlite"
) -> tuple[str, SqlParams]:
    """The ``SELECT`` of ``columns`` (``offers`` column names) for ``q`` and its parameters.

    Ordered by ``q.sort`` (see :func:`_order_by`), at most ``q.limit`` rows after skipping
    ``q.offset``. ``dialect`` (the reader's) chooses how ``cheapest_per_shape`` is computed and
    how text is compared; the rows and their order are the same.
    """
    params = SqlParams()
    where = _conditions(q, params)
    sort = _SORT_COLUMNS[q.sort]  # a lookup, not the value: no text of q reaches the SQL
    selected = ", ".join(columns)
    where_sql = " AND ".join(where) if where else "1 = 1"
    if q.cheapest_per_shape:
        extra = [c for c in sorted(SHAPE_COLUMNS) if c in q.shape_columns]  # names, not input
        where_sql = _cheapest_per_shape(where_sql, sort, params, dialect, extra)
    sql = f"SELECT {selected} FROM offers WHERE {where_sql} ORDER BY {_order_by(q, dialect)}"
    if q.limit is not None:
        sql += " LIMIT " + params.add("limit", int(q.limit))
    if q.offset:
        if q.limit is None:  # both databases need a LIMIT before an OFFSET: -1 / ALL spell it
            sql += " LIMIT -1" if dialect == "sqlite" else " LIMIT ALL"
        sql += " OFFSET " + params.add("offset", int(q.offset))
    return sql, params


def _order_by(q: OfferQuery, dialect: str) -> str:
    """``q.sort`` (descending if asked), then price per GPU-hour, then ``id``: a total order.

    Offers with no value (an unpublished host size) come last either way, as both databases
    order them with ``IS NULL`` first; text compares by code point on both (PostgreSQL's
    default collation would follow the locale and order ``p5.48xlarge`` differently).
    """
    column = _SORT_COLUMNS[q.sort]  # a lookup, not the value: no text of q reaches the SQL
    keys = [f"{column} IS NULL"] if column in _NULLABLE_SORTS else []
    text = f'{column} COLLATE "C"' if column in _TEXT_SORTS and dialect != "sqlite" else column
    keys.append(text + (" DESC" if q.descending else ""))
    if column not in _PRICE_SORTS:
        keys.append("price_per_gpu_hour")
    keys.append("id")
    return ", ".join(keys)


# The GROUP BY of the cheapest-per-shape read: finer than a planner shape (gpu and the purchase
# option itself, not just whether it is a commitment), so each group is a run of
# ix_offers_plan_shape that the join back can seek, price included.
_GROUPS = ("gpu", "interruptible", "purchase_option", "gpu_count", "term_hours", "provider",
           "currency")  # fmt: skip


def _planner_shape(params: SqlParams, extra: Sequence[str]) -> str:
    """The planner's shape of an offer (PARTITION BY list), split further by ``extra``."""
    commitment = params.in_list("commitment", sorted(o.value for o in COMMITMENT_OPTIONS))
    return (
        f"gpu_count, term_hours, interruptible, "
        f"CASE WHEN purchase_option IN {commitment} THEN 1 ELSE 0 END, provider, currency"
        + "".join(f", {column}" for column in extra)
    )


def _cheapest_per_shape(
    where_sql: str, sort: str, params: SqlParams, dialect: str, extra: Sequence[str] = ()
) -> str:
    """The condition keeping the cheapest matching offer of each planner shape.

    Three steps, each over few rows but the first: ``groups`` is MIN(price_per_hour) of the
    matching offers per group of :data:`_GROUPS`, answered from ``ix_offers_plan_shape`` alone;
    the join back reads the matching offers at a group's minimum (equality on the same stored
    values, so exact even for floats), by a seek on that index; the window ranks those per
    planner shape by price, then the outer order, and keeps the first. Every offer at its
    shape's minimum is at its group's minimum too, so the first in the result order wins a tie
    on price, as in the planner's own reduction. At 100k offers: 3-8 ms on SQLite, 8-18 ms on
    an analyzed PostgreSQL store, where ranking all matching rows in one window took 30-50 ms,
    nearly all of it sorting them. ``extra`` shape columns split the groups too (a shape's
    minimum must be its group's), which the index only covers for GPU memory.

    The join back must be a seek per group whatever the statistics say. SQLite: ``CROSS JOIN``
    keeps the groups as its outer loop (with a plain join and no statistics it may pick
    ix_offers_gpu_live_price for the inner one, a scan per group). PostgreSQL: a ``LATERAL``
    subquery with ``OFFSET 0`` (which keeps it from being flattened into a plain join) is a
    loop over the groups with their values as the index condition; it still needs table
    statistics to prefer ix_offers_plan_shape, which :func:`db.store.refresh_statistics` keeps
    after every sync.
    """
    shape = _planner_shape(params, extra)
    columns = [*_GROUPS, *(c for c in extra if c not in _GROUPS)]
    grouped = ", ".join(columns)
    groups = (
        f"SELECT {', '.join(f'{c} AS group_{c}' for c in columns)}, "
        f"MIN(price_per_hour) AS group_price FROM offers WHERE {where_sql} GROUP BY {grouped}"
    )
    at_minimum = (
        " AND ".join(f"{c} = group_{c}" for c in columns)
        + f" AND price_per_hour = group_price AND {where_sql}"
    )
    if dialect == "sqlite":
        joined = f"({groups}) AS price_groups CROSS JOIN offers WHERE {at_minimum}"
    else:
        joined = (
            f"({groups}) AS price_groups CROSS JOIN LATERAL "
            f"(SELECT * FROM offers WHERE {at_minimum} OFFSET 0) AS at_minimum"
        )
    ranked = (
        f"SELECT id, ROW_NUMBER() OVER (PARTITION BY {shape} "
        f"ORDER BY price_per_hour, {sort}, id) AS shape_rank FROM {joined}"
    )
    return f"id IN (SELECT id FROM ({ranked}) AS ranked WHERE shape_rank = 1)"


def _conditions(q: OfferQuery, params: SqlParams) -> list[str]:
    conditions: list[str] = []
    gpu_matches: list[str] = []
    if q.gpus:
        gpu_matches.append("gpu IN " + params.in_list("gpu", q.gpus))
    for name, memory_gb in q.gpu_variants:
        match = "gpu = " + params.add("gpu", name)
        if memory_gb is not None:
            low = params.add("gpu_memory", memory_gb - MEMORY_TOLERANCE_GB)
            high = params.add("gpu_memory", memory_gb + MEMORY_TOLERANCE_GB)
            match = f"({match} AND gpu_memory_gb BETWEEN {low} AND {high})"
        gpu_matches.append(match)
    if gpu_matches:
        conditions.append("(" + " OR ".join(gpu_matches) + ")")
    if q.min_gpu_memory_gb is not None:
        conditions.append("gpu_memory_gb >= " + params.add("gpu_memory", q.min_gpu_memory_gb))
    if q.providers:
        conditions.append("provider IN " + params.in_list("provider", q.providers))
    if q.regions:
        escape = params.add("like_escape", LIKE_ESCAPE)
        likes = [
            f"lower(region) LIKE {params.add('region', glob_to_like(g).lower())} ESCAPE {escape}"
            for g in q.regions
        ]
        conditions.append("(" + " OR ".join(likes) + ")")
    if q.purchase_options:
        options = [PurchaseOption(p).value for p in q.purchase_options]
        conditions.append("purchase_option IN " + params.in_list("option", options))
    if q.interruptible is not None:
        conditions.append("interruptible = " + params.add("interruptible", q.interruptible))
    if q.ids:
        conditions.append("id IN " + params.in_list("id", q.ids))
    if q.currencies:
        conditions.append("currency IN " + params.in_list("currency", q.currencies))
    conditions.extend(_gpu_count_conditions(q, params))
    conditions.extend(_host_conditions(q, params))
    if not q.include_withdrawn:
        conditions.append("withdrawn_at IS NULL")
    return conditions


def _host_conditions(q: OfferQuery, params: SqlParams) -> list[str]:
    """Host size per GPU and fabric bandwidth, as the planner's Python predicates compute them
    (a quotient of IEEE doubles on both databases); a bound of 0 per GPU keeps everything."""
    conditions: list[str] = []
    for column, bound in (("vcpus", q.min_vcpus_per_gpu), ("memory_gb", q.min_memory_gb_per_gpu)):
        if bound:
            value = params.add(column, float(bound))
            conditions.append(f"({column} IS NULL OR {column} / gpu_count >= {value})")
    if q.min_interconnect_gbps is not None:
        value = params.add("interconnect_gbps", float(q.min_interconnect_gbps))
        conditions.append(f"interconnect_gbps >= {value}")
    if q.available_now:
        conditions.append(AVAILABLE_NOW_SQL)
    return conditions


def _gpu_count_conditions(q: OfferQuery, params: SqlParams) -> list[str]:
    """GPUs-per-instance filters, with the float arithmetic of their Python predicates.

    ``math.isclose(g, e, rel_tol=t)`` is ``|g - e| <= t * |g| or |g - e| <= t * |e|``, and
    ``round`` differs between the databases and Python only on halves, where ``|g - round(g)|``
    is 0.5 either way: both databases compute in IEEE doubles, so these decide every count as
    Python does.
    """
    conditions: list[str] = []
    if q.gpu_count is not None:
        exact = float(q.gpu_count)
        value = params.add("gpu_count", exact)
        relative = params.add("gpu_count", GPU_COUNT_TOLERANCE)
        absolute = params.add("gpu_count", abs(GPU_COUNT_TOLERANCE * exact))
        diff = f"abs(gpu_count - {value})"
        conditions.append(f"({diff} <= {relative} * abs(gpu_count) OR {diff} <= {absolute})")
    if q.min_gpu_count is not None:
        conditions.append("gpu_count >= " + params.add("gpu_count", float(q.min_gpu_count)))
    if q.max_gpu_count is not None:
        conditions.append("gpu_count <= " + params.add("gpu_count", float(q.max_gpu_count)))
    if q.whole_gpus:
        tolerance = params.add("gpu_count", GPU_COUNT_TOLERANCE)
        conditions.append(f"abs(gpu_count - round(gpu_count)) <= {tolerance}")
    return conditions
