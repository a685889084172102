"""The Azure armSkuName -> GPU table: the families the issue requires, with documented facts."""

from __future__ import annotations

from fractions import Fraction

import pytest

from aggregator.gpus import default_vocabulary
from plugins.azure.skus import GPU_SKUS, looks_like_gpu, lookup, sku_key

# (armSkuName, canonical GPU, GPUs per VM, GB per whole GPU, vCPUs, host GiB), from Microsoft's
# size pages (learn.microsoft.com, "GPU accelerated" sizes).
REQUIRED = [
    # NCv3
    ("Standard_NC6s_v3", "V100", 1, 16, 6, 112),
    ("Standard_NC12s_v3", "V100", 2, 16, 12, 224),
    ("Standard_NC24s_v3", "V100", 4, 16, 24, 448),
    ("Standard_NC24rs_v3", "V100", 4, 16, 24, 448),
    # NCasT4_v3
    ("Standard_NC4as_T4_v3", "T4", 1, 16, 4, 28),
    ("Standard_NC8as_T4_v3", "T4", 1, 16, 8, 56),
    ("Standard_NC16as_T4_v3", "T4", 1, 16, 16, 110),
    ("Standard_NC64as_T4_v3", "T4", 4, 16, 64, 440),
    # NC A100 v4, ND A100 v4, NDm A100 v4
    ("Standard_NC24ads_A100_v4", "A100", 1, 80, 24, 220),
    ("Standard_NC48ads_A100_v4", "A100", 2, 80, 48, 440),
    ("Standard_NC96ads_A100_v4", "A100", 4, 80, 96, 880),
    ("Standard_ND96asr_v4", "A100", 8, 40, 96, 900),
    ("Standard_ND96amsr_A100_v4", "A100", 8, 80, 96, 1900),
    ("Standard_ND96ams_A100_v4", "A100", 8, 80, 96, 1900),  # amsr without RDMA
    # ND H100 v5, NC H100 v5 (H100 NVL), ND H200 v5, ND MI300X v5
    ("Standard_ND96isr_H100_v5", "H100", 8, 80, 96, 1900),
    ("Standard_NC40ads_H100_v5", "H100NVL", 1, 94, 40, 320),
    ("Standard_NC80adis_H100_v5", "H100NVL", 2, 94, 80, 640),
    ("Standard_ND96isr_H200_v5", "H200", 8, 141, 96, 1850),
    ("Standard_ND96isr_MI300X_v5", "MI300X", 8, 192, 96, 1850),
    # NVadsA10 v5 and NV v4: fractions of one GPU
    ("Standard_NV6ads_A10_v5", "A10", Fraction(1, 6), 24, 6, 55),
    ("Standard_NV12ads_A10_v5", "A10", Fraction(1, 3), 24, 12, 110),
    ("Standard_NV18ads_A10_v5", "A10", Fraction(1, 2), 24, 18, 220),
    ("Standard_NV36ads_A10_v5", "A10", 1, 24, 36, 440),
    ("Standard_NV36adms_A10_v5", "A10", 1, 24, 36, 880),
    ("Standard_NV72ads_A10_v5", "A10", 2, 24, 72, 880),
    ("Standard_NV4as_v4", "MI25", Fraction(1, 8), 16, 4, 14),
    ("Standard_NV8as_v4", "MI25", Fraction(1, 4), 16, 8, 28),
    ("Standard_NV16as_v4", "MI25", Fraction(1, 2), 16, 16, 56),
    ("Standard_NV32as_v4", "MI25", 1, 16, 32, 112),
]


@pytest.mark.parametrize(("name", "gpu", "count", "gpu_memory", "vcpus", "memory"), REQUIRED)
def test_required_families_carry_the_documented_gpus(
    name: str, gpu: str, count: float, gpu_memory: float, vcpus: int, memory: float
) -> None:
    sku = lookup(name)
    assert sku is not None, name
    assert (sku.name, sku.gpu, sku.gpu_memory_gb, sku.vcpus, sku.memory_gb) == (
        name,
        gpu,
        gpu_memory,
        vcpus,
        memory,
    )
    assert sku.gpu_count == pytest.approx(float(count), rel=0, abs=1e-15)


def test_every_table_gpu_is_canonical_with_a_known_memory_variant() -> None:
    vocabulary = default_vocabulary()
    for key, sku in GPU_SKUS.items():
        resolved = vocabulary.resolve(f"{sku.gpu}:{sku.gpu_memory_gb:g}")
        assert resolved.name == sku.gpu, key
        assert sku.gpu_count > 0 and sku.vcpus > 0 and sku.memory_gb > 0, key


def test_lookup_reads_the_feeds_spellings_of_one_size() -> None:
    assert sku_key("Standard_E32-8as v5") == "standard_e32-8as_v5"
    for spelling in (
        "Standard_NC6s_v3",
        "standard_nc6s_v3",
        " Standard_NC6s v3 ",
        "STANDARD_NC6S_V3",
    ):
        sku = lookup(spelling)
        assert sku is not None and sku.name == "Standard_NC6s_v3", spelling
    # eastus2 publishes NG32adms V620 without its _v1 suffix (product "NGadsV620v1 Series").
    alias = lookup("Standard_NG32adms_V620")
    assert alias is not None and alias.name == "Standard_NG32adms_V620_v1"


@pytest.mark.parametrize(
    "name",
    [
        "Standard_ND96isrf_H100_v5",
        "Standard_ND96is_flex_H100_v5",
        "Standard_ND96is_MI300X_v5",  # its resource SKU declares no GPUs
        "Standard_ND128isr_GB300_v6",
        "Standard_ND128isr_NDR_GB200_v6",
        "Standard_NC8ads_A10_v4",
        "Standard_NC320ds_xl_RTXPRO6000BSE_v6",
    ],
)
def test_sizes_without_published_gpu_facts_are_unknown_not_guessed(name: str) -> None:
    assert looks_like_gpu(name)
    assert lookup(name) is None


@pytest.mark.parametrize(
    "name", ["Standard_E32-8as v5", "Standard_D16as_v5", "Standard_NP10s", "NVsv3_Type1", ""]
)
def test_non_gpu_names_do_not_look_like_gpus(name: str) -> None:
    # NP is FPGAs; "NVsv3_Type1" is a dedicated host, not a VM size.
    assert not looks_like_gpu(name)
    assert lookup(name) is None
