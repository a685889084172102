"""Plans need a host that can feed its GPUs and, when asked, a documented fabric.

The defaults (docs/planner.md, "Hosts that starve GPUs") leave out composed hosts below
``DEFAULT_MIN_VCPUS_PER_GPU`` vCPUs or ``DEFAULT_MIN_MEMORY_GB_PER_GPU`` GB per GPU; lowering
them to 0 plans with anything. In memory (``solve``) and over the store (``plan_from_store``)
the same offers pass, and a filter that leaves nothing says which and what to change.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pydantic
import pytest
from sqlalchemy import Engine

from aggregator.errors import NoFeasiblePlan
from aggregator.gpus import default_vocabulary
from aggregator.models import Offer, PurchaseOption
from aggregator.plan_defaults import DEFAULT_MIN_MEMORY_GB_PER_GPU, DEFAULT_MIN_VCPUS_PER_GPU
from aggregator.planner import plan_from_store, solve
from aggregator.plans import PlanRequest
from aggregator.terms import ActiveTerm, PriceTerm, TermedOffer, apply_terms
from tests.offers import build_offer, save_offers

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)


def _n1(vcpus: int, price: float) -> Offer:
    """An N1 host with 8 V100 attached, priced as the bundled snapshot's us-west1 rows rank."""
    return build_offer(
        provider="gcp",
        region="us-west1",
        instance_type=f"n1-standard-{vcpus}+8xnvidia-tesla-v100",
        gpu="V100",
        gpu_count=8,
        gpu_memory_gb=16,
        vcpus=vcpus,
        memory_gb=vcpus * 3.75,
        price_per_hour=price,
    )


STARVED = _n1(4, 20.03)  # 0.5 vCPU and 1.9 GB per GPU
LEAN = _n1(16, 20.5)  # 2 vCPUs and 7.5 GB per GPU: below both defaults
FED = _n1(32, 21.3)  # 4 vCPUs and 15 GB per GPU: the lowest fixed shapes sellers ship
P3_SPOT = build_offer(  # the spot feed publishes no host size: not known to be starved
    instance_type="p3.16xlarge",
    gpu="V100",
    gpu_memory_gb=16,
    vcpus=None,
    memory_gb=None,
    purchase_option=PurchaseOption.SPOT,
    price_per_hour=19.0,
)
V100 = [STARVED, LEAN, FED]


def _plan(offers: list[Offer], **request: Any) -> list[str]:
    plan = solve(offers, PlanRequest(gpu_hours=800, gpus=["V100"], **request), now=NOW)
    return [line.instance_type for line in plan.lines]


def test_the_defaults_are_the_documented_floor() -> None:
    request = PlanRequest(gpu_hours=1)
    assert (request.min_vcpus_per_gpu, request.min_memory_gb_per_gpu) == (4, 8)
    assert (DEFAULT_MIN_VCPUS_PER_GPU, DEFAULT_MIN_MEMORY_GB_PER_GPU) == (4, 8)
    assert request.min_interconnect_gbps is None


def test_by_default_a_starved_host_is_not_planned_with() -> None:
    assert _plan(V100) == [FED.instance_type]


def test_lowering_the_defaults_to_zero_plans_with_any_host() -> None:
    assert _plan(V100, min_vcpus_per_gpu=0, min_memory_gb_per_gpu=0) == [STARVED.instance_type]
    assert _plan(V100, min_vcpus_per_gpu=2, min_memory_gb_per_gpu=7.5) == [LEAN.instance_type]
    assert _plan(V100, min_vcpus_per_gpu=0, min_memory_gb_per_gpu=7.5) == [LEAN.instance_type]


def test_a_host_of_unknown_size_passes_the_per_gpu_filters() -> None:
    spot = ["on_demand", "spot"]
    assert _plan([*V100, P3_SPOT], purchase_options=spot) == [P3_SPOT.instance_type]
    assert _plan([*V100, P3_SPOT], purchase_options=spot, min_vcpus_per_gpu=100) == [
        P3_SPOT.instance_type
    ]


def test_per_gpu_bounds_hold_for_fractional_gpus() -> None:
    sixth = build_offer(
        instance_type="sixth", gpu_count=1 / 6, vcpus=6, memory_gb=55, price_per_hour=0.5
    )  # 36 vCPUs and 330 GB per GPU
    whole = build_offer(instance_type="whole", gpu_count=1, vcpus=4, memory_gb=16)
    kept = solve(
        [sixth, whole],
        PlanRequest(gpu_hours=10, allow_fractional=True, min_vcpus_per_gpu=36),
        now=NOW,
    )
    assert [line.instance_type for line in kept.lines] == ["sixth"]
    with pytest.raises(NoFeasiblePlan, match=r"36\.5 vCPUs per GPU"):
        solve([sixth], PlanRequest(gpu_hours=10, allow_fractional=True, min_vcpus_per_gpu=36.5))


def test_a_filter_that_leaves_nothing_names_itself_and_the_way_out() -> None:
    with pytest.raises(NoFeasiblePlan) as vcpus:
        _plan([STARVED])
    assert str(vcpus.value) == (
        "no matching offers have at least 4 vCPUs per GPU (the most is 0.5); lower "
        "min_vcpus_per_gpu (--min-vcpus-per-gpu, default 4; 0 allows any host) to plan with "
        "smaller hosts"
    )
    with pytest.raises(NoFeasiblePlan, match="at least 8 GB of host memory per GPU") as memory:
        _plan([STARVED], min_vcpus_per_gpu=0)
    assert "(the most is 1.88)" in str(memory.value) and "--min-memory-per-gpu" in str(memory.value)


def test_a_minimum_interconnect_keeps_only_documented_bandwidths() -> None:
    efa = build_offer(instance_type="p4d.24xlarge", interconnect="EFA", interconnect_gbps=400)
    plain = build_offer(instance_type="g5.48xlarge", interconnect_gbps=100, price_per_hour=16)
    unknown = build_offer(instance_type="unknown", price_per_hour=1.0)
    request = PlanRequest(gpu_hours=100, min_interconnect_gbps=400)
    assert [line.instance_type for line in solve([efa, plain, unknown], request).lines] == [
        "p4d.24xlarge"
    ]
    assert [
        line.instance_type
        for line in solve(
            [efa, plain, unknown], PlanRequest(gpu_hours=100, min_interconnect_gbps=0)
        ).lines
    ] == ["g5.48xlarge"]  # 0: any documented figure, never an unknown one
    with pytest.raises(NoFeasiblePlan) as faster:
        solve([efa, plain], PlanRequest(gpu_hours=100, min_interconnect_gbps=3200))
    assert str(faster.value) == (
        "no matching offers document at least 3200 Gbit/s between instances "
        "(the most documented is 400 Gbit/s)"
    )
    with pytest.raises(NoFeasiblePlan, match="none of them has a documented bandwidth"):
        solve([unknown], PlanRequest(gpu_hours=100, min_interconnect_gbps=1))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("min_vcpus_per_gpu", -1),
        ("min_vcpus_per_gpu", float("nan")),
        ("min_vcpus_per_gpu", 10_001),
        ("min_memory_gb_per_gpu", float("inf")),
        ("min_memory_gb_per_gpu", -0.5),
        ("min_interconnect_gbps", -1),
        ("min_interconnect_gbps", 100_001),
        ("min_vcpus_per_gpu", None),  # a default, not an option: 0 is "any host"
    ],
)
def test_bad_host_and_fabric_bounds_are_refused(field: str, value: float | None) -> None:
    with pytest.raises(pydantic.ValidationError, match=field):
        PlanRequest(gpu_hours=1, **{field: value})


def test_priced_offers_keep_their_host_and_fabric() -> None:
    efa = build_offer(interconnect="EFA", interconnect_gbps=3200)
    term = ActiveTerm.of(
        PriceTerm(provider="aws", discount_percent=10), default_vocabulary(), origin="test"
    )
    (termed,) = apply_terms([efa], [term])
    assert isinstance(termed, TermedOffer)
    names = ("vcpus", "memory_gb", "interconnect", "interconnect_gbps")
    assert [getattr(termed, n) for n in names] == [getattr(efa, n) for n in names]


def test_the_store_plans_like_memory_with_the_host_and_fabric_filters(engine: Engine) -> None:
    offers = [*V100, P3_SPOT]
    save_offers(engine, offers, now=NOW)
    requests = [
        PlanRequest(gpu_hours=800, gpus=["V100"]),
        PlanRequest(gpu_hours=800, gpus=["V100"], min_vcpus_per_gpu=0, min_memory_gb_per_gpu=0),
        PlanRequest(gpu_hours=800, gpus=["V100"], purchase_options=["spot"]),
    ]
    for request in requests:
        stored = plan_from_store(engine, request, gpus=default_vocabulary(), now=NOW)
        memory = solve(offers, request, now=NOW)
        assert [ln.offer_id for ln in stored.lines] == [ln.offer_id for ln in memory.lines]
    hungry = PlanRequest(gpu_hours=800, gpus=["V100"], min_vcpus_per_gpu=50)
    with pytest.raises(NoFeasiblePlan, match=r"at least 50 vCPUs per GPU \(the most is 4\)"):
        plan_from_store(engine, hungry, gpus=default_vocabulary())
