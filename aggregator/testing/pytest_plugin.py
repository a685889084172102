"""The gpuhours pytest plugin: a ``gpuhours_check`` fixture for testing provider plugins.

Registered through the ``pytest11`` entry point ``gpuhours``, so pytest loads it in every run
wherever gpuhours is installed. It is therefore opt-in and inert: importing it defines one
fixture and nothing else (no hooks, options, markers or warnings filters); the kit, which
imports the sync engine, is imported only when a test asks for the fixture.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from aggregator.testing.report import ProviderReport

__all__ = ["gpuhours_check"]


@pytest.fixture
def gpuhours_check() -> Callable[..., ProviderReport]:
    """:func:`aggregator.testing.check_provider`: check a provider against recorded responses.

    ``gpuhours_check(MyProvider(), responses=Path(...))`` returns a report or fails the test
    naming every failed check, feed and row.
    """
    from aggregator.testing.kit import check_provider

    return check_provider
