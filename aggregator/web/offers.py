"""The offers table at ``/`` and one offer's page with its price history.

The table reads through :func:`aggregator.offer_query.build_offer_query` and
:func:`aggregator.catalog.find_offers`, as ``GET /v1/offers`` and ``gpuhours offers`` do; its
only addition is the order (any column, either way) and a page number, which the store applies
in SQL. Pages are memoized like the API's, until the store changes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated, Literal, Self

from annotated_types import Ge, Gt, Le
from fastapi import Request
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from starlette.responses import HTMLResponse

from aggregator import catalog
from aggregator.api.paging import MAX_OFFSET
from aggregator.api.routes.offers import MAX_PAGE, MEMO_MAX_PAGE
from aggregator.api.routes.shared import READ_SLOTS, limited
from aggregator.api.state import Service, ServiceDep
from aggregator.errors import InvalidInput, StoreError
from aggregator.inputs import WHOLE_NUMBER, FiniteInput, Glob, Text, option_spelling
from aggregator.limits import MAX_LIST_ITEMS
from aggregator.models import PurchaseOption, StoredOffer, utcnow
from aggregator.offer_query import build_offer_query
from aggregator.web.access import page_router
from aggregator.web.forms import GENERAL, read_form
from aggregator.web.render import STORE_DOWN, page, query_string
from db.offer_sql import OfferSort

__all__ = ["COLUMNS", "PAGE_SIZE", "Column", "OfferFilters", "offer_page", "offers_page", "router"]

router = page_router()

PAGE_SIZE = 50


@dataclass(frozen=True)
class Column:
    """A column of the table: the store order it sorts by, and whether age counts backwards
    (the youngest price first is ascending age, i.e. the newest ``observed_at``)."""

    key: OfferSort
    title: str
    numeric: bool = False
    newest_first: bool = False


COLUMNS = (
    Column("provider", "Provider"),
    Column("region", "Region"),
    Column("instance_type", "Instance type"),
    Column("gpu", "GPU"),
    Column("gpu_count", "GPUs", numeric=True),
    Column("gpu_memory_gb", "GPU memory, GB", numeric=True),
    Column("vcpus", "vCPUs", numeric=True),
    Column("memory_gb", "Memory, GB", numeric=True),
    Column("interconnect_gbps", "Interconnect", numeric=True),
    Column("purchase_option", "Purchase option"),
    Column("price_per_hour", "Per hour", numeric=True),
    Column("price_per_gpu_hour", "Per GPU-hour", numeric=True),
    Column("observed_at", "Age", numeric=True, newest_first=True),
)
_BY_KEY = {column.key: column for column in COLUMNS}
_PageNumber = Annotated[int, Ge(1), Le(MAX_OFFSET + 1), WHOLE_NUMBER]


class OfferFilters(BaseModel):
    """The table's query string: ``GET /v1/offers``'s filter names, plus order and page."""

    model_config = ConfigDict(extra="forbid")

    gpu: list[Text] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)
    provider: list[Text] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)
    region: list[Glob] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)
    purchase_option: list[Annotated[PurchaseOption, BeforeValidator(option_spelling)]] = Field(
        default_factory=list, max_length=len(PurchaseOption)
    )
    spot: bool | None = None
    gpus_per_node: Annotated[FiniteInput, Gt(0)] | None = None
    min_gpu_memory_gb: Annotated[FiniteInput, Ge(0)] | None = None
    available_now: bool = False
    sort: OfferSort = "price_per_gpu_hour"
    order: Literal["asc", "desc"] = "asc"
    page: _PageNumber = 1
    limit: Annotated[int, Ge(1), Le(MAX_PAGE), WHOLE_NUMBER] = PAGE_SIZE

    @field_validator("sort")
    @classmethod
    def _shown_column(cls, value: OfferSort) -> OfferSort:
        if value not in _BY_KEY:
            raise ValueError(f"Input should be one of: {', '.join(_BY_KEY)}")
        return value

    @model_validator(mode="after")
    def _offset_bounded(self) -> Self:
        if self.offset > MAX_OFFSET:
            raise ValueError(f"page: at most {MAX_OFFSET:,} offers can be skipped")
        return self

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit

    def params(self, **changes: object) -> dict[str, object]:
        """These filters as query parameters (defaults left out), with ``changes``."""
        values: dict[str, object] = self.model_dump(mode="json", exclude_defaults=True)
        values.update(changes)
        return values


_LISTS = frozenset({"gpu", "provider", "region", "purchase_option"})


async def _read_page(service: Service, filters: OfferFilters) -> tuple[list[StoredOffer], bool]:
    """One page of offers, and whether more follow (memoized until the store changes)."""
    query = build_offer_query(
        service.registry.gpus,
        gpus=filters.gpu,
        min_gpu_memory_gb=filters.min_gpu_memory_gb,
        providers=filters.provider,
        regions=filters.region,
        purchase_options=[option.value for option in filters.purchase_option],
        interruptible=filters.spot,
        gpu_count=filters.gpus_per_node,
        available_now=filters.available_now,
        limit=filters.limit + 1,
    )
    column = _BY_KEY[filters.sort]
    query = replace(
        query,
        sort=filters.sort,
        descending=(filters.order == "desc") != column.newest_first,
        offset=filters.offset,
    )
    key = ("web-offers", repr(query))
    version = service.version.current()
    found: list[StoredOffer] | None = service.answers.get(key, version)
    if found is None:
        found = await limited("read", READ_SLOTS, catalog.find_offers, service.engine, query)
        if len(found) <= MEMO_MAX_PAGE + 1:
            service.answers.put(key, version, found)
    return found[: filters.limit], len(found) > filters.limit


def _sort_links(filters: OfferFilters) -> dict[str, tuple[str, str | None]]:
    """Per column: the link that sorts by it (the other way when it is the sort), and its
    ``aria-sort`` state."""
    links: dict[str, tuple[str, str | None]] = {}
    for column in COLUMNS:
        current = column.key == filters.sort
        order = "desc" if current and filters.order == "asc" else "asc"
        state = None
        if current:
            state = "ascending" if filters.order == "asc" else "descending"
        links[column.key] = (query_string(filters.params(sort=column.key, order=order, page=1)),
                             state)  # fmt: skip
    return links


@router.get("/", response_class=HTMLResponse)
async def offers_page(request: Request, service: ServiceDep) -> HTMLResponse:
    """The offers table: filters in the query string, so a view can be shared."""
    form = read_form(OfferFilters, request.query_params.multi_items(), _LISTS)
    filters = form.values or OfferFilters()
    offers: list[StoredOffer] = []
    more, status = False, 200
    if form.values is not None:
        try:
            offers, more = await _read_page(service, form.values)
        except InvalidInput as exc:  # an unknown GPU name, a glob too complex
            form.add_error(exc)
        except StoreError:
            form.errors[GENERAL], status = STORE_DOWN, 503
    if form.errors and status == 200:
        status = 422
    return page(
        request,
        "offers.html",
        status,
        form=form,
        filters=filters,
        offers=offers,
        columns=COLUMNS,
        page_size=PAGE_SIZE,
        sort_links=_sort_links(filters),
        previous=query_string(filters.params(page=filters.page - 1)) if filters.page > 1 else None,
        next=query_string(filters.params(page=filters.page + 1)) if more else None,
        gpus=[g.name for g in catalog.gpu_list(service.registry).gpus],
        providers=sorted(service.registry.providers),
        purchase_options=list(PurchaseOption),
        now=utcnow(),
    )


def _chart_points(history: catalog.OfferHistory, now: datetime) -> dict[str, object]:
    """The price intervals as steps for the chart: each price from its start until the next,
    the current one until now (seconds since the epoch, as uPlot takes time)."""
    times: list[float] = []
    prices: list[float] = []
    for interval in sorted(history.intervals, key=lambda i: i.valid_from):
        times.append(interval.valid_from.timestamp())
        prices.append(interval.price_per_hour)
    if history.intervals:
        last = max(history.intervals, key=lambda i: i.valid_from)
        end = last.valid_to or now
        times.append(max(end, last.valid_from).timestamp())
        prices.append(last.price_per_hour)
    return {"times": times, "prices": prices, "currency": history.offer.currency}


@router.get("/offers/{offer_id}", response_class=HTMLResponse)
async def offer_page(request: Request, service: ServiceDep, offer_id: str) -> HTMLResponse:
    """Every field of one offer, the source row it came from, and its price history."""
    ignored = sorted({name[:40] for name in request.query_params})[:MAX_LIST_ITEMS]
    problem, status, found = None, 200, []
    if len(offer_id) > 64:
        problem, status = "an offer id is at most 64 characters", 404
    else:
        query = build_offer_query(
            service.registry.gpus, ids=[offer_id], include_withdrawn=True, limit=1
        )
        try:
            found = await limited("read", READ_SLOTS, catalog.offer_history, service.engine, query)
        except StoreError:
            problem, status = STORE_DOWN, 503
        if not found and problem is None:
            problem, status = f"no offer with id {offer_id!r} was ever stored", 404
    history = found[0] if found else None
    now = utcnow()
    return page(
        request,
        "offer.html",
        status,
        problem=problem,
        ignored=ignored,
        history=history,
        chart=_chart_points(history, now) if history else None,
        now=now,
    )
