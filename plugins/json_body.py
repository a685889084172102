"""Decoding a price API's JSON answer into the object a feed expects, with one kind of error.

Shared by the plugins whose APIs answer one JSON document per request (RunPod, Vultr): a body
that is not JSON, or not an object, is a :class:`ProviderResponseError` naming the API and the
setting that may point at the wrong server, never a ``ValueError`` traceback.
"""

from __future__ import annotations

import json
import math
from typing import Any

from aggregator.errors import ProviderResponseError

__all__ = ["decode_object", "positive_number"]


def decode_object(body: bytes, *, source: str, setting: str, url: str, provider: str) -> Any:
    """The JSON object in ``body``; anything else is an error saying what came back."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProviderResponseError(
            f"{source} answered with a body that is not JSON ({exc}); {setting} may point at "
            "something else",
            provider=provider,
            url=url,
        ) from exc
    if not isinstance(document, dict):
        raise ProviderResponseError(
            f"{source} answered with a JSON {type(document).__name__}, not an object; "
            f"{setting} may point at something else",
            provider=provider,
            url=url,
        )
    return document


def positive_number(value: object) -> float | None:
    """A published price or size as a float; None when missing, zero, negative or not finite.

    Booleans are not numbers here (JSON ``true`` would otherwise read as 1.0).
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    price = float(value)
    return price if math.isfinite(price) and price > 0 else None
