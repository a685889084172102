"""Constants and helpers of the tests: the example sheets, a stopped clock, a parser."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from aggregator.gpus import default_vocabulary

from gpuhours_pricesheet import PROVIDER, Rate, parse_sheet
from gpuhours_pricesheet.settings import SheetFormat

PACKAGE = Path(__file__).resolve().parent.parent
EXAMPLE_YAML = PACKAGE / "examples" / "contract-rates.yaml"
EXAMPLE_CSV = PACKAGE / "examples" / "cluster-chargeback.csv"
RECORDINGS = PACKAGE / "tests" / "recordings"
# The URL the recording in RECORDINGS answers (a server returning EXAMPLE_YAML).
RECORDED_URL = "https://rates.example.com/gpu/contract-rates.yaml"

#: The day the example sheets are judged on, so that the tests do not age with the calendar.
TODAY = date(2026, 11, 28)


def at(day: date) -> Callable[[], datetime]:
    """A clock stopped at noon UTC of ``day``."""
    return lambda: datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def parse(text: str, fmt: SheetFormat = "yaml", *, sheet: str = "") -> list[Rate]:
    """Parse a sheet given as text (the name defaults to ``rates.<fmt>``)."""
    return parse_sheet(
        text.encode(),
        fmt,
        sheet=sheet or f"rates.{fmt}",
        vocabulary=default_vocabulary(),
        provider=PROVIDER,
    )
