"""Reading one entry of Lambda's ``/api/v1/instance-types``: an offer, or why not.

An entry is ``{"instance_type": {name, description, gpu_description, price_cents_per_hour,
specs: {vcpus, memory_gib, storage_gib, gpus}}, "regions_with_capacity_available": [{name,
description}]}``. The price is whole US cents per instance-hour and the same in every region,
so an instance type is one offer in region ``global``. The GPU and its memory come from
``gpu_description`` ("H100 (80 GB SXM5)"), the count from ``specs.gpus``. The regions with
capacity become the offer's ``available_in``: an observation of that moment, kept apart from
the price (the offer stays when capacity runs out).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aggregator.models import GLOBAL_REGION, is_place

__all__ = ["CURRENCY", "GIB_IN_GB", "REGION", "Entry", "EntryError", "parse_entry"]

CURRENCY = "USD"
REGION = GLOBAL_REGION
GIB_IN_GB = 1.073741824
_GPU_DESCRIPTION = re.compile(r"^\s*(?P<gpu>[^()]+?)\s*\((?P<mem>\d+(?:\.\d+)?)\s*GB\b[^)]*\)\s*$")


class EntryError(ValueError):
    """An entry that should be an offer but cannot be read; the message says why."""


@dataclass(frozen=True)
class Entry:
    """One instance type as Lambda lists it."""

    name: str
    gpu_text: str
    gpu_memory_gb: float
    gpu_count: int
    price_per_hour: float
    vcpus: int | None
    memory_gb: float | None
    regions_with_capacity: tuple[str, ...] | None

    def offer(self, gpu: str, observed_at: Any) -> dict[str, Any]:
        """The on-demand offer of this instance type, priced as published."""
        return {
            "provider": "lambda",
            "region": REGION,
            "instance_type": self.name,
            "gpu": gpu,
            "gpu_count": self.gpu_count,
            "gpu_memory_gb": self.gpu_memory_gb,
            "vcpus": self.vcpus,
            "memory_gb": self.memory_gb,
            "available_in": self.regions_with_capacity,
            "purchase_option": "on_demand",
            "price_per_hour": self.price_per_hour,
            "currency": CURRENCY,
            "source": {"instance_type": self.name},
            "observed_at": observed_at,
        }


def parse_entry(key: str, raw: Any) -> Entry | None:
    """The entry under ``key``; ``None`` for an instance type without GPUs.

    Raises :class:`EntryError` for an entry that cannot be read.
    """
    if not isinstance(raw, Mapping) or not isinstance(raw.get("instance_type"), Mapping):
        raise EntryError(f"{key}: no 'instance_type' object")
    it = raw["instance_type"]
    name = it.get("name")
    if name != key:
        raise EntryError(f"{key}: instance_type.name is {name!r}, not the entry's key")
    specs = it.get("specs")
    if not isinstance(specs, Mapping):
        raise EntryError(f"{key}: no 'specs' object")
    gpus = specs.get("gpus")
    if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 0:
        raise EntryError(f"{key}: specs.gpus {gpus!r} is not a whole number of GPUs")
    if gpus == 0:
        return None
    cents = it.get("price_cents_per_hour")
    if isinstance(cents, bool) or not isinstance(cents, int | float) or not math.isfinite(cents):
        raise EntryError(f"{key}: price_cents_per_hour {cents!r} is not a number")
    if cents <= 0:
        raise EntryError(f"{key}: price_cents_per_hour {cents!r} is not above zero")
    described = _GPU_DESCRIPTION.match(str(it.get("gpu_description", "")))
    if described is None:
        raise EntryError(f"{key}: gpu_description {it.get('gpu_description')!r} names no GPU")
    return Entry(
        name=key,
        gpu_text=described["gpu"],
        gpu_memory_gb=float(described["mem"]),
        gpu_count=gpus,
        price_per_hour=cents / 100,
        vcpus=_whole(specs.get("vcpus")),
        memory_gb=_gib_as_gb(specs.get("memory_gib")),
        regions_with_capacity=_regions(raw.get("regions_with_capacity_available")),
    )


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _gib_as_gb(value: Any) -> float | None:
    gib = _whole(value)
    return None if gib is None else round(gib * GIB_IN_GB, 1)


def _regions(value: Any) -> tuple[str, ...] | None:
    """The regions listed with capacity; ``None`` when the answer has no such list (nothing is
    then claimed either way). Names that are no region code are dropped."""
    if not isinstance(value, list):
        return None
    names = (r.get("name") for r in value if isinstance(r, Mapping))
    return tuple(n for n in names if is_place(n))
