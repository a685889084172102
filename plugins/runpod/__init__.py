"""RunPod GPU prices from the public ``gpuTypes`` of its GraphQL API (no key needed).

Feed ``runpod/gpu-types`` (hourly): per-GPU on-demand and spot prices of each GPU type in the
secure and the community cloud, as pods of 1 to ``maxGpuCount`` GPUs
(:mod:`plugins.runpod.gpu_types`). Settings: ``GPUHOURS_RUNPOD_API_URL``,
``GPUHOURS_RUNPOD_API_KEY`` (optional). How offers map: docs/providers/runpod.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aggregator.hookspecs import hookimpl

if TYPE_CHECKING:
    from aggregator.providers import Provider
    from plugins.runpod.provider import GpuTypesFeed, RunpodProvider

__all__ = ["GpuTypesFeed", "RunpodProvider", "register_providers"]


@hookimpl
def register_providers(register: Callable[[Provider], None]) -> None:
    """Register the RunPod provider (entry point ``gpuhours.providers``: ``runpod``)."""
    from plugins.runpod.provider import RunpodProvider

    register(RunpodProvider())


def __getattr__(name: str) -> Any:
    if name in __all__:
        from plugins.runpod import provider

        return getattr(provider, name)
    raise AttributeError(f"module 'plugins.runpod' has no attribute {name!r}")
