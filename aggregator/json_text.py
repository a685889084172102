"""JSON text for every document gpuhours prints or serves: strict, so it is always JSON.

``json.dumps`` writes ``NaN`` and ``Infinity`` by default, which no JSON parser accepts, and
pydantic's JSON mode writes ``null`` for them, which hides a broken number behind a missing
one. Both are refused here: a non-finite number reaching output is a bug upstream (every
stored number is checked finite), and it fails loudly as :class:`NonFiniteNumber`.
"""

from __future__ import annotations

import json
from typing import Any

from aggregator.errors import GpuhoursError

__all__ = ["NonFiniteNumber", "dumps"]


class NonFiniteNumber(GpuhoursError, ValueError):
    """A NaN or infinite number was about to be written as JSON."""


def dumps(document: Any, *, indent: int | None = None, compact: bool = False) -> str:
    """``document`` (JSON-ready values: dicts, lists, str, numbers, bool, None) as JSON text.

    Values JSON has no type for (datetimes, paths) are written with ``str``; NaN and
    infinities raise :class:`NonFiniteNumber`. ``compact`` drops the spaces after separators.
    """
    separators = (",", ":") if compact else None
    try:
        return json.dumps(
            document, indent=indent, default=str, allow_nan=False, separators=separators
        )
    except ValueError as exc:
        if "not JSON compliant" not in str(exc):
            raise
        raise NonFiniteNumber(
            f"refusing to write a NaN or infinite number as JSON ({exc}); this is a bug in "
            "gpuhours or one of its plugins: please report it"
        ) from exc
