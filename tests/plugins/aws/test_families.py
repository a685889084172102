"""The AWS instance-family GPU table and the checks made against the offer file's columns."""

from __future__ import annotations

import pytest

from aggregator.gpus import default_vocabulary
from plugins.aws.families import (
    GPU_FAMILIES,
    NOT_GPU_FAMILIES,
    family_of,
    lookup,
    split_instance_type,
)
from plugins.aws.offer_file import RowProblem
from plugins.aws.offers import GpuFit, Unknown, fit_gpu, parse_gb


def test_every_family_names_a_canonical_gpu_and_one_of_its_memory_variants() -> None:
    vocabulary = default_vocabulary()
    for family in GPU_FAMILIES.values():
        resolved = vocabulary.resolve(family.gpu)
        assert resolved.name == family.gpu, family
        assert family.memory_gb in resolved.spec.memory_gb, family
        assert family.counts and all(c > 0 for c in family.counts.values()), family


def test_the_issue_families_are_known_with_their_gpus() -> None:
    expected = {
        "p3": ("V100", 16),
        "p3dn": ("V100", 32),
        "p4d": ("A100", 40),
        "p4de": ("A100", 80),
        "p5": ("H100", 80),
        "p5e": ("H200", 141),
        "p5en": ("H200", 141),
        "p6-b200": ("B200", 180),
        "g4dn": ("T4", 16),
        "g5": ("A10G", 24),
        "g6": ("L4", 24),
        "g6e": ("L40S", 48),
    }
    for name, (gpu, memory) in expected.items():
        assert (GPU_FAMILIES[name].gpu, GPU_FAMILIES[name].memory_gb) == (gpu, memory)
    assert GPU_FAMILIES["p4d"].count_for("24xlarge") == 8
    assert GPU_FAMILIES["g5"].count_for("12xlarge") == 4
    assert GPU_FAMILIES["g5"].count_for("16xlarge") == 1
    assert GPU_FAMILIES["g4dn"].count_for("metal") == 8


def test_non_gpu_accelerators_are_not_in_the_gpu_table() -> None:
    assert not NOT_GPU_FAMILIES & set(GPU_FAMILIES)


def test_instance_type_split_keeps_dashed_families() -> None:
    assert split_instance_type("p6-b200.48xlarge") == ("p6-b200", "48xlarge")
    assert family_of("g4dn.metal") == "g4dn"
    assert lookup("p6-b200.48xlarge") is GPU_FAMILIES["p6-b200"]
    assert lookup("p6.48xlarge") is None


@pytest.mark.parametrize(
    ("text", "gb"),
    [("192 GB", 192.0), ("1152 GiB", 1152.0), ("1.5 TB", 1500.0), ("NA", None), ("", None)],
)
def test_parse_gb(text: str, gb: float | None) -> None:
    assert parse_gb(text) == gb


def test_fit_uses_the_table_for_the_model_and_the_column_for_the_count() -> None:
    fit = fit_gpu("g5.48xlarge", gpu_column="8", gpu_memory_column="192 GB")
    assert fit == GpuFit("A10G", 8.0, 24.0)
    # A size the table does not list: the column's count is used.
    assert fit_gpu("g6e.96xlarge", gpu_column="16") == GpuFit("L40S", 16.0, 48.0)
    # No column (the spot feed): the table's count.
    assert fit_gpu("p5.4xlarge") == GpuFit("H100", 1.0, 80.0)


def test_fit_rejects_a_count_that_disagrees_with_the_table() -> None:
    fit = fit_gpu("p4d.24xlarge", gpu_column="4")
    assert isinstance(fit, RowProblem) and "says 4 GPUs" in fit.reason


def test_fit_rejects_a_gpu_memory_of_another_variant() -> None:
    # 8 x A100 40 GB = 320 GB; a p4d claiming 640 GB would be the 80 GB variant.
    fit = fit_gpu("p4d.24xlarge", gpu_column="8", gpu_memory_column="640 GB")
    assert isinstance(fit, RowProblem) and "GPU Memory" in fit.reason
    assert fit_gpu("p4d.24xlarge", gpu_column="8", gpu_memory_column="320 GB") == GpuFit(
        "A100", 8.0, 40.0
    )


def test_fit_tolerates_aws_gib_rounding_of_gpu_memory() -> None:
    # AWS reports an L4 as 22 GiB and a T4 as 15 GiB; that is the same GPU, not a variant.
    assert fit_gpu("g6.xlarge", gpu_column="1", gpu_memory_column="22 GB") == GpuFit(
        "L4", 1.0, 24.0
    )
    assert isinstance(fit_gpu("g4dn.xlarge", gpu_column="1", gpu_memory_column="15 GB"), GpuFit)


def test_unknown_gpu_family_is_reported_never_guessed() -> None:
    assert fit_gpu("g2.2xlarge", gpu_column="1") == Unknown("instance family", "g2.2xlarge")
    # Unknown family without GPUs: a CPU machine, nothing to report.
    assert fit_gpu("m5.large", gpu_column="") is None
    # Non-GPU accelerators: quietly skipped even with a count.
    assert fit_gpu("inf2.xlarge", gpu_column="1") is None


def test_known_family_unknown_size_without_count_is_reported() -> None:
    assert fit_gpu("g6e.96xlarge") == Unknown("instance size", "g6e.96xlarge")
