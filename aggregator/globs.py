"""Shell-style globs as gpuhours matches them: ``*`` any run, ``?`` one character.

Everything else stands for itself, the whole text must match, and case is ignored (patterns
and texts are lowered). A glob is matched in two places, in Python (:func:`glob_regex`: plan
filters and price terms on regions and instance types) and in the store's SQL
(:func:`glob_to_like`: the offer read's region filter); both translations live here because
a query and a plan must select the same offers.

:func:`check_pattern` bounds a user's glob before any query sees it: SQLite refuses some long
``LIKE`` patterns outright ("pattern too complex"), and matching cost grows with wildcards.
"""

from __future__ import annotations

import re

from aggregator.errors import InvalidInput
from aggregator.limits import MAX_PATTERN_LENGTH, MAX_PATTERN_WILDCARDS, too_long

__all__ = [
    "LIKE_ESCAPE",
    "PATTERN_REGEX",
    "WHITESPACE",
    "check_pattern",
    "glob_regex",
    "glob_to_like",
    "strip_space",
]

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


LIKE_ESCAPE = "\\"
"""The escape character of the ``LIKE`` patterns :func:`glob_to_like` writes (the SQL names it
in ``ESCAPE``)."""


def glob_to_like(pattern: str) -> str:
    """Translate a shell-style glob into a LIKE pattern using ``\\`` as the escape character.

    ``*`` becomes ``%`` and ``?`` becomes ``_``; a literal ``%``, ``_`` or ``\\`` in the glob is
    escaped, so ``us_east`` matches only ``us_east``, not ``us-east``. Character classes are not
    supported: ``[`` is an ordinary character (region codes never contain one).
    """
    out: list[str] = []
    for char in pattern:
        if char == "*":
            out.append("%")
        elif char == "?":
            out.append("_")
        elif char in ("%", "_", LIKE_ESCAPE):
            out.append(LIKE_ESCAPE + char)
        else:
            out.append(char)
    return "".join(out)
