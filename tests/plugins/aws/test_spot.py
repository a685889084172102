"""The ``aws/spot`` feed on the recorded spot feeds (JSONP wrapper, legacy regions, N/A*)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from aggregator.errors import ProviderResponseError
from aggregator.models import Offer, PurchaseOption
from plugins.aws.offer_file import RowProblem
from plugins.aws.offers import Unknown
from plugins.aws.settings import AwsSettings
from plugins.aws.spot import SpotFeed, parse_jsonp, region_code, spot_offers
from tests import paths
from tests.plugins.aws import running

FIXTURES = paths.FIXTURES / "aws"
SPOT_URL = "https://spot.test/spot.js"


def recorded_feed() -> str:
    """The recorded spot.js body; the recording had its ``callback(...)`` stripped, so the
    wrapper is put back here to get what AWS serves."""
    return "callback(" + (FIXTURES / "spot-price-test-data.json").read_text() + ");"


def offers_by_key(text: str) -> dict[tuple[str, str], Offer]:
    return {
        (o.region, o.instance_type): o
        for o in spot_offers(parse_jsonp(text))
        if isinstance(o, Offer)
    }


def test_jsonp_wrapper_is_stripped_and_bare_json_accepted() -> None:
    wrapped = parse_jsonp(recorded_feed())
    bare = parse_jsonp((FIXTURES / "spot-price-test-data.json").read_text())
    assert wrapped == bare and wrapped["config"]["valueColumns"] == ["linux", "mswin"]


def test_trailing_commas_of_the_2012_feed_are_tolerated() -> None:
    text = (FIXTURES / "spot.js").read_text()
    with pytest.raises(ValueError):
        json.loads(text[text.index("(") + 1 : text.rindex(")")])  # not strict JSON
    data = parse_jsonp(text)
    assert [r["region"] for r in data["config"]["regions"]] == [
        "us-east",
        "us-west-2",
        "us-west",
        "eu-ireland",
        "apac-sin",
        "apac-tokyo",
        "apac-syd",
        "sa-east-1",
    ]


def test_commas_inside_strings_are_kept() -> None:
    assert parse_jsonp('cb({"a": "x, ]", "b": [1, 2,],})') == {"a": "x, ]", "b": [1, 2]}


def test_unclosed_wrapper_or_garbage_raises() -> None:
    with pytest.raises(ProviderResponseError):
        parse_jsonp('callback({"vers": 0.01}')
    with pytest.raises(ProviderResponseError):
        parse_jsonp("<html>")


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("us-east", "us-east-1"),
        ("us-west", "us-west-1"),
        ("eu-ireland", "eu-west-1"),
        ("apac-sin", "ap-southeast-1"),
        ("apac-syd", "ap-southeast-2"),
        ("apac-tokyo", "ap-northeast-1"),
        ("us-east-2", "us-east-2"),
        ("us-west-2", "us-west-2"),
        ("eu-central-1", "eu-central-1"),
        ("ap-northeast-2", "ap-northeast-2"),
        ("sa-east-1", "sa-east-1"),
        ("us-gov-west-1", "us-gov-west-1"),
        ("eu-west", None),
        ("apac-mumbai", None),
        ("moon-base-1", None),
    ],
)
def test_region_names(name: str, code: str | None) -> None:
    assert region_code(name) == code


def test_gpu_spot_prices_of_the_recorded_feed() -> None:
    found = offers_by_key(recorded_feed())
    p4d = found[("us-east-1", "p4d.24xlarge")]  # feed region "us-east", linux 9.8318
    assert (p4d.price_per_hour, p4d.gpu, p4d.gpu_count, p4d.currency) == (9.8318, "A100", 8, "USD")
    assert p4d.purchase_option is PurchaseOption.SPOT and p4d.interruptible
    assert p4d.source == {
        "spot_region": "us-east",
        "instance_type": "p4d.24xlarge",
        "column": "linux",
        "feed_version": "0.01",
    }
    assert found[("us-east-1", "g4dn.xlarge")].price_per_hour == 0.1578
    assert found[("eu-west-1", "p4d.24xlarge")].price_per_hour == 10.619  # eu-ireland
    assert found[("ap-southeast-2", "p3.2xlarge")].price_per_hour == 1.2702  # apac-syd
    assert found[("us-west-1", "g4dn.xlarge")].price_per_hour == 0.2626  # us-west
    # Only GPU machines: no CPU or Inferentia sizes.
    assert {o.gpu for o in found.values()} <= {"A100", "V100", "T4", "M60", "K80", "V520"}


def test_not_available_prices_are_skipped() -> None:
    found = offers_by_key(recorded_feed())
    # us-west has "N/A*" for p4d.24xlarge, apac-syd for p3dn.24xlarge, us-east-2 for g4ad.
    assert ("us-west-1", "p4d.24xlarge") not in found
    assert ("ap-southeast-2", "p3dn.24xlarge") not in found
    assert ("us-east-2", "g4ad.4xlarge") not in found
    assert ("us-east-1", "g4ad.4xlarge") in found


def test_unknown_gpu_sizes_and_regions_are_reported() -> None:
    data = parse_jsonp(recorded_feed())
    data["config"]["regions"][0]["region"] = "moon-base"
    outcomes = list(spot_offers(data))
    unknown = {o for o in outcomes if isinstance(o, Unknown)}
    assert Unknown("spot region", "moon-base") in unknown
    assert Unknown("spot instance type", "gpuCurrentGen g2.2xlarge") in unknown  # GRID K520
    assert not any("inf1" in u.raw for u in unknown)  # Inferentia: not a GPU, no report
    assert not any(isinstance(o, Offer) and o.region == "us-east-1" for o in outcomes)


def test_the_2012_feed_has_no_known_gpu_sizes() -> None:
    outcomes = list(spot_offers(parse_jsonp((FIXTURES / "spot.js").read_text())))
    assert set(outcomes) == {Unknown("spot instance type", "clusterGPUI xxxxl")}


def test_a_price_that_is_not_a_number_is_a_problem() -> None:
    data = parse_jsonp(recorded_feed())
    gpu = next(t for t in data["config"]["regions"][0]["instanceTypes"] if "gpu" in t["type"])
    p4d = next(s for s in gpu["sizes"] if s["size"] == "p4d.24xlarge")
    p4d["valueColumns"][0]["prices"]["USD"] = "call us"
    problems = [o for o in spot_offers(data) if isinstance(o, RowProblem)]
    assert len(problems) == 1 and "call us" in problems[0].reason


# --- the feed, through the core's HTTP client --------------------------------------------


def run_feed(handler: Callable[[httpx.Request], httpx.Response], state: dict[str, str]) -> Any:
    return running.run_feed(SpotFeed(), handler, AwsSettings(spot_url=SPOT_URL), state)


def test_feed_fetches_the_spot_url_conditionally() -> None:
    router = respx.MockRouter()  # routes are tried in order: the conditional one first
    not_modified = router.get(SPOT_URL, headers={"If-None-Match": '"v1"'}).respond(304)
    fresh = router.get(SPOT_URL).respond(200, text=recorded_feed(), headers={"ETag": '"v1"'})

    state: dict[str, str] = {}
    offers, ctx = run_feed(router.handler, state)
    assert str(router.calls[0].request.url) == SPOT_URL
    assert (fresh.call_count, not_modified.call_count) == (1, 0)
    assert len(offers) == 89 and all(isinstance(o, Offer) for o in offers)
    assert len({o.id for o in offers}) == len(offers)
    # g2.2xlarge and g2.8xlarge are unknown in every region; each is reported once.
    assert sorted(raw for _, raw in ctx.unknowns) == [
        "gpuCurrentGen g2.2xlarge",
        "gpuCurrentGen g2.8xlarge",
    ]
    assert state["spot-feed:etag"] == '"v1"'

    offers, ctx = run_feed(router.handler, state)
    assert (fresh.call_count, not_modified.call_count) == (1, 1)
    assert offers == [] and [u.match for u in ctx.unchanged] == [{}]
