"""Google Cloud (Compute Engine) GPU prices from the Cloud Billing Catalog API.

Feed ``gcp/catalog`` (daily)
----------------------------
Reads every Compute Engine SKU (service ``6F81-5844-456A``) from the Cloud Billing Catalog
API, ``GET {GPUHOURS_GCP_BILLING_URL}/v1/services/6F81-5844-456A/skus`` with ``key``,
``currencyCode=USD`` and ``pageSize=5000``, following ``nextPageToken``, and composes the
hourly price of each GPU machine type from the SKUs of its parts: vCPUs x the family's core
rate + GiB x its RAM rate + GPUs x the GPU rate, plus bundled local SSD where the machine
type has it (:mod:`plugins.gcp.compose`).

It keeps: on-demand (``OnDemand``), spot (``Preemptible``, interruptible) and committed use
for 1 and 3 years (``Commit1Yr`` / ``Commit3Yr``: ``committed`` offers with ``term_hours``
8,760 / 26,280, no payment option or offering class) prices of the machine types in
:mod:`plugins.gcp.machines`: a2-highgpu-1g..8g and a2-megagpu-16g (A100 40 GB),
a2-ultragpu-1g..8g (A100 80 GB), a3-highgpu-1g..8g (H100), a3-megagpu-8g (H100 Mega),
a3-ultragpu-8g (H200), a4-highgpu-8g (B200), g2-standard-4..96 (L4) and N1 standard hosts with
attached T4, V100, P100 or P4 (``n1-standard-8+2xnvidia-tesla-t4``). An offer exists for a
region, option and term only when every part has a SKU there. ``source`` names the machine
type and the sku id of every part (``core_sku``, ``ram_sku``, ``gpu_sku``, ``ssd_sku``).
Compute Engine prices are Linux-only, shared-tenancy list prices; OS licences are separate
SKUs and are not added.

It skips (:mod:`plugins.gcp.skus`): other machine families and services, custom and
extended-memory shapes, sole tenancy, Dynamic Workload Scheduler / flex-start, calendar mode
and reservations, premiums and surcharges, virtual workstation GPUs, spot commitments,
``CmtCudPremium`` and other usage types. GPU SKUs it does not know are reported as unknown
(never guessed); unreadable or non-USD SKUs that would have been parts are rejected.

Settings
--------
``GPUHOURS_GCP_API_KEY``
    A Google Cloud API key of a project with the Cloud Billing API enabled (required; a
    secret: never logged, redacted from URLs and errors). Without it the feed is reported as
    not configured and the other providers sync as usual.
``GPUHOURS_GCP_BILLING_URL``
    Base URL of the API, default ``https://cloudbilling.googleapis.com`` (a mirror, proxy or
    test server may stand in).
``GPUHOURS_GCP_MAX_PAGES``
    Fail rather than page forever (1000; the real catalog is a handful of pages). A
    chain far longer than any good sync saw also fails; setting this explicitly replaces that
    learned limit for a catalog that really grew.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aggregator.hookspecs import hookimpl

if TYPE_CHECKING:
    from aggregator.providers import Provider
    from plugins.gcp.provider import NOT_CONFIGURED, GcpProvider

__all__ = ["NOT_CONFIGURED", "GcpProvider", "register_providers"]


@hookimpl
def register_providers(register: Callable[[Provider], None]) -> None:
    """Register the Google Cloud provider.

    The provider's module (feeds, parsers, settings) is imported here, not when the plugin
    loads: commands that only need the GPU vocabulary or price terms never pay for it.
    """
    from plugins.gcp.provider import GcpProvider

    register(GcpProvider())


def __getattr__(name: str) -> Any:
    if name in __all__:
        from plugins.gcp import provider

        return getattr(provider, name)
    raise AttributeError(f"module 'plugins.gcp' has no attribute {name!r}")
