"""User filters to :class:`db.offer_sql.OfferQuery`: shared by ``offers``, the API and the planner.

Checked here so the CLI and the HTTP API reject the same bad input with the same
:class:`~aggregator.errors.InvalidInput` message. A light module (no SQLAlchemy, no plugins:
GPU names resolve against the :class:`~aggregator.gpus.GpuVocabulary` the caller passes), so
the planner's SQLite read path can use it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from aggregator.errors import InvalidInput
from aggregator.globs import check_pattern
from aggregator.gpus import GpuVocabulary
from aggregator.limits import (
    MAX_INTERCONNECT_GBPS,
    MAX_LIST_ITEMS,
    MAX_MEMORY_GB_PER_GPU,
    MAX_PATTERN_LENGTH,
    MAX_TEXT_LENGTH,
    MAX_VCPUS_PER_GPU,
    too_long,
)
from aggregator.models import PurchaseOption
from db.offer_sql import OfferQuery, OfferSort

__all__ = [
    "build_offer_query",
    "check_bounded",
    "check_number",
    "check_texts",
    "parse_purchase_options",
]


def check_texts(values: Sequence[str], field: str, max_length: int = MAX_TEXT_LENGTH) -> None:
    """:class:`InvalidInput` on ``field`` for more than ``MAX_LIST_ITEMS`` values or one longer
    than ``max_length`` (never echoed)."""
    if len(values) > MAX_LIST_ITEMS:
        raise InvalidInput(
            f"{field}: {len(values)} values given; at most {MAX_LIST_ITEMS} are accepted",
            field=field,
        )
    for value in values:
        if len(value) > max_length:
            raise InvalidInput(f"{field}: {too_long(max_length)}", field=field)


def check_number(value: float | None, field: str) -> None:
    """:class:`InvalidInput` on ``field`` for NaN or an infinity (the API's message)."""
    if value is not None and not math.isfinite(value):
        raise InvalidInput(f"{field}: Input should be a finite number", field=field)


def check_bounded(value: float | None, field: str, maximum: float) -> None:
    """:class:`InvalidInput` on ``field`` unless ``value`` is absent or finite in
    ``[0, maximum]``, in the API's (pydantic's) words."""
    check_number(value, field)
    if value is not None and value < 0:
        raise InvalidInput(f"{field}: Input should be greater than or equal to 0", field=field)
    if value is not None and value > maximum:
        raise InvalidInput(
            f"{field}: Input should be less than or equal to {maximum:g}", field=field
        )


def parse_purchase_options(values: Sequence[str]) -> list[PurchaseOption]:
    """Purchase options from user text (``on-demand``, ``spot``, ``reserved`` ...)."""
    options: list[PurchaseOption] = []
    for value in values:
        text = value.strip().lower().replace("-", "_")
        try:
            options.append(PurchaseOption(text))
        except ValueError:
            known = ", ".join(p.value for p in PurchaseOption)
            raise InvalidInput(
                f"unknown purchase option {value!r} (one of: {known})", field="purchase_option"
            ) from None
    return options


def build_offer_query(
    vocabulary: GpuVocabulary,
    *,
    gpus: Sequence[str] = (),
    min_gpu_memory_gb: float | None = None,
    providers: Sequence[str] = (),
    regions: Sequence[str] = (),
    purchase_options: Sequence[str] = (),
    interruptible: bool | None = None,
    ids: Sequence[str] = (),
    include_withdrawn: bool = False,
    sort: OfferSort = "price_per_gpu_hour",
    limit: int | None = None,
    gpu_count: float | None = None,
    min_gpu_count: float | None = None,
    max_gpu_count: float | None = None,
    whole_gpus: bool = False,
    currencies: Sequence[str] = (),
    min_vcpus_per_gpu: float | None = None,
    min_memory_gb_per_gpu: float | None = None,
    min_interconnect_gbps: float | None = None,
    available_now: bool = False,
    cheapest_per_shape: bool = False,
    shape_columns: Sequence[str] = (),
) -> OfferQuery:
    """Check user filters and turn them into a store query (fields as in :class:`OfferQuery`).

    ``gpus`` are names ``vocabulary`` resolves (:class:`~aggregator.errors.UnknownGpu` if one
    is not). Texts and lists are bounded (``aggregator.limits``) and region globs checked by
    :func:`~aggregator.globs.check_pattern` before anything reaches the store.
    """
    for field, values in (
        ("gpu", gpus),
        ("provider", providers),
        ("purchase_option", purchase_options),
        ("ids", ids),
        ("currencies", currencies),
    ):
        check_texts(values, field)
    check_texts(regions, "region", max_length=MAX_PATTERN_LENGTH)
    for field, number in (
        ("min_gpu_memory_gb", min_gpu_memory_gb),
        ("gpu_count", gpu_count),
        ("min_gpu_count", min_gpu_count),
        ("max_gpu_count", max_gpu_count),
    ):
        check_number(number, field)
    for field, number, maximum in (
        ("min_vcpus_per_gpu", min_vcpus_per_gpu, MAX_VCPUS_PER_GPU),
        ("min_memory_gb_per_gpu", min_memory_gb_per_gpu, MAX_MEMORY_GB_PER_GPU),
        ("min_interconnect_gbps", min_interconnect_gbps, MAX_INTERCONNECT_GBPS),
    ):
        check_bounded(number, field, maximum)
    patterns = [check_pattern(r, "region") for r in regions]
    variants: list[tuple[str, float | None]] = []
    for text in gpus:
        resolved = vocabulary.resolve(text)
        variants.append((resolved.name, resolved.memory_gb))
    if min_gpu_memory_gb is not None and min_gpu_memory_gb < 0:
        raise InvalidInput("minimum GPU memory must be >= 0", field="min_gpu_memory_gb")
    if limit is not None and limit < 1:
        raise InvalidInput("limit must be at least 1", field="limit")
    return OfferQuery(
        gpu_variants=variants,
        min_gpu_memory_gb=min_gpu_memory_gb,
        providers=list(providers),
        regions=patterns,
        purchase_options=parse_purchase_options(purchase_options),
        interruptible=interruptible,
        ids=list(ids),
        include_withdrawn=include_withdrawn,
        sort=sort,
        limit=limit,
        gpu_count=gpu_count,
        min_gpu_count=min_gpu_count,
        max_gpu_count=max_gpu_count,
        whole_gpus=whole_gpus,
        currencies=list(currencies),
        min_vcpus_per_gpu=min_vcpus_per_gpu,
        min_memory_gb_per_gpu=min_memory_gb_per_gpu,
        min_interconnect_gbps=min_interconnect_gbps,
        available_now=available_now,
        cheapest_per_shape=cheapest_per_shape,
        shape_columns=list(shape_columns),
    )
