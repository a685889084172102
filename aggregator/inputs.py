"""Types for numbers and names users give (CLI options, API fields), checked the same way
everywhere: finite numbers, whole numbers that may be written ``3.0``, bounded names and
region globs, the spellings of purchase options, and ``GPU=RATIO`` pairs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any

from annotated_types import Ge, Le
from pydantic import (
    AfterValidator,
    AllowInfNan,
    BeforeValidator,
    Field,
    ValidationInfo,
)

from aggregator.errors import InvalidInput
from aggregator.globs import PATTERN_REGEX, check_pattern
from aggregator.limits import (
    MAX_INTERCONNECT_GBPS,
    MAX_MEMORY_GB_PER_GPU,
    MAX_PATTERN_LENGTH,
    MAX_TEXT_LENGTH,
    MAX_VCPUS_PER_GPU,
)

__all__ = [
    "RATIO_PAIR_PATTERN",
    "WHOLE_NUMBER",
    "FiniteInput",
    "Glob",
    "InterconnectGbps",
    "MemoryGbPerGpu",
    "Text",
    "VcpusPerGpu",
    "option_spelling",
    "ratio_pairs",
]


def option_spelling(value: Any) -> Any:
    """Accept ``on-demand`` / ``Savings Plan`` as well as the enum values."""
    if isinstance(value, str):
        return value.strip().lower().replace("-", "_").replace(" ", "_")
    if isinstance(value, list | tuple):
        return [option_spelling(item) for item in value]
    return value


RATIO_PAIR_PATTERN = r"^[^=]+=\s*[0-9]*\.?[0-9]+\s*$"
"""What one ``GPU=RATIO`` text looks like (``H100=1``, ``a100:80=0.45``), for schemas; the
name and the number are checked further where they are used."""

_ECHOED = 40  # characters of a malformed pair quoted back


def ratio_pairs(texts: Sequence[str], field: str, label: str) -> dict[str, float]:
    """``GPU=RATIO`` texts (``--throughput``, repeated query values) as a name-to-ratio mapping.

    The name is everything before the last ``=``; the ratio is read as a float and judged
    where the mapping is validated. :class:`InvalidInput` on ``field``, worded with ``label``
    (the flag or parameter the user wrote), for a text that is not a pair or a name given twice.
    """
    pairs: dict[str, float] = {}
    for text in texts:
        name, equals, number = text.rpartition("=")
        name = name.strip()
        try:
            if not equals or not name:
                raise ValueError
            ratio = float(number)
        except ValueError:
            raise InvalidInput(
                f"{label}: expected GPU=RATIO (e.g. H100=1 or A100=0.4), got {text[:_ECHOED]!r}",
                field=field,
            ) from None
        if name in pairs:
            raise InvalidInput(f"{label}: {name[:_ECHOED]!r} is given twice", field=field)
        pairs[name] = ratio
    return pairs


_WHOLE_TEXT = re.compile(r"\s*\d+(\.0*)?\s*")


def _whole_number(value: Any, info: ValidationInfo) -> Any:
    """``3.0`` as the integer 3, as JSON Schema counts it; ``3.5`` stays for the int check.

    Query text ("3.0") is converted too, but not a JSON string (validated in ``json`` mode,
    where a string is never a number).
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and info.mode == "python" and _WHOLE_TEXT.fullmatch(value):
        return int(float(value))
    return value


FiniteInput = Annotated[float, AllowInfNan(False)]
"""A number from a user: NaN and infinities are refused ("Input should be a finite number")
before any bound is checked. Bounds go in an enclosing ``Annotated`` (``Gt(0)`` ...), where
they apply to the number itself and render as standard JSON Schema keywords even when the
field is optional (``Field(gt=0)`` on ``X | None`` renders a non-standard ``gt``)."""

VcpusPerGpu = Annotated[FiniteInput, Ge(0), Le(MAX_VCPUS_PER_GPU)]
"""A minimum of host vCPUs per GPU (``min_vcpus_per_gpu``)."""
MemoryGbPerGpu = Annotated[FiniteInput, Ge(0), Le(MAX_MEMORY_GB_PER_GPU)]
"""A minimum of host memory per GPU, in GB (``min_memory_gb_per_gpu``)."""
InterconnectGbps = Annotated[FiniteInput, Ge(0), Le(MAX_INTERCONNECT_GBPS)]
"""A minimum of documented bandwidth between instances, in Gbit/s (``min_interconnect_gbps``)."""

WHOLE_NUMBER = BeforeValidator(_whole_number)
"""Marks an integer input that takes a whole-number float (``3.0``), as JSON Schema counts it:
``Annotated[int, Ge(0), WHOLE_NUMBER]``. It goes after the bounds, which then stay standard
JSON Schema keywords (before them they would render as ``ge``/``le``)."""


Text = Annotated[
    str,
    Field(min_length=1, max_length=MAX_TEXT_LENGTH, json_schema_extra={"pattern": r"\S"}),
]
"""One name in a list input (GPU, provider ...): not blank, at most ``MAX_TEXT_LENGTH``. Blank
is refused by the validators (after ``strip``); the pattern only tells the schema's readers."""


def _region_pattern(value: str) -> str:
    try:
        return check_pattern(value, "region")
    except InvalidInput as exc:  # pydantic names the field itself (``regions.0``)
        raise ValueError(str(exc).removeprefix("region: ")) from None


Glob = Annotated[
    str,
    Field(
        min_length=1, max_length=MAX_PATTERN_LENGTH, json_schema_extra={"pattern": PATTERN_REGEX}
    ),
    AfterValidator(_region_pattern),
]
"""A region glob, stripped: :func:`aggregator.globs.check_pattern` is the rule, the pattern
its schema."""
