"""The canonical GPU vocabulary: one name per GPU, and every spelling the clouds use mapped to it.

Prices from several sellers compare only if "nvidia-tesla-a100" (GCP), "A100" (AWS) and "NVIDIA
A100 80GB" (a user) land on one key: a canonical name (``^[A-Z0-9]+$``) with the facts the
planner and the CLI need. Memory is a variant, not part of the name. :func:`normalize` treats
names, aliases and input alike, and the key is then looked up exactly, never by prefix or
similarity: that keeps ``A10``/``A100`` and ``L40``/``L40S`` apart. Figures in
:data:`BUILTIN_GPUS` are from the vendors' data sheets: ``bf16_tflops`` is dense BF16 tensor
throughput per GPU, of the SXM/OAM flavour where there are several (FP16 where a card has no
BF16, as noted beside it; ``None`` where no figure can be trusted), and ``memory_gb`` is the
marketing GB per GPU, not per board. The matching rules and what is left out: docs/gpus.md.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from aggregator.errors import UnknownGpu

__all__ = [
    "BUILTIN_GPUS",
    "MEMORY_TOLERANCE_GB",
    "GpuSpec",
    "GpuVocabulary",
    "ResolvedGpu",
    "default_vocabulary",
    "gpu_listing",
    "normalize",
]

_CANONICAL_NAME = re.compile(r"^[A-Z0-9]+$")

# Words that name a vendor, a product line or the kind of device, never the chip itself.
_VENDOR_WORDS = frozenset(
    {"nvidia", "amd", "tesla", "radeon", "instinct", "intel", "gpu", "gpus", "accelerator"}
)
# Words that describe the board, memory technology or the machine shape around the chip. They
# change clocks or interconnect, not which GPU it is, and the clouds price them as that GPU.
# "nvl" is NOT here: the H100 NVL is a different product (94 GB, PCIe pairs), unlike "nvlink".
_QUALIFIER_WORDS = frozenset(
    {
        "sxm",
        "sxm2",
        "sxm3",
        "sxm4",
        "sxm5",
        "sxm6",
        "pcie",
        "hbm2",
        "hbm2e",
        "hbm3",
        "hbm3e",
        "gddr6",
        "mega",  # GCP a3-megagpu: "Nvidia H100 80GB Mega", "nvidia-h100-mega-80gb"
        "plus",  # GCP "Nvidia H100 80GB Plus" SKUs
        "tensor",  # "NVIDIA T4 Tensor Core GPU"
        "core",
    }
)
_MEMORY_UNITS = ("gib", "gb", "g")
_SEPARATORS = re.compile(r"[\s\-_/,()]+")
_NUMBER = r"\d+(?:\.\d+)?"
_COLON_MEMORY = re.compile(rf"^(?P<name>.*?)\s*:\s*(?P<mem>{_NUMBER})\s*(?:gib|gb|g)?$")
_MEMORY_WORD = re.compile(rf"^(?P<mem>{_NUMBER})(?:gib|gb|g)$")
_BARE_NUMBER = re.compile(rf"^{_NUMBER}$")
# Half a GB of slack so "141" matches 141.0 and "80.0" matches 80.0, while 40 and 48 stay apart.
MEMORY_TOLERANCE_GB = 0.5
"""GB two memory sizes may differ by and still name the same variant (80 vs 79.6 ...)."""


@dataclass(frozen=True)
class GpuSpec:
    """One GPU model: its canonical name, facts, and the extra spellings that mean it.

    ``aliases`` only need to list spellings that do not already normalize to the canonical
    name: ``"H100 NVL"`` and ``"nvidia-tesla-t4"`` resolve without any alias, ``"Radeon Pro
    V620"`` needs one (``pro`` is part of other names, so it is not stripped).
    Aliases must not contain a memory size; memory variants are ``memory_gb``.
    """

    name: str
    vendor: str
    memory_gb: tuple[float, ...]
    bf16_tflops: float | None
    aliases: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        # Validated here so that a plugin's mistake fails at registration with a clear message,
        # not later as an offer that no query can find.
        if not _CANONICAL_NAME.fullmatch(self.name):
            raise ValueError(
                f"GPU name {self.name!r} must be upper-case letters and digits only "
                "(no vendor prefix, spaces or dashes), e.g. 'H100NVL'"
            )
        if not self.vendor.strip():
            raise ValueError(f"GPU {self.name}: vendor must not be empty")
        memory = tuple(sorted({float(m) for m in self.memory_gb}))
        if not memory or any(not m > 0 for m in memory):
            raise ValueError(f"GPU {self.name}: memory_gb needs at least one size > 0")
        if self.bf16_tflops is not None and not self.bf16_tflops > 0:
            raise ValueError(f"GPU {self.name}: bf16_tflops must be > 0 or None")
        # Frozen, so normalize through object.__setattr__: sorted unique floats, tuple aliases
        # (a plugin passing lists would otherwise make the spec unhashable).
        object.__setattr__(self, "memory_gb", memory)
        object.__setattr__(self, "aliases", tuple(self.aliases))


@dataclass(frozen=True)
class ResolvedGpu:
    """What a spelling resolved to: the GPU, plus the memory variant if the text named one."""

    spec: GpuSpec
    memory_gb: float | None = None

    @property
    def name(self) -> str:
        """The canonical name, e.g. ``"A100"`` (never includes the memory)."""
        return self.spec.name

    def covers(self, gpu: str, memory_gb: float) -> bool:
        """Whether an offer of canonical ``gpu`` with ``memory_gb`` per GPU is this GPU (and,
        if a memory variant was named, that variant)."""
        return gpu == self.spec.name and (
            self.memory_gb is None or abs(memory_gb - self.memory_gb) <= MEMORY_TOLERANCE_GB
        )

    def __str__(self) -> str:
        return self.name if self.memory_gb is None else f"{self.name}-{self.memory_gb:g}GB"


@dataclass(frozen=True)
class _Key:
    """A normalized spelling: the lookup key and the memory size the text named, if any."""

    key: str
    memory_gb: float | None = None


def _parse(text: str) -> _Key:
    lowered = text.strip().lower()
    memory: float | None = None
    colon = _COLON_MEMORY.match(lowered)
    if colon:
        lowered, memory = colon["name"], float(colon["mem"])
    words = [
        w
        for w in _SEPARATORS.split(lowered)
        if w and w not in _VENDOR_WORDS and w not in _QUALIFIER_WORDS
    ]
    if memory is None and words:
        # "80 gb" written as two words
        if len(words) >= 2 and words[-1] in _MEMORY_UNITS and _BARE_NUMBER.match(words[-2]):
            words[-2:] = [words[-2] + words[-1]]
        size = _MEMORY_WORD.match(words[-1])
        # A size alone ("80gb") is not a GPU; leave it as the key so it is reported as unknown.
        if size and len(words) > 1:
            memory = float(size["mem"])
            words.pop()
    return _Key("".join(words), memory)


def normalize(text: str) -> str:
    """The lookup key of a spelling, memory size removed: ``"NVIDIA A100 80GB"`` -> ``"a100"``.

    Exposed so callers (and tests) can see why two spellings are or are not the same GPU.
    """
    return _parse(text).key


def _facts(spec: GpuSpec) -> tuple[str, tuple[float, ...], float | None]:
    return (spec.vendor, spec.memory_gb, spec.bf16_tflops)


def _nvidia(
    name: str,
    memory_gb: tuple[float, ...],
    bf16_tflops: float | None,
    description: str,
    aliases: tuple[str, ...] = (),
) -> GpuSpec:
    return GpuSpec(name, "NVIDIA", memory_gb, bf16_tflops, aliases, description)


def _amd(
    name: str,
    memory_gb: tuple[float, ...],
    bf16_tflops: float | None,
    description: str,
    aliases: tuple[str, ...] = (),
) -> GpuSpec:
    return GpuSpec(name, "AMD", memory_gb, bf16_tflops, aliases, description)


#: The GPUs gpuhours knows without any plugin: everything the built-in sellers rent out
#: (current and still-listed older generations) plus common names from other GPU clouds.
#: Each row names the public page its figures come from. "checked 2026-12-03" marks the
#: figures re-checked that day against public copies of the vendor's table (docs/gpus.md says
#: which); "not re-checked" rows keep the figure of the data sheet named. Work-normalized plans
#: (``--equivalent``) count GPU-hours by ``bf16_tflops``, so a wrong figure misprices plans.
BUILTIN_GPUS: tuple[GpuSpec, ...] = (
    # --- NVIDIA, pre-tensor-core generations: no BF16 and no useful FP16 rate -> None. ---
    _nvidia("K80", (12.0,), None, "Tesla K80 (one GK210 of the dual-GPU board); Kepler"),
    _nvidia("M60", (8.0,), None, "Tesla M60 (one GM204 of the dual-GPU board); Maxwell"),
    _nvidia("P4", (8.0,), None, "Tesla P4; Pascal, FP16 not accelerated"),
    _nvidia("P40", (24.0,), None, "Tesla P40; Pascal, FP16 not accelerated"),
    # FP16, no BF16 and no tensor cores: 18.7 is the PCIe card (SXM2: 21.2).
    # nvidia.com/en-us/data-center/tesla-p100/; not re-checked.
    _nvidia("P100", (16.0,), 18.7, "Tesla P100; Pascal"),
    # --- Volta / Turing: tensor cores, FP16 only (no BF16); figures are FP16 tensor. ---
    # V100 SXM2 125 (PCIe 112): developer.nvidia.com/programming-tensor-cores-cuda-9-0 and the
    # V100 data sheet; checked 2026-12-03.
    _nvidia("V100", (16.0, 32.0), 125.0, "Tesla V100 (SXM2 figure; PCIe 112); FP16, no BF16"),
    # T4 65 FP16/FP32 mixed precision: nvidia.com/en-us/data-center/tesla-t4/; checked
    # 2026-12-03.
    _nvidia("T4", (16.0,), 65.0, "Tesla T4; Turing, FP16, no BF16"),
    # Quadro RTX 6000 (Turing, 24 GB; Lambda gpu_1x_rtx6000 "RTX 6000 (24 GB)"):
    # nvidia.com/en-us/design-visualization/quadro/rtx-6000/; no dense tensor figure re-checked,
    # so left unknown. Not the RTX 6000 Ada.
    _nvidia("RTX6000", (24.0,), None, "Quadro RTX 6000 (Turing)", aliases=("Quadro RTX 6000",)),
    _nvidia(
        "T4G",
        (16.0,),
        65.0,
        "T4G (AWS g5g, beside Graviton2); T4 silicon figures, FP16, no BF16",
    ),
    # --- Ampere ---
    # A10 125 dense (250 sparse): nvidia.com/en-us/data-center/products/a10-gpu/; not
    # re-checked.
    _nvidia("A10", (24.0,), 125.0, "A10 (Azure NVadsA10 v5 also sells 1/6..1/2 slices of it)"),
    # NVIDIA publishes no A10G data sheet; it is an AWS-only A10 variant at lower clocks. ~70
    # dense BF16 is the commonly quoted figure (baseten.co/blog/nvidia-a10-vs-a10g-for-ml-model-
    # inference/ compares the two), not a vendor number; checked 2026-12-03 that no vendor
    # figure exists, the ~70 itself could not be confirmed. Give --throughput A10G=... to plan
    # on a measured figure.
    _nvidia("A10G", (24.0,), 70.0, "A10G (AWS g5); tensor figure approximate"),
    # nvidia.com/en-us/data-center/products/a30-gpu/; not re-checked.
    _nvidia("A30", (24.0,), 165.0, "A30"),
    # A40 149.7 dense (299.4 sparse): nvidia.com/en-us/data-center/a40/; checked 2026-12-03.
    _nvidia("A40", (48.0,), 149.7, "A40"),
    # A100 312 dense BF16 (624 sparse), SXM4 and PCIe alike: the A100 data sheet,
    # nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/nvidia-a100-datasheet-us-
    # nvidia-1758950-r4-web.pdf; checked 2026-12-03.
    _nvidia("A100", (40.0, 80.0), 312.0, "A100 (SXM4 and PCIe, 40 or 80 GB)"),
    # RTX Ampere data sheets give only a sparse "Tensor Performance"; dense is half of it.
    # nvidia.com/en-us/design-visualization/rtx-a4000/ and .../rtx-a6000/; not re-checked.
    _nvidia("A4000", (16.0,), 76.7, "RTX A4000", aliases=("RTX A4000",)),
    _nvidia("A6000", (48.0,), 154.8, "RTX A6000", aliases=("RTX A6000",)),
    # --- Ada ---
    # L4 121 dense (242 sparse): nvidia.com/en-us/data-center/l4/; checked 2026-12-03.
    _nvidia("L4", (24.0,), 121.0, "L4"),
    # L40 181.05 and L40S 362.05 dense BF16 (362.1 / 733 sparse): the L40 and L40S data sheets,
    # nvidia.com/en-us/data-center/l40/ and .../l40s/; checked 2026-12-03.
    _nvidia("L40", (48.0,), 181.0, "L40"),
    _nvidia("L40S", (48.0,), 362.0, "L40S"),
    # --- Hopper ---
    # SXM5 figure (989; 1,979 sparse); the H100 PCIe (756) is priced by the clouds under the
    # same name. nvidia.com/en-us/data-center/h100/ (data sheet); checked 2026-12-03.
    # "H100 NVLink" (e.g. Fluidstack) is the SXM H100 with NVLink, NOT the H100 NVL.
    _nvidia("H100", (80.0,), 989.0, "H100 (SXM5; PCIe also 80 GB)", aliases=("H100 NVLink",)),
    # H100 NVL 835 dense (1,671 sparse) per GPU: the H100 data sheet; not re-checked.
    _nvidia("H100NVL", (94.0,), 835.0, "H100 NVL (94 GB, PCIe; Azure NC H100 v5)"),
    # H200: the H100's GH100 compute with more memory, 989 dense; nvidia.com/en-us/data-center/
    # h200/; checked 2026-12-03.
    _nvidia("H200", (141.0,), 989.0, "H200"),
    # nvidia.com/en-us/data-center/grace-hopper-superchip/; not re-checked.
    _nvidia("GH200", (96.0, 144.0), 989.0, "GH200 Grace Hopper superchip (its Hopper GPU)"),
    # --- Blackwell ---
    # HGX/DGX B200 expose 180 GB per GPU (some listings quote the chip's 192 GB). 2,250 dense
    # BF16 (4,500 sparse) per GPU at 1,000 W: nvidia.com/en-us/data-center/hgx/ (HGX B200);
    # checked 2026-12-03.
    _nvidia("B200", (180.0,), 2250.0, "B200"),
    # Approximate: HGX B300 data sheet totals / 8; the dense BF16 rate equals B200's. Not
    # re-checked (one third-party page quotes ~3,500 dense; no vendor table confirms it).
    # "NVIDIA B300 SXM6 AC" is RunPod's gpuTypes id for it (displayName "B300"; RunPod
    # recording of 2026-08-22, tests/fixtures/runpod/PROVENANCE.md).
    _nvidia("B300", (288.0,), 2250.0, "B300 (Blackwell Ultra)", aliases=("B300 AC",)),
    # GB200 NVL72 rack figures / 72 GPUs (5 PF sparse -> 2.5 PF dense BF16, at 1,200 W):
    # nvidia.com/en-us/data-center/gb200-nvl72/; checked 2026-12-03.
    _nvidia("GB200", (186.0,), 2500.0, "GB200 Grace Blackwell superchip (its Blackwell GPU)"),
    # Approximate, from GB300 NVL72 rack totals / 72: nvidia.com/en-us/data-center/
    # gb300-nvl72/; not re-checked.
    _nvidia("GB300", (288.0,), 2500.0, "GB300 Grace Blackwell Ultra superchip (its GPU)"),
    # No dense BF16 figure published for the Server Edition; left unknown rather than derived.
    _nvidia(
        "RTXPRO6000",
        (96.0,),
        None,
        "RTX PRO 6000 Blackwell Server Edition",
        aliases=(
            "RTX PRO 6000 Blackwell Server Edition",
            "RTX PRO 6000 Blackwell",
            "RTX PRO 6000 Server Edition",
            "RTX PRO Server 6000",
            "RTXPRO6000BSE",  # Azure NC RTXPRO6000BSE v6
            "RTXPRO6000S",
        ),
    ),
    # --- Workstation and GeForce cards the GPU clouds rent (RunPod's gpuTypes of 2025 and
    # 2026, tests/fixtures/runpod/PROVENANCE.md, name them "NVIDIA GeForce RTX 4090", "NVIDIA
    # RTX 6000 Ada Generation" ...). Memory from NVIDIA's product pages (nvidia.com/en-us/
    # geforce/graphics-cards/ and .../design-visualization/), equal to RunPod's memoryInGb; the
    # pages give only sparse or FP32 figures, so no dense BF16 rate is set (work-normalized
    # plans leave them out unless --throughput names them). Not re-checked.
    _nvidia("RTX3090", (24.0,), None, "GeForce RTX 3090", aliases=("GeForce RTX 3090",)),
    _nvidia("RTX4090", (24.0,), None, "GeForce RTX 4090", aliases=("GeForce RTX 4090",)),
    _nvidia("RTX5090", (32.0,), None, "GeForce RTX 5090", aliases=("GeForce RTX 5090",)),
    _nvidia("A4500", (20.0,), None, "RTX A4500", aliases=("RTX A4500",)),
    _nvidia("A5000", (24.0,), None, "RTX A5000", aliases=("RTX A5000",)),
    _nvidia(
        "RTX4000ADA", (20.0,), None, "RTX 4000 Ada Generation", aliases=("RTX 4000 Ada Generation",)
    ),
    _nvidia(
        "RTX6000ADA",
        (48.0,),
        None,
        "RTX 6000 Ada Generation (not the Turing Quadro RTX 6000)",
        aliases=("RTX 6000 Ada Generation", "RTX 6000 Ada"),
    ),
    # --- AMD ---
    # FP16 (packed math, no matrix cores, no BF16). amd.com (Radeon Instinct MI25 data sheet);
    # not re-checked.
    _amd("MI25", (16.0,), 24.6, "Radeon Instinct MI25 (Azure NV v4 sells slices of it)"),
    # Workstation/VDI cards; no matrix-core BF16 figure published.
    _amd("V520", (8.0,), None, "Radeon Pro V520 (AWS g4ad)", aliases=("Radeon Pro V520",)),
    _amd("V620", (32.0,), None, "Radeon Pro V620 (Azure NGads V620)", aliases=("Radeon Pro V620",)),
    _amd(
        "V710", (28.0,), None, "Radeon Pro V710 (Azure NVads V710 v5)", aliases=("Radeon Pro V710",)
    ),
    # MI300X 1,307.4 dense BF16 (2,614.9 sparse): amd.com/en/products/accelerators/instinct/
    # mi300/mi300x.html; checked 2026-12-03. MI325X: the same compute, amd.com .../mi325x.html;
    # not re-checked.
    # "AMD Instinct MI300X OAM" is RunPod's gpuTypes id (OAM: the module form it ships in;
    # RunPod recordings of 2025 and 2026, tests/fixtures/runpod/PROVENANCE.md).
    _amd("MI300X", (192.0,), 1307.4, "Instinct MI300X", aliases=("MI300X OAM",)),
    _amd("MI325X", (256.0,), 1307.4, "Instinct MI325X (MI300X compute, more memory)"),
)


class GpuVocabulary:
    """The set of known GPUs and the index from every normalized spelling to its GPU.

    Built once at start-up from :data:`BUILTIN_GPUS` plus whatever plugins register through the
    ``register_gpus`` hook, then only read. It is not locked: registration is expected to finish
    before sync jobs and API requests start resolving.
    """

    def __init__(self, specs: Iterable[GpuSpec] = BUILTIN_GPUS) -> None:
        self._specs: dict[str, GpuSpec] = {}
        self._index: dict[str, str] = {}  # normalized spelling -> canonical name
        for spec in specs:
            self.register(spec)

    def register(self, spec: GpuSpec) -> None:
        """Add a GPU (or more spellings for a known one).

        Registering a spec whose canonical name is already known *merges* its aliases into the
        existing entry, so a plugin can teach a new spelling for a built-in GPU with
        ``dataclasses.replace(spec, aliases=("my-h100",))``; its facts must then be the same.
        A spelling that already means a *different* GPU raises :class:`ValueError` naming both,
        because silently re-pointing a name would move prices between GPUs.
        """
        if not isinstance(spec, GpuSpec):
            raise TypeError(f"register() takes a GpuSpec, not {type(spec).__name__}")
        existing = self._specs.get(spec.name)
        if existing is not None and _facts(existing) != _facts(spec):
            raise ValueError(
                f"GPU {spec.name} is already registered with different facts: "
                f"{_facts(existing)} vs {_facts(spec)}"
            )
        keys: dict[str, str] = {}
        for spelling in (spec.name, *spec.aliases):
            parsed = _parse(spelling)
            if not parsed.key:
                raise ValueError(
                    f"GPU {spec.name}: spelling {spelling!r} is only vendor or qualifier words"
                )
            if parsed.memory_gb is not None:
                raise ValueError(
                    f"GPU {spec.name}: alias {spelling!r} contains a memory size; "
                    "list memory variants in memory_gb instead"
                )
            owner = self._index.get(parsed.key)
            if owner is not None and owner != spec.name:
                raise ValueError(
                    f"GPU {spec.name}: spelling {spelling!r} already means GPU {owner}"
                )
            keys[parsed.key] = spelling
        if existing is not None:
            merged = tuple(dict.fromkeys((*existing.aliases, *spec.aliases)))
            spec = replace(existing, aliases=merged)
        self._specs[spec.name] = spec
        for key in keys:
            self._index[key] = spec.name

    def resolve(self, text: str) -> ResolvedGpu:
        """Map any known spelling to its GPU and, if the text named one, its memory variant.

        Raises :class:`UnknownGpu` (with up to three near matches) for names it does not know,
        and also when the name is known but the memory size is not one of its variants; then
        the suggestions are the variants that exist (``A100-40GB``, ``A100-80GB``).
        """
        parsed = _parse(text)
        name = self._index.get(parsed.key)
        if name is None:
            raise UnknownGpu(text, self._suggest(parsed.key or text.strip().lower()))
        spec = self._specs[name]
        if parsed.memory_gb is None:
            return ResolvedGpu(spec)
        for variant in spec.memory_gb:
            if abs(variant - parsed.memory_gb) <= MEMORY_TOLERANCE_GB:
                return ResolvedGpu(spec, variant)
        raise UnknownGpu(text, [f"{spec.name}-{m:g}GB" for m in spec.memory_gb])

    def canonical(self, text: str) -> str:
        """The canonical name for a spelling (``"nvidia-tesla-a100"`` -> ``"A100"``)."""
        return self.resolve(text).name

    def get(self, text: str) -> GpuSpec | None:
        """Like :meth:`resolve` but returns ``None`` instead of raising; for optional lookups."""
        try:
            return self.resolve(text).spec
        except UnknownGpu:
            return None

    def specs(self) -> list[GpuSpec]:
        """Every known GPU, sorted by vendor then name (the order ``gpuhours gpus`` lists)."""
        return sorted(self._specs.values(), key=lambda s: (s.vendor, s.name))

    def __iter__(self) -> Iterator[GpuSpec]:
        return iter(self.specs())

    def __contains__(self, text: object) -> bool:
        return isinstance(text, str) and self.get(text) is not None

    def __len__(self) -> int:
        return len(self._specs)

    def __repr__(self) -> str:
        return f"GpuVocabulary({len(self)} GPUs)"

    def _suggest(self, key: str) -> list[str]:
        # Compare against every spelling, report canonical names: the user should learn the
        # name to type, not the odd alias that happened to be closest.
        close = difflib.get_close_matches(key, list(self._index), n=10, cutoff=0.6)
        names = dict.fromkeys(self._index[k] for k in close)
        return list(names)[:3]


def default_vocabulary() -> GpuVocabulary:
    """A fresh vocabulary of the built-in GPUs; the plugin manager registers plugin GPUs on it.

    Fresh on every call so that one caller's (or one test's) plugin registrations never leak
    into another's.
    """
    return GpuVocabulary(BUILTIN_GPUS)


def gpu_listing(vocabulary: GpuVocabulary) -> list[dict[str, object]]:
    """Every GPU of ``vocabulary`` as ``gpuhours gpus --json`` and ``GET /v1/gpus`` list it.

    Plain data, so the CLI can print it without building pydantic models.
    """
    return [
        {
            "name": s.name,
            "vendor": s.vendor,
            "memory_gb": [float(m) for m in s.memory_gb],
            "bf16_tflops": None if s.bf16_tflops is None else float(s.bf16_tflops),
            "aliases": list(s.aliases),
        }
        for s in vocabulary.specs()
    ]
