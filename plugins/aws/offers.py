"""From an AWS price to an :class:`~aggregator.models.Offer`: GPU facts, checks, and reporting.

Every AWS feed ends here. :func:`fit_gpu` finds an instance type's GPU in the family table and
checks it against the offer file's ``GPU`` count and ``GPU Memory`` total (within
:data:`MEMORY_TOLERANCE`: AWS derives the total from MiB; the check catches a wrong variant,
which is off by a factor); :func:`make_offer` builds the validated offer. Other
outcomes are values, so one odd row never ends a sync: :class:`Unknown` (a GPU family the
table lacks; reported), a :class:`~plugins.aws.rows.RowProblem` (rejected), or ``None`` (not
a GPU machine). See docs/providers/aws.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import pydantic

from aggregator.models import Billing, Offer
from plugins.aws.families import (
    GPU_FAMILIES,
    NOT_GPU_FAMILIES,
    GpuFamily,
    fabric_of,
    split_instance_type,
)
from plugins.aws.network import sustained_gbps
from plugins.aws.offer_file import PricePoint, gpu_count
from plugins.aws.rows import RowProblem

__all__ = [
    "LINUX_BILLING",
    "MEMORY_TOLERANCE",
    "PROVIDER",
    "GpuFit",
    "Unknown",
    "fit_gpu",
    "make_offer",
    "offer_from_point",
    "parse_gb",
]

PROVIDER = "aws"
#: Linux instances are billed per second with a one-minute minimum (EC2 pricing pages).
LINUX_BILLING = Billing(increment_seconds=1, minimum_seconds=60)
#: Allowed relative difference between the ``GPU Memory`` column and count x table memory.
MEMORY_TOLERANCE = 0.125

_SIZE = re.compile(r"^\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>[KMGT]i?B)?\s*$", re.IGNORECASE)
_UNIT_GB = {"kb": 1e-6, "kib": 1e-6, "mb": 1e-3, "mib": 1e-3, "gb": 1.0, "gib": 1.0}
_UNIT_GB |= {"tb": 1000.0, "tib": 1024.0}


@dataclass(frozen=True)
class Unknown:
    """A GPU machine the family table does not know: report it, never guess."""

    what: str
    raw: str


@dataclass(frozen=True)
class GpuFit:
    """The GPU facts of one instance type."""

    gpu: str
    count: float
    memory_gb: float


def parse_gb(text: str) -> float | None:
    """``"192 GB"``, ``"1152 GiB"``, ``"1.5 TB"`` -> GB; ``NA``, empty or odd text -> None.

    GiB are counted as GB: AWS labels GiB figures as GB in these columns.
    """
    match = _SIZE.match(text)
    if not match:
        return None
    unit = (match["unit"] or "GB").lower()
    return float(match["n"]) * _UNIT_GB[unit]


def _positive(text: str) -> float | None:
    """A host size column (``vCPU`` "96", ``Memory`` "1152 GiB") as a number, if it is one."""
    value = parse_gb(text)
    return value if value else None


def fit_gpu(
    instance_type: str,
    *,
    gpu_column: str = "",
    gpu_memory_column: str = "",
    families: Mapping[str, GpuFamily] = GPU_FAMILIES,
) -> GpuFit | RowProblem | Unknown | None:
    """The GPU of ``instance_type``, checked against the source's columns where it has them.

    The model and per-GPU memory come from the table. The count comes from ``gpu_column``
    (the offer file's ``GPU``) and must equal the table's count for that size when the table
    lists it; without a column (the spot feed) the table's count is used.
    """
    family_name, size = split_instance_type(instance_type)
    if family_name in NOT_GPU_FAMILIES:
        return None
    listed = gpu_count(gpu_column)
    family = families.get(family_name)
    if family is None:
        if listed > 0:
            return Unknown("instance family", instance_type)
        return None
    expected = family.count_for(size)
    if listed and expected and abs(listed - expected) > 1e-9:
        return RowProblem(
            f"{instance_type}: the GPU column says {listed:g} GPUs, the family table {expected:g}",
            instance_type,
        )
    count = listed or expected
    if not count:
        return Unknown("instance size", instance_type)
    memory_total = parse_gb(gpu_memory_column)
    if memory_total is not None:
        want = count * family.memory_gb
        if abs(memory_total - want) > MEMORY_TOLERANCE * want:
            return RowProblem(
                f"{instance_type}: GPU Memory {gpu_memory_column!r} does not match "
                f"{count:g} x {family.memory_gb:g} GB {family.gpu} from the family table",
                instance_type,
            )
    return GpuFit(family.gpu, count, family.memory_gb)


def make_offer(fit: GpuFit, **fields: object) -> Offer | RowProblem:
    """A validated AWS offer for ``fit`` and the offer ``fields`` (its fabric from the family
    table); a field that fails validation (a zero price, an unknown currency) becomes a
    :class:`RowProblem`."""
    try:
        return Offer.model_validate(
            {
                "provider": PROVIDER,
                "gpu": fit.gpu,
                "gpu_count": fit.count,
                "gpu_memory_gb": fit.memory_gb,
                "interconnect": fabric_of(str(fields.get("instance_type", ""))),
                **fields,
            }
        )
    except pydantic.ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "offer"
        return RowProblem(
            f"not a valid offer: {where}: {error['msg']}", repr(fields)[:300], offer=fields
        )


def offer_from_point(
    point: PricePoint, families: Mapping[str, GpuFamily] = GPU_FAMILIES
) -> Offer | RowProblem | Unknown | None:
    """The offer for one offer-file price point (on-demand or a combined reserved term)."""
    fit = fit_gpu(
        point.instance_type,
        gpu_column=point.gpu,
        gpu_memory_column=point.gpu_memory,
        families=families,
    )
    if isinstance(fit, RowProblem):
        return RowProblem(fit.reason, f"{point.region} {point.source}")
    if not isinstance(fit, GpuFit):
        return fit
    pay_as_you_go = not point.term_hours
    source = point.source
    if point.network:
        source = {**source, "network_performance": point.network}
    return make_offer(
        fit,
        region=point.region,
        instance_type=point.instance_type,
        vcpus=_positive(point.vcpu),
        memory_gb=_positive(point.memory),
        interconnect_gbps=sustained_gbps(point.network),
        purchase_option=point.purchase_option,
        term_hours=point.term_hours,
        payment=point.payment,
        offering_class=point.offering_class,
        price_per_hour=point.price_per_hour,
        upfront=point.upfront,
        currency=point.currency,
        billing=LINUX_BILLING if pay_as_you_go else None,
        source=source,
    )
