"""The host floor a plan request assumes unless told otherwise, defined once for the request
model, the planner's messages and the CLI's help (which must not load pydantic to show it).

The data behind both figures: docs/planner.md, "Hosts that starve GPUs".
"""

from __future__ import annotations

__all__ = ["DEFAULT_MIN_MEMORY_GB_PER_GPU", "DEFAULT_MIN_VCPUS_PER_GPU"]

DEFAULT_MIN_VCPUS_PER_GPU = 4.0
"""Host vCPUs per GPU: the fewest any seller ships in a GPU machine of fixed shape
(g4dn.xlarge, g2-standard-4), so only composed hosts below it (N1 with 8 V100 on 4 vCPUs) are
left out."""

DEFAULT_MIN_MEMORY_GB_PER_GPU = 8.0
"""Host memory per GPU, in GB: the least any seller ships in a GPU machine of fixed shape (AWS
g5g.xlarge: 8 GiB for one T4G)."""
