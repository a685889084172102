"""Opaque cursors for paging through ``GET /v1/offers``.

A cursor records where the next page starts and a fingerprint of the filters it was made for;
a cursor sent with different filters (or edited by hand) is refused with 422 on ``cursor``
instead of silently returning a page of some other query.

The position is an offset into the query's order (price, then offer id, which is total and
stable), read through :func:`aggregator.catalog.find_offers` with ``limit = offset + page + 1``:
routes stay thin over the same query as the CLI. Pages are separate reads, so a sync landing
between two pages can shift offers across the page boundary (each page on its own is
consistent). Deep pages cost more than the first (the store reads the skipped rows);
``MAX_OFFSET`` bounds that.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from aggregator.errors import InvalidInput

__all__ = ["MAX_OFFSET", "decode_cursor", "encode_cursor", "fingerprint"]

MAX_OFFSET = 100_000
_VERSION = 1


def fingerprint(filters: Mapping[str, Any]) -> str:
    """A short stable digest of a query's filters (order of keys and list items kept)."""
    text = json.dumps(filters, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode_cursor(offset: int, filters_digest: str) -> str:
    raw = json.dumps({"v": _VERSION, "o": offset, "f": filters_digest}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, filters_digest: str) -> int:
    """The offset a cursor points at; :class:`InvalidInput` on ``cursor`` if it is not usable."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        version, offset, digest = data["v"], data["o"], data["f"]
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeError):
        raise InvalidInput(
            "not a cursor returned by this API (use next_cursor as given)", field="cursor"
        ) from None
    if version != _VERSION or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput("not a cursor returned by this API", field="cursor")
    if digest != filters_digest:
        raise InvalidInput(
            "this cursor belongs to a query with other filters; send the same filters with it",
            field="cursor",
        )
    return offset
