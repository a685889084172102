"""The planner on hand-computed examples: each answer below is worked out in the comments.

Prices are chosen so the arithmetic is easy: an 8-GPU instance at 80/h is 10 per GPU-hour.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aggregator.errors import InvalidInput, NoFeasiblePlan, UnknownGpu
from aggregator.models import Offer, PurchaseOption
from aggregator.planner import SolverOptions, solve
from aggregator.planner.candidates import dominates, make_candidates, prune
from aggregator.planner.problem import Problem
from aggregator.plans import Plan, PlanRequest
from tests.offers import build_offer

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SPOT_TOO = ["on_demand", "spot", "low_priority", "reserved", "savings_plan", "committed"]


def offer(**overrides: Any) -> Offer:
    fields: dict[str, Any] = {"observed_at": NOW - timedelta(hours=3)}
    fields.update(overrides)
    return build_offer(**fields)


def od(price: float, **overrides: Any) -> Offer:
    """An on-demand H100 offer with 8 GPUs (unless overridden) at ``price`` per hour."""
    return offer(price_per_hour=price, **overrides)


def plan(offers: list[Offer], **request: Any) -> Plan:
    return solve(offers, PlanRequest(**request), now=NOW)


def used(p: Plan) -> list[tuple[str, str, int]]:
    return [(line.instance_type, line.purchase_option.value, line.instances) for line in p.lines]


AWS = od(80.0, instance_type="p5.48xlarge")  # 10 per GPU-hour
GCP = od(88.0, provider="gcp", region="us-central1", instance_type="a3-highgpu-8g")  # 11
AZURE_SPOT = od(  # 3 per GPU-hour, interruptible
    24.0,
    provider="azure",
    region="eastus",
    instance_type="Standard_ND96isr_H100_v5",
    purchase_option=PurchaseOption.SPOT,
)


def test_on_demand_only_takes_the_cheapest_gpu_hour_and_ignores_spot() -> None:
    # 1,000 GPU-hours at 10/GPU-hour on AWS = 10,000: 125 instance-hours on one instance
    # (no deadline). Spot is cheaper (3) but not allowed by default.
    p = plan([AWS, GCP, AZURE_SPOT], gpu_hours=1000, gpus=["H100"])
    assert p.total_cost == pytest.approx(10_000)
    assert used(p) == [("p5.48xlarge", "on_demand", 1)]
    (line,) = p.lines
    assert line.instance_hours == pytest.approx(125)
    assert line.hours_per_instance == pytest.approx(125)
    assert line.gpu_hours == pytest.approx(1000)
    assert line.offer_id == AWS.id
    assert p.gpu_hours == pytest.approx(1000)
    assert p.price_per_gpu_hour == pytest.approx(10)
    assert p.interruptible_gpu_hours == 0
    # GCP's best is an alternative: 1,000 x 11.
    assert [(a.label, round(a.total_cost, 6)) for a in p.alternatives] == [
        ("cheapest on gcp", 11_000)
    ]
    assert any(n.startswith("no deadline") for n in p.notes)
    assert any("price age" in n and "3.0 hours" in n for n in p.notes)


def test_spot_when_allowed_with_and_without_overhead() -> None:
    p = plan([AWS, GCP, AZURE_SPOT], gpu_hours=1000, purchase_options=SPOT_TOO)
    assert p.total_cost == pytest.approx(3000)  # 1,000 x 3
    assert used(p) == [("Standard_ND96isr_H100_v5", "spot", 1)]
    assert p.interruptible_gpu_hours == pytest.approx(1000)
    assert any(n.startswith("interruptible capacity: 1,000.0 of 1,000.0") for n in p.notes)

    # 25 % overhead: an instance-hour delivers 8 / 1.25 = 6.4 GPU-hours for 24, so
    # 3.75 per GPU-hour: 3,750 for 156.25 instance-hours (1,250 GPU-hours bought).
    p = plan([AWS, AZURE_SPOT], gpu_hours=1000, purchase_options=SPOT_TOO, spot_overhead=0.25)
    assert p.total_cost == pytest.approx(3750)
    assert p.lines[0].instance_hours == pytest.approx(156.25)
    assert p.gpu_hours == pytest.approx(1000)
    assert any("1,250.0 GPU-hours are bought" in n for n in p.notes)

    # At 250 % overhead spot costs 24 / (8 / 3.5) = 10.5 per GPU-hour: on-demand wins.
    p = plan([AWS, AZURE_SPOT], gpu_hours=1000, purchase_options=SPOT_TOO, spot_overhead=2.5)
    assert used(p) == [("p5.48xlarge", "on_demand", 1)]


RESERVED_1Y = offer(  # 40/h for 8 GPUs = 5 per GPU-hour, but 8760 h x 40 = 350,400 per unit
    instance_type="p5.48xlarge",
    purchase_option=PurchaseOption.RESERVED,
    term_hours=8760,
    price_per_hour=40.0,
)


def test_reservation_plus_on_demand_wins_at_large_n() -> None:
    # One unit delivers up to 8 x 8760 = 70,080 GPU-hours for 350,400.
    # 100,000 GPU-hours: on-demand alone 1,000,000; one unit + 29,920 on demand
    # = 350,400 + 299,200 = 649,600; two units 700,800.
    p = plan([AWS, RESERVED_1Y], gpu_hours=100_000)
    assert p.total_cost == pytest.approx(649_600)
    assert sorted(used(p)) == [("p5.48xlarge", "on_demand", 1), ("p5.48xlarge", "reserved", 1)]
    reserved = next(line for line in p.lines if line.term_hours)
    assert reserved.gpu_hours == pytest.approx(70_080)
    assert reserved.billed_instance_hours == 8760
    assert reserved.cost == pytest.approx(350_400)
    assert [(a.label, round(a.total_cost)) for a in p.alternatives] == [
        ("cheapest without commitments", 1_000_000)
    ]
    assert any(n.startswith("1-year reservation") and "8,760 h per unit" in n for n in p.notes)


def test_reservation_loses_at_small_n() -> None:
    # 20,000 GPU-hours: on-demand 200,000 < one unit's 350,400.
    p = plan([AWS, RESERVED_1Y], gpu_hours=20_000)
    assert p.total_cost == pytest.approx(200_000)
    assert used(p) == [("p5.48xlarge", "on_demand", 1)]
    # The break-even is 35,040 GPU-hours on the reservation (350,400 / 10).
    assert plan([AWS, RESERVED_1Y], gpu_hours=35_000).total_cost == pytest.approx(350_000)
    assert plan([AWS, RESERVED_1Y], gpu_hours=36_000).total_cost == pytest.approx(350_400)


def test_commitment_note_says_what_is_paid_beyond_the_job() -> None:
    # A 100-hour commitment at 40/h (4,000 per unit) delivers 8 x min(100, 72) = 576 GPU-hours
    # within 72 h. 1,000 GPU-hours: 2 units = 8,000 < 1 unit + 424 on demand (4,000 + 4,240)
    # < on demand alone (10,000). The job uses 125 instance-hours of the 200 paid: 62.5 h of
    # each unit, and 75 h x 40 = 3,000 pays for hours beyond the job.
    short = offer(purchase_option=PurchaseOption.COMMITTED, term_hours=100, price_per_hour=40.0)
    p = plan([AWS, short], gpu_hours=1000, deadline_hours=72)
    assert p.total_cost == pytest.approx(8000)
    assert used(p) == [("p5.48xlarge", "committed", 2)]
    assert p.lines[0].hours_per_instance == pytest.approx(62.5)
    assert any(
        n.startswith("100-hour committed-use discount")
        and "you pay 100 h per unit; the job uses 62.5 h" in n
        and "3,000.00 USD pays for hours beyond the job" in n
        for n in p.notes
    )


def test_deadline_forces_several_instances() -> None:
    # 1,000 GPU-hours = 125 instance-hours; within 24 h that is ceil(125 / 24) = 6 instances
    # of 8 GPUs, 20.83 h each. The cost does not change: 10,000.
    p = plan([AWS], gpu_hours=1000, deadline_hours=24)
    assert p.total_cost == pytest.approx(10_000)
    (line,) = p.lines
    assert line.instances == 6
    assert line.hours_per_instance == pytest.approx(125 / 6)
    assert p.gpus_at_once == 48
    assert p.duration_hours <= 24


def test_max_gpus_and_deadline_force_a_second_instance_type() -> None:
    # max_gpus 12, 10 h, 100 GPU-hours. The 8-GPU offer (10/GPU-hour) fits once: 80 GPU-hours
    # in time. Adding one 4-GPU instance (12/GPU-hour) fills 12 GPUs: 80 x 10 + 20 x 12 = 1,040.
    # The 4-GPU offer alone: 3 instances, 100 x 12 = 1,200.
    small = od(48.0, instance_type="p5.12xlarge", gpu_count=4)
    p = plan([AWS, small], gpu_hours=100, deadline_hours=10, max_gpus=12)
    assert p.total_cost == pytest.approx(1040)
    assert sorted(used(p)) == [("p5.12xlarge", "on_demand", 1), ("p5.48xlarge", "on_demand", 1)]
    assert p.gpus_at_once == 12
    # Without max_gpus the cheaper offer alone does it (2 instances): 1,000.
    assert plan([AWS, small], gpu_hours=100, deadline_hours=10).total_cost == pytest.approx(1000)


def test_max_gpus_and_deadline_force_a_second_region() -> None:
    # Per-instance sizes differ by region here: us-east-1 has 8-GPU instances at 10/GPU-hour,
    # eu-west-1 2-GPU ones at 15. max_gpus 10 within 10 h: 8 + 2 GPUs, 80 x 10 + 20 x 15.
    eu = od(30.0, region="eu-west-1", instance_type="p5.8xlarge", gpu_count=2)
    p = plan([AWS, eu], gpu_hours=100, deadline_hours=10, max_gpus=10)
    assert p.total_cost == pytest.approx(1100)
    assert sorted(line.region for line in p.lines) == ["eu-west-1", "us-east-1"]


def test_fractional_gpus_are_excluded_unless_allowed() -> None:
    sixth = offer(
        provider="azure",
        region="eastus",
        instance_type="Standard_NV6ads_A10_v5",
        gpu="A10",
        gpu_count=1 / 6,
        gpu_memory_gb=24,
        price_per_hour=0.2,  # 1.2 per GPU-hour
    )
    whole = offer(
        provider="azure",
        region="eastus",
        instance_type="Standard_NV36ads_A10_v5",
        gpu="A10",
        gpu_count=1,
        gpu_memory_gb=24,
        price_per_hour=1.6,
    )
    assert plan([sixth, whole], gpu_hours=60, gpus=["A10"]).total_cost == pytest.approx(96)
    # 60 GPU-hours = 360 instance-hours of a sixth at 0.2 = 72.
    allowed = plan([sixth, whole], gpu_hours=60, gpus=["A10"], allow_fractional=True)
    assert allowed.total_cost == pytest.approx(72)
    assert allowed.lines[0].instance_hours == pytest.approx(360)
    with pytest.raises(NoFeasiblePlan, match="fraction of a GPU per instance"):
        plan([sixth], gpu_hours=60, gpus=["A10"])


A100_40 = od(24.0, instance_type="p4d.24xlarge", gpu="A100", gpu_memory_gb=40)  # 3/GPU-hour
A100_80 = od(32.0, instance_type="p4de.24xlarge", gpu="A100", gpu_memory_gb=80)  # 4/GPU-hour


def test_memory_filter_and_memory_variant() -> None:
    assert plan([A100_40, A100_80], gpu_hours=80, gpus=["A100"]).total_cost == pytest.approx(240)
    by_minimum = plan([A100_40, A100_80], gpu_hours=80, gpus=["A100"], min_gpu_memory_gb=80)
    assert by_minimum.total_cost == pytest.approx(320)
    by_variant = plan([A100_40, A100_80], gpu_hours=80, gpus=["nvidia a100 80gb"])
    assert by_variant.lines[0].offer_id == A100_80.id
    with pytest.raises(NoFeasiblePlan, match=r"at least 100 GB .* \(the largest is 80 GB\)"):
        plan([A100_40, A100_80], gpu_hours=80, min_gpu_memory_gb=100)


def test_region_globs() -> None:
    eu = od(96.0, region="eu-west-1", instance_type="p5.48xlarge")
    offers = [AWS, eu]
    assert plan(offers, gpu_hours=80, regions=["eu-*"]).lines[0].region == "eu-west-1"
    assert plan(offers, gpu_hours=80, regions=["US-EAST-?"]).lines[0].region == "us-east-1"
    assert plan(offers, gpu_hours=80, regions=["ap-*", "eu-west-1"]).total_cost == pytest.approx(
        960
    )
    with pytest.raises(NoFeasiblePlan, match=r"region matching ap-\* \(matching offers are in"):
        plan(offers, gpu_hours=80, regions=["ap-*"])
    # Only * and ? are special: "us_east*" does not match "us-east-1".
    with pytest.raises(NoFeasiblePlan):
        plan(offers, gpu_hours=80, regions=["us_east*"])


def test_gpus_per_node_exact_and_range() -> None:
    small = od(12.0, instance_type="p5.4xlarge", gpu_count=1)  # 12/GPU-hour
    offers = [AWS, small]
    assert plan(offers, gpu_hours=8, gpus_per_node=1).lines[0].offer_id == small.id
    assert plan(offers, gpu_hours=8, min_gpus_per_node=2).lines[0].offer_id == AWS.id
    assert plan(offers, gpu_hours=8, max_gpus_per_node=4).lines[0].offer_id == small.id
    with pytest.raises(
        NoFeasiblePlan, match=r"exactly 3 GPUs per instance \(sizes available: 1, 8\)"
    ):
        plan(offers, gpu_hours=8, gpus_per_node=3)


@pytest.mark.parametrize(
    ("request_fields", "message"),
    [
        ({"gpus": ["L4"]}, r"no offers match the GPU filter: nothing for L4 \(there are offers"),
        ({"providers": ["oracle"]}, r"no matching offers from provider oracle \(.*aws"),
        (
            {"purchase_options": ["reserved"]},
            r"no matching offers with purchase option reserved \(matching offers are",
        ),
        (
            {"gpus": ["H100"], "deadline_hours": 10, "max_gpus": 64},
            r"the 10 h deadline needs at least 1,000 GPUs at once to deliver 10,000 GPU-hours, "
            r"but max_gpus is 64 \(the matching offers can deliver at most 640.0 GPU-hours",
        ),
        ({"max_gpus": 4}, r"max_gpus is 4 but every matching instance has more GPUs"),
        (
            {"deadline_hours": 10, "max_gpus": 12, "gpu_hours": 100},
            r"instances \(8 GPUs each\) can deliver at most 80.0 of the 100 GPU-hours: "
            r"whole instances do not fit the 10 GPUs needed",
        ),
    ],
)
def test_infeasible_requests_name_the_constraint(
    request_fields: dict[str, Any], message: str
) -> None:
    fields = {"gpu_hours": 10_000, **request_fields}
    with pytest.raises(NoFeasiblePlan, match=message):
        plan([AWS, GCP], **fields)


def test_only_spot_offers_suggest_allowing_spot() -> None:
    with pytest.raises(NoFeasiblePlan, match=r"allow spot / low_priority \(--spot\)"):
        plan([AZURE_SPOT], gpu_hours=10)


def test_no_offers_at_all() -> None:
    with pytest.raises(NoFeasiblePlan, match="no offers to plan with"):
        plan([], gpu_hours=10)


def test_unknown_gpu_is_bad_input() -> None:
    with pytest.raises(UnknownGpu) as caught:
        plan([AWS], gpu_hours=10, gpus=["Q9000"])
    assert isinstance(caught.value, InvalidInput)


@pytest.mark.parametrize(
    "fields",
    [
        {"gpu_hours": 0},
        {"gpu_hours": -5},
        {"gpu_hours": float("nan")},
        {"gpu_hours": float("inf")},
        {"gpu_hours": 1, "deadline_hours": 0},
        {"gpu_hours": 1, "max_gpus": 0},
        {"gpu_hours": 1, "spot_overhead": -0.1},
        {"gpu_hours": 1, "purchase_options": []},
        {"gpu_hours": 1, "purchase_options": ["forever"]},
        {"gpu_hours": 1, "gpus_per_node": 8, "max_gpus_per_node": 8},
        {"gpu_hours": 1, "min_gpus_per_node": 8, "max_gpus_per_node": 2},
        {"gpu_hours": 1, "regions": [""]},
        {"gpu_hours": 1, "top": -1},
        {"gpu_hours": 1, "surprise": True},
    ],
)
def test_request_validation_rejects(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        PlanRequest(**fields)


def test_request_defaults_and_spellings() -> None:
    request = PlanRequest(gpu_hours=5, purchase_options=["On-Demand", "savings plan", "spot"])
    assert request.purchase_options == [
        PurchaseOption.ON_DEMAND,
        PurchaseOption.SAVINGS_PLAN,
        PurchaseOption.SPOT,
    ]
    default = PlanRequest(gpu_hours=5)
    assert not default.allows_interruptible
    assert not default.allow_fractional and default.top == 3 and default.spot_overhead == 0


def test_currencies_are_never_summed() -> None:
    # EUR is cheaper in number but is planned on its own: the main plan is USD.
    eur = od(8.0, provider="ovh", region="gra", instance_type="h100-1", gpu_count=1, currency="EUR")
    p = plan([AWS, eur], gpu_hours=100)
    assert p.currency == "USD" and p.total_cost == pytest.approx(1000)
    assert {line.provider for line in p.lines} == {"aws"}
    (alternative,) = p.alternatives
    assert alternative.label == "cheapest in EUR" and alternative.currency == "EUR"
    assert alternative.total_cost == pytest.approx(800)
    assert any("never added to USD prices" in n for n in p.notes)
    # Only EUR offers: the plan is in EUR.
    assert plan([eur], gpu_hours=100).currency == "EUR"


def test_alternatives_are_limited_by_top() -> None:
    azure = od(96.0, provider="azure", region="eastus", instance_type="ND96")
    offers = [AWS, GCP, azure, RESERVED_1Y]
    p = plan(offers, gpu_hours=100_000)
    assert [a.label for a in p.alternatives] == [
        "cheapest without commitments",
        "cheapest on gcp",
        "cheapest on azure",
    ]
    assert [a.label for a in plan(offers, gpu_hours=100_000, top=1).alternatives] == [
        "cheapest without commitments"
    ]
    assert plan(offers, gpu_hours=100_000, top=0).alternatives == []


def test_solver_time_limit_is_configurable() -> None:
    request = PlanRequest(gpu_hours=100, deadline_hours=10, max_gpus=12)
    small = od(48.0, instance_type="p5.12xlarge", gpu_count=4)
    p = solve([AWS, small], request, options=SolverOptions(time_limit_seconds=1.0), now=NOW)
    assert p.optimal and p.total_cost == pytest.approx(1040)


def test_pruning_keeps_what_max_gpus_needs_and_drops_what_it_cannot_use() -> None:
    # Without max_gpus only the cheapest pay-as-you-go offer matters.
    small = od(48.0, instance_type="p5.12xlarge", gpu_count=4)  # 12/GPU-hour
    request = PlanRequest(gpu_hours=100, deadline_hours=10)
    kept = prune(make_candidates([AWS, small, GCP], request), Problem.of(request))
    assert [c.offer.id for c in kept] == [AWS.id]
    # With max_gpus a dearer but smaller instance can fill GPUs the big one cannot.
    capped = PlanRequest(gpu_hours=100, deadline_hours=10, max_gpus=12)
    kept = prune(make_candidates([AWS, small, GCP], capped), Problem.of(capped))
    assert {c.offer.id for c in kept} == {AWS.id, small.id}  # GCP: same size as AWS, dearer
    # A 1-year reservation cannot pay off for a 72 h job: on-demand for its 576 GPU-hours
    # costs 5,760, the unit 350,400.
    short = PlanRequest(gpu_hours=100, deadline_hours=72)
    candidates = make_candidates([AWS, RESERVED_1Y], short)
    assert dominates(candidates[0], candidates[1], max_gpus=None, deadline=72)
    assert [c.offer.id for c in prune(candidates, Problem.of(short))] == [AWS.id]


def test_a_plan_mixing_gpu_models_says_so() -> None:
    # No GPU named: any GPU-hour will do, so max_gpus 12 within 10 h takes the 8-GPU H100
    # (10/GPU-hour) and a 4-GPU A100 instance (12/GPU-hour): 80 x 10 + 20 x 12 = 1,040.
    a100 = od(48.0, instance_type="p4.12xlarge", gpu="A100", gpu_count=4, gpu_memory_gb=40)
    p = plan([AWS, a100], gpu_hours=100, deadline_hours=10, max_gpus=12)
    assert p.total_cost == pytest.approx(1040)
    assert any(n.startswith("this plan mixes GPU models (A100, H100)") for n in p.notes)
    assert not any(n.startswith("no deadline") for n in p.notes)
