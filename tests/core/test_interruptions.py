"""The interruption-rate record: what it accepts, what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pydantic
import pytest

from aggregator.interruptions import InterruptionRate
from tests.rates import build_rate


def test_a_rate_keeps_its_values_and_names_its_key() -> None:
    rate = build_rate()
    assert rate.key() == ("aws", "us-east-1", "p5.48xlarge")
    assert (rate.bucket, rate.interruption_min_percent, rate.interruption_max_percent) == (1, 5, 11)


@pytest.mark.parametrize("savings", [-62, -1000, 0, 100, None])
def test_savings_are_kept_as_published_within_bounds(savings: float | None) -> None:
    assert build_rate(savings_percent=savings).savings_percent == savings


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"savings_percent": -1001}, "savings_percent"),
        ({"savings_percent": 100.5}, "savings_percent"),
        ({"savings_percent": float("nan")}, "savings_percent"),
        ({"interruption_max_percent": 0}, "interruption_max_percent"),
        ({"interruption_max_percent": 101}, "interruption_max_percent"),
        ({"interruption_max_percent": float("inf")}, "interruption_max_percent"),
        ({"interruption_min_percent": -1}, "interruption_min_percent"),
        ({"bucket": -1}, "bucket"),
        ({"bucket": True}, "bucket"),
        ({"bucket_label": ""}, "bucket_label"),
        ({"region": ""}, "region"),
        ({"instance_type": "x" * 129}, "instance_type"),
        ({"provider": "AWS"}, "provider"),
        ({"source": {}}, "source"),
        ({"source": {"url": " "}}, "source"),
        ({"observed_at": datetime(2025, 6, 28)}, "observed_at"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_absurd_values_are_refused_naming_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(pydantic.ValidationError) as excinfo:
        build_rate(**overrides)
    assert field in str(excinfo.value)


def test_bounds_must_be_in_order() -> None:
    with pytest.raises(pydantic.ValidationError, match="is above"):
        build_rate(interruption_min_percent=20, interruption_max_percent=10)


def test_observed_at_is_kept_in_utc() -> None:
    tokyo = datetime(2025, 6, 28, 9, tzinfo=timezone(timedelta(hours=9)))
    assert build_rate(observed_at=tokyo).observed_at == datetime(2025, 6, 28, tzinfo=UTC)
    assert build_rate(observed_at=tokyo).observed_at.tzinfo is UTC  # type: ignore[union-attr]


def test_a_rate_is_frozen() -> None:
    rate = build_rate()
    with pytest.raises(pydantic.ValidationError):
        rate.bucket = 3  # type: ignore[misc]
    assert InterruptionRate.model_validate(rate.model_dump()) == rate
