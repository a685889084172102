"""The ``aws/spot-advisor`` feed on the real Spot Instance Advisor recording (filtered to GPU
instance types, tests/fixtures/aws/PROVENANCE.md), its quirks, and broken answers."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from aggregator.errors import ProviderResponseError
from aggregator.http import RECEIVED_AT_HEADER
from aggregator.interruptions import InterruptionRate
from aggregator.providers import FetchContext
from plugins.aws import spot_advisor
from plugins.aws.families import lookup
from plugins.aws.rows import RowProblem
from plugins.aws.settings import DEFAULT_SPOT_ADVISOR_URL, AwsSettings
from plugins.aws.spot_advisor import SpotAdvisorFeed, advisor_rates, buckets
from tests import paths
from tests.plugins.aws import running

RECORDING = paths.FIXTURES / "aws" / "spot-advisor-data.json"
URL = "https://advisor.test/spot-advisor-data.json"
RECEIVED = "2025-06-28T00:00:00+00:00"


def recorded() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(RECORDING.read_text())
    return data


def parse(data: object) -> tuple[dict[tuple[str, str], InterruptionRate], list[RowProblem]]:
    rates: dict[tuple[str, str], InterruptionRate] = {}
    problems: list[RowProblem] = []
    for outcome in advisor_rates(data, url=URL):
        if isinstance(outcome, RowProblem):
            problems.append(outcome)
        else:
            rates[(outcome.region, outcome.instance_type)] = outcome
    return rates, problems


def with_row(region: str, instance_type: str, row: object) -> dict[str, Any]:
    """The recording with one Linux row replaced."""
    data = recorded()
    data["spot_advisor"][region]["Linux"][instance_type] = row
    return data


# --------------------------------------------------------------------------------------------
# The real recording


def test_the_buckets_bounds_come_from_the_published_maxima() -> None:
    scale = buckets(recorded()["ranges"])
    assert [(b.label, b.min_percent, b.max_percent) for b in scale.values()] == [
        ("<5%", 0, 5),
        ("5-10%", 5, 11),  # AWS's max is 11 where the label says 10: kept as published
        ("10-15%", 11, 16),
        ("15-20%", 16, 22),
        (">20%", 22, 100),
    ]


def test_every_linux_gpu_row_of_the_recording_becomes_a_rate() -> None:
    rates, problems = parse(recorded())
    assert problems == []
    linux = {
        (region, t)
        for region, systems in recorded()["spot_advisor"].items()
        for t in systems["Linux"]
    }
    assert set(rates) == linux and len(rates) == 682
    assert all(lookup(t) is not None for _, t in rates)
    assert {r.provider for r in rates.values()} == {"aws"}
    assert {b: sum(r.bucket == b for r in rates.values()) for b in range(5)} == {
        0: 179,
        1: 68,
        2: 71,
        3: 74,
        4: 290,
    }


def test_a_negative_saving_is_kept_as_published() -> None:
    rates, _ = parse(recorded())
    p5 = rates[("ca-central-1", "p5.48xlarge")]  # spot dearer than on-demand there
    assert (p5.savings_percent, p5.bucket, p5.bucket_label) == (-62, 0, "<5%")
    assert (p5.interruption_min_percent, p5.interruption_max_percent) == (0, 5)


def test_an_instance_type_absent_from_a_region_has_no_rate_and_no_problem() -> None:
    rates, problems = parse(recorded())
    p5_regions = {region for region, t in rates if t == "p5.48xlarge"}
    assert len(p5_regions) == 11 and "us-east-1" in p5_regions
    assert "eu-west-1" not in p5_regions and problems == []
    # six regions list no GPU type at all: they yield nothing, and that is no error
    empty = {r for r, s in recorded()["spot_advisor"].items() if not s["Linux"]}
    assert empty == {"ca-west-1", "ap-southeast-4", "ap-east-2", "mx-central-1",
                     "ap-southeast-7", "ap-south-2"}  # fmt: skip
    assert not any(region in empty for region, _ in rates)


def test_the_windows_section_is_ignored() -> None:
    data = recorded()
    assert data["spot_advisor"]["ca-central-1"]["Windows"]["g5.xlarge"] == {"s": 55, "r": 0}
    rates, _ = parse(data)
    g5 = rates[("ca-central-1", "g5.xlarge")]
    assert (g5.savings_percent, g5.bucket) == (61, 4)  # the Linux row
    del data["spot_advisor"]["ca-central-1"]["Windows"]
    assert parse(data)[0] == rates


def test_a_rates_source_points_at_its_row_and_its_bucket() -> None:
    data = recorded()
    rates, _ = parse(data)
    rate = rates[("us-east-1", "p4d.24xlarge")]
    assert rate.source == {
        "url": URL,
        "path": "/spot_advisor/us-east-1/Linux/p4d.24xlarge",
        "range": "/ranges/2",
    }
    row: Any = data
    for part in rate.source["path"].split("/")[1:]:
        row = row[part]
    assert row == {"s": 67, "r": 2} and data["ranges"][2]["label"] == rate.bucket_label


def test_instance_types_outside_the_gpu_table_are_skipped_quietly() -> None:
    data = with_row("us-east-1", "m5.large", {"s": 50, "r": 1})
    data["spot_advisor"]["us-east-1"]["Linux"]["inf2.xlarge"] = {"s": 50, "r": 1}
    data["spot_advisor"]["us-east-1"]["Linux"]["p9z.48xlarge"] = {"s": 50, "r": 1}
    rates, problems = parse(data)
    assert len(rates) == 682 and problems == []


# --------------------------------------------------------------------------------------------
# Broken answers: a broken file fails the feed, a broken row is rejected with its key


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "not a JSON object"),
        ({"spot_advisor": {}}, "no 'ranges' list"),
        ({"ranges": [], "spot_advisor": {}}, "no 'ranges' list"),
        ({"ranges": [{"index": 0, "label": "<5%", "max": 5}]}, "no 'spot_advisor' object"),
        ({"ranges": [{"index": 0, "label": "<5%", "max": 5}], "spot_advisor": []}, "spot_advisor"),
    ],
)
def test_an_unusable_file_fails_the_feed(data: object, message: str) -> None:
    with pytest.raises(ProviderResponseError, match=message):
        list(advisor_rates(data, url=URL))


@pytest.mark.parametrize(
    "ranges",
    [
        [{"index": "0", "label": "<5%", "max": 5}],
        [{"index": True, "label": "<5%", "max": 5}],
        [{"index": 0, "label": "<5%", "max": 5}, {"index": 0, "label": "x", "max": 9}],
        [{"index": 0, "label": "", "max": 5}],
        [{"index": 0, "label": "<5%", "max": 0}],
        [{"index": 0, "label": "<5%", "max": 150}],
        [{"index": 0, "label": "<5%", "max": float("nan")}],
        [{"index": 0, "label": "<5%", "max": "5"}],
        [{"index": 0, "label": "<5%"}],
        ["<5%"],
    ],
)
def test_a_malformed_range_fails_the_feed(ranges: list[Any]) -> None:
    with pytest.raises(ProviderResponseError, match="malformed range"):
        buckets(ranges)


def test_ranges_that_do_not_rise_fail_the_feed() -> None:
    ranges = [{"index": 0, "label": "a", "max": 20}, {"index": 1, "label": "b", "max": 10}]
    with pytest.raises(ProviderResponseError, match="do not rise"):
        buckets(ranges)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"s": 50, "r": 7}, "unknown range index 7"),
        ({"s": 50, "r": -1}, "unknown range index -1"),
        ({"s": 50, "r": "1"}, "unknown range index '1'"),
        ({"s": 50, "r": True}, "unknown range index True"),
        ({"s": 50}, "unknown range index None"),
        ({"s": -5000, "r": 1}, "savings -5000 is not a percentage"),
        ({"s": 101, "r": 1}, "savings 101 is not a percentage"),
        ({"s": "62", "r": 1}, "savings '62' is not a percentage"),
        ({"s": True, "r": 1}, "savings True is not a percentage"),
        ({"s": float("inf"), "r": 1}, "savings inf is not a percentage"),
        ({"r": 1}, "savings None is not a percentage"),
        ([50, 1], "unknown range index None"),
    ],
)
def test_a_malformed_row_is_rejected_with_its_key(row: object, reason: str) -> None:
    rates, problems = parse(with_row("us-east-1", "p5.48xlarge", row))
    assert [p.reason.removesuffix(" in -1000..100") for p in problems] == [reason]
    assert problems[0].offer == {"region": "us-east-1", "instance_type": "p5.48xlarge"}
    assert ("us-east-1", "p5.48xlarge") not in rates and len(rates) == 681


def test_savings_at_the_bounds_are_accepted() -> None:
    data = with_row("us-east-1", "p5.48xlarge", {"s": -1000, "r": 0})
    data["spot_advisor"]["us-east-1"]["Linux"]["p4d.24xlarge"] = {"s": 100, "r": 0}
    rates, problems = parse(data)
    assert problems == []
    assert rates[("us-east-1", "p5.48xlarge")].savings_percent == -1000
    assert rates[("us-east-1", "p4d.24xlarge")].savings_percent == 100


@pytest.mark.parametrize("region", ["", "US East", "us_east_1", "x" * 100, "us-east-1-" * 5])
def test_a_key_that_is_no_region_code_is_rejected(region: str) -> None:
    data = recorded()
    data["spot_advisor"][region] = copy.deepcopy(data["spot_advisor"]["us-east-1"])
    rates, problems = parse(data)
    assert [p.reason for p in problems] == [f"{region[:40]!r} is not a region code"]
    assert len(rates) == 682


@pytest.mark.parametrize("systems", [[], "Linux", {"Windows": {}}, {"Linux": []}])
def test_a_region_without_a_linux_object_is_rejected(systems: object) -> None:
    data = recorded()
    data["spot_advisor"]["us-east-1"] = systems
    rates, problems = parse(data)
    assert [p.reason for p in problems] == ["region us-east-1 has no Linux object"]
    assert not any(region == "us-east-1" for region, _ in rates)


# --------------------------------------------------------------------------------------------
# The feed through the core's HTTP client


def run_feed(handler: Any, state: dict[str, str] | None = None) -> tuple[list[Any], FetchContext]:
    return running.run_feed(SpotAdvisorFeed(), handler, AwsSettings(spot_advisor_url=URL), state)


def answer(body: bytes, **headers: str) -> httpx.Response:
    return httpx.Response(200, content=body, headers={RECEIVED_AT_HEADER: RECEIVED, **headers})


def test_the_feed_reads_the_url_conditionally_and_dates_rates_by_their_response() -> None:
    router = respx.MockRouter()  # routes are tried in order: the conditional one first
    not_modified = router.get(URL, headers={"If-None-Match": '"v1"'}).respond(304)
    fresh = router.get(URL).mock(return_value=answer(RECORDING.read_bytes(), ETag='"v1"'))
    state: dict[str, str] = {}
    rates, ctx = run_feed(router.handler, state)
    assert len(rates) == 682 and all(isinstance(r, InterruptionRate) for r in rates)
    assert {r.observed_at for r in rates} == {datetime(2025, 6, 28, tzinfo=UTC)}
    assert ctx.rejects == [] and state["spot-advisor:etag"] == '"v1"'

    rates, ctx = run_feed(router.handler, state)
    assert (fresh.call_count, not_modified.call_count) == (1, 1)
    assert rates == [] and [u.match for u in ctx.unchanged] == [{}]


def test_a_rejected_row_is_reported_with_its_key_for_the_engine_to_hold() -> None:
    body = json.dumps(with_row("eu-west-1", "g5.xlarge", {"s": 1, "r": 9})).encode()
    rates, ctx = run_feed(lambda request: answer(body))
    assert len(rates) == 681
    assert [reason for reason, _ in ctx.rejects] == ["unknown range index 9"]
    assert ctx.held == [{"region": "eu-west-1", "instance_type": "g5.xlarge"}]


@pytest.mark.parametrize(
    "body", [b"<html>AccessDenied</html>", b"", b"[" * 100_000, b'{"ranges": [}']
)
def test_a_body_that_is_not_json_fails_clearly(body: bytes) -> None:
    with pytest.raises(ProviderResponseError, match="is not JSON"):
        run_feed(lambda request: answer(body))


def test_a_body_past_the_size_bound_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spot_advisor, "MAX_BODY_BYTES", 1000)
    with pytest.raises(ProviderResponseError, match="larger than 1,000 bytes"):
        run_feed(lambda request: answer(RECORDING.read_bytes()))


def test_the_url_is_a_setting_with_the_public_file_as_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GPUHOURS_AWS_SPOT_ADVISOR_URL", raising=False)
    assert AwsSettings().spot_advisor_url == DEFAULT_SPOT_ADVISOR_URL
    assert DEFAULT_SPOT_ADVISOR_URL == (
        "https://spot-bid-advisor.s3.amazonaws.com/spot-advisor-data.json"
    )
    monkeypatch.setenv("GPUHOURS_AWS_SPOT_ADVISOR_URL", "https://mirror.test/advisor.json")
    assert AwsSettings().spot_advisor_url == "https://mirror.test/advisor.json"
