"""The hooks a gpuhours plugin can implement. Plugins register objects; the work runs later,
in those objects, outside pluggy (so one broken plugin never stops the others)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pluggy import HookimplMarker, HookspecMarker

if TYPE_CHECKING:
    from aggregator.gpus import GpuSpec
    from aggregator.providers import Provider
    from aggregator.terms import PriceTerm

__all__ = ["hookimpl", "hookspec", "register_gpus", "register_price_terms", "register_providers"]

hookspec = HookspecMarker("gpuhours")
hookimpl = HookimplMarker("gpuhours")


@hookspec
def register_providers(register: Callable[[Provider], None]) -> None:
    """Call ``register(provider)`` with an instance of each Provider this plugin adds."""


@hookspec
def register_gpus(register: Callable[[GpuSpec], None]) -> None:
    """Call ``register(spec)`` with each GpuSpec (canonical GPU and its aliases) to add."""


@hookspec
def register_price_terms(register: Callable[[PriceTerm], None]) -> None:
    """Call ``register(term)`` with each PriceTerm (a negotiated price) planning applies."""
