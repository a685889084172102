"""Which offers may serve a request, and which filter left none when nothing may.

The request's filters are an ordered list of :class:`FilterStep` s (GPU, known throughput in a
work-normalized plan, memory, provider, region, purchase option, GPUs per instance, fractional
GPUs, host size per GPU, interconnect, capacity listed now). They are applied one at a time so
that an empty result names the *first* filter that emptied the set, with a hint of what the
earlier filters still allowed ("no offers with exactly 3 GPUs per instance (sizes available:
1, 2, 8)"). Every step carries the :func:`aggregator.offer_query.build_offer_query` arguments
that express it, so :mod:`aggregator.planner.from_store` filters entirely in SQL and diagnoses
with the same steps and messages; the Python predicates here mirror the store's semantics
exactly (GPU memory variants within 0.5 GB, case-insensitive region globs where only ``*`` and
``?`` are special, GPU counts within :data:`db.offer_sql.GPU_COUNT_TOLERANCE`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aggregator.errors import NoFeasiblePlan
from aggregator.globs import glob_regex
from aggregator.gpus import GpuVocabulary, ResolvedGpu
from aggregator.models import PurchaseOption
from aggregator.offer_view import PlannableOffer
from aggregator.plan_defaults import DEFAULT_MIN_MEMORY_GB_PER_GPU, DEFAULT_MIN_VCPUS_PER_GPU
from aggregator.planner.throughput import RAW, WorkScale
from aggregator.plans import PlanRequest
from db.offer_sql import GPU_COUNT_TOLERANCE

__all__ = [
    "FilterStep",
    "apply_steps",
    "filter_steps",
    "is_fractional",
    "nothing_to_plan",
    "resolve_gpus",
]

_HINT_VALUES = 8


@dataclass(frozen=True)
class FilterStep:
    """One filter of a request.

    ``keep`` decides an offer; ``explain`` says why nothing is left, given the offers that
    passed the earlier steps (possibly a sample, possibly none). ``query`` holds the
    :func:`~aggregator.offer_query.build_offer_query` keyword arguments expressing the step in
    SQL, or ``None`` when only Python can evaluate it.
    """

    name: str
    keep: Callable[[PlannableOffer], bool]
    explain: Callable[[Sequence[PlannableOffer]], str]
    query: dict[str, Any] | None = field(default=None)


def resolve_gpus(request: PlanRequest, vocabulary: GpuVocabulary) -> list[ResolvedGpu]:
    """The request's GPU names resolved; :class:`~aggregator.errors.UnknownGpu` if one is not."""
    return [vocabulary.resolve(text) for text in request.gpus]


def is_fractional(offer: PlannableOffer) -> bool:
    return abs(offer.gpu_count - round(offer.gpu_count)) > GPU_COUNT_TOLERANCE


def nothing_to_plan() -> NoFeasiblePlan:
    return NoFeasiblePlan(
        "there are no offers to plan with: the store holds no current prices (run `gpuhours sync`)"
    )


def apply_steps(
    offers: Iterable[PlannableOffer], steps: Sequence[FilterStep]
) -> list[PlannableOffer]:
    """The offers every step keeps; raises :class:`NoFeasiblePlan` naming the first empty step."""
    remaining = list(offers)
    if not remaining:
        raise nothing_to_plan()
    for step in steps:
        kept = [offer for offer in remaining if step.keep(offer)]
        if not kept:
            raise NoFeasiblePlan(step.explain(remaining))
        remaining = kept
    return remaining


def filter_steps(
    request: PlanRequest, wanted: Sequence[ResolvedGpu], scale: WorkScale = RAW
) -> list[FilterStep]:
    """The request's active filters, in the order an empty result is diagnosed; ``scale``
    (:func:`~aggregator.planner.throughput.work_scale`) keeps GPUs of known throughput."""
    steps: list[FilterStep] = []
    if wanted:
        steps.append(_gpu_step(wanted, request.gpus))
    if scale.reference is not None:
        steps.append(_throughput_step(scale, wanted))
    if request.min_gpu_memory_gb is not None:
        steps.append(_memory_step(request.min_gpu_memory_gb))
    if request.providers:
        steps.append(_provider_step(request.providers))
    if request.regions:
        steps.append(_region_step(request.regions))
    steps.append(_purchase_option_step(request.purchase_options))
    size_step = _node_size_step(request)
    if size_step is not None:
        steps.append(size_step)
    if not request.allow_fractional:
        steps.append(_fractional_step())
    if request.min_vcpus_per_gpu:
        steps.append(_per_gpu_step(_VCPUS, request.min_vcpus_per_gpu))
    if request.min_memory_gb_per_gpu:
        steps.append(_per_gpu_step(_MEMORY, request.min_memory_gb_per_gpu))
    if request.min_interconnect_gbps is not None:
        steps.append(_interconnect_step(request.min_interconnect_gbps))
    if request.available_now:
        steps.append(_available_step())
    return steps


def _listing(values: Iterable[Any], fmt: Callable[[Any], str] = str) -> str:
    unique = sorted(set(values))
    shown = ", ".join(fmt(v) for v in unique[:_HINT_VALUES])
    return shown + (f" and {len(unique) - _HINT_VALUES} more" if len(unique) > _HINT_VALUES else "")


def _gpu_step(wanted: Sequence[ResolvedGpu], texts: Sequence[str]) -> FilterStep:
    def keep(offer: PlannableOffer) -> bool:
        return any(gpu.covers(offer.gpu, offer.gpu_memory_gb) for gpu in wanted)

    def explain(before: Sequence[PlannableOffer]) -> str:
        names = " or ".join(str(gpu) for gpu in wanted)
        hint = f" (there are offers for {_listing(o.gpu for o in before)})" if before else ""
        return f"no offers match the GPU filter: nothing for {names}{hint}"

    return FilterStep("gpus", keep, explain, {"gpus": list(texts)})


def _throughput_step(scale: WorkScale, wanted: Sequence[ResolvedGpu]) -> FilterStep:
    known = scale.known_gpus(wanted)

    def explain(before: Sequence[PlannableOffer]) -> str:
        unknown = sorted({o.gpu for o in before if scale.of(o) is None})
        if not unknown:
            return f"no matching offers are for a GPU of known throughput against {scale.reference}"
        them = "it" if len(unknown) == 1 else "them"
        return (
            f"no matching offers have a known throughput against {scale.reference}: "
            f"{_listing(unknown)} {'has' if len(unknown) == 1 else 'have'} no dense BF16/FP16 "
            f"figure in the GPU vocabulary; give a measured ratio "
            f"(--throughput {unknown[0]}=RATIO) to plan with {them}"
        )

    return FilterStep(
        "throughput",
        lambda offer: scale.of(offer) is not None,
        explain,
        {"gpus": known} if known else None,  # none known: Python refuses every offer
    )


def _memory_step(minimum: float) -> FilterStep:
    def explain(before: Sequence[PlannableOffer]) -> str:
        hint = ""
        if before:
            hint = f" (the largest is {max(o.gpu_memory_gb for o in before):g} GB)"
        return f"no matching offers have at least {minimum:g} GB of memory per GPU{hint}"

    return FilterStep(
        "min_gpu_memory_gb",
        lambda offer: offer.gpu_memory_gb >= minimum,
        explain,
        {"min_gpu_memory_gb": minimum},
    )


def _provider_step(providers: Sequence[str]) -> FilterStep:
    wanted = set(providers)

    def explain(before: Sequence[PlannableOffer]) -> str:
        hint = f" (matching offers come from {_listing(o.provider for o in before)})"
        return f"no matching offers from provider {', '.join(providers)}" + (hint if before else "")

    return FilterStep(
        "providers",
        lambda offer: offer.provider in wanted,
        explain,
        {"providers": list(providers)},
    )


def _region_step(patterns: Sequence[str]) -> FilterStep:
    compiled = [glob_regex(p) for p in patterns]

    def keep(offer: PlannableOffer) -> bool:
        region = offer.region.lower()
        return any(rx.fullmatch(region) for rx in compiled)

    def explain(before: Sequence[PlannableOffer]) -> str:
        hint = f" (matching offers are in {_listing(o.region for o in before)})" if before else ""
        return f"no matching offers in a region matching {', '.join(patterns)}{hint}"

    return FilterStep("regions", keep, explain, {"regions": list(patterns)})


def _purchase_option_step(options: Sequence[PurchaseOption]) -> FilterStep:
    allowed = set(options)

    def explain(before: Sequence[PlannableOffer]) -> str:
        available = {o.purchase_option for o in before}
        hint = ""
        if available:
            hint = f" (matching offers are {_listing(p.value for p in available)})"
            if any(p.interruptible for p in available - allowed):
                hint += "; allow spot / low_priority (--spot) to plan with interruptible capacity"
        wanted = ", ".join(p.value for p in options)
        return f"no matching offers with purchase option {wanted}{hint}"

    query: dict[str, Any] = {"purchase_options": [p.value for p in options]}
    kinds = {p.interruptible for p in options}
    if len(kinds) == 1:  # implied by the options; lets the database skip the other kind early
        query["interruptible"] = kinds.pop()
    return FilterStep(
        "purchase_options", lambda offer: offer.purchase_option in allowed, explain, query
    )


def _node_size_step(request: PlanRequest) -> FilterStep | None:
    exact, low, high = request.gpus_per_node, request.min_gpus_per_node, request.max_gpus_per_node
    if exact is None and low is None and high is None:
        return None
    query: dict[str, Any]
    if exact is not None:
        wanted = f"exactly {exact:g}"
        query = {"gpu_count": exact}

        def keep(offer: PlannableOffer) -> bool:
            return math.isclose(offer.gpu_count, exact, rel_tol=GPU_COUNT_TOLERANCE)

    else:
        wanted = (
            f"between {low:g} and {high:g}"
            if low is not None and high is not None
            else f"at least {low:g}"
            if low is not None
            else f"at most {high:g}"
        )

        low_bound = None if low is None else low - GPU_COUNT_TOLERANCE
        high_bound = None if high is None else high + GPU_COUNT_TOLERANCE
        query = {"min_gpu_count": low_bound, "max_gpu_count": high_bound}

        def keep(offer: PlannableOffer) -> bool:
            g = offer.gpu_count
            return (low_bound is None or g >= low_bound) and (high_bound is None or g <= high_bound)

    def explain(before: Sequence[PlannableOffer]) -> str:
        hint = ""
        if before:
            hint = f" (sizes available: {_listing((o.gpu_count for o in before), '{:g}'.format)})"
        return f"no matching offers with {wanted} GPUs per instance{hint}"

    return FilterStep("gpus_per_node", keep, explain, query)


def _fractional_step() -> FilterStep:
    def explain(before: Sequence[PlannableOffer]) -> str:
        sample = ""
        example = min(before, key=lambda o: o.price_per_gpu_hour, default=None)
        if example is not None:
            sample = f" (e.g. {example.instance_type}: {example.gpu_count:.3g}x {example.gpu})"
        return (
            f"the matching offers all have a fraction of a GPU per instance{sample}; "
            "allow fractional GPUs (--allow-fractional) to plan with them"
        )

    return FilterStep(
        "allow_fractional", lambda offer: not is_fractional(offer), explain, {"whole_gpus": True}
    )


@dataclass(frozen=True)
class _HostSize:
    """A host size a request bounds per GPU: the request field, its flag and default, the
    unit in messages, and how to read it from an offer."""

    field: str
    flag: str
    default: float
    unit: str
    of: Callable[[PlannableOffer], float | None]


def _vcpus(offer: PlannableOffer) -> float | None:
    return offer.vcpus


def _memory_gb(offer: PlannableOffer) -> float | None:
    return offer.memory_gb


_VCPUS = _HostSize(
    "min_vcpus_per_gpu", "--min-vcpus-per-gpu", DEFAULT_MIN_VCPUS_PER_GPU, "vCPUs", _vcpus
)
_MEMORY = _HostSize(
    "min_memory_gb_per_gpu",
    "--min-memory-per-gpu",
    DEFAULT_MIN_MEMORY_GB_PER_GPU,
    "GB of host memory",
    _memory_gb,
)


def _per_gpu_step(size: _HostSize, minimum: float) -> FilterStep:
    """A host of unknown size passes: the store's rule (:class:`db.offer_sql.OfferQuery`)."""

    def keep(offer: PlannableOffer) -> bool:
        value = size.of(offer)
        return value is None or value / offer.gpu_count >= minimum

    def explain(before: Sequence[PlannableOffer]) -> str:
        known = [value / o.gpu_count for o in before if (value := size.of(o)) is not None]
        hint = f" (the most is {max(known):.3g})" if known else ""
        return (
            f"no matching offers have at least {minimum:g} {size.unit} per GPU{hint}; lower "
            f"{size.field} ({size.flag}, default {size.default:g}; 0 allows any host) to plan "
            "with smaller hosts"
        )

    return FilterStep(size.field, keep, explain, {size.field: minimum})


def _interconnect_step(minimum: float) -> FilterStep:
    def keep(offer: PlannableOffer) -> bool:
        gbps = offer.interconnect_gbps
        return gbps is not None and gbps >= minimum

    def explain(before: Sequence[PlannableOffer]) -> str:
        known = [o.interconnect_gbps for o in before if o.interconnect_gbps is not None]
        hint = ""
        if known:
            hint = f" (the most documented is {max(known):g} Gbit/s)"
        elif before:
            hint = " (none of them has a documented bandwidth)"
        return f"no matching offers document at least {minimum:g} Gbit/s between instances{hint}"

    return FilterStep("min_interconnect_gbps", keep, explain, {"min_interconnect_gbps": minimum})


def _available_step() -> FilterStep:
    def keep(offer: PlannableOffer) -> bool:
        return bool(offer.available_in)

    def explain(before: Sequence[PlannableOffer]) -> str:
        listed = {o.provider for o in before if o.available_in is not None}
        if listed:
            hint = f" ({_listing(listed)} listed none for them when their prices were last seen)"
        elif before:
            hint = " (their sellers publish no capacity; drop available_now to plan with them)"
        else:
            hint = ""
        return f"no matching offers were listed as available now{hint}"

    return FilterStep("available_now", keep, explain, {"available_now": True})
