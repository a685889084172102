"""Host size and fabric in the store: stored and read back on both dialects and drivers, kept
up to date without a price interval, and filtered in SQL exactly as the planner's steps filter
in Python (per GPU for fractional GPUs too; an unknown host passes, an unknown bandwidth not).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from aggregator.models import Offer, PurchaseOption
from aggregator.planner.candidates import cheapest_per_shape
from aggregator.planner.filters import FilterStep, filter_steps
from aggregator.plans import PlanRequest
from db import store
from db.offer_sql import OfferQuery, offer_select
from db.reader import Reader, open_reader
from tests.offers import build_offer, save_offers

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
_HOST_STEPS = ("min_vcpus_per_gpu", "min_memory_gb_per_gpu", "min_interconnect_gbps")
_FIELDS = ("vcpus", "memory_gb", "interconnect", "interconnect_gbps")


def _host_and_fabric(offer: object) -> tuple[object, ...]:
    return tuple(getattr(offer, name) for name in _FIELDS)


def _fabric_offers() -> list[Offer]:
    return [
        build_offer(interconnect="EFA", interconnect_gbps=3200),
        build_offer(region="us-west-2", interconnect_gbps=25),  # a bandwidth, no fabric name
        build_offer(instance_type="frac", gpu="L4", gpu_count=1 / 8, gpu_memory_gb=24, vcpus=4),
        build_offer(
            region="us-east-2",
            instance_type="p3dn.24xlarge",
            purchase_option=PurchaseOption.SPOT,  # the spot feed publishes no host size
            vcpus=None,
            memory_gb=None,
            interconnect="EFA",
        ),
    ]


def test_the_host_and_fabric_round_trip_through_every_read(engine: Engine) -> None:
    offers = _fabric_offers()
    save_offers(engine, offers, now=NOW)
    with _every_driver(engine) as sources:
        read = [{r.id: r for r in store.query_offer_records(s, OfferQuery())} for s in sources]
    records = read[0]
    assert all(other == records for other in read)
    for offer in offers:
        stored = store.get_offer(engine, offer.id)
        assert stored is not None
        assert _host_and_fabric(stored) == _host_and_fabric(offer)
        assert _host_and_fabric(records[offer.id]) == _host_and_fabric(offer)


def test_a_changed_fabric_or_host_is_stored_like_any_other_non_price_change(
    engine: Engine,
) -> None:
    before = build_offer()
    after = build_offer(interconnect="EFA", interconnect_gbps=3200, vcpus=96, memory_gb=1152)
    save_offers(engine, [before], now=NOW)
    later = NOW + timedelta(hours=1)

    snapshot = store.FeedSnapshot(
        feed="aws/test", provider="aws", offers=[after], unchanged=[], state={},
        started_at=later,
    )  # fmt: skip
    run = store.apply_snapshot(engine, snapshot, now=later)

    assert (run.new, run.changed, run.unchanged) == (0, 0, 1)  # the price did not change
    stored = store.get_offer(engine, after.id)
    assert stored is not None
    assert _host_and_fabric(stored) == (96, 1152, "EFA", 3200)
    assert stored.observed_at == later
    assert len(store.price_history(engine, [after.id])) == 1  # no new price interval


# --- the filters in SQL against the planner's predicates --------------------------------------

_COUNTS = [1.0, 2.0, 8.0, 16.0, 1 / 3, 1 / 6, 0.5]
_VCPUS = [None, 4.0, 6.0, 12.0, 96.0, 192.0]
_MEMORY = [None, 15.0, 55.0, 85.0, 1872.0]
_GBPS = [None, 25.0, 100.0, 400.0, 3200.0]


def _catalog(seed: int = 11, size: int = 160) -> list[Offer]:
    rng = random.Random(seed)
    offers: dict[str, Offer] = {}
    while len(offers) < size:
        spot = rng.random() < 0.3
        offer = build_offer(
            provider=rng.choice(["aws", "azure", "gcp"]),
            region=rng.choice(["us-east-1", "eu-west-1", "asia-east1"]),
            instance_type=f"type-{rng.randrange(40)}",
            gpu_count=rng.choice(_COUNTS),
            vcpus=rng.choice(_VCPUS),
            memory_gb=rng.choice(_MEMORY),
            interconnect_gbps=rng.choice(_GBPS),
            purchase_option=PurchaseOption.SPOT if spot else PurchaseOption.ON_DEMAND,
            price_per_hour=rng.choice([1.0, 2.0, round(rng.uniform(0.5, 90), 3)]),
            source={"sku": f"S{len(offers)}"},
        )
        offers[offer.id] = offer
    return list(offers.values())


CATALOG = _catalog()
# Bounds that hit offers' own quotients exactly, where rounding would show first.
_PER_GPU = sorted({v / o.gpu_count for o in CATALOG for v in (o.vcpus, o.memory_gb) if v})
_BOUNDS = st.sampled_from([0.0, 0.5, 4.0, 8.0, *_PER_GPU[::7]])


def _steps(request: PlanRequest) -> list[FilterStep]:
    return [step for step in filter_steps(request, []) if step.name in _HOST_STEPS]


@st.composite
def _requests(draw: st.DrawFn) -> PlanRequest:
    return PlanRequest(
        gpu_hours=1,
        purchase_options=list(PurchaseOption),
        allow_fractional=True,
        min_vcpus_per_gpu=draw(_BOUNDS),
        min_memory_gb_per_gpu=draw(_BOUNDS),
        min_interconnect_gbps=draw(st.sampled_from([None, None, 0.0, 25.0, 100.0, 3200.0])),
    )


@pytest.fixture
def filled(engine: Engine) -> Engine:
    save_offers(engine, CATALOG, now=NOW)
    return engine


@contextmanager
def _every_driver(engine: Engine) -> Iterator[list[Engine | Reader]]:
    """The engine, and on SQLite also the stdlib reader of the same file."""
    if engine.dialect.name != "sqlite":
        yield [engine]
        return
    with open_reader(engine.url.render_as_string()) as reader:
        yield [engine, reader]


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=_requests(), per_shape=st.booleans())
def test_host_filters_in_sql_keep_what_the_planner_steps_keep(
    filled: Engine, request: PlanRequest, per_shape: bool
) -> None:
    steps = _steps(request)
    query = OfferQuery(cheapest_per_shape=per_shape)
    for step in steps:
        for name, value in (step.query or {}).items():
            setattr(query, name, value)
    kept = sorted(
        (o for o in CATALOG if all(step.keep(o) for step in steps)),
        key=lambda o: (o.price_per_gpu_hour, o.id),
    )
    if per_shape:
        kept = [o for o in cheapest_per_shape(kept) if isinstance(o, Offer)]

    with _every_driver(filled) as sources:
        for source in sources:
            assert [r.id for r in store.query_offer_records(source, query)] == [o.id for o in kept]


def test_an_unknown_host_passes_and_an_unknown_bandwidth_does_not(filled: Engine) -> None:
    strict = OfferQuery(min_vcpus_per_gpu=10_000, min_memory_gb_per_gpu=100_000)
    assert {o.id for o in store.query_offers(filled, strict)} == {
        o.id for o in CATALOG if o.vcpus is None and o.memory_gb is None
    }
    any_bandwidth = OfferQuery(min_interconnect_gbps=0)
    assert {o.id for o in store.query_offers(filled, any_bandwidth)} == {
        o.id for o in CATALOG if o.interconnect_gbps is not None
    }


def test_the_planner_read_with_host_filters_stays_on_the_covering_index(filled: Engine) -> None:
    # As test_read_path's covering-index test, with the filters every default plan now adds.
    if filled.dialect.name != "sqlite":
        pytest.skip("SQLite's query plan")
    q = OfferQuery(
        gpu_variants=[("H100", None)],
        whole_gpus=True,
        min_vcpus_per_gpu=4,
        min_memory_gb_per_gpu=8,
        min_interconnect_gbps=100,
        cheapest_per_shape=True,
    )
    sql, params = offer_select(q, ["id"], "sqlite")
    with filled.connect() as conn:
        plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]
    on_offers = [step for step in plan if step.startswith(("SCAN offers", "SEARCH offers"))]
    assert any("COVERING INDEX ix_offers_plan_shape" in step for step in on_offers), plan
    assert not any(step.startswith("SCAN") for step in on_offers), plan
