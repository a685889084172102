"""The host floor and job timing a plan request assumes unless told otherwise, defined once for
the request model, the planner's messages and the CLI's help (which must not load pydantic).

The data behind both figures: docs/planner.md, "Hosts that starve GPUs".
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_CHECKPOINT_MINUTES",
    "DEFAULT_MIN_MEMORY_GB_PER_GPU",
    "DEFAULT_MIN_VCPUS_PER_GPU",
    "DEFAULT_RESTART_MINUTES",
    "MAX_JOB_MINUTES",
]

DEFAULT_MIN_VCPUS_PER_GPU = 4.0
"""Host vCPUs per GPU: the fewest any seller ships in a GPU machine of fixed shape
(g4dn.xlarge, g2-standard-4), so only composed hosts below it (N1 with 8 V100 on 4 vCPUs) are
left out."""

DEFAULT_MIN_MEMORY_GB_PER_GPU = 8.0
"""Host memory per GPU, in GB: the least any seller ships in a GPU machine of fixed shape (AWS
g5g.xlarge: 8 GiB for one T4G)."""

DEFAULT_CHECKPOINT_MINUTES = 30.0
"""How often a training job is assumed to checkpoint when ``spot_overhead`` is ``auto``."""

DEFAULT_RESTART_MINUTES = 10.0
"""How long a job is assumed to need to resume from its checkpoint on a new instance."""

MAX_JOB_MINUTES = 1440.0
"""Longest checkpoint interval or restart a request may state: a day."""
