"""The ``aws/on-demand`` feed end to end through the core's HTTP client and a mock server.

The server answers with the real recorded ``region_index.json`` (101 regions, version
20250523232744) and, per region, an offer file in the real CSV layout: the constructed GPU file
for us-east-1, a header-only file for every other region.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from aggregator.errors import ProviderResponseError, ProviderUnavailable
from aggregator.models import Offer, PurchaseOption
from aggregator.providers import FetchContext
from plugins.aws.on_demand import OnDemandFeed
from plugins.aws.regional import PARSER_REVISION
from plugins.aws.settings import AwsSettings
from tests import paths
from tests.plugins.aws.running import run_feed

FIXTURES = paths.FIXTURES / "aws"
BASE = "https://pricing.test"
INDEX_PATH = "/offers/v1.0/aws/AmazonEC2/current/region_index.json"
VERSION = "20250523232744"
GPU_CSV = (FIXTURES / "ec2-us-east-1-gpu.csv").read_bytes()
HEADER_ONLY_CSV = b"\n".join(GPU_CSV.split(b"\n")[:6]) + b"\n"
REGIONS = 101


def csv_path(region: str) -> str:
    return f"/offers/v1.0/aws/AmazonEC2/{VERSION}/{region}/index.csv"


class Server:
    """A mock pricing host; ``bodies`` overrides what a path answers."""

    def __init__(self, **bodies: Callable[[], httpx.Response]) -> None:
        self.bodies = bodies
        self.requests: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.requests.append(path)
        if path in self.bodies:
            return self.bodies[path]()
        if path == INDEX_PATH:
            return httpx.Response(200, content=(FIXTURES / "region_index.json").read_bytes())
        if path == csv_path("us-east-1"):
            return httpx.Response(200, content=GPU_CSV)
        if path.startswith(f"/offers/v1.0/aws/AmazonEC2/{VERSION}/") and path.endswith(".csv"):
            return httpx.Response(200, content=HEADER_ONLY_CSV)
        return httpx.Response(404, text="no such key")

    @property
    def csv_requests(self) -> list[str]:
        return [p for p in self.requests if p.endswith(".csv")]


def run(
    server: Server, state: dict[str, str] | None = None, settings: AwsSettings | None = None
) -> tuple[list[Any], FetchContext]:
    settings = settings or AwsSettings(pricing_url=BASE + "/", regions="")
    return run_feed(OnDemandFeed(), server, settings, state)


def test_full_fetch_reads_every_region_of_the_index() -> None:
    server = Server()
    offers, ctx = run(server)
    assert server.requests[0] == INDEX_PATH
    assert len(server.csv_requests) == REGIONS and csv_path("us-east-1") in server.csv_requests
    assert all(isinstance(o, Offer) for o in offers)
    assert len(offers) == 26 and {o.region for o in offers} == {"us-east-1"}
    kinds = {(o.instance_type, o.purchase_option) for o in offers}
    assert kinds == {
        (t, p)
        for t in ("p4d.24xlarge", "p5.48xlarge")
        for p in (PurchaseOption.ON_DEMAND, PurchaseOption.RESERVED)
    }
    assert [raw for _, raw in ctx.unknowns] == ["g2.2xlarge"]
    assert len(ctx.rejects) == 1 and "p4de.24xlarge" in ctx.rejects[0][0]
    assert ctx.unchanged == []
    assert ctx.state["offer-file:us-east-1"] == (
        f"{PARSER_REVISION}|/offers/v1.0/aws/AmazonEC2/{VERSION}/us-east-1/index.json"
    )
    assert len([k for k in ctx.state if k.startswith("offer-file:")]) == REGIONS


def test_published_on_demand_prices_through_the_feed() -> None:
    offers, _ = run(Server())
    on_demand = {
        o.instance_type: o.price_per_hour
        for o in offers
        if o.purchase_option is PurchaseOption.ON_DEMAND
    }
    # Published us-east-1 prices (SkyPilot catalog v8): p4d 21.957642, p5 55.04.
    assert on_demand["p4d.24xlarge"] == pytest.approx(21.957642, rel=0.01)
    assert on_demand["p5.48xlarge"] == pytest.approx(55.04, rel=0.01)


def test_unchanged_versions_are_skipped_without_downloading() -> None:
    _, first = run(Server())
    server = Server()
    offers, ctx = run(server, state=dict(first.state))
    assert offers == []
    assert server.requests == [INDEX_PATH]  # no CSV request at all
    assert len(ctx.unchanged) == REGIONS
    assert {"region": "us-east-1"} in [dict(u.match) for u in ctx.unchanged]


def test_only_the_region_whose_version_changed_is_downloaded() -> None:
    _, first = run(Server())
    state = dict(first.state)
    state["offer-file:us-east-1"] = f"{PARSER_REVISION}|/offers/v1.0/aws/AmazonEC2/2024/x.json"
    server = Server()
    offers, ctx = run(server, state=state)
    assert server.csv_requests == [csv_path("us-east-1")]
    assert len(offers) == 26 and len(ctx.unchanged) == REGIONS - 1
    assert {"region": "us-east-1"} not in [dict(u.match) for u in ctx.unchanged]


def test_a_new_parser_revision_downloads_again() -> None:
    _, first = run(Server())
    state = {k: v.replace(f"{PARSER_REVISION}|", "0|", 1) for k, v in first.state.items()}
    server = Server()
    run(server, state=state)
    assert len(server.csv_requests) == REGIONS


def test_regions_setting_limits_the_downloads(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("GPUHOURS_AWS_PRICING_URL", BASE)
    monkeypatch.setenv("GPUHOURS_AWS_REGIONS", "us-east-1, eu-west-1,,nowhere-1")
    server = Server()
    with caplog.at_level(logging.WARNING):
        offers, ctx = run(server, settings=AwsSettings())
    assert sorted(server.csv_requests) == [csv_path("eu-west-1"), csv_path("us-east-1")]
    assert len(offers) == 26 and ctx.unchanged == []
    assert "nowhere-1" in caplog.text


def dropping_body(data: bytes, keep: int) -> Callable[[], httpx.Response]:
    """A response whose connection breaks off after ``keep`` bytes of ``data``."""

    class Dropping(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield data[:keep]
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body"
            )

    return lambda: httpx.Response(200, stream=Dropping())


def test_a_dropped_connection_fails_the_fetch_and_records_no_version() -> None:
    server = Server(**{csv_path("us-east-1"): dropping_body(GPU_CSV, len(GPU_CSV) // 2)})
    state: dict[str, str] = {}
    with pytest.raises(ProviderUnavailable, match="reading the body"):
        run(server, state=state, settings=AwsSettings(pricing_url=BASE, regions="us-east-1"))
    assert "offer-file:us-east-1" not in state


def test_a_body_cut_mid_row_fails_the_fetch() -> None:
    cut = GPU_CSV[: GPU_CSV.rindex(b"\n", 0, len(GPU_CSV) - 1) + 300]
    server = Server(**{csv_path("us-east-1"): lambda: httpx.Response(200, content=cut)})
    state: dict[str, str] = {}
    with pytest.raises(ProviderResponseError, match="middle of a row"):
        run(server, state=state, settings=AwsSettings(pricing_url=BASE, regions="us-east-1"))
    assert "offer-file:us-east-1" not in state


def test_a_missing_offer_file_fails_the_fetch() -> None:
    server = Server(**{csv_path("us-east-1"): lambda: httpx.Response(404, text="NoSuchKey")})
    with pytest.raises(ProviderResponseError, match="404"):
        run(server, settings=AwsSettings(pricing_url=BASE, regions="us-east-1"))


def test_a_broken_region_index_fails_the_fetch() -> None:
    server = Server(**{INDEX_PATH: lambda: httpx.Response(200, text="<html>maintenance</html>")})
    with pytest.raises(ProviderResponseError, match="not a region index"):
        run(server)


def test_rows_of_another_region_are_not_taken_from_a_file(
    caplog: pytest.LogCaptureFixture,
) -> None:
    china = (FIXTURES / "ec2-cn-north-1-gpu.csv").read_bytes()
    server = Server(**{csv_path("us-east-2"): lambda: httpx.Response(200, content=china)})
    with caplog.at_level(logging.WARNING):
        offers, _ = run(server, settings=AwsSettings(pricing_url=BASE, regions="us-east-2"))
    assert offers == []
    assert "other regions in the offer file of us-east-2" in caplog.text
