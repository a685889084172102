"""Shell-style globs as gpuhours matches them in Python: ``*`` any run, ``?`` one character.

The same semantics as the store's SQL (:func:`db.store.glob_to_like`): everything else stands
for itself, the whole text must match, and case is ignored (patterns and texts are lowered).
Plan filters and price terms both match regions and instance types this way.
"""

from __future__ import annotations

import re

__all__ = ["glob_regex"]


def glob_regex(pattern: str) -> re.Pattern[str]:
    """``pattern`` as a regular expression to ``fullmatch`` against a lower-cased text."""
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.lower()]
    return re.compile("".join(parts), re.DOTALL)
