"""Limits on what users may ask: one definition each, shared by the CLI, the HTTP API and its
OpenAPI schema, so both refuse the same input with the same message.

Each is far beyond any real request and small enough that no input can make a query, a plan
or a response expensive.
"""

from __future__ import annotations

__all__ = [
    "MAX_BUDGET",
    "MAX_CAPACITY_PLACES",
    "MAX_INTERCONNECT_GBPS",
    "MAX_INTERCONNECT_NAME",
    "MAX_LIST_ITEMS",
    "MAX_MEMORY_GB_PER_GPU",
    "MAX_OFFER_LIMIT",
    "MAX_PATTERN_LENGTH",
    "MAX_PATTERN_WILDCARDS",
    "MAX_PLACE_NAME",
    "MAX_REQUEST_BODY_BYTES",
    "MAX_TERMS_FILE_BYTES",
    "MAX_TEXT_LENGTH",
    "MAX_VCPUS_PER_GPU",
    "MAX_WORK_RATIO",
    "MIN_DEADLINE_HOURS",
    "too_long",
    "validation_message",
]

MAX_REQUEST_BODY_BYTES = 64 * 1024
"""Largest HTTP request body the API reads (a plan request is well under 1 KiB); 413 above."""

MAX_TEXT_LENGTH = 200
"""Longest GPU name, provider name, offer id, currency or other single text value."""

MAX_LIST_ITEMS = 100
"""Most values of one list filter (``--gpu`` repeated, ``regions`` ...)."""

MAX_PATTERN_LENGTH = 100
"""Longest region or instance-type glob (region codes are under 30 characters)."""

MAX_PATTERN_WILDCARDS = 8
"""Most ``*`` and ``?`` in one glob: SQLite refuses some long LIKE patterns outright, and
matching cost grows with the number of wildcards."""

MAX_OFFER_LIMIT = 100_000
"""Most offers one ``gpuhours offers`` listing returns (``--limit``)."""

MIN_DEADLINE_HOURS = 0.1
"""Shortest plan deadline (6 minutes): below it a plan would need absurd numbers of GPUs."""

MAX_INTERCONNECT_GBPS = 100_000.0
"""Largest instance-to-instance bandwidth, in Gbit/s, that an offer may state or a filter ask
for (the largest documented today is 6,400): a bigger figure is a unit mistake."""

MAX_INTERCONNECT_NAME = 40
"""Longest fabric name an offer may carry (``GPUDirect-TCPXO`` is 15 characters)."""

MAX_CAPACITY_PLACES = 500
"""Most regions or data centers an offer may list as having capacity (sellers have dozens)."""

MAX_PLACE_NAME = 40
"""Longest region or data-center name in an offer's capacity list (``us-east-1``, ``EU-RO-1``)."""

MAX_VCPUS_PER_GPU = 10_000.0
"""Largest vCPUs-per-GPU a filter may ask for (a 1/8 GPU slice of a 448-vCPU host is 3,584)."""

MAX_MEMORY_GB_PER_GPU = 100_000.0
"""Largest host memory per GPU, in GB, that a filter may ask for."""

MAX_BUDGET = 1e9
"""Largest plan budget, in the plan's currency: a billion buys more than any store's capacity."""

MAX_WORK_RATIO = 1000.0
"""How far apart two GPUs' throughputs may be in a work-normalized plan (1/1000 to 1000 times
the reference GPU's): wider ratios are typing mistakes, and would spoil the solver's scaling."""

MAX_TERMS_FILE_BYTES = 1024 * 1024
"""Largest price-terms file read (``GPUHOURS_TERMS_FILE``); a real one is a few KiB."""


def too_long(max_length: int) -> str:
    """What a text over ``max_length`` characters gets, in pydantic's words, so that a limit
    checked by hand reads exactly as one the schema enforces."""
    return f"String should have at most {max_length} characters"


def validation_message(msg: str) -> str:
    """A pydantic error message as users see it: without the ``Value error, `` of a validator."""
    return msg.removeprefix("Value error, ")
