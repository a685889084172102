"""RunPod's ``gpuTypes`` GraphQL answer turned into offers, one GPU type at a time.

RunPod prices a GPU type per GPU-hour, the same in every data center, in two clouds: *secure*
(RunPod's own data centers) and *community* (hosts renting through its marketplace), each
with an on-demand and a spot (interruptible) price. A cloud's prices count only where its
flag (``secureCloud``, ``communityCloud``) says the type is offered there: the API fills the
other column with 0 or a placeholder (``communityPrice: 0.5`` on types no community host has).
Where the answer lists its data centers, a secure-cloud offer's ``available_in`` names those
with the type available (RunPod's data centers are its secure cloud; community capacity is
not listed, so community offers claim none). The mapping, and why spot equal to on-demand is
left out: docs/providers/runpod.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from aggregator.errors import ProviderResponseError, UnknownGpu
from aggregator.gpus import GpuVocabulary
from aggregator.models import GLOBAL_REGION, Billing, is_place
from plugins.json_api import positive_number
from plugins.verdicts import Verdict

__all__ = [
    "CLOUDS",
    "GPU_TYPES_QUERY",
    "PROVIDER",
    "REGION",
    "gpu_counts",
    "gpu_types_of",
    "judge",
    "secure_capacity",
]

PROVIDER: Final = "runpod"
REGION: Final = GLOBAL_REGION
"""RunPod publishes one price per GPU type for all its data centers."""

GPU_TYPES_QUERY: Final = (
    "query GpuTypes { gpuTypes { id displayName memoryInGb maxGpuCount secureCloud "
    "communityCloud securePrice communityPrice secureSpotPrice communitySpotPrice } "
    "dataCenters { id listed gpuAvailability { gpuTypeId available } } }"
)

# cloud -> (availability flag, on-demand price field, spot price field)
CLOUDS: Final = {
    "secure": ("secureCloud", "securePrice", "secureSpotPrice"),
    "community": ("communityCloud", "communityPrice", "communitySpotPrice"),
}
_PER_SECOND: Final = Billing(increment_seconds=1)  # docs.runpod.io/pods/pricing
_COUNT_STEPS: Final = (1, 2, 4, 8)


def gpu_types_of(document: Mapping[str, Any], *, url: str) -> list[Any]:
    """The ``data.gpuTypes`` list of a GraphQL answer; GraphQL errors and other shapes fail."""
    errors = document.get("errors")
    if errors:
        first = errors[0] if isinstance(errors, list) and errors else errors
        message = first.get("message") if isinstance(first, dict) else first
        raise ProviderResponseError(
            f"RunPod GraphQL answered with an error: {str(message)[:200]}",
            provider=PROVIDER,
            url=url,
        )
    data = document.get("data")
    types = data.get("gpuTypes") if isinstance(data, dict) else None
    if not isinstance(types, list):
        raise ProviderResponseError(
            "RunPod GraphQL answered without a data.gpuTypes list; the API may have changed, "
            "or GPUHOURS_RUNPOD_API_URL points at something else",
            provider=PROVIDER,
            url=url,
        )
    return types


def secure_capacity(document: Mapping[str, Any]) -> dict[str, tuple[str, ...]] | None:
    """GPU type id -> the listed data centers that have it available, from ``data.dataCenters``;
    ``None`` when the answer has no data-center list (then no offer claims capacity either way).
    Unlisted data centers and malformed entries are skipped."""
    data = document.get("data")
    centers = data.get("dataCenters") if isinstance(data, Mapping) else None
    if not isinstance(centers, list):
        return None
    available: dict[str, list[str]] = {}
    for center in centers:
        if not isinstance(center, Mapping) or center.get("listed") is not True:
            continue
        name, gpus = center.get("id"), center.get("gpuAvailability")
        if not is_place(name) or not isinstance(gpus, list):
            continue
        for gpu in gpus:
            if isinstance(gpu, Mapping) and gpu.get("available") is True:
                type_id = gpu.get("gpuTypeId")
                if isinstance(type_id, str):
                    available.setdefault(type_id, []).append(name)
    return {type_id: tuple(names) for type_id, names in available.items()}


def gpu_counts(max_gpu_count: int) -> tuple[int, ...]:
    """The pod sizes offered: 1, 2, 4, 8 up to the type's maximum, and the maximum itself.

    A pod of n GPUs costs n times the per-GPU price, so intermediate sizes add nothing a plan
    could not buy from these; they are left out to keep the store small.
    """
    steps = [n for n in _COUNT_STEPS if n <= max_gpu_count]
    return tuple(dict.fromkeys([*steps, max_gpu_count]))


def judge(
    item: object,
    gpus: GpuVocabulary,
    *,
    observed_at: datetime | None,
    capacity: Mapping[str, tuple[str, ...]] | None = None,
) -> Verdict:
    """The offers of one ``gpuTypes`` entry (every pod size x cloud x on-demand/spot);
    ``capacity`` is :func:`secure_capacity` of the answer."""
    verdict = Verdict()
    if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
        verdict.rejected.append(("GPU type without an id", {}))
        return verdict
    type_id: str = item["id"]
    offered = [cloud for cloud, (flag, _, _) in CLOUDS.items() if item.get(flag) is True]
    if not offered:
        return verdict  # listed but rentable in neither cloud (e.g. the "unknown" entry)
    memory = positive_number(item.get("memoryInGb"))
    max_count = item.get("maxGpuCount")
    if memory is None or isinstance(max_count, bool) or not isinstance(max_count, int):
        verdict.rejected.append((f"GPU type {type_id}: no memoryInGb or maxGpuCount", {}))
        return verdict
    if not 1 <= max_count <= 64:
        verdict.rejected.append((f"GPU type {type_id}: maxGpuCount {max_count} out of range", {}))
        return verdict
    try:
        gpu = gpus.resolve(type_id).name
    except UnknownGpu:
        verdict.unknown = type_id
        return verdict
    for cloud in offered:
        _, on_demand_field, spot_field = CLOUDS[cloud]
        on_demand = positive_number(item.get(on_demand_field))
        spot = positive_number(item.get(spot_field))
        places = None
        if cloud == "secure" and capacity is not None:
            places = capacity.get(type_id, ())
        for count in gpu_counts(max_count):
            base = {
                "provider": PROVIDER,
                "region": REGION,
                "instance_type": f"{cloud} {count}x {type_id}",
                "gpu": gpu,
                "gpu_count": count,
                "gpu_memory_gb": memory,
                "billing": _PER_SECOND,
                "available_in": places,
                "currency": "USD",
                "observed_at": observed_at,
            }
            if on_demand is None:
                key = {**base, "purchase_option": "on_demand"}
                verdict.rejected.append((f"{type_id}: {on_demand_field} is not a price", key))
                continue
            verdict.offers.append(
                _priced(base, "on_demand", on_demand, count, type_id, on_demand_field)
            )
            # Spot at or above on-demand is no discount anyone can buy (RunPod's 2026 answers
            # repeat the on-demand price there), so it is not offered as spot.
            if spot is not None and spot < on_demand:
                verdict.offers.append(_priced(base, "spot", spot, count, type_id, spot_field))
    return verdict


def _priced(
    base: Mapping[str, Any], option: str, per_gpu: float, count: int, type_id: str, field: str
) -> dict[str, Any]:
    return {
        **base,
        "purchase_option": option,
        "price_per_hour": round(per_gpu * count, 6),
        "source": {"gpu_type_id": type_id, "price_field": field},
    }
