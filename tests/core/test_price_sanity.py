"""Plausible price bounds per GPU-hour and per instance-hour, in the offer's currency."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from aggregator.errors import SyncRejected
from aggregator.models import ISO_4217
from aggregator.price_sanity import UNITS_PER_USD, price_problem
from db import store
from tests.offers import build_offer, save_offers


def problem(**overrides: Any) -> str | None:
    return price_problem(build_offer(**overrides))


def test_real_prices_pass() -> None:
    assert problem() is None  # 98.32 USD/h for 8 H100
    assert problem(price_per_hour=0.05, gpu_count=0.125) is None  # a fractional GPU
    assert problem(price_per_hour=14_000.0, currency="JPY") is None
    assert problem(price_per_hour=90.0, currency="EUR") is None


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"price_per_hour": 1e308}, "price per GPU-hour 1.25e+307 USD is outside"),
        ({"price_per_hour": 1e10, "gpu_count": 1e-308}, "overflows"),
        ({"price_per_hour": 0.004}, "is outside the plausible 0.001-1000 USD"),
        ({"price_per_hour": 200_000.0, "gpu_count": 1000}, "per instance-hour 200000 USD"),
        ({"price_per_hour": 98.32, "currency": "KES"}, "no plausible price bounds for currency"),
        ({"price_per_hour": 9000.0, "gpu_count": 1, "currency": "EUR"}, "1500 EUR"),
    ],
)
def test_implausible_prices_are_named(overrides: dict[str, Any], reason: str) -> None:
    found = problem(**overrides)
    assert found is not None and reason in found


def test_the_currency_table_holds_iso_codes_with_ordered_ranges() -> None:
    assert UNITS_PER_USD["USD"] == (1.0, 1.0)
    for code, (floor, ceiling) in UNITS_PER_USD.items():
        assert code in ISO_4217 and 0 < floor <= ceiling


def test_a_stored_absurd_price_coming_back_into_bounds_is_a_repair_not_a_jump(
    engine: Any,
) -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    absurd = [build_offer(instance_type=f"p{i}", price_per_hour=1e308) for i in range(3)]
    save_offers(engine, absurd, now=when)  # an old store already holding poisoned rows loads
    assert [o.price_per_hour for o in store.query_offers(engine, store.OfferQuery())] == [1e308] * 3
    sane = [build_offer(instance_type=f"p{i}", price_per_hour=98.0) for i in range(3)]
    snap = store.FeedSnapshot(
        feed="aws/test", provider="aws", offers=sane, unchanged=[], state={}, started_at=when
    )
    run = store.apply_snapshot(engine, snap, now=when, jump_share=0.2, jump_factor=10)
    assert run.changed == 3
    jumped = [build_offer(instance_type=f"p{i}", price_per_hour=9800.0) for i in range(3)]
    snap.offers = jumped
    with pytest.raises(SyncRejected, match="moved 3 of its 3 live offers"):
        store.apply_snapshot(engine, snap, now=when, jump_share=0.2, jump_factor=10)
