"""One duration syntax for ``--deadline`` and ``GPUHOURS_SCHEDULE``."""

from __future__ import annotations

import pytest

from aggregator.durations import parse_duration_seconds
from aggregator.scheduler import parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("6h", 21600), ("1.5d", 129600), ("2w", 1209600), (".5h", 1800)],
)
def test_the_same_text_means_the_same_time_everywhere(text: str, seconds: float) -> None:
    from aggregator.cli.plan import parse_duration_hours

    assert parse_duration_seconds(text, bare_unit="h") == seconds
    assert parse_duration(text) == seconds  # GPUHOURS_SCHEDULE
    assert parse_duration_hours(text) * 3600 == pytest.approx(seconds)  # --deadline


def test_a_bare_number_takes_the_callers_unit() -> None:
    assert parse_duration_seconds("72", bare_unit="h") == 72 * 3600  # a deadline
    assert parse_duration("90") == 90  # a schedule


@pytest.mark.parametrize("text", ["soon", "-5", "5 fortnights", "", "1e3h", "h"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration_seconds(text, bare_unit="s")
