"""OCI GPU shapes: which price-list part prices each shape's GPUs, and how many GPUs it has.

OCI prices a GPU shape per GPU-hour, the host's OCPUs and memory included, under one part
number per GPU model; a shape's hourly price is that rate times its GPU count. The price list
names no shape, so this table maps shapes to parts. Shapes and GPU counts: the GPU shapes of
docs.oracle.com/en-us/iaas/Content/Compute/References/computeshapes.htm; part numbers: the
part whose displayName names that GPU in the price list (``/products/``, lastUpdated
2026-08-14), matched to the shapes as oracle.com/cloud/compute/gpu/pricing/ lists them.
Host OCPUs and memory are left out: they could not be re-checked offline (docs/providers/oci.md).
``preemptible`` marks shapes the preemptible-instances page
(docs.oracle.com/en-us/iaas/Content/Compute/Concepts/preemptible.htm) lists as supported.
All rows checked 2026-12-03 against those pages as recalled, not re-fetched.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GPU_SHAPES", "GpuShape", "shapes_by_part"]


@dataclass(frozen=True)
class GpuShape:
    """One GPU shape: its name, the part pricing its GPUs, the GPU, count and memory per GPU."""

    name: str
    part_number: str
    gpu: str
    gpu_count: int
    gpu_memory_gb: float
    preemptible: bool = False


GPU_SHAPES: tuple[GpuShape, ...] = (
    # B98415 "Compute - GPU - H100"
    GpuShape("BM.GPU.H100.8", "B98415", "H100", 8, 80.0),
    # B110519 "Compute - GPU - H200"
    GpuShape("BM.GPU.H200.8", "B110519", "H200", 8, 141.0),
    # B110978 "Compute - GPU - B200"
    GpuShape("BM.GPU.B200.8", "B110978", "B200", 8, 180.0),
    # B109485 "Compute - GPU - MI300X"
    GpuShape("BM.GPU.MI300X.8", "B109485", "MI300X", 8, 192.0),
    # B109479 "Compute - GPU - L40S"
    GpuShape("BM.GPU.L40S.4", "B109479", "L40S", 4, 48.0),
    # B95907 "Compute - GPU - A100 - v2" (the 80 GB A100 shape)
    GpuShape("BM.GPU.A100-v2.8", "B95907", "A100", 8, 80.0, preemptible=True),
    # B95909 "Compute  - GPU - A10" (double space as published)
    GpuShape("VM.GPU.A10.1", "B95909", "A10", 1, 24.0, preemptible=True),
    GpuShape("VM.GPU.A10.2", "B95909", "A10", 2, 24.0, preemptible=True),
    GpuShape("BM.GPU.A10.4", "B95909", "A10", 4, 24.0, preemptible=True),
    # B89734 "Compute - GPU Standard - V2" (GPU3: V100 16 GB)
    GpuShape("VM.GPU3.1", "B89734", "V100", 1, 16.0, preemptible=True),
    GpuShape("VM.GPU3.2", "B89734", "V100", 2, 16.0, preemptible=True),
    GpuShape("VM.GPU3.4", "B89734", "V100", 4, 16.0, preemptible=True),
    GpuShape("BM.GPU3.8", "B89734", "V100", 8, 16.0, preemptible=True),
    # B88517 / B88518 "Compute - Bare Metal / Virtual Machine GPU Standard - X7" (GPU2: P100)
    GpuShape("BM.GPU2.2", "B88517", "P100", 2, 16.0),
    GpuShape("VM.GPU2.1", "B88518", "P100", 1, 16.0),
)


def shapes_by_part() -> dict[str, tuple[GpuShape, ...]]:
    """The shapes each part number prices."""
    parts: dict[str, list[GpuShape]] = {}
    for shape in GPU_SHAPES:
        parts.setdefault(shape.part_number, []).append(shape)
    return {part: tuple(shapes) for part, shapes in parts.items()}
