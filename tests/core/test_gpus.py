"""The GPU vocabulary: every spelling the clouds and users write lands on one canonical GPU.

Mistakes here move prices between GPUs silently (an A10 priced as an A100), so the tests are
mostly tables of real spellings plus properties over every built-in spec.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.errors import InvalidInput, UnknownGpu
from aggregator.gpus import (
    BUILTIN_GPUS,
    GpuSpec,
    GpuVocabulary,
    ResolvedGpu,
    default_vocabulary,
    normalize,
)

VOCAB = default_vocabulary()

# Hypothesis must not write a database into the working tree of a shared checkout.
PROPERTY = settings(database=None, max_examples=200)


@pytest.mark.parametrize(
    ("text", "name", "memory"),
    [
        # user spellings
        ("h100", "H100", None),
        ("H100", "H100", None),
        ("A100-80GB", "A100", 80.0),
        ("a100:80", "A100", 80.0),
        ("a100:80gb", "A100", 80.0),
        ("A100 80 GB", "A100", 80.0),
        ("a100_40gb", "A100", 40.0),
        ("A10 24g", "A10", 24.0),
        ("L40S", "L40S", None),
        ("l40s", "L40S", None),
        ("H100 NVL", "H100NVL", None),
        ("h100nvl", "H100NVL", None),
        ("h100-nvl:94", "H100NVL", 94.0),
        ("MI300X", "MI300X", None),
        ("AMD Instinct MI300X", "MI300X", None),
        # GCP accelerator types
        ("nvidia-tesla-a100", "A100", None),
        ("nvidia-a100-80gb", "A100", 80.0),
        ("nvidia-tesla-t4", "T4", None),
        ("nvidia-l4", "L4", None),
        ("nvidia-tesla-v100", "V100", None),
        ("nvidia-tesla-p100", "P100", None),
        ("nvidia-tesla-p4", "P4", None),
        ("nvidia-tesla-k80", "K80", None),
        ("nvidia-h100-80gb", "H100", 80.0),
        ("nvidia-h100-mega-80gb", "H100", 80.0),
        ("nvidia-h200-141gb", "H200", 141.0),
        ("nvidia-b200", "B200", None),
        ("nvidia-gb200", "GB200", None),
        ("nvidia-l40s", "L40S", None),
        ("nvidia-rtx-pro-6000", "RTXPRO6000", None),
        # GCP SKU descriptions (with the " running in ..." tail removed by the plugin)
        ("Nvidia H100 80GB", "H100", 80.0),
        ("Nvidia H100 80GB GPU", "H100", 80.0),
        ("Nvidia H100 80GB Mega", "H100", 80.0),
        ("Nvidia H100 80GB Mega GPU", "H100", 80.0),
        ("Nvidia H100 80GB Plus", "H100", 80.0),
        ("Nvidia Tesla A100 GPU", "A100", None),
        # AWS / Azure / nvidia-smi names
        ("NVIDIA A10G", "A10G", None),
        ("NVIDIA A100 80GB", "A100", 80.0),
        ("NVIDIA A100-SXM4-80GB", "A100", 80.0),
        ("NVIDIA H100 80GB HBM3", "H100", 80.0),
        ("Tesla V100-SXM2-16GB", "V100", 16.0),
        ("V100-32GB", "V100", 32.0),
        ("T4g", "T4G", None),
        ("Radeon Pro V520", "V520", None),
        ("AMD Radeon Pro V620", "V620", None),
        ("AMD Radeon Instinct MI25", "MI25", None),
        ("Radeon MI25", "MI25", None),
        ("NVIDIA RTX PRO 6000 Blackwell Server Edition", "RTXPRO6000", None),
        ("RTXPRO6000BSE", "RTXPRO6000", None),
        # SkyPilot catalog names
        ("A100-80GB-SXM", "A100", 80.0),
        ("H100-MEGA", "H100", None),
        ("H100-SXM", "H100", None),
        ("H100-NVL", "H100NVL", None),
        ("H100-NVLINK", "H100", None),  # NVLink-connected SXM H100, not the H100 NVL
        ("RTXA6000", "A6000", None),
    ],
)
def test_resolves_real_spellings(text: str, name: str, memory: float | None) -> None:
    resolved = VOCAB.resolve(text)
    assert (resolved.name, resolved.memory_gb) == (name, memory)
    assert VOCAB.canonical(text) == name
    assert text in VOCAB


@pytest.mark.parametrize(
    "family",
    [
        ["A10", "A10G", "A100"],
        ["L4", "L40", "L40S"],
        ["H100", "H100NVL"],
        ["B200", "GB200"],
        ["B300", "GB300"],
        ["T4", "T4G"],
        ["H100", "H200", "GH200"],
    ],
)
def test_similar_names_never_collapse(family: list[str]) -> None:
    for name in family:
        for spelling in (name, name.lower(), f"NVIDIA {name}", f"nvidia-{name.lower()}"):
            assert VOCAB.canonical(spelling) == name


def test_memory_letter_is_not_read_as_a_size() -> None:
    # "g" is a memory unit ("80g"), but inside a name it is part of the name.
    assert VOCAB.resolve("A10G") == ResolvedGpu(VOCAB.resolve("A10G").spec, None)
    assert VOCAB.resolve("T4G").memory_gb is None
    # A bare number is never a size: "RTX PRO 6000" is not 6000 GB of something.
    assert VOCAB.resolve("RTX PRO 6000").memory_gb is None


@pytest.mark.parametrize(
    ("text", "first"),
    [("H10", "H100"), ("A1000", "A100"), ("L40SS", "L40S"), ("nvidia-h1000", "H100")],
)
def test_unknown_name_suggests_near_matches(text: str, first: str) -> None:
    with pytest.raises(UnknownGpu) as info:
        VOCAB.resolve(text)
    err = info.value
    assert err.name == text
    assert err.suggestions[0] == first
    assert 1 <= len(err.suggestions) <= 3
    assert len(set(err.suggestions)) == len(err.suggestions)
    assert first in str(err)
    assert text not in VOCAB
    assert VOCAB.get(text) is None


@pytest.mark.parametrize(
    "text",
    ["", "   ", "nvidia", "80gb", "gaudi hl-205", "inferentia2", "tpu-v5p", "nvidia-tesla-t4-vws"],
)
def test_non_gpus_and_empty_text_are_unknown(text: str) -> None:
    with pytest.raises(UnknownGpu):
        VOCAB.resolve(text)


def test_unknown_gpu_is_an_invalid_input_and_a_key_error() -> None:
    with pytest.raises(UnknownGpu) as info:
        VOCAB.resolve("Z9000")
    assert isinstance(info.value, InvalidInput)
    assert isinstance(info.value, KeyError)
    assert info.value.field == "gpu"


@pytest.mark.parametrize(
    ("text", "variants"),
    [
        ("A100-48GB", ["A100-40GB", "A100-80GB"]),
        ("a100:8", ["A100-40GB", "A100-80GB"]),  # not SkyPilot's "8 GPUs": fail, don't guess
        ("nvidia-h100-94gb", ["H100-80GB"]),
        ("V100 24GB", ["V100-16GB", "V100-32GB"]),
    ],
)
def test_memory_that_does_not_exist_lists_the_variants(text: str, variants: list[str]) -> None:
    with pytest.raises(UnknownGpu) as info:
        VOCAB.resolve(text)
    assert info.value.suggestions == variants
    for variant in variants:
        assert variant in str(info.value)


def test_memory_variant_is_reported_as_the_spec_value() -> None:
    assert VOCAB.resolve("A100:80.0").memory_gb == 80.0
    assert str(VOCAB.resolve("nvidia-a100-80gb")) == "A100-80GB"
    assert str(VOCAB.resolve("nvidia-tesla-a100")) == "A100"


def test_normalize_shows_the_lookup_key() -> None:
    assert normalize("NVIDIA A100 80GB") == "a100"
    assert normalize("Nvidia H100 80GB Mega GPU") == "h100"
    assert normalize("H100 NVL") == "h100nvl"


# --- plugins -------------------------------------------------------------------------------

LAMBDA_GH300 = GpuSpec(
    name="GH300",
    vendor="NVIDIA",
    memory_gb=(192.0,),
    bf16_tflops=None,
    aliases=("gpu_1x_gh300", "Grace Hopper 300"),
    description="made-up GPU from a plugin",
)


def register_gpus_hook(register: object) -> None:
    """What a plugin's ``register_gpus`` implementation does."""
    assert callable(register)
    register(LAMBDA_GH300)


def test_plugin_registers_a_new_gpu_and_its_aliases() -> None:
    vocab = default_vocabulary()
    assert "GH300" not in vocab
    register_gpus_hook(vocab.register)
    assert vocab.resolve("GH300").spec is LAMBDA_GH300
    assert vocab.canonical("gpu_1x_gh300") == "GH300"
    assert vocab.canonical("NVIDIA Grace-Hopper 300") == "GH300"
    assert vocab.resolve("gh300:192").memory_gb == 192.0
    assert LAMBDA_GH300 in vocab.specs()
    assert len(vocab) == len(BUILTIN_GPUS) + 1
    # a fresh vocabulary does not see another one's plugins
    assert "GH300" not in default_vocabulary()


def test_plugin_can_add_a_spelling_for_a_builtin_gpu() -> None:
    vocab = default_vocabulary()
    h100 = vocab.get("H100")
    assert h100 is not None
    vocab.register(replace(h100, aliases=("gpu_8x_h100_sxm5",)))
    assert vocab.canonical("gpu_8x_h100_sxm5") == "H100"
    assert vocab.canonical("H100 NVLink") == "H100"  # the built-in alias is kept
    assert len(vocab) == len(BUILTIN_GPUS)


def test_registering_the_same_spec_twice_is_harmless() -> None:
    vocab = default_vocabulary()
    vocab.register(LAMBDA_GH300)
    vocab.register(LAMBDA_GH300)
    assert vocab.resolve("gh300").spec == LAMBDA_GH300


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        # alias that already means another GPU
        (GpuSpec("X1", "NVIDIA", (16.0,), None, aliases=("nvidia-tesla-a100",)), ["X1", "A100"]),
        # canonical name equal to another GPU's alias once normalized
        (GpuSpec("RTXA6000", "NVIDIA", (48.0,), None), ["RTXA6000", "A6000"]),
        # same name, different facts
        (GpuSpec("H100", "NVIDIA", (96.0,), 989.0), ["H100"]),
    ],
)
def test_register_clash_raises_naming_both(spec: GpuSpec, named: list[str]) -> None:
    vocab = default_vocabulary()
    before = vocab.specs()
    with pytest.raises(ValueError) as info:
        vocab.register(spec)
    for name in named:
        assert name in str(info.value)
    assert vocab.specs() == before  # nothing half-registered


def test_register_rejects_bad_specs() -> None:
    vocab = GpuVocabulary([])
    with pytest.raises(TypeError):
        vocab.register("H100")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="memory size"):
        vocab.register(GpuSpec("X2", "NVIDIA", (80.0,), None, aliases=("X2-80GB",)))
    with pytest.raises(ValueError, match="only vendor or qualifier words"):
        vocab.register(GpuSpec("MEGA", "NVIDIA", (8.0,), None))
    with pytest.raises(ValueError, match="only vendor or qualifier words"):
        vocab.register(GpuSpec("X5", "NVIDIA", (8.0,), None, aliases=("NVIDIA GPU",)))
    assert len(vocab) == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "h100"},
        {"name": "H100-NVL"},
        {"name": "NVIDIA H100"},
        {"name": ""},
        {"vendor": " "},
        {"memory_gb": ()},
        {"memory_gb": (0.0,)},
        {"bf16_tflops": 0.0},
    ],
)
def test_spec_validation(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "name": "X3",
        "vendor": "NVIDIA",
        "memory_gb": (8.0,),
        "bf16_tflops": None,
    }
    with pytest.raises(ValueError):
        GpuSpec(**(fields | kwargs))  # type: ignore[arg-type]


def test_spec_memory_is_sorted_and_deduplicated() -> None:
    spec = GpuSpec("X4", "NVIDIA", (80, 40, 80), None, aliases=["x-four"])  # type: ignore[arg-type]
    assert spec.memory_gb == (40.0, 80.0)
    assert spec.aliases == ("x-four",)
    hash(spec)


# --- the built-in table ----------------------------------------------------------------------


def test_builtins_are_well_formed() -> None:
    names = [spec.name for spec in BUILTIN_GPUS]
    assert len(names) == len(set(names))
    for spec in BUILTIN_GPUS:
        assert re.fullmatch(r"^[A-Z0-9]+$", spec.name)
        assert len(spec.memory_gb) > 0
        assert all(m > 0 for m in spec.memory_gb)
        assert spec.vendor in {"NVIDIA", "AMD", "Intel"}
        assert spec.bf16_tflops is None or 1 < spec.bf16_tflops < 10_000
        assert spec.description


def test_builtins_include_the_names_the_design_requires() -> None:
    required = [
        "T4",
        "L4",
        "L40",
        "L40S",
        "A10",
        "A10G",
        "A100",
        "H100",
        "H100NVL",
        "H200",
        "B200",
        "B300",
        "GB200",
        "GB300",
        "V100",
        "P100",
        "P4",
        "K80",
        "M60",
        "A40",
        "RTXPRO6000",
        "MI300X",
        "V620",
        "MI25",
        "T4G",
        "V520",
    ]
    assert set(required) <= {spec.name for spec in VOCAB}


@pytest.mark.parametrize(
    ("name", "memory", "tflops"),
    [
        ("A100", (40.0, 80.0), 312.0),
        ("H100", (80.0,), 989.0),
        ("H100NVL", (94.0,), 835.0),
        ("H200", (141.0,), 989.0),
        ("L4", (24.0,), 121.0),
        ("L40S", (48.0,), 362.0),
        ("T4", (16.0,), 65.0),
        ("MI300X", (192.0,), 1307.4),
    ],
)
def test_headline_figures(name: str, memory: tuple[float, ...], tflops: float) -> None:
    spec = VOCAB.resolve(name).spec
    assert (spec.memory_gb, spec.bf16_tflops) == (memory, tflops)


def test_specs_sorted_by_vendor_then_name() -> None:
    specs = VOCAB.specs()
    assert specs == sorted(specs, key=lambda s: (s.vendor, s.name))
    assert list(VOCAB) == specs
    assert {s.vendor for s in specs} == {"NVIDIA", "AMD"}


def test_default_vocabulary_and_constructor_agree() -> None:
    assert GpuVocabulary().specs() == default_vocabulary().specs()
    assert default_vocabulary() is not default_vocabulary()
    assert 42 not in VOCAB


# --- properties ---------------------------------------------------------------------------

specs = st.sampled_from(BUILTIN_GPUS)


@PROPERTY
@given(spec=specs, form=st.sampled_from(["{}", "{lower}", "NVIDIA {}", "nvidia-{lower}"]))
def test_every_spec_resolves_from_its_name(spec: GpuSpec, form: str) -> None:
    text = form.format(spec.name, lower=spec.name.lower())
    assert VOCAB.resolve(text) == ResolvedGpu(spec, None)


@PROPERTY
@given(spec=specs, data=st.data())
def test_every_memory_variant_resolves(spec: GpuSpec, data: st.DataObject) -> None:
    mem = data.draw(st.sampled_from(spec.memory_gb))
    form = data.draw(st.sampled_from(["{n}:{m:g}", "{n}-{m:g}GB", "{n} {m:g}gb", "{n}_{m:g}g"]))
    resolved = VOCAB.resolve(form.format(n=spec.name, m=mem))
    assert resolved.spec == spec
    assert resolved.memory_gb == mem


@PROPERTY
@given(spec=specs, data=st.data())
def test_every_alias_resolves(spec: GpuSpec, data: st.DataObject) -> None:
    for alias in spec.aliases:
        sep = data.draw(st.sampled_from([" ", "-", "_"]))
        spelled = data.draw(st.sampled_from([alias, alias.upper(), alias.lower()]))
        assert VOCAB.canonical(spelled.replace(" ", sep)) == spec.name


@PROPERTY
@given(text=st.text(max_size=40))
def test_arbitrary_text_resolves_or_raises_unknown_gpu(text: str) -> None:
    try:
        resolved = VOCAB.resolve(text)
    except UnknownGpu as err:
        assert err.name == text
        assert len(err.suggestions) <= 3
    else:
        assert resolved.spec in VOCAB.specs()
