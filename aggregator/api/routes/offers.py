"""The offers routes: one page of offers by the CLI's filters, and one offer's price history.

Filters go through :func:`aggregator.offer_query.build_offer_query`, as ``gpuhours offers`` does.
The offer list is ``async`` so a page from the memo (:mod:`aggregator.api.cache`) costs no
thread hop; a page the memo lacks is read in the thread pool.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from annotated_types import Ge, Le
from fastapi import Path, Query, Response
from pydantic import BeforeValidator

from aggregator import catalog
from aggregator.api.errors import error_response
from aggregator.api.paging import decode_cursor, encode_cursor, fingerprint
from aggregator.api.routes.shared import (
    BAD_INPUT,
    DATA_AGE,
    JSON,
    READ_SLOTS,
    STORE_DOWN,
    age_seconds,
    error_doc,
    family_router,
    json_with_age,
    limited,
)
from aggregator.api.schemas import OffersPage
from aggregator.api.state import ServiceDep
from aggregator.inputs import (
    WHOLE_NUMBER,
    FiniteInput,
    Glob,
    InterconnectGbps,
    MemoryGbPerGpu,
    Text,
    VcpusPerGpu,
    option_spelling,
)
from aggregator.limits import MAX_LIST_ITEMS, MAX_PATTERN_WILDCARDS
from aggregator.models import PurchaseOption, StoredOffer
from aggregator.offer_query import build_offer_query

__all__ = ["MAX_PAGE", "MEMO_MAX_PAGE", "list_offers", "offer_history", "router"]

router = family_router("offers", reads=True)

MAX_PAGE = 500
MEMO_MAX_PAGE = 100  # larger pages are not memoized: bounds the memo's memory
_UNKNOWN_HOST = "offers whose host size is not published pass"


@router.get(
    "/v1/offers",
    response_class=JSON,
    response_model=OffersPage,
    summary="List offers, cheapest first",
    responses={
        200: {"headers": DATA_AGE},
        **BAD_INPUT,
        **STORE_DOWN,
    },
)
async def list_offers(
    service: ServiceDep,
    gpu: Annotated[
        list[Text] | None,
        Query(
            max_length=MAX_LIST_ITEMS,
            description="GPU name or alias (H100, a100:80); repeatable",
        ),
    ] = None,
    min_gpu_memory_gb: Annotated[
        Annotated[FiniteInput, Ge(0)] | None, Query(description="minimum GB per GPU")
    ] = None,
    provider: Annotated[
        list[Text] | None,
        Query(max_length=MAX_LIST_ITEMS, description="provider name; repeatable"),
    ] = None,
    region: Annotated[
        list[Glob] | None,
        Query(
            max_length=MAX_LIST_ITEMS,
            description="region or glob (us-*, *east*; at most "
            f"{MAX_PATTERN_WILDCARDS} wildcards); repeatable",
        ),
    ] = None,
    purchase_option: Annotated[
        list[Annotated[PurchaseOption, BeforeValidator(option_spelling)]] | None,
        Query(
            max_length=len(PurchaseOption),
            description="on_demand, spot, low_priority, reserved, savings_plan, committed "
            "(dashes accepted); repeatable",
        ),
    ] = None,
    spot: Annotated[
        bool | None,
        Query(description="true: only interruptible offers (spot, low priority); false: none"),
    ] = None,
    sort: Annotated[
        Literal["gpu-hour", "hour", "price_per_gpu_hour", "price_per_hour"],
        Query(description="order by price per GPU-hour (default) or per instance-hour"),
    ] = "gpu-hour",
    limit: Annotated[
        Annotated[int, Ge(1), Le(MAX_PAGE), WHOLE_NUMBER], Query(description="offers per page")
    ] = 20,
    cursor: Annotated[
        str | None,
        Query(min_length=1, max_length=512, description="next_cursor of the previous page"),
    ] = None,
    include_withdrawn: Annotated[
        bool, Query(description="also offers no longer published")
    ] = False,
    min_vcpus_per_gpu: Annotated[
        VcpusPerGpu | None, Query(description=f"host vCPUs per GPU, at least; {_UNKNOWN_HOST}")
    ] = None,
    min_memory_gb_per_gpu: Annotated[
        MemoryGbPerGpu | None, Query(description=f"host GB per GPU, at least; {_UNKNOWN_HOST}")
    ] = None,
    min_interconnect_gbps: Annotated[
        InterconnectGbps | None,
        Query(description="documented Gbit/s between instances, at least"),
    ] = None,
    available_now: Annotated[
        bool,
        Query(
            description="true: only offers whose seller listed capacity for them when the "
            "price was last seen (a snapshot that can be stale; see available_in)"
        ),
    ] = False,
) -> Response:
    """Offers matching the filters (all of them combine), one page at a time.

    The same filters and order as ``gpuhours offers``; pass ``next_cursor`` back as ``cursor``
    with the same filters to get the next page.
    """
    gpus, providers, regions = gpu or [], provider or [], region or []
    options = [option.value for option in purchase_option or []]
    filters: dict[str, Any] = {
        "gpu": gpus,
        "min_gpu_memory_gb": min_gpu_memory_gb,
        "provider": providers,
        "region": regions,
        "purchase_option": options,
        "spot": spot,
        "sort": catalog.SORT_KEYS[sort],
        "include_withdrawn": include_withdrawn,
        "min_vcpus_per_gpu": min_vcpus_per_gpu,
        "min_memory_gb_per_gpu": min_memory_gb_per_gpu,
        "min_interconnect_gbps": min_interconnect_gbps,
        "available_now": available_now,
    }
    digest = fingerprint(filters)
    offset = decode_cursor(cursor, digest) if cursor else 0
    key = ("offers", digest, offset, limit)
    version = service.version.current()
    cached = service.answers.get(key, version)
    if cached is not None:
        page, more = cached
        return _offers_page(page, more, offset, limit, digest)
    query = build_offer_query(
        service.registry.gpus,
        gpus=gpus,
        min_gpu_memory_gb=min_gpu_memory_gb,
        providers=providers,
        regions=regions,
        purchase_options=options,
        interruptible=spot,
        include_withdrawn=include_withdrawn,
        sort=catalog.SORT_KEYS[sort],
        limit=offset + limit + 1,
        min_vcpus_per_gpu=min_vcpus_per_gpu,
        min_memory_gb_per_gpu=min_memory_gb_per_gpu,
        min_interconnect_gbps=min_interconnect_gbps,
        available_now=available_now,
    )
    found = await limited("read", READ_SLOTS, catalog.find_offers, service.engine, query)
    page = found[offset : offset + limit]
    more = len(found) > offset + limit
    if len(page) <= MEMO_MAX_PAGE:
        service.answers.put(key, version, (page, more))
    return _offers_page(page, more, offset, limit, digest)


def _offers_page(
    page: list[StoredOffer], more: bool, offset: int, limit: int, digest: str
) -> Response:
    age = age_seconds(o.observed_at for o in page)
    body = OffersPage.model_construct(  # the offers came validated from the store
        offers=page,
        count=len(page),
        next_cursor=encode_cursor(offset + limit, digest) if more else None,
        data_age_seconds=age,
    )
    return json_with_age(body, age)


@router.get(
    "/v1/offers/{offer_id}/history",
    response_class=JSON,
    response_model=catalog.OfferHistory,
    summary="An offer's price intervals",
    responses={
        200: {"headers": DATA_AGE},
        404: error_doc("No offer with this id was ever stored"),
        **BAD_INPUT,
        **STORE_DOWN,
    },
)
def offer_history(
    service: ServiceDep,
    offer_id: Annotated[
        str, Path(description="an offer id from /v1/offers", min_length=1, max_length=64)
    ],
) -> Response:
    """Every price the store recorded for one offer (withdrawn offers included)."""
    query = build_offer_query(
        service.registry.gpus, ids=[offer_id], include_withdrawn=True, limit=1
    )
    found = catalog.offer_history(service.engine, query)
    if not found:
        return error_response(
            404, "NotFound", f"no offer with id {offer_id!r} was ever stored", field="offer_id"
        )
    return json_with_age(found[0], age_seconds([found[0].offer.observed_at]))
