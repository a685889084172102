"""gpuhours core: the cheapest way to buy N GPU-hours. Plugin authors import from here.

Names are imported on first use (PEP 562), so that a command importing any ``aggregator``
module does not pay for pydantic, httpx and pluggy before it needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aggregator.errors import (
        ConfigurationError,
        GpuhoursError,
        InvalidInput,
        NoFeasiblePlan,
        PluginError,
        ProviderAuthError,
        ProviderError,
        ProviderRateLimited,
        ProviderResponseError,
        ProviderUnavailable,
        UnknownGpu,
    )
    from aggregator.hookspecs import hookimpl
    from aggregator.interruptions import InterruptionRate
    from aggregator.models import Billing, Offer, OfferingClass, Payment, PurchaseOption
    from aggregator.providers import Feed, FetchContext, InterruptionFeed, Provider
    from aggregator.terms import PriceTerm

__all__ = [
    "Billing",
    "ConfigurationError",
    "Feed",
    "FetchContext",
    "GpuhoursError",
    "InterruptionFeed",
    "InterruptionRate",
    "InvalidInput",
    "NoFeasiblePlan",
    "Offer",
    "OfferingClass",
    "Payment",
    "PluginError",
    "PriceTerm",
    "Provider",
    "ProviderAuthError",
    "ProviderError",
    "ProviderRateLimited",
    "ProviderResponseError",
    "ProviderUnavailable",
    "PurchaseOption",
    "UnknownGpu",
    "hookimpl",
]

_HOME = {
    **dict.fromkeys(
        (
            "ConfigurationError",
            "GpuhoursError",
            "InvalidInput",
            "NoFeasiblePlan",
            "PluginError",
            "ProviderAuthError",
            "ProviderError",
            "ProviderRateLimited",
            "ProviderResponseError",
            "ProviderUnavailable",
            "UnknownGpu",
        ),
        "aggregator.errors",
    ),
    "hookimpl": "aggregator.hookspecs",
    "InterruptionRate": "aggregator.interruptions",
    **dict.fromkeys(
        ("Billing", "Offer", "OfferingClass", "Payment", "PurchaseOption"), "aggregator.models"
    ),
    **dict.fromkeys(
        ("Feed", "FetchContext", "InterruptionFeed", "Provider"), "aggregator.providers"
    ),
    "PriceTerm": "aggregator.terms",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'aggregator' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
