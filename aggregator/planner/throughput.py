"""What one GPU-hour of an offer is worth in GPU-hours of the request's reference GPU.

Without ``equivalent_gpu`` every GPU-hour counts 1 (:data:`RAW`). With it, a GPU's hour counts
``throughput(gpu) / throughput(reference)``: the user's measured ratios where given (relative
to one another; the reference's own ratio is 1 unless given), otherwise the vocabulary's dense
BF16/FP16 TFLOPS. A GPU with neither has no known throughput and is left out of the plan. How
the planner uses the ratios: docs/planner.md, "Equivalent work".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aggregator.errors import InvalidInput, UnknownGpu
from aggregator.gpus import MEMORY_TOLERANCE_GB, GpuVocabulary, ResolvedGpu
from aggregator.limits import MAX_WORK_RATIO
from aggregator.offer_view import PlannableOffer
from aggregator.plans import PlanRequest

__all__ = ["RAW", "Ratio", "WorkScale", "work_scale"]

_RAW_UNIT = "GPU-hours"


@dataclass(frozen=True)
class Ratio:
    """One GPU's hour in reference GPU-hours, and where the figure comes from (for notes)."""

    value: float
    source: str
    reference: bool = False


@dataclass(frozen=True)
class WorkScale:
    """The ratio of every GPU with a known throughput; ``reference`` ``None``: raw GPU-hours."""

    reference: str | None = None
    models: Mapping[str, Ratio] = field(default_factory=dict)
    variants: Mapping[tuple[str, float], Ratio] = field(default_factory=dict)
    """Ratios given for one memory variant (``A100-80GB``); they win over the model's."""
    _seen: dict[tuple[str, float], float | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """:meth:`of` per GPU and memory size: a plan asks it for every matching offer."""

    @property
    def unit(self) -> str:
        """How a quantity of this scale reads: ``GPU-hours``, ``H100-equivalent GPU-hours``."""
        return _RAW_UNIT if self.reference is None else f"{self.reference}-equivalent GPU-hours"

    def ratio(self, gpu: str, memory_gb: float) -> Ratio | None:
        """The ratio of canonical ``gpu`` with ``memory_gb`` per GPU; ``None``: unknown."""
        if self.reference is None:
            return _ONE
        for (name, memory), ratio in self.variants.items():
            if name == gpu and abs(memory - memory_gb) <= MEMORY_TOLERANCE_GB:
                return ratio
        return self.models.get(gpu)

    def of(self, offer: PlannableOffer) -> float | None:
        """What one GPU-hour of ``offer`` counts; ``None`` when its GPU's throughput is unknown."""
        key = (offer.gpu, offer.gpu_memory_gb)
        try:
            return self._seen[key]
        except KeyError:
            ratio = self.ratio(*key)
            value = self._seen[key] = None if ratio is None else ratio.value
            return value

    def known_gpus(self, wanted: Sequence[ResolvedGpu]) -> list[str]:
        """GPU names (``A100``, ``A100-80GB``) covering exactly the offers of ``wanted`` (empty:
        any GPU) whose throughput is known, as an offer query's GPU filter takes them."""
        variants = [(name, memory) for name, memory in self.variants if name not in self.models]
        if not wanted:
            texts = list(self.models) + [f"{name}-{memory:g}GB" for name, memory in variants]
        else:
            texts = []
            for gpu in wanted:
                if gpu.name in self.models:
                    texts.append(str(gpu))
                    continue
                texts += [
                    f"{name}-{memory:g}GB"
                    for name, memory in variants
                    if name == gpu.name
                    and (
                        gpu.memory_gb is None or abs(memory - gpu.memory_gb) <= MEMORY_TOLERANCE_GB
                    )
                ]
        return list(dict.fromkeys(texts))


_ONE = Ratio(1.0, "")
_REFERENCE = Ratio(1.0, "the reference", reference=True)
RAW = WorkScale()
"""Every GPU-hour counts one: requests without ``equivalent_gpu``."""


def _resolve(vocabulary: GpuVocabulary, text: str, field_name: str) -> ResolvedGpu:
    try:
        return vocabulary.resolve(text)
    except UnknownGpu as exc:
        raise InvalidInput(f"{field_name}: {exc}", field=field_name) from None


def _given(
    request: PlanRequest, vocabulary: GpuVocabulary
) -> dict[tuple[str, float | None], float]:
    given: dict[tuple[str, float | None], float] = {}
    for text, value in request.throughput.items():
        gpu = _resolve(vocabulary, text, "throughput")
        key = (gpu.name, gpu.memory_gb)
        if key in given:
            raise InvalidInput(
                f"throughput: {text!r} names {gpu} a second time", field="throughput"
            )
        given[key] = value
    return given


def work_scale(request: PlanRequest, vocabulary: GpuVocabulary) -> WorkScale:
    """The scale of ``request``: :data:`RAW` without ``equivalent_gpu``.

    :class:`InvalidInput` for an unknown GPU name (``equivalent_gpu`` or ``throughput``), a GPU
    given twice, a ratio more than :data:`~aggregator.limits.MAX_WORK_RATIO` times from the
    reference's, or a reference with no known throughput and no ratios to compare it by.
    """
    if request.equivalent_gpu is None:
        return RAW
    reference = _resolve(vocabulary, request.equivalent_gpu, "equivalent_gpu")
    given = _given(request, vocabulary)
    own = given.get((reference.name, reference.memory_gb), given.get((reference.name, None)))
    reference_tflops = reference.spec.bf16_tflops
    if own is None and reference_tflops is None and not given:
        raise InvalidInput(
            f"equivalent_gpu: {reference} has no known throughput (the GPU vocabulary has no "
            f"dense BF16/FP16 figure for it); give measured ratios, e.g. "
            f"--throughput {reference.name}=1 --throughput A100=0.4",
            field="equivalent_gpu",
        )
    unit = 1.0 if own is None else own
    models: dict[str, Ratio] = {}
    variants: dict[tuple[str, float], Ratio] = {}
    for (name, memory), value in given.items():
        ratio = Ratio(_checked(value / unit, name, reference), "your ratio")
        if memory is None:
            models[name] = ratio
        else:
            variants[(name, memory)] = ratio
    for spec in vocabulary.specs():
        if spec.name not in models and spec.bf16_tflops and reference_tflops:
            models[spec.name] = Ratio(
                spec.bf16_tflops / reference_tflops,
                f"data sheets: {spec.bf16_tflops:g} / {reference_tflops:g} dense TFLOPS",
            )
    if reference.memory_gb is None:
        models[reference.name] = _REFERENCE
    else:
        variants[(reference.name, reference.memory_gb)] = _REFERENCE
    return WorkScale(str(reference), models, variants)


def _checked(value: float, name: str, reference: ResolvedGpu) -> float:
    if not 1 / MAX_WORK_RATIO <= value <= MAX_WORK_RATIO:
        raise InvalidInput(
            f"throughput: {name} would count {value:g} {reference} GPU-hours per GPU-hour; "
            f"ratios must stay within 1/{MAX_WORK_RATIO:g} to {MAX_WORK_RATIO:g} of the "
            "reference's",
            field="throughput",
        )
    return value
