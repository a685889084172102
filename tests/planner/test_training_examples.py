"""Training-run requests on hand-computed examples: work-normalized GPU-hours, one cluster,
budgets. Each answer is worked out in the comments; prices keep the arithmetic easy.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aggregator.errors import InvalidInput, NoFeasiblePlan
from aggregator.gpus import default_vocabulary
from aggregator.models import PurchaseOption
from aggregator.planner import solve
from aggregator.planner.problem import Problem
from aggregator.planner.throughput import work_scale
from aggregator.plans import Plan, PlanRequest
from tests.offers import TRAINING_OFFERS, build_offer

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
A100_RATIO = 312 / 989  # data sheets: dense BF16 TFLOPS of A100 and H100
H100_US, H100_RESERVED, A100_US, H100_GCP, H100_EU, K80 = TRAINING_OFFERS


def plan(**request: Any) -> Plan:
    return solve(TRAINING_OFFERS, PlanRequest(**request), now=NOW)


def used(p: Plan) -> list[tuple[str, str, str, int]]:
    return sorted(
        (ln.region, ln.instance_type, ln.purchase_option.value, ln.instances) for ln in p.lines
    )


# -- equivalent work -------------------------------------------------------------------------


def test_equivalent_hours_count_by_the_data_sheets_throughput() -> None:
    # In H100 work an A100 GPU-hour counts 312 / 989 = 0.3155: at 3 per A100 GPU-hour that is
    # 9.51 per H100-hour, dearer than eu-west-1's H100 at 9. 1,000 H100-hours cost 9,000; the
    # K80 has no known throughput and never counts.
    p = plan(gpu_hours=1000, equivalent_gpu="H100")
    assert p.total_cost == pytest.approx(9000)
    assert used(p) == [("eu-west-1", "p5.48xlarge", "on_demand", 1)]
    assert p.equivalent_gpu == "H100"
    assert p.equivalent_gpu_hours == pytest.approx(1000) and p.gpu_hours == pytest.approx(1000)
    assert p.price_per_equivalent_gpu_hour == pytest.approx(9)
    (line,) = p.lines
    assert line.throughput_ratio == 1 and line.equivalent_gpu_hours == pytest.approx(1000)
    assert any(n == "work is counted in H100-equivalent GPU-hours" for n in p.notes)


def test_measured_ratios_win_over_the_data_sheets() -> None:
    # Measured: an A100 does 0.4 of an H100's work, so an H100-hour on A100s costs
    # 3 / 0.4 = 7.5: 1,000 H100-hours are 2,500 A100 GPU-hours for 7,500.
    p = plan(gpu_hours=1000, equivalent_gpu="H100", throughput={"h100": 1, "A100": 0.4})
    assert p.total_cost == pytest.approx(7500)
    (line,) = p.lines
    assert (line.gpu, line.gpu_hours, line.equivalent_gpu_hours) == ("A100", 2500, 1000)
    assert line.throughput_ratio == pytest.approx(0.4)
    assert p.gpu_hours == pytest.approx(2500) and p.price_per_gpu_hour == pytest.approx(3)
    assert any("A100 counts 0.4 (your ratio)" in n for n in p.notes)
    # Ratios are relative to each other: H100=2, A100=0.8 is the same measurement.
    same = plan(gpu_hours=1000, equivalent_gpu="H100", throughput={"H100": 2, "A100": 0.8})
    assert same.total_cost == pytest.approx(7500)


def test_the_reference_is_any_gpu_and_gpus_still_filter() -> None:
    # In A100 work an H100 GPU-hour counts 989 / 312: eu-west-1 costs 9 x 312 / 989 = 2.839
    # per A100-hour, cheaper than the A100 itself (3). Asking for A100s only leaves the A100.
    p = plan(gpu_hours=312, equivalent_gpu="a100:40")
    assert used(p) == [("eu-west-1", "p5.48xlarge", "on_demand", 1)]
    assert p.total_cost == pytest.approx(312 * 9 * 312 / 989)
    only = plan(gpu_hours=312, equivalent_gpu="A100", gpus=["A100"])
    assert only.total_cost == pytest.approx(312 * 3)


def test_a_gpu_without_throughput_is_left_out_with_a_clear_reason() -> None:
    with pytest.raises(
        NoFeasiblePlan, match=r"K80 has no dense BF16/FP16 figure .*--throughput K80"
    ):
        plan(gpu_hours=10, equivalent_gpu="H100", gpus=["K80"])
    # A measured ratio brings it in: 8 K80s at 7.2/h doing 0.05 H100 each: 18 per H100-hour.
    p = plan(gpu_hours=10, equivalent_gpu="H100", gpus=["K80"], throughput={"K80": 0.05})
    assert p.total_cost == pytest.approx(10 / 0.05 * 0.9)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"equivalent_gpu": "Q9000"}, r"equivalent_gpu: unknown GPU 'Q9000'"),
        ({"equivalent_gpu": "H100", "throughput": {"Q9000": 1}}, r"throughput: unknown GPU"),
        (
            {"equivalent_gpu": "H100", "throughput": {"A100": 1, "a100": 2}},
            r"names A100 a second time",
        ),
        ({"equivalent_gpu": "H100", "throughput": {"A100": 1e-4}}, r"within 1/1000 to 1000"),
        ({"equivalent_gpu": "K80"}, r"K80 has no known throughput .*--throughput K80=1"),
    ],
)
def test_unusable_throughput_is_bad_input(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        work_scale(PlanRequest(gpu_hours=1, **fields), default_vocabulary())


@pytest.mark.parametrize(
    "fields",
    [
        {"throughput": {"H100": 1}},  # without equivalent_gpu
        {"equivalent_gpu": "H100", "throughput": {"H100": 0}},
        {"equivalent_gpu": "H100", "throughput": {"H100": float("inf")}},
        {"equivalent_gpu": "H100", "throughput": {"H100": float("nan")}},
        {"equivalent_gpu": "H100", "throughput": {"": 1}},
        {"budget": 0},
        {"budget": -5},
        {"budget": float("inf")},
    ],
)
def test_request_validation_rejects(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        PlanRequest(gpu_hours=1, **fields)


def test_a_request_names_gpu_hours_or_a_budget() -> None:
    with pytest.raises(ValueError, match=r"give gpu_hours .*, budget .*, or both"):
        PlanRequest()
    assert PlanRequest(budget=10).gpu_hours is None


# -- one cluster -------------------------------------------------------------------------------


def test_one_cluster_keeps_a_reservation_with_its_own_on_demand() -> None:
    # 100,000 GPU-hours within a year. A 1-year reservation in us-east-1 (350,400 for 70,080
    # GPU-hours, 5 each) plus eu-west-1's on-demand at 9: 350,400 + 29,920 x 9 = 619,680. One
    # cluster keeps us-east-1's own on-demand at 10: 350,400 + 299,200 = 649,600, cheaper than
    # two units (700,800) or eu-west-1 alone (900,000).
    mixed = plan(gpu_hours=100_000, gpus=["H100"], deadline_hours=8760)
    assert mixed.total_cost == pytest.approx(619_680)
    assert {line.region for line in mixed.lines} == {"us-east-1", "eu-west-1"}
    p = plan(gpu_hours=100_000, gpus=["H100"], deadline_hours=8760, one_cluster=True)
    assert p.total_cost == pytest.approx(649_600)
    assert used(p) == [
        ("us-east-1", "p5.48xlarge", "on_demand", 1),
        ("us-east-1", "p5.48xlarge", "reserved", 1),
    ]
    assert any(n == "one cluster: every line runs on aws p5.48xlarge in us-east-1" for n in p.notes)


def test_one_cluster_refuses_what_two_clusters_could_do() -> None:
    # 100 GPU-hours in 10 h on at most 11 GPUs. An 8-GPU instance (10 per GPU-hour) and a
    # 3-GPU one (12) together fill 11 GPUs: 80 x 10 + 20 x 12 = 1,040. One cluster can only
    # repeat one size: 1 x 8 GPUs deliver 80, 3 x 3 GPUs 90, both short of 100.
    eight = build_offer(price_per_hour=80.0)
    three = build_offer(
        provider="gcp", region="us-central1", instance_type="x3", gpu_count=3, price_per_hour=36.0
    )
    request = PlanRequest(gpu_hours=100, deadline_hours=10, max_gpus=11)
    assert solve([eight, three], request, now=NOW).total_cost == pytest.approx(1040)
    with pytest.raises(
        NoFeasiblePlan,
        match=r"no single cluster .* within the 10 h deadline and max_gpus 11: the largest, gcp "
        r"x3 in us-central1, delivers at most 90.0; drop one_cluster",
    ):
        solve([eight, three], request.model_copy(update={"one_cluster": True}), now=NOW)


def test_one_cluster_alternatives_are_the_best_cluster_per_provider() -> None:
    p = plan(gpu_hours=800, gpus=["H100"], one_cluster=True)
    assert used(p) == [("eu-west-1", "p5.48xlarge", "on_demand", 1)]
    assert [(a.label, a.total_cost) for a in p.alternatives] == [("cheapest on gcp", 8800)]
    assert {line.region for line in p.alternatives[0].lines} == {"us-central1"}


def test_a_zoned_offer_shares_its_cluster_with_the_regions_offers() -> None:
    # A reservation priced for zone us-east-1a joins the region's on-demand (launchable in any
    # zone) but not a reservation of us-east-1b.
    zoned = [
        build_offer(price_per_hour=80.0),
        build_offer(zone="us-east-1a", purchase_option=PurchaseOption.RESERVED,
                    term_hours=8760, price_per_hour=40.0),
        build_offer(zone="us-east-1b", purchase_option=PurchaseOption.RESERVED,
                    term_hours=8760, price_per_hour=40.0),
    ]  # fmt: skip
    request = PlanRequest(gpu_hours=150_000, deadline_hours=8760, one_cluster=True, max_gpus=24)
    # 2 units in one zone deliver 140,160 for 700,800; the rest, 9,840 on demand (x 10).
    p = solve(zoned, request, now=NOW)
    assert p.total_cost == pytest.approx(700_800 + 98_400)
    assert {line.zone for line in p.lines if line.zone} in ({"us-east-1a"}, {"us-east-1b"})


# -- budgets ---------------------------------------------------------------------------------


def test_a_budget_buys_the_most_gpu_hours() -> None:
    # 9,000 buys 1,000 H100 GPU-hours in eu-west-1 (9 each), the cheapest H100 GPU-hour.
    p = plan(budget=9000, gpus=["H100"])
    assert p.label == "most for the budget" and p.requested_gpu_hours is None
    assert p.gpu_hours == pytest.approx(1000) and p.total_cost == pytest.approx(9000)
    assert p.budget == 9000
    assert [(a.label, round(a.gpu_hours, 3)) for a in p.alternatives] == [
        ("most on gcp", round(9000 / 11, 3))
    ]
    assert any(n.startswith("budget: 9,000.00 USD buys at most 1,000.0 GPU-hours") for n in p.notes)


def test_a_budget_in_equivalent_work() -> None:
    # Raw GPU-hours, the K80 (0.9 each) would win; in H100 work it does not count, and eu-west-1
    # (9 per H100-hour) beats the A100 (9.51).
    assert plan(budget=9000).lines[0].gpu == "K80"
    p = plan(budget=9000, equivalent_gpu="H100")
    assert p.equivalent_gpu_hours == pytest.approx(1000)
    assert used(p) == [("eu-west-1", "p5.48xlarge", "on_demand", 1)]


def test_a_budget_limited_by_time_and_gpus_costs_less_than_the_budget() -> None:
    # 16 GPUs for 10 h deliver at most 160 GPU-hours: 1,440 in eu-west-1, well within 5,000.
    p = plan(budget=5000, gpus=["H100"], deadline_hours=10, max_gpus=16, one_cluster=True)
    assert p.gpu_hours == pytest.approx(160) and p.total_cost == pytest.approx(1440)
    assert any("not the money, limits the work" in n for n in p.notes)


def test_a_budget_pays_for_whole_commitment_units() -> None:
    # Within a year, 400,000 buys one us-east-1 reservation (350,400 for 70,080 GPU-hours at 5)
    # and 49,600 / 9 = 5,511.1 GPU-hours on demand in eu-west-1: 75,591.1 in all; on demand
    # alone buys 44,444.4.
    p = plan(budget=400_000, gpus=["H100"], deadline_hours=8760)
    assert p.gpu_hours == pytest.approx(70_080 + 49_600 / 9)
    assert p.total_cost == pytest.approx(400_000)
    assert [a.label for a in p.alternatives][:1] == ["most without commitments"]


def test_with_gpu_hours_a_plan_over_budget_is_refused() -> None:
    with pytest.raises(
        NoFeasiblePlan,
        match=r"the cheapest plan for 1,000 GPU-hours costs 9,000.00 USD, over the budget of "
        r"8,999.00 USD",
    ):
        plan(gpu_hours=1000, gpus=["H100"], budget=8999)
    p = plan(gpu_hours=1000, gpus=["H100"], budget=9000)
    assert p.total_cost == pytest.approx(9000) and p.budget == 9000
    assert any(n.startswith("budget: the plan costs 9,000.00 USD, within") for n in p.notes)
    # Alternatives over the budget are left out: gcp's 11,000 is.
    assert p.alternatives == []


def test_a_budget_that_buys_nothing() -> None:
    reserved = [H100_RESERVED]
    request = PlanRequest(budget=1000, purchase_options=["reserved"])
    with pytest.raises(NoFeasiblePlan, match=r"buys nothing: .* cheapest unit costs 350,400.00"):
        solve(reserved, request, now=NOW)


def test_the_problem_reads_the_request() -> None:
    request = PlanRequest(budget=10, deadline_hours=5, max_gpus=8)
    problem = Problem.of(request)
    assert problem.maximizing and problem.serving(3).demand == 3
    assert not Problem.of(PlanRequest(gpu_hours=1)).maximizing


def test_prices_age_notes_still_apply() -> None:
    old = build_offer(price_per_hour=80.0, observed_at=NOW - timedelta(days=2))
    p = solve([old], PlanRequest(budget=800, one_cluster=True), now=NOW)
    assert any("2.0 days" in n for n in p.notes)
