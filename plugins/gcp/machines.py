"""The GPU machine types gpuhours prices on Compute Engine, and what each is made of.

The Cloud Billing catalog prices vCPU-hours and GiB-hours of each machine family, GPU-hours of
each GPU model and GiB-months of local SSD, not machine types: this table says how many of each
a machine type has, so :mod:`plugins.gcp.compose` can add them up, and a machine type not in it
is never priced. Source: Compute Engine's documented shapes ("Accelerator-optimized machine
family" and "GPU machine types" pages; bundled local SSD from the former). Checked 2026-12-03:
the vCPUs and memory of all 78 rows equal Compute Engine's machine-types list (``gcloud
compute machine-types list``, as saved by Cyclenerd/google-cloud-pricing-cost-calculator,
``tools/machinetyperegion.csv`` of 2026-08-17). Which SKUs bill each host, the local SSD of
A4, and the N1 shapes: docs/providers/gcp.md, "The machine table".

The fabric between machines, for the machine types Google documents one for: :data:`FABRICS`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "FABRICS",
    "FABRICS_CHECKED",
    "FABRICS_SOURCE",
    "GPU_MODELS",
    "MACHINE_TYPES",
    "N1_GPU_LIMITS",
    "Fabric",
    "GpuModel",
    "MachineType",
]


@dataclass(frozen=True)
class GpuModel:
    """A GPU as Compute Engine names it (``accelerator_type``) and as gpuhours names it."""

    accelerator_type: str  # GCE's name, e.g. "nvidia-tesla-a100"
    canonical: str  # aggregator.gpus canonical name
    memory_gb: float


GPU_MODELS: dict[str, GpuModel] = {
    m.accelerator_type: m
    for m in (
        GpuModel("nvidia-tesla-a100", "A100", 40.0),
        GpuModel("nvidia-a100-80gb", "A100", 80.0),
        GpuModel("nvidia-h100-80gb", "H100", 80.0),
        GpuModel("nvidia-h100-mega-80gb", "H100", 80.0),
        GpuModel("nvidia-h200-141gb", "H200", 141.0),
        GpuModel("nvidia-b200", "B200", 180.0),
        GpuModel("nvidia-l4", "L4", 24.0),
        GpuModel("nvidia-tesla-t4", "T4", 16.0),
        GpuModel("nvidia-tesla-v100", "V100", 16.0),
        GpuModel("nvidia-tesla-p100", "P100", 16.0),
        GpuModel("nvidia-tesla-p4", "P4", 8.0),
    )
}


@dataclass(frozen=True)
class Fabric:
    """The GPU-to-GPU network Google documents for a machine type, and its bandwidth (Gbit/s)."""

    name: str
    gbps: float


FABRICS_SOURCE = (
    'Compute Engine, "Networking and GPU machines" '
    "(docs.cloud.google.com/compute/docs/gpus/gpu-network-bandwidth): the overview table's "
    "GPU-to-GPU networking technology and bandwidth per machine series, and each series' "
    "NIC arrangement"
)
FABRICS_CHECKED = "2026-12-03"

#: Only the 8-GPU machines: the page gives GPUDirect to them alone (A3 High with 1 to 4 GPUs
#: has a single NIC), and A2, G2 and N1 have no GPU-to-GPU networking and a bandwidth "up to
#: 100 Gbps, based on the machine type" that the page does not give per type. Where versions
#: of the page disagree, the lower figure: A3 Mega 1,600 (also 1,800), A3 Edge 600 (also
#: 800); A3 Ultra and A4 3,200, the bandwidth of their GPU NICs (3,600 with the general NICs).
FABRICS: dict[str, Fabric] = {
    "a3-highgpu-8g": Fabric("GPUDirect-TCPX", 1000),
    "a3-megagpu-8g": Fabric("GPUDirect-TCPXO", 1600),
    "a3-edgegpu-8g": Fabric("GPUDirect-TCPX", 600),
    "a3-ultragpu-8g": Fabric("GPUDirect-RDMA", 3200),
    "a4-highgpu-8g": Fabric("GPUDirect-RDMA", 3200),
}


@dataclass(frozen=True)
class MachineType:
    """One priceable machine: its host shape, its GPUs and its bundled local SSD.

    ``instance_type`` is what offers are keyed by; for accelerator-optimized machines it is
    the GCE machine type, for N1 it names the host and the attached GPUs.
    ``host_family`` is the family whose core and RAM SKUs bill the host, or ``None`` when the
    GPU SKU already includes the host (A4).
    """

    instance_type: str
    machine_type: str
    host_family: str | None
    vcpus: float
    memory_gib: float
    gpu: GpuModel
    gpu_count: int
    local_ssd_gib: int = 0

    @property
    def fabric(self) -> Fabric | None:
        """The documented fabric between machines of this type, if any (:data:`FABRICS`)."""
        return FABRICS.get(self.machine_type)


def _accelerator_optimized() -> list[MachineType]:
    rows: list[tuple[str, str | None, float, float, str, int, int]] = [
        # name, host family, vCPUs, memory GiB, accelerator, GPU count, local SSD GiB
        ("a2-highgpu-1g", "A2", 12, 85, "nvidia-tesla-a100", 1, 0),
        ("a2-highgpu-2g", "A2", 24, 170, "nvidia-tesla-a100", 2, 0),
        ("a2-highgpu-4g", "A2", 48, 340, "nvidia-tesla-a100", 4, 0),
        ("a2-highgpu-8g", "A2", 96, 680, "nvidia-tesla-a100", 8, 0),
        ("a2-megagpu-16g", "A2", 96, 1360, "nvidia-tesla-a100", 16, 0),
        ("a2-ultragpu-1g", "A2", 12, 170, "nvidia-a100-80gb", 1, 375),
        ("a2-ultragpu-2g", "A2", 24, 340, "nvidia-a100-80gb", 2, 750),
        ("a2-ultragpu-4g", "A2", 48, 680, "nvidia-a100-80gb", 4, 1500),
        ("a2-ultragpu-8g", "A2", 96, 1360, "nvidia-a100-80gb", 8, 3000),
        ("a3-highgpu-1g", "A3", 26, 234, "nvidia-h100-80gb", 1, 750),
        ("a3-highgpu-2g", "A3", 52, 468, "nvidia-h100-80gb", 2, 1500),
        ("a3-highgpu-4g", "A3", 104, 936, "nvidia-h100-80gb", 4, 3000),
        ("a3-highgpu-8g", "A3", 208, 1872, "nvidia-h100-80gb", 8, 6000),
        # A3 Mega and A3 Edge: A3Plus host SKUs, "H100 80GB Mega" or "Plus" GPU SKUs
        ("a3-megagpu-8g", "A3Plus", 208, 1872, "nvidia-h100-mega-80gb", 8, 6000),
        ("a3-edgegpu-8g", "A3Plus", 208, 1872, "nvidia-h100-mega-80gb", 8, 6000),
        ("a3-ultragpu-8g", "A3Ultra", 224, 2952, "nvidia-h200-141gb", 8, 12000),
        ("a4-highgpu-8g", None, 224, 3968, "nvidia-b200", 8, 0),  # SSD in the slice SKU
        ("g2-standard-4", "G2", 4, 16, "nvidia-l4", 1, 0),
        ("g2-standard-8", "G2", 8, 32, "nvidia-l4", 1, 0),
        ("g2-standard-12", "G2", 12, 48, "nvidia-l4", 1, 0),
        ("g2-standard-16", "G2", 16, 64, "nvidia-l4", 1, 0),
        ("g2-standard-24", "G2", 24, 96, "nvidia-l4", 2, 0),
        ("g2-standard-32", "G2", 32, 128, "nvidia-l4", 1, 0),
        ("g2-standard-48", "G2", 48, 192, "nvidia-l4", 4, 0),
        ("g2-standard-96", "G2", 96, 384, "nvidia-l4", 8, 0),
    ]
    return [
        MachineType(name, name, family, vcpus, memory, GPU_MODELS[gpu], count, ssd)
        for name, family, vcpus, memory, gpu, count, ssd in rows
    ]


#: GPUs GCE attaches to N1 hosts: allowed count -> (max vCPUs, max memory GiB) for that count.
N1_GPU_LIMITS: dict[str, dict[int, tuple[int, float]]] = {
    "nvidia-tesla-t4": {1: (48, 312), 2: (48, 312), 4: (96, 624)},
    "nvidia-tesla-v100": {1: (12, 78), 2: (24, 156), 4: (48, 312), 8: (96, 624)},
    "nvidia-tesla-p100": {1: (16, 104), 2: (32, 208), 4: (64, 208)},
    "nvidia-tesla-p4": {1: (24, 156), 2: (48, 312), 4: (96, 624)},
}
_N1_STANDARD_VCPUS = (4, 8, 16, 32, 64, 96)
_N1_STANDARD_GIB_PER_VCPU = 3.75


def _n1_with_gpus() -> list[MachineType]:
    machines = []
    for accelerator, limits in N1_GPU_LIMITS.items():
        gpu = GPU_MODELS[accelerator]
        for count, (max_vcpus, max_gib) in limits.items():
            for vcpus in _N1_STANDARD_VCPUS:
                memory = vcpus * _N1_STANDARD_GIB_PER_VCPU
                if vcpus > max_vcpus or memory > max_gib:
                    continue
                host = f"n1-standard-{vcpus}"
                machines.append(
                    MachineType(
                        f"{host}+{count}x{accelerator}", host, "N1", vcpus, memory, gpu, count
                    )
                )
    return machines


MACHINE_TYPES: tuple[MachineType, ...] = (*_accelerator_optimized(), *_n1_with_gpus())
