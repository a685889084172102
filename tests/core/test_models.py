"""The Offer model refuses inconsistent prices before they can reach the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pydantic
import pytest

import aggregator
from aggregator.models import Offer, PurchaseOption


def make(**overrides: Any) -> Offer:
    fields: dict[str, Any] = {
        "provider": "aws",
        "region": "us-east-1",
        "instance_type": "p5.48xlarge",
        "gpu": "H100",
        "gpu_count": 8,
        "gpu_memory_gb": 80,
        "purchase_option": "on_demand",
        "price_per_hour": 98.32,
        "source": {"sku": "ABC", "rate_code": "ABC.JRTCKXETXF.6YS6EN2CT7"},
    }
    fields.update(overrides)
    return Offer(**fields)


def test_derived_fields() -> None:
    offer = make()
    assert offer.price_per_gpu_hour == pytest.approx(12.29)
    assert offer.interruptible is False
    assert make(purchase_option="spot").interruptible is True
    assert make(purchase_option="low_priority").interruptible is True


def test_id_is_stable_and_depends_only_on_the_natural_key() -> None:
    assert make().id == make(price_per_hour=1.0, source={"sku": "other"}).id
    assert make().id != make(region="us-west-2").id
    assert make().id != make(purchase_option="spot").id
    assert make(zone="").id == make(zone=None).id
    assert len(make().id) == 20


def test_fractional_gpus_are_allowed() -> None:
    assert make(gpu="A10", gpu_count=1 / 6, gpu_memory_gb=24).price_per_gpu_hour == pytest.approx(
        98.32 * 6
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"price_per_hour": float("nan")}, "price_per_hour"),
        ({"price_per_hour": float("inf")}, "price_per_hour"),
        ({"price_per_hour": -1}, "price_per_hour"),
        ({"price_per_hour": 0}, "price_per_hour"),
        ({"gpu_count": 0}, "gpu_count"),
        ({"upfront": -5}, "upfront"),
        ({"currency": "usd"}, "ISO 4217"),
        ({"currency": "XYZ"}, "ISO 4217"),
        ({"source": {}}, "source row"),
        ({"source": {"sku": " "}}, "source row"),
        ({"purchase_option": "reserved"}, "needs term_hours > 0"),
        ({"term_hours": 8760}, "pay-as-you-go"),
        ({"payment": "all_upfront"}, "no upfront payment"),
        (
            {"offering_class": "standard", "purchase_option": "committed", "term_hours": 8760},
            "reserved offers only",
        ),
        ({"purchase_option": "forever"}, "purchase_option"),
        ({"observed_at": datetime(2026, 1, 1)}, "timezone-aware"),
        ({"provider": "AWS Cloud"}, "provider"),
        ({"unexpected": 1}, "unexpected"),
        (
            {
                "purchase_option": "reserved",
                "term_hours": 8760,
                "price_per_hour": 1.0,
                "upfront": 100000.0,
            },
            "upfront exceeds",
        ),
    ],
)
def test_invalid_offers_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        make(**overrides)


def test_commitments_carry_term_and_payment() -> None:
    offer = make(
        purchase_option="reserved",
        term_hours=26280,
        payment="partial_upfront",
        offering_class="convertible",
        upfront=100000,
        price_per_hour=60.0,
    )
    assert offer.purchase_option is PurchaseOption.RESERVED and offer.purchase_option.is_commitment


def test_observed_at_is_normalized_to_utc() -> None:
    tz = timezone(timedelta(hours=2))
    offer = make(observed_at=datetime(2026, 1, 1, 12, tzinfo=tz))
    assert offer.observed_at == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert offer.observed_at.tzinfo is UTC


def test_public_api_is_sorted_and_complete() -> None:
    assert aggregator.__all__ == sorted(aggregator.__all__)
    for name in aggregator.__all__:
        assert hasattr(aggregator, name), name
    assert {"hookimpl", "Provider", "Feed", "Offer", "GpuhoursError"} <= set(aggregator.__all__)


def test_the_natural_key_is_defined_once() -> None:
    import inspect

    from aggregator.models import NATURAL_KEY_FIELDS, natural_key_id
    from aggregator.testing import checks
    from db.tables import NATURAL_KEY_COLUMNS
    from tests.offers import build_offer

    assert tuple(inspect.signature(natural_key_id).parameters) == NATURAL_KEY_FIELDS
    assert NATURAL_KEY_COLUMNS is NATURAL_KEY_FIELDS
    offer = build_offer(zone="us-east-1a")
    assert tuple(map(str, offer.natural_key())) == checks.natural_key(offer)
    assert len(offer.natural_key()) == len(NATURAL_KEY_FIELDS)


def test_an_offer_names_its_fabric_and_bandwidth_or_neither() -> None:
    offer = make(interconnect="EFA", interconnect_gbps=3200)
    assert (offer.interconnect, offer.interconnect_gbps) == ("EFA", 3200.0)
    assert (make().interconnect, make().interconnect_gbps) == (None, None)
    assert make(interconnect="").interconnect is None  # "" is "not documented", like a zone
    assert make(interconnect_gbps=25).interconnect is None  # a bandwidth without a fabric name


@pytest.mark.parametrize(
    "overrides",
    [
        {"interconnect_gbps": float("nan")},
        {"interconnect_gbps": float("inf")},
        {"interconnect_gbps": 0},
        {"interconnect_gbps": -100},
        {"interconnect_gbps": 100_001},  # above aggregator.limits.MAX_INTERCONNECT_GBPS
        {"interconnect": " EFA"},
        {"interconnect": "   "},
        {"interconnect": "x" * 41},
    ],
)
def test_an_implausible_fabric_is_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError, match=next(iter(overrides))):
        make(**overrides)
