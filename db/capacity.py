"""How an offer's capacity list (``Offer.available_in``) is stored: one text column.

The places are joined with commas (a place name holds none); ``""`` is a listing with no
capacity anywhere and NULL a seller that lists none, so "available now" is the one condition
:data:`AVAILABLE_NOW_SQL`, which NULL never meets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

__all__ = ["AVAILABLE_NOW_SQL", "decode_places", "encode_places"]

AVAILABLE_NOW_SQL: Final = "available_in <> ''"


def encode_places(places: Sequence[str] | None) -> str | None:
    return None if places is None else ",".join(places)


def decode_places(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(text.split(",")) if text else ()
