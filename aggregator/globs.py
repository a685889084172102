"""Shell-style globs as gpuhours matches them in Python: ``*`` any run, ``?`` one character.

The same semantics as the store's SQL (:func:`db.store.glob_to_like`): everything else stands
for itself, the whole text must match, and case is ignored (patterns and texts are lowered).
Plan filters and price terms both match regions and instance types this way.

:func:`check_pattern` bounds a user's glob before any query sees it: SQLite refuses some long
``LIKE`` patterns outright ("pattern too complex"), and matching cost grows with wildcards.
"""

from __future__ import annotations

import re

from aggregator.errors import InvalidInput
from aggregator.limits import MAX_PATTERN_LENGTH, MAX_PATTERN_WILDCARDS, too_long

__all__ = ["PATTERN_REGEX", "WHITESPACE", "check_pattern", "glob_regex", "strip_space"]

WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
"""What a JSON Schema ``pattern``'s ``\\s`` matches (ECMA-262), so that what the schema calls
blank is exactly what the server strips: ``str.strip()`` alone also strips ``\\x1c``-``\\x1f``
and ``\\x85``, which a schema-valid name may contain."""


def strip_space(text: str) -> str:
    """``text`` without leading and trailing :data:`WHITESPACE`."""
    return text.strip(WHITESPACE)


_NO_WILDCARD = r"[^*?]*"
PATTERN_REGEX = (
    rf"^\s*(?:[^\s*?]{_NO_WILDCARD}(?:[*?]{_NO_WILDCARD}){{0,{MAX_PATTERN_WILDCARDS}}}"
    rf"|[*?]{_NO_WILDCARD}(?:[*?]{_NO_WILDCARD}){{0,{MAX_PATTERN_WILDCARDS - 1}}})$"
)
"""The globs :func:`check_pattern` accepts (length aside), as a JSON Schema ``pattern``: some
text that is not whitespace, and at most ``MAX_PATTERN_WILDCARDS`` wildcards."""


def check_pattern(pattern: str, field: str) -> str:
    """``pattern`` stripped, or :class:`InvalidInput` on ``field`` if it is empty or too complex.

    Messages start with ``field: `` as the API's do, so the CLI and the API read the same.
    """
    if len(pattern) > MAX_PATTERN_LENGTH:  # as sent, spaces included, as the schema counts
        raise InvalidInput(f"{field}: {too_long(MAX_PATTERN_LENGTH)}", field=field)
    text = strip_space(pattern)
    if not text:
        raise InvalidInput(f"{field}: an empty pattern matches nothing", field=field)
    wildcards = sum(text.count(c) for c in "*?")
    if wildcards > MAX_PATTERN_WILDCARDS:
        raise InvalidInput(
            f"{field}: pattern {text[:40]!r} has {wildcards} wildcards (* and ?); at most "
            f"{MAX_PATTERN_WILDCARDS} are accepted",
            field=field,
        )
    return text


def glob_regex(pattern: str) -> re.Pattern[str]:
    """``pattern`` as a regular expression to ``fullmatch`` against a lower-cased text."""
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.lower()]
    return re.compile("".join(parts), re.DOTALL)
