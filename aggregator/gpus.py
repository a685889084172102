"""The canonical GPU vocabulary: one name per GPU, and every spelling the clouds use mapped to it.

Prices from three clouds compare only if "nvidia-tesla-a100" (GCP), "A100" (AWS) and "NVIDIA
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


#: The GPUs gpuhours knows without any plugin: everything the three built-in clouds rent out
#: (current and still-listed older generations) plus common names from other GPU clouds.
BUILTIN_GPUS: tuple[GpuSpec, ...] = (
    # --- NVIDIA, pre-tensor-core generations: no BF16 and no useful FP16 rate -> None. ---
    _nvidia("K80", (12.0,), None, "Tesla K80 (one GK210 of the dual-GPU board); Kepler"),
    _nvidia("M60", (8.0,), None, "Tesla M60 (one GM204 of the dual-GPU board); Maxwell"),
    _nvidia("P4", (8.0,), None, "Tesla P4; Pascal, FP16 not accelerated"),
    _nvidia("P40", (24.0,), None, "Tesla P40; Pascal, FP16 not accelerated"),
    # FP16, no BF16 and no tensor cores: 18.7 is the PCIe card (SXM2: 21.2).
    _nvidia("P100", (16.0,), 18.7, "Tesla P100; Pascal"),
    # --- Volta / Turing: tensor cores, FP16 only (no BF16); figures are FP16 tensor. ---
    _nvidia("V100", (16.0, 32.0), 125.0, "Tesla V100 (SXM2 figure; PCIe 112); FP16, no BF16"),
    _nvidia("T4", (16.0,), 65.0, "Tesla T4; Turing, FP16, no BF16"),
    _nvidia(
        "T4G",
        (16.0,),
        65.0,
        "T4G (AWS g5g, beside Graviton2); T4 silicon figures, FP16, no BF16",
    ),
    # --- Ampere ---
    _nvidia("A10", (24.0,), 125.0, "A10 (Azure NVadsA10 v5 also sells 1/6..1/2 slices of it)"),
    # NVIDIA publishes no A10G data sheet; it is an AWS-only A10 variant at lower clocks. ~70
    # dense BF16 is the commonly quoted figure, not a vendor number.
    _nvidia("A10G", (24.0,), 70.0, "A10G (AWS g5); tensor figure approximate"),
    _nvidia("A30", (24.0,), 165.0, "A30"),
    _nvidia("A40", (48.0,), 149.7, "A40"),
    _nvidia("A100", (40.0, 80.0), 312.0, "A100 (SXM4 and PCIe, 40 or 80 GB)"),
    # RTX Ampere data sheets give only a sparse "Tensor Performance"; dense is half of it.
    _nvidia("A4000", (16.0,), 76.7, "RTX A4000", aliases=("RTX A4000",)),
    _nvidia("A6000", (48.0,), 154.8, "RTX A6000", aliases=("RTX A6000",)),
    # --- Ada ---
    _nvidia("L4", (24.0,), 121.0, "L4"),
    _nvidia("L40", (48.0,), 181.0, "L40"),
    _nvidia("L40S", (48.0,), 362.0, "L40S"),
    # --- Hopper ---
    # SXM5 figure (989); the H100 PCIe (756) is priced by the clouds under the same name.
    # "H100 NVLink" (e.g. Fluidstack) is the SXM H100 with NVLink, NOT the H100 NVL.
    _nvidia("H100", (80.0,), 989.0, "H100 (SXM5; PCIe also 80 GB)", aliases=("H100 NVLink",)),
    _nvidia("H100NVL", (94.0,), 835.0, "H100 NVL (94 GB, PCIe; Azure NC H100 v5)"),
    _nvidia("H200", (141.0,), 989.0, "H200"),
    _nvidia("GH200", (96.0, 144.0), 989.0, "GH200 Grace Hopper superchip (its Hopper GPU)"),
    # --- Blackwell ---
    # HGX/DGX B200 expose 180 GB per GPU (some listings quote the chip's 192 GB).
    _nvidia("B200", (180.0,), 2250.0, "B200"),
    # Approximate: HGX B300 data sheet totals / 8; the dense BF16 rate equals B200's.
    _nvidia("B300", (288.0,), 2250.0, "B300 (Blackwell Ultra)"),
    # Approximate: GB200 NVL72 rack figures / 72 GPUs (5 PF sparse -> 2.5 PF dense BF16).
    _nvidia("GB200", (186.0,), 2500.0, "GB200 Grace Blackwell superchip (its Blackwell GPU)"),
    # Approximate, from GB300 NVL72 rack totals / 72.
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
    # --- AMD ---
    # FP16 (packed math, no matrix cores, no BF16).
    _amd("MI25", (16.0,), 24.6, "Radeon Instinct MI25 (Azure NV v4 sells slices of it)"),
    # Workstation/VDI cards; no matrix-core BF16 figure published.
    _amd("V520", (8.0,), None, "Radeon Pro V520 (AWS g4ad)", aliases=("Radeon Pro V520",)),
    _amd("V620", (32.0,), None, "Radeon Pro V620 (Azure NGads V620)", aliases=("Radeon Pro V620",)),
    _amd(
        "V710", (28.0,), None, "Radeon Pro V710 (Azure NVads V710 v5)", aliases=("Radeon Pro V710",)
    ),
    _amd("MI300X", (192.0,), 1307.4, "Instinct MI300X"),
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
