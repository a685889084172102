"""The test kit for provider plugins: check any provider against recorded responses.

::

    from aggregator.testing import check_provider

    def test_my_provider() -> None:
        report = check_provider(MyProvider(), responses=Path(__file__).parent / "responses")
        assert report.feeds["mine/on-demand"].offers > 0

:func:`check_provider` replays every feed twice without network and fails, with a
:class:`ProviderCheckFailed` (an ``AssertionError``) naming every failed check, feed and row,
unless all of :data:`CHECKS` pass. Under pytest the ``gpuhours_check`` fixture returns the
same function (:mod:`aggregator.testing.pytest_plugin`). docs/plugins.md, "Testing your
plugin", explains the checks.

``check_provider`` is imported on first use: it pulls in the sync engine, and this package is
imported by the pytest plugin in every pytest run wherever gpuhours is installed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from aggregator.testing.report import (
    CHECKS,
    CheckFailure,
    FeedReport,
    ProviderCheckFailed,
    ProviderReport,
)

if TYPE_CHECKING:
    from aggregator.testing.kit import check_provider

__all__ = [
    "CHECKS",
    "CheckFailure",
    "FeedReport",
    "ProviderCheckFailed",
    "ProviderReport",
    "check_provider",
]


def __getattr__(name: str) -> Any:
    if name == "check_provider":
        return importlib.import_module("aggregator.testing.kit").check_provider
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
