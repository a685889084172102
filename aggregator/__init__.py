"""gpuhours core: the cheapest way to buy N GPU-hours. Plugin authors import from here."""

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
from aggregator.models import Billing, Offer, OfferingClass, Payment, PurchaseOption
from aggregator.providers import Feed, FetchContext, Provider
from aggregator.terms import PriceTerm

__all__ = [
    "Billing",
    "ConfigurationError",
    "Feed",
    "FetchContext",
    "GpuhoursError",
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
