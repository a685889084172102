"""Vultr's plan lists turned into offers: cloud GPU plans (``/v2/plans``) and bare-metal GPU
plans (``/v2/plans-metal``), one offer per plan, location and purchase option.

Cloud GPU plans (``type: "vcg"``) name their GPU in ``gpu_type`` (``NVIDIA_A100``) and the
slice's *total* GPU memory in ``gpu_vram_gb``: a 4 GB A100 plan is 1/20 of an 80 GB A100.
Bare-metal plans carry no GPU field: model and count are only in the id
(``vbm-112c-2048gb-8-h100-gpu`` is 8 H100). ``ram`` is in MB. The price is the same in every
location a plan lists. The mapping and its assumptions: docs/providers/vultr.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from aggregator.errors import UnknownGpu
from aggregator.gpus import GpuSpec, GpuVocabulary
from aggregator.models import Billing
from plugins.json_api import positive_number
from plugins.verdicts import Verdict

__all__ = ["PROVIDER", "judge_metal", "judge_plan"]

PROVIDER: Final = "vultr"
# docs.vultr.com/support/platform/billing/how-am-i-billed-for-my-servers (2025-09-15):
# hourly billing, one hour the minimum.
_HOURLY: Final = Billing(increment_seconds=3600, minimum_seconds=3600)
_METAL_GPU: Final = re.compile(r"-(?P<count>\d+)-(?P<gpu>[a-z0-9]+)-gpu$")
_LOCATION: Final = re.compile(r"^[a-z0-9-]{2,20}$")


def judge_plan(
    item: Mapping[str, Any], gpus: GpuVocabulary, *, observed_at: datetime | None
) -> Verdict:
    """The offers of one ``/v2/plans`` entry; plans without a GPU yield nothing."""
    gpu_type = item.get("gpu_type")
    if not isinstance(gpu_type, str) or not gpu_type:
        return Verdict()
    plan_id = str(item.get("id") or "")
    try:
        spec = gpus.resolve(gpu_type.replace("_", " ")).spec
    except UnknownGpu:
        return Verdict(unknown=gpu_type)
    vram = positive_number(item.get("gpu_vram_gb"))
    if vram is None:
        return Verdict(rejected=[(f"plan {plan_id}: gpu_vram_gb is not a size", {})])
    per_gpu = _full_memory(spec, vram)
    if per_gpu is None:
        return Verdict(rejected=[(f"plan {plan_id}: {vram:g} GB is no whole {spec.name}", {})])
    return _offers(item, spec.name, vram / per_gpu, per_gpu, item.get("vcpu_count"), observed_at)


def judge_metal(
    item: Mapping[str, Any], gpus: GpuVocabulary, *, observed_at: datetime | None
) -> Verdict:
    """The offers of one ``/v2/plans-metal`` entry; plans whose id names no GPU yield nothing."""
    plan_id = item.get("id")
    match = _METAL_GPU.search(plan_id) if isinstance(plan_id, str) else None
    if match is None:
        return Verdict()
    try:
        spec = gpus.resolve(match["gpu"]).spec
    except UnknownGpu:
        return Verdict(unknown=match["gpu"])
    count = int(match["count"])
    if not 1 <= count <= 64:
        return Verdict(rejected=[(f"plan {plan_id}: {count} GPUs is out of range", {})])
    # The id says nothing of memory: the largest variant, as the clouds' 8-GPU nodes carry.
    memory = max(spec.memory_gb)
    return _offers(item, spec.name, count, memory, item.get("cpu_threads"), observed_at)


def _full_memory(spec: GpuSpec, vram: float) -> float | None:
    """The memory of the whole GPU a slice of ``vram`` GB is cut from (its largest variant),
    or None when ``vram`` is more than one GPU but not a whole number of them."""
    largest = max(spec.memory_gb)
    if vram <= largest:
        return largest
    return largest if (vram / largest).is_integer() else None


def _offers(
    item: Mapping[str, Any],
    gpu: str,
    gpu_count: float,
    gpu_memory_gb: float,
    vcpus: object,
    observed_at: datetime | None,
) -> Verdict:
    verdict = Verdict()
    plan_id = str(item["id"])
    locations = item.get("locations")
    if not isinstance(locations, list) or not locations:
        return verdict  # listed but deployable nowhere
    ram_mb = positive_number(item.get("ram"))
    host = {
        "vcpus": positive_number(vcpus),
        "memory_gb": round(ram_mb / 1024, 3) if ram_mb is not None else None,
    }
    prices = {
        "on_demand": ("hourly_cost", positive_number(item.get("hourly_cost"))),
        "spot": ("hourly_cost_preemptible", positive_number(item.get("hourly_cost_preemptible"))),
    }
    for location in dict.fromkeys(locations):
        if not isinstance(location, str) or not _LOCATION.match(location):
            verdict.rejected.append((f"plan {plan_id}: location {location!r} is not a code", {}))
            continue
        base = {
            "provider": PROVIDER,
            "region": location,
            "instance_type": plan_id,
            "gpu": gpu,
            "gpu_count": gpu_count,
            "gpu_memory_gb": gpu_memory_gb,
            **host,
            "currency": "USD",
            "billing": _HOURLY,
            "observed_at": observed_at,
        }
        for option, (price_field, price) in prices.items():
            if price is None:
                # No preemptible price (absent, null or 0) means none is sold; anything else
                # unusable is a broken row, and so is a plan without its hourly price.
                if option == "on_demand" or item.get(price_field) not in (None, 0):
                    key = {**base, "purchase_option": option}
                    verdict.rejected.append((f"plan {plan_id}: {price_field} is not a price", key))
                continue
            verdict.offers.append(
                {
                    **base,
                    "purchase_option": option,
                    "price_per_hour": price,
                    "source": {"plan_id": plan_id, "price_field": price_field},
                }
            )
    return verdict
