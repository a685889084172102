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
