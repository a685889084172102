"""Fixtures: the provider on a fixed day, and an environment without a configured sheet."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers import TODAY, at

from gpuhours_pricesheet import PriceSheetProvider


@pytest.fixture
def provider() -> PriceSheetProvider:
    """The provider with its clock stopped on :data:`helpers.TODAY`."""
    return PriceSheetProvider(clock=at(TODAY))


@pytest.fixture(autouse=True)
def _no_sheet_in_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests pass settings explicitly; a developer's own sheet must not leak in."""
    monkeypatch.delenv("GPUHOURS_PRICESHEET_PATH", raising=False)
    monkeypatch.delenv("GPUHOURS_PRICESHEET_FORMAT", raising=False)
    yield
