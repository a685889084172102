"""The ``aws/savings-plan`` feed: Compute Savings Plans rates of GPU instance types."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from aggregator.models import Offer, Payment, PurchaseOption
from aggregator.providers import FetchContext
from plugins.aws.offer_file import RowProblem, RowSelector
from plugins.aws.savings_plans import (
    SavingsPlanFeed,
    SavingsPlanParser,
    SavingsPlanRate,
    linux_shared_ec2,
    offer_from_rate,
)
from plugins.aws.settings import AwsSettings
from tests import paths
from tests.plugins.aws.running import run_feed

FIXTURES = paths.FIXTURES / "aws"
REAL_SP = FIXTURES / "5-ap-east-2-savingsplan-pricing.csv"
GPU_SP = FIXTURES / "savingsplan-us-east-1-gpu.csv"
BASE = "https://pricing.test"
INDEX_PATH = "/savingsPlan/v1.0/aws/AWSComputeSavingsPlan/current/region_index.json"
US_EAST_1 = "/savingsPlan/v1.0/aws/AWSComputeSavingsPlan/20250911184447/us-east-1/index.csv"


def rates(
    path: Path, parser: SavingsPlanParser | None = None
) -> list[SavingsPlanRate | RowProblem]:
    data = path.read_bytes()
    parser = parser or SavingsPlanParser()
    return list(parser.parse(data[i : i + 3000] for i in range(0, len(data), 3000)))


def test_real_ap_east_2_file_has_no_compute_plan_gpu_rows() -> None:
    # All 44 rows are EC2 Instance Savings Plans for r7g: nothing for the default selector.
    parser = SavingsPlanParser()
    assert rates(REAL_SP, parser) == []
    assert parser.stream.metadata["Version"] == "20250911184447"
    assert parser.stream.header is not None and len(parser.stream.header) == 24


def test_linux_shared_usage_is_recognised_on_the_real_file() -> None:
    # Any plan family, any instance: only Linux (RunInstances) on shared, used capacity
    # (BoxUsage) may pass; the real file's RHEL, SUSE, Ubuntu Pro, dedicated, host and unused
    # capacity reservation rows must not.
    everything = RowSelector(required=(), keep=linux_shared_ec2)
    found = [
        r for r in rates(REAL_SP, SavingsPlanParser(everything)) if isinstance(r, SavingsPlanRate)
    ]
    assert sorted((r.instance_type, r.rate, r.source["discounted_usage_type"]) for r in found) == [
        ("r7g.12xlarge", 1.1721, "APE2-BoxUsage:r7g.12xlarge"),
        ("r7g.2xlarge", 0.1954, "APE2-BoxUsage:r7g.2xlarge"),
    ]
    assert {(r.region, r.term_hours, r.payment) for r in found} == {
        ("ap-east-2", 26280, Payment.PARTIAL_UPFRONT)
    }


def test_compute_plan_rates_of_gpu_instances() -> None:
    found = [r for r in rates(GPU_SP) if isinstance(r, SavingsPlanRate)]
    assert len(found) == 12
    assert {r.instance_type for r in found} == {"p4d.24xlarge", "p5.48xlarge"}
    assert {(r.term_hours, r.payment) for r in found} == {
        (h, p) for h in (8760, 26280) for p in Payment
    }
    excluded = {"ZZP548XLWINDOWS1", "ZZP548XLDEDICAT1", "ZZP548XLUNUSED01", "ZZFARGATEVCPU001"}
    assert not {r.source["discounted_sku"] for r in found} & excluded
    assert not [r for r in found if r.source["sku"] == "ZZEC2INSTSP00001"]  # EC2 Instance SP


def test_savings_plan_offers() -> None:
    found = {
        (o.instance_type, o.term_hours, o.payment): o
        for r in rates(GPU_SP)
        if isinstance(r, SavingsPlanRate) and isinstance(o := offer_from_rate(r), Offer)
    }
    assert len(found) == 12
    p5 = found[("p5.48xlarge", 8760, Payment.NO_UPFRONT)]
    assert p5.purchase_option is PurchaseOption.SAVINGS_PLAN
    assert (p5.price_per_hour, p5.upfront, p5.gpu, p5.gpu_count) == (42.9312, 0.0, "H100", 8)
    assert p5.offering_class is None and p5.region == "us-east-1"
    assert p5.source == {
        "sku": "ZZCOMPUTESP00001",
        "rate_code": "ZZCOMPUTESP00001.ZZP548XLLINUX001",
        "discounted_sku": "ZZP548XLLINUX001",
        "discounted_usage_type": "BoxUsage:p5.48xlarge",
        "savings_plan_file_version": "20250911184447",
    }
    all_upfront = found[("p4d.24xlarge", 26280, Payment.ALL_UPFRONT)]
    assert all_upfront.upfront == pytest.approx(all_upfront.price_per_hour * 26280)
    assert found[("p4d.24xlarge", 8760, Payment.PARTIAL_UPFRONT)].upfront == 0


def run(state: dict[str, str], regions: str = "") -> tuple[list[Any], FetchContext, list[str]]:
    requests: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        requests.append(path)
        if path == INDEX_PATH:
            return httpx.Response(
                200, content=(FIXTURES / "4-currentSavingsPlanIndexUrl-list.json").read_bytes()
            )
        if path == US_EAST_1:
            return httpx.Response(200, content=GPU_SP.read_bytes())
        if path.endswith("/index.csv"):  # every other region: a real file without GPU rows
            return httpx.Response(200, content=REAL_SP.read_bytes())
        return httpx.Response(404)

    settings = AwsSettings(pricing_url=BASE, regions=regions)
    offers, ctx = run_feed(SavingsPlanFeed(), server, settings, state)
    return offers, ctx, requests


def test_feed_reads_each_region_once_per_version() -> None:
    state: dict[str, str] = {}
    offers, ctx, requests = run(state)
    assert requests[0] == INDEX_PATH
    assert len([r for r in requests if r.endswith(".csv")]) == 103
    assert len(offers) == 12 and {o.region for o in offers} == {"us-east-1"}
    assert ctx.rejects == [] and ctx.unknowns == []
    offers, ctx, requests = run(state)
    assert offers == [] and requests == [INDEX_PATH] and len(ctx.unchanged) == 103


def test_feed_honours_the_regions_setting() -> None:
    offers, _, requests = run({}, regions="us-east-1")
    assert [r for r in requests if r.endswith(".csv")] == [US_EAST_1]
    assert len(offers) == 12
