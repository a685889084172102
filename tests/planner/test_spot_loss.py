"""The interruption model: which monthly share a bucket stands for, and the work it costs."""

from __future__ import annotations

import pytest

from aggregator.interruptions import InterruptionRate
from aggregator.planner.spot_loss import (
    DEFAULT_MONTHLY_INTERRUPTION_PERCENT,
    HOURS_PER_MONTH,
    SpotLoss,
    monthly_interruption_percent,
)


def rate(low: float, high: float, bucket: int = 1, label: str = "5-10%") -> InterruptionRate:
    return InterruptionRate(
        provider="aws",
        region="us-east-1",
        instance_type="p5.48xlarge",
        bucket=bucket,
        bucket_label=label,
        interruption_min_percent=low,
        interruption_max_percent=high,
        source={"url": "https://spot-bid-advisor.s3.amazonaws.com/spot-advisor-data.json"},
    )


def test_a_bounded_bucket_counts_at_its_upper_bound() -> None:
    # AWS's published bounds: <5% has max 5, 5-10% max 11, ... (tests/fixtures/aws).
    assert monthly_interruption_percent(rate(0, 5, 0, "<5%")) == 5
    assert monthly_interruption_percent(rate(5, 11)) == 11
    assert monthly_interruption_percent(rate(16, 22, 3, "15-20%")) == 22


def test_the_open_top_bucket_counts_twice_its_lower_bound() -> None:
    assert monthly_interruption_percent(rate(22, 100, 4, ">20%")) == 44
    assert monthly_interruption_percent(rate(60, 100, 4, ">20%")) == 100  # never above all


def test_no_data_means_the_documented_default() -> None:
    assert monthly_interruption_percent(None) == DEFAULT_MONTHLY_INTERRUPTION_PERCENT == 10


def test_an_interruption_costs_half_a_checkpoint_interval_plus_the_restart() -> None:
    loss = SpotLoss(checkpoint_minutes=60, restart_minutes=15)
    assert loss.hours_lost_per_interruption == pytest.approx(0.75)
    # 44 % of instances a month: 0.44 / 730 interruptions per instance-hour, 0.75 h each.
    assert loss.lost_share(44) == pytest.approx(0.44 / HOURS_PER_MONTH * 0.75)


def test_in_one_cluster_the_loss_grows_with_the_interruptible_instances() -> None:
    loss = SpotLoss(checkpoint_minutes=60, restart_minutes=15)
    one = loss.lost_share(44)
    assert loss.lost_share(44, stalled_by=64) == pytest.approx(64 * one)
    assert loss.lost_share(100, stalled_by=10**6) == 1.0  # capped: nothing is delivered
    assert SpotLoss(checkpoint_minutes=0, restart_minutes=0).lost_share(100) == 0.0
