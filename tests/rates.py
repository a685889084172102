"""Interruption rates for tests: one shaped like a real Spot Instance Advisor row."""

from __future__ import annotations

from typing import Any

from aggregator.interruptions import InterruptionRate

ADVISOR_URL = "https://spot-bid-advisor.s3.amazonaws.com/spot-advisor-data.json"


def rate_fields(**overrides: Any) -> dict[str, Any]:
    """p5.48xlarge in us-east-1 in the ``5-10%`` bucket, 55 % saving, with ``overrides``: the
    mapping a feed may yield."""
    fields: dict[str, Any] = {
        "provider": "aws",
        "region": "us-east-1",
        "instance_type": "p5.48xlarge",
        "bucket": 1,
        "bucket_label": "5-10%",
        "interruption_min_percent": 5,
        "interruption_max_percent": 11,
        "savings_percent": 55,
        "source": {"url": ADVISOR_URL, "path": "spot_advisor/us-east-1/Linux/p5.48xlarge"},
    }
    fields.update(overrides)
    return fields


def build_rate(**overrides: Any) -> InterruptionRate:
    """:func:`rate_fields` as a validated rate."""
    return InterruptionRate(**rate_fields(**overrides))
