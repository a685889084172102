"""Offers read in any column's order, either way, a page at a time: the same rows in the same
order on SQLite (both drivers) and PostgreSQL, unknown values last, ties by price then id."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import get_args

import pytest
from sqlalchemy import Engine

from aggregator.models import Offer, PurchaseOption
from db import store
from db.offer_sql import OfferQuery, OfferSort
from db.reader import open_reader
from tests.offers import build_offer, save_offers

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)


def _offers() -> list[Offer]:
    return [
        build_offer(instance_type="p5.48xlarge", price_per_hour=98.0),
        build_offer(instance_type="P5e.48xlarge", gpu="H200", gpu_memory_gb=141, price_per_hour=99),
        build_offer(
            provider="azure", region="eastus", instance_type="Standard_ND96isr_H100_v5",
            price_per_hour=90.0, interconnect="InfiniBand", interconnect_gbps=3200,
        ),
        build_offer(
            region="us-west-2", instance_type="g6.xlarge", gpu="L4", gpu_count=1,
            gpu_memory_gb=24, vcpus=None, memory_gb=None, price_per_hour=0.8,
            purchase_option=PurchaseOption.SPOT,
        ),
        build_offer(region="eu-west-1", instance_type="g6.2xlarge", gpu="L4", gpu_count=1,
                    gpu_memory_gb=24, vcpus=8, memory_gb=32, price_per_hour=0.98),
    ]  # fmt: skip


def _key(offer: Offer, sort: str) -> object:
    value = getattr(offer, sort)
    return value.value if isinstance(value, PurchaseOption) else value


def _expected(offers: list[Offer], sort: str, descending: bool) -> list[str]:
    """The order the store promises, computed in Python."""
    known = [o for o in offers if getattr(o, sort) is not None]
    unknown = [o for o in offers if getattr(o, sort) is None]
    by_tie = sorted(known, key=lambda o: (o.price_per_gpu_hour, o.id))
    ordered = sorted(by_tie, key=lambda o: _key(o, sort), reverse=descending)
    return [o.id for o in [*ordered, *sorted(unknown, key=lambda o: (o.price_per_gpu_hour, o.id))]]


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize(
    "sort", [s for s in get_args(OfferSort) if s not in ("observed_at", "price_per_hour")]
)
def test_offers_read_in_the_order_of_any_column(
    engine: Engine, sort: str, descending: bool
) -> None:
    offers = _offers()
    save_offers(engine, offers, now=NOW)
    query = OfferQuery(sort=sort, descending=descending)  # type: ignore[arg-type]
    expected = _expected(offers, sort, descending)
    assert [o.id for o in store.query_offers(engine, query)] == expected
    if engine.dialect.name == "sqlite":
        with open_reader(engine.url.render_as_string()) as reader:
            assert [o.id for o in store.query_offers(reader, query)] == expected


def test_an_offset_skips_rows_with_or_without_a_limit(engine: Engine) -> None:
    offers = _offers()
    save_offers(engine, offers, now=NOW)
    everything = [o.id for o in store.query_offers(engine, OfferQuery(sort="region"))]
    assert [o.id for o in store.query_offers(engine, OfferQuery(sort="region", offset=2))] == (
        everything[2:]
    )
    page = OfferQuery(sort="region", offset=1, limit=2)
    assert [o.id for o in store.query_offers(engine, page)] == everything[1:3]
