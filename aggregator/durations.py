"""The one duration syntax of gpuhours: ``90s``, ``15m``, ``6h``, ``1.5d``, ``2w``.

Used by ``--deadline`` and ``GPUHOURS_SCHEDULE`` alike. A bare number takes the unit its
caller names (hours for a deadline, seconds for a schedule), since that is what each has
always meant.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["UNIT_SECONDS", "parse_duration_seconds"]

UNIT_SECONDS: Final[dict[str, float]] = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1.0),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600.0),
    **dict.fromkeys(("d", "day", "days"), 86400.0),
    **dict.fromkeys(("w", "week", "weeks"), 604800.0),
}
_DURATION: Final = re.compile(r"^\s*(?P<value>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>[a-z]*)\s*$", re.I)


def parse_duration_seconds(text: str, *, bare_unit: str) -> float:
    """Seconds in ``text``; a number without a unit is in ``bare_unit`` (a key of
    :data:`UNIT_SECONDS`). Raises :class:`ValueError` for anything else."""
    match = _DURATION.match(text)
    unit = (match["unit"].lower() if match else "") or bare_unit
    if match is None or unit not in UNIT_SECONDS:
        raise ValueError(f"{text!r} is not a duration (e.g. 90s, 15m, 6h, 1.5d, 2w)")
    return float(match["value"]) * UNIT_SECONDS[unit]
