"""Offers for tests: one built from a real AWS price row, and a way to store a list of them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from aggregator.models import Offer, PurchaseOption
from db import store

OfferFactory = Callable[..., Offer]


def build_offer(**overrides: Any) -> Offer:
    """An H100 on-demand offer (AWS p5.48xlarge in us-east-1) with ``overrides`` applied."""
    fields: dict[str, Any] = {
        "provider": "aws",
        "region": "us-east-1",
        "instance_type": "p5.48xlarge",
        "gpu": "H100",
        "gpu_count": 8,
        "gpu_memory_gb": 80,
        "vcpus": 192,
        "memory_gb": 2048,
        "purchase_option": PurchaseOption.ON_DEMAND,
        "price_per_hour": 98.32,
        "source": {
            "sku": "XCS3ZTE3JUWJBR8G",
            "rate_code": "XCS3ZTE3JUWJBR8G.JRTCKXETXF.6YS6EN2CT7",
        },
    }
    fields.update(overrides)
    return Offer(**fields)


def _training_offers() -> list[Offer]:
    h100 = build_offer(price_per_hour=80.0)  # 10 per GPU-hour
    return [
        h100,
        build_offer(  # 1 year: 350,400 per unit, 70,080 GPU-hours, 5 per GPU-hour
            purchase_option=PurchaseOption.RESERVED, term_hours=8760, price_per_hour=40.0
        ),
        build_offer(  # 3 per GPU-hour
            instance_type="p4d.24xlarge", gpu="A100", gpu_memory_gb=40, price_per_hour=24.0
        ),
        build_offer(  # 11 per GPU-hour
            provider="gcp", region="us-central1", instance_type="a3-highgpu-8g",
            price_per_hour=88.0, source={"sku": "GCP-H100"},
        ),
        build_offer(region="eu-west-1", price_per_hour=72.0),  # 9 per GPU-hour
        build_offer(  # 0.9 per GPU-hour, no known throughput
            instance_type="p2.8xlarge", gpu="K80", gpu_memory_gb=12, price_per_hour=7.2
        ),
    ]  # fmt: skip


TRAINING_OFFERS = _training_offers()
"""Offers for training-run requests: H100 on demand (us-east-1, eu-west-1, gcp), a 1-year H100
reservation, an A100 and a K80 instance; the tests work their plans out by hand."""


def save_offers(engine: Engine, offers: Sequence[Offer], *, now: datetime) -> None:
    """Store ``offers`` as one sync per provider would (feed ``<provider>/test``)."""
    by_provider: dict[str, list[Offer]] = {}
    for offer in offers:
        by_provider.setdefault(offer.provider, []).append(offer)
    for provider, own in by_provider.items():
        snapshot = store.FeedSnapshot(
            feed=f"{provider}/test", provider=provider, offers=own, unchanged=[], state={},
            started_at=now,
        )  # fmt: skip
        store.apply_snapshot(engine, snapshot, now=now)
