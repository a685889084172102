"""Oracle Cloud Infrastructure GPU prices from Oracle's public price list.

Feed ``oci/price-list`` (daily) reads ``GET {GPUHOURS_OCI_API_URL}/products/`` and prices the
GPU shapes of :mod:`plugins.oci.shapes` from their "GPU Per Hour" parts: on demand, and
preemptible at OCI's documented 50 %. No credentials. Settings: ``GPUHOURS_OCI_API_URL``,
``GPUHOURS_OCI_CURRENCY``, ``GPUHOURS_OCI_MAX_PAGES``. What is read and how: docs/providers/oci.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aggregator.hookspecs import hookimpl

if TYPE_CHECKING:
    from aggregator.providers import Provider

__all__ = ["register_providers"]


@hookimpl
def register_providers(register: Callable[[Provider], None]) -> None:
    """Register the OCI provider; its module is imported only here (cheap plugin loading)."""
    from plugins.oci.provider import OciProvider

    register(OciProvider())
