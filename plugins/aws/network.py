"""The offer file's ``Network Performance`` column as a sustained bandwidth, in Gbit/s.

It is the seller's own figure for the instance's network, the one EFA traffic shares. Only
exact figures are taken: ``3200 Gigabit``, ``37500 Megabit``, ``4x 100 Gigabit``. An ``Up
to`` figure is a burst the instance reaches on a best-effort basis from a lower baseline (AWS
documents the baseline elsewhere, not in the price list), and the words of older generations
(``High``, ``Moderate``, ``Low to Moderate``) name no number: both give ``None``, so a
bandwidth filter never counts a burst as sustained. See docs/providers/aws.md.
"""

from __future__ import annotations

import re

__all__ = ["NETWORK_COLUMN", "sustained_gbps"]

NETWORK_COLUMN = "Network Performance"

_FIGURE = re.compile(
    r"^\s*(?:(?P<links>\d+)\s*x\s*)?(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>Gigabit|Megabit)\s*$",
    re.IGNORECASE,
)
_PER_GIGABIT = {"gigabit": 1, "megabit": 1000}


def sustained_gbps(text: str) -> float | None:
    """``"3200 Gigabit"`` -> 3200.0, ``"25000 Megabit"`` -> 25.0; ``"Up to 25 Gigabit"``,
    ``"High"``, ``"NA"`` and anything else -> ``None``."""
    match = _FIGURE.match(text)
    if not match:
        return None
    links = int(match["links"]) if match["links"] else 1
    gbps = links * float(match["n"]) / _PER_GIGABIT[match["unit"].lower()]
    return gbps if gbps > 0 else None
