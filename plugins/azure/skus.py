"""Which GPU, how many of it and what host each Azure GPU VM size (``armSkuName``) carries.

The Retail Prices API says nothing about a machine's GPUs, so this table is the only source of
Azure GPU facts; nothing here is inferred from a name. Source: Microsoft's size pages
(learn.microsoft.com, "GPU accelerated" sizes, MicrosoftDocs/azure-docs
``articles/virtual-machines/sizes/gpu-accelerated``), cross-read with the resource-SKU figures
SkyPilot's Azure catalog and the Azure SDKs publish. Checked 2026-12-03 against SkyPilot's
Azure catalog (v6, US regions; 46 of the 61 sizes): the same GPU count, vCPUs and memory,
except where it departs from Microsoft's pages, which win here: ND96amsr_A100_v4 1,800 GiB
there (1,900 documented), ND96isr_H100_v5 12 GPUs there (8), whole GPUs for the fractional
NVv4 sizes, and no GPU count for NCC H100 v5 and NGads V620. What the numbers mean and which
sizes are left out on purpose: docs/providers/azure.md, "The size table". The InfiniBand
fabric of the sizes Microsoft documents one for: :data:`FABRICS`, each with its page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

__all__ = [
    "FABRICS",
    "FABRICS_CHECKED",
    "GPU_SKUS",
    "INFINIBAND",
    "Fabric",
    "GpuSku",
    "looks_like_gpu",
    "lookup",
    "sku_key",
]


@dataclass(frozen=True)
class Fabric:
    """The fabric between VMs of one size, its bandwidth per VM (Gbit/s) and the page saying so."""

    name: str
    gbps: float
    source: str


INFINIBAND = "InfiniBand"
FABRICS_CHECKED = "2026-12-03"
_SIZES = "learn.microsoft.com/azure/virtual-machines/sizes/gpu-accelerated/"
_COMPUTE_DOCS = "MicrosoftDocs/azure-compute-docs articles/virtual-machines/sizes/gpu-accelerated/"
_DOCS = "MicrosoftDocs/azure-docs articles/virtual-machines/sizes/gpu-accelerated/"

#: Sizes whose page documents the InfiniBand per VM; checked on :data:`FABRICS_CHECKED`. The ND
#: A100 v4 pages write HDR InfiniBand as "200 GB/s" per GPU and "1.6 TB/s" per VM: HDR links
#: run at 200 Gbit/s, so 1,600 Gbit/s. Sizes with an "r" but no figure on their page (NC24r,
#: NC24rs v2 and v3, ND24rs) and ND96ams_A100_v4, which has no RDMA, name none.
FABRICS: Final[dict[str, Fabric]] = {
    "Standard_ND96isr_H100_v5": Fabric(
        INFINIBAND,
        3200,
        f"{_SIZES}ndh100v5-series: 8 x 400 Gb/s NDR, 3.2 Tbps per VM "
        f"({_COMPUTE_DOCS}includes/ndh100v5-series-summary.md @ a18807c)",
    ),
    "Standard_ND96isr_H200_v5": Fabric(
        INFINIBAND,
        3200,
        f"{_SIZES}nd-h200-v5-series: 8 x 400 Gbps NDR, 3.2 Tb/s per VM "
        f"({_COMPUTE_DOCS}includes/nd-h200-v5-series-summary.md @ a18807c)",
    ),
    "Standard_ND96isr_MI300X_v5": Fabric(
        INFINIBAND,
        3200,
        f"{_SIZES}ndmi300xv5-series: 8 x 400 Gb/s NDR, 3.2 Tb/s per VM "
        f"({_COMPUTE_DOCS}includes/ndmi300xv5-series-summary.md @ 2bc777f)",
    ),
    "Standard_ND96asr_v4": Fabric(
        INFINIBAND,
        1600,
        f'{_SIZES}ndasra100v4-series: 8 x HDR ("200 GB/s"), "1.6 TB/s" per VM '
        f"({_DOCS}includes/ndasra100v4-series-summary.md @ 6acc6f6)",
    ),
    "Standard_ND96amsr_A100_v4": Fabric(
        INFINIBAND,
        1600,
        f'{_SIZES}ndma100v4-series: 8 x HDR ("200 GB/s"), "1.6 TB/s" per VM '
        f"({_DOCS}includes/ndma100v4-series-summary.md @ 516167e)",
    ),
    "Standard_ND40rs_v2": Fabric(
        INFINIBAND,
        100,
        f"{_SIZES}ndv2-series: 100-Gigabit InfiniBand EDR "
        f"({_DOCS}includes/ndv2-series-summary.md @ 60e1879)",
    ),
}


@dataclass(frozen=True)
class GpuSku:
    """One Azure VM size with GPUs: the facts an offer needs beyond its price."""

    name: str  # the documented armSkuName, used as the offer's instance_type
    family: str  # Azure's series name, for people reading logs and docs
    gpu: str  # canonical name in aggregator.gpus
    gpu_count: float
    gpu_memory_gb: float  # one whole GPU
    vcpus: int
    memory_gb: float  # host memory, GiB as Azure publishes it

    @property
    def fabric(self) -> Fabric | None:
        """The documented fabric between VMs of this size, if any (:data:`FABRICS`)."""
        return FABRICS.get(self.name)


# Azure's GPU VM families all start with N: NC (compute), ND (deep learning), NG (gaming), NV
# (visualisation). NP is FPGAs, not GPUs, so it is not GPU-looking.
_GPU_LOOKING: Final = re.compile(r"^standard_n[cdgv]", re.IGNORECASE)


def sku_key(arm_sku_name: str) -> str:
    """The lookup key of an armSkuName: trimmed, lower-case, spaces read as underscores.

    The feed spells the same size in more than one way (``Standard_E32-8as v5`` has a space
    where the documented name has an underscore); the key makes those spellings meet.
    """
    return "_".join(arm_sku_name.strip().lower().split())


def looks_like_gpu(arm_sku_name: str) -> bool:
    """True for names in Azure's GPU families (NC, ND, NG, NV), known to the table or not."""
    return bool(_GPU_LOOKING.match(arm_sku_name.strip()))


def _family(
    family: str,
    gpu: str,
    gpu_memory_gb: float,
    sizes: list[tuple[str, Fraction | int, int, float]],
) -> list[GpuSku]:
    return [
        GpuSku(name, family, gpu, float(count), gpu_memory_gb, vcpus, memory)
        for name, count, vcpus, memory in sizes
    ]


_F = Fraction

_TABLE: Final[list[GpuSku]] = [
    # --- NVIDIA, current ---------------------------------------------------------------
    *_family(
        "NCv3",
        "V100",
        16,
        [
            ("Standard_NC6s_v3", 1, 6, 112),
            ("Standard_NC12s_v3", 2, 12, 224),
            ("Standard_NC24s_v3", 4, 24, 448),
            ("Standard_NC24rs_v3", 4, 24, 448),
        ],
    ),
    *_family(
        "NCasT4_v3",
        "T4",
        16,
        [
            ("Standard_NC4as_T4_v3", 1, 4, 28),
            ("Standard_NC8as_T4_v3", 1, 8, 56),
            ("Standard_NC16as_T4_v3", 1, 16, 110),
            ("Standard_NC64as_T4_v3", 4, 64, 440),
        ],
    ),
    *_family(
        "NC A100 v4",
        "A100",
        80,
        [
            ("Standard_NC24ads_A100_v4", 1, 24, 220),
            ("Standard_NC48ads_A100_v4", 2, 48, 440),
            ("Standard_NC96ads_A100_v4", 4, 96, 880),
        ],
    ),
    *_family("ND A100 v4", "A100", 40, [("Standard_ND96asr_v4", 8, 96, 900)]),
    # ND96ams_A100_v4 is the NDm A100 v4 size without the "r" (RDMA): Microsoft's size page
    # lists only amsr, but Microsoft's AKS node code (Azure/AgentBaker, FabricManagerGPUSizes)
    # treats it as the same 8-GPU NVSwitch A100 machine, and convox's billing table (metadata
    # cross-checked against learn.microsoft.com, 2026-07-16) gives 96 vCPUs, 1900 GiB, 8 A100.
    *_family(
        "NDm A100 v4",
        "A100",
        80,
        [("Standard_ND96amsr_A100_v4", 8, 96, 1900), ("Standard_ND96ams_A100_v4", 8, 96, 1900)],
    ),
    *_family("ND H100 v5", "H100", 80, [("Standard_ND96isr_H100_v5", 8, 96, 1900)]),
    # The NC H100 v5 GPU is the 94 GB PCIe H100 NVL, not the 80 GB SXM H100.
    *_family(
        "NC H100 v5",
        "H100NVL",
        94,
        [
            ("Standard_NC40ads_H100_v5", 1, 40, 320),
            ("Standard_NC80adis_H100_v5", 2, 80, 640),
        ],
    ),
    # Confidential-computing variant of the same machine: same GPU, same host.
    *_family("NCC H100 v5", "H100NVL", 94, [("Standard_NCC40ads_H100_v5", 1, 40, 320)]),
    *_family("ND H200 v5", "H200", 141, [("Standard_ND96isr_H200_v5", 8, 96, 1850)]),
    *_family(
        "NVadsA10 v5",
        "A10",
        24,
        [
            ("Standard_NV6ads_A10_v5", _F(1, 6), 6, 55),
            ("Standard_NV12ads_A10_v5", _F(1, 3), 12, 110),
            ("Standard_NV18ads_A10_v5", _F(1, 2), 18, 220),
            ("Standard_NV36ads_A10_v5", 1, 36, 440),
            ("Standard_NV36adms_A10_v5", 1, 36, 880),
            ("Standard_NV72ads_A10_v5", 2, 72, 880),
        ],
    ),
    # --- AMD ---------------------------------------------------------------------------
    *_family("ND MI300X v5", "MI300X", 192, [("Standard_ND96isr_MI300X_v5", 8, 96, 1850)]),
    *_family(
        "NVv4",
        "MI25",
        16,
        [
            ("Standard_NV4as_v4", _F(1, 8), 4, 14),
            ("Standard_NV8as_v4", _F(1, 4), 8, 28),
            ("Standard_NV16as_v4", _F(1, 2), 16, 56),
            ("Standard_NV32as_v4", 1, 32, 112),
        ],
    ),
    *_family(
        "NGads V620",
        "V620",
        32,
        [
            ("Standard_NG8ads_V620_v1", _F(1, 4), 8, 16),
            ("Standard_NG16ads_V620_v1", _F(1, 2), 16, 32),
            ("Standard_NG32ads_V620_v1", 1, 32, 64),
            ("Standard_NG32adms_V620_v1", 1, 32, 176),
        ],
    ),
    # --- NVIDIA, retired families whose meters are still published ----------------------
    *_family(
        "NC (K80)",
        "K80",
        12,
        [
            ("Standard_NC6", 1, 6, 56),
            ("Standard_NC12", 2, 12, 112),
            ("Standard_NC24", 4, 24, 224),
            ("Standard_NC24r", 4, 24, 224),
            ("Standard_NC6_Promo", 1, 6, 56),
            ("Standard_NC12_Promo", 2, 12, 112),
            ("Standard_NC24_Promo", 4, 24, 224),
            ("Standard_NC24r_Promo", 4, 24, 224),
        ],
    ),
    *_family(
        "NCv2",
        "P100",
        16,
        [
            ("Standard_NC6s_v2", 1, 6, 112),
            ("Standard_NC12s_v2", 2, 12, 224),
            ("Standard_NC24s_v2", 4, 24, 448),
            ("Standard_NC24rs_v2", 4, 24, 448),
        ],
    ),
    *_family(
        "ND (P40)",
        "P40",
        24,
        [
            ("Standard_ND6s", 1, 6, 112),
            ("Standard_ND12s", 2, 12, 224),
            ("Standard_ND24s", 4, 24, 448),
            ("Standard_ND24rs", 4, 24, 448),
        ],
    ),
    *_family("NDv2", "V100", 32, [("Standard_ND40rs_v2", 8, 40, 672)]),
    # NV and NVv3: one "GPU" is one of the two GPUs on an M60 board (8 GB each).
    *_family(
        "NV (M60)",
        "M60",
        8,
        [
            ("Standard_NV6", 1, 6, 56),
            ("Standard_NV12", 2, 12, 112),
            ("Standard_NV24", 4, 24, 224),
            ("Standard_NV6_Promo", 1, 6, 56),
            ("Standard_NV12_Promo", 2, 12, 112),
            ("Standard_NV24_Promo", 4, 24, 224),
        ],
    ),
    *_family(
        "NVv3",
        "M60",
        8,
        [
            ("Standard_NV12s_v3", 1, 12, 112),
            ("Standard_NV24s_v3", 2, 24, 224),
            ("Standard_NV48s_v3", 4, 48, 448),
        ],
    ),
]

# Real armSkuName spellings in the price feed that differ from the documented size name. Each
# is listed only where the row's productName and meterName name the documented size as well:
# eastus2 publishes "Standard_NG32adms_V620" for meter "NG32admsV620" of product
# "Virtual Machines NGadsV620v1 Series".
_ALIASES: Final = {"Standard_NG32adms_V620": "Standard_NG32adms_V620_v1"}

GPU_SKUS: Final[dict[str, GpuSku]] = {sku_key(sku.name): sku for sku in _TABLE}
for _alias, _name in _ALIASES.items():
    GPU_SKUS[sku_key(_alias)] = GPU_SKUS[sku_key(_name)]


def lookup(arm_sku_name: str) -> GpuSku | None:
    """The GPU facts of a size, or None when the table does not know it (never a guess)."""
    return GPU_SKUS.get(sku_key(arm_sku_name))
