"""The ``lambda/instance-types`` feed on the constructed instance-types answer (no public
recording exists): prices in cents, GPUs from ``gpu_description``, the API key, bad answers,
the kit, a sync and a plan."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

import plugins.lambdacloud
from aggregator.errors import ProviderAuthError, ProviderResponseError
from aggregator.models import SyncStatus
from db import store
from plugins.lambdacloud.feed import InstanceTypesFeed
from plugins.lambdacloud.instance_types import parse_entry
from plugins.lambdacloud.provider import NOT_CONFIGURED, LambdaProvider
from plugins.lambdacloud.settings import DEFAULT_API_URL, LambdaSettings
from tests import paths
from tests.plugins.feed_runs import Run, fetch, plan_after_sync, record, sync

FIXTURE = paths.FIXTURES / "lambda" / "instance-types-constructed.json"
BODY: dict[str, Any] = json.loads(FIXTURE.read_bytes())
BASE = "http://lambda.test"
URL = f"{BASE}/api/v1/instance-types"
KEY = "secret_lambda-test-key-must-not-leak"


def _server(body: bytes | None = None, requests: list[httpx.Request] | None = None) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        if requests is not None:
            requests.append(request)
        if str(request.url) != URL:
            return httpx.Response(404)
        if request.headers.get("authorization") != f"Bearer {KEY}":
            return httpx.Response(401, json={"error": {"code": "global/invalid-api-key"}})
        return httpx.Response(200, content=FIXTURE.read_bytes() if body is None else body)

    return handler


def _run(body: bytes | None = None, key: str | None = KEY) -> Run:
    settings = LambdaSettings(api_url=BASE, api_key=key)
    return fetch(InstanceTypesFeed(), "lambda/instance-types", _server(body), settings)


def _edited(name: str, **fields: Any) -> bytes:
    body = copy.deepcopy(BODY)
    body["data"][name]["instance_type"].update(fields)
    return json.dumps(body).encode()


def test_cents_per_instance_hour_become_dollars_and_gpus_resolve() -> None:
    run = _run()
    h100 = run.find("gpu_8x_h100_sxm5")
    assert (h100.gpu, h100.gpu_count, h100.gpu_memory_gb) == ("H100", 8, 80.0)
    assert h100.price_per_hour == 31.92 and h100.price_per_gpu_hour == pytest.approx(3.99)
    assert h100.source == {"instance_type": "gpu_8x_h100_sxm5"}
    assert (h100.region, h100.currency, h100.interruptible) == ("global", "USD", False)
    assert (h100.vcpus, h100.memory_gb) == (208, 1932.7)  # 1800 GiB
    a100 = run.find("gpu_8x_a100")
    assert (a100.gpu, a100.gpu_memory_gb) == ("A100", 40.0)
    assert run.find("gpu_8x_v100").gpu == "V100"  # "Tesla V100 (16 GB)"
    assert run.find("gpu_1x_rtx6000").gpu == "RTX6000"
    assert run.find("gpu_1x_gh200").gpu_memory_gb == 96.0
    assert len(run.offers) == 16 and run.ctx.rejects == [] and run.ctx.unknowns == []


def test_a_sold_out_type_is_still_priced() -> None:
    # capacity is an observation of the moment, not part of the price
    assert BODY["data"]["gpu_8x_a100_80gb_sxm4"]["regions_with_capacity_available"] == []
    assert _run().find("gpu_8x_a100_80gb_sxm4").price_per_hour == 22.32


def test_capacity_regions_are_parsed() -> None:
    entry = parse_entry("gpu_1x_a10", BODY["data"]["gpu_1x_a10"])
    assert entry is not None and entry.regions_with_capacity == ("us-east-1", "us-west-1")


def test_offers_carry_the_regions_with_capacity_as_listed() -> None:
    run = _run()
    a10 = run.find("gpu_1x_a10")
    assert (a10.available_in, a10.available_now) == (("us-east-1", "us-west-1"), True)
    sold_out = run.find("gpu_8x_a100_80gb_sxm4")
    assert (sold_out.available_in, sold_out.available_now) == ((), False)


def test_without_a_capacity_list_nothing_is_claimed_and_odd_names_are_dropped() -> None:
    raw = copy.deepcopy(BODY["data"]["gpu_1x_a10"])
    del raw["regions_with_capacity_available"]
    entry = parse_entry("gpu_1x_a10", raw)
    assert entry is not None and entry.regions_with_capacity is None
    raw["regions_with_capacity_available"] = [
        {"name": "us-east-1"}, {"name": "us east, 2"}, {"name": ""}, "us-west-1", {}
    ]  # fmt: skip
    entry = parse_entry("gpu_1x_a10", raw)
    assert entry is not None and entry.regions_with_capacity == ("us-east-1",)


def test_a_cpu_only_type_is_no_offer_and_no_reject() -> None:
    body = copy.deepcopy(BODY)
    cpu = copy.deepcopy(body["data"]["gpu_1x_a10"])
    cpu["instance_type"].update(name="cpu_4x_general", gpu_description="", description="CPU")
    cpu["instance_type"]["specs"]["gpus"] = 0
    body["data"]["cpu_4x_general"] = cpu
    run = _run(json.dumps(body).encode())
    assert len(run.offers) == 16 and run.ctx.rejects == []


@pytest.mark.parametrize("cents", [0, -100, "2232", None, float("nan")])
def test_an_unusable_price_rejects_the_type_and_holds_its_offer(cents: Any) -> None:
    run = _run(_edited("gpu_8x_h100_sxm5", price_cents_per_hour=cents))
    assert not any(o.instance_type == "gpu_8x_h100_sxm5" for o in run.offers)
    assert len(run.ctx.rejects) == 1 and "gpu_8x_h100_sxm5" in run.ctx.rejects[0][0]
    assert [k["instance_type"] for k in run.ctx.held] == ["gpu_8x_h100_sxm5"]


def test_an_unknown_gpu_is_reported_not_guessed() -> None:
    run = _run(_edited("gpu_1x_a10", gpu_description="Z900 (64 GB)"))
    assert not any(o.instance_type == "gpu_1x_a10" for o in run.offers)
    assert run.ctx.unknown_names == ["GPU Z900"]


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"<html>bad gateway</html>", "not JSON"),
        (b'["gpu_1x_a10"]', "JSON list, not an object"),
        (b'{"data": []}', "'data' is not an object"),
    ],
)
def test_a_body_that_is_not_an_instance_type_list_is_a_clear_error(body: bytes, match: str) -> None:
    with pytest.raises(ProviderResponseError, match=match):
        _run(body)


def test_the_key_is_sent_as_a_bearer_token_and_a_bad_one_says_what_to_set() -> None:
    requests: list[httpx.Request] = []
    settings = LambdaSettings(api_url=BASE, api_key=KEY)
    fetch(InstanceTypesFeed(), "lambda/instance-types", _server(requests=requests), settings)
    assert [str(r.url) for r in requests] == [URL]
    with pytest.raises(ProviderAuthError, match="GPUHOURS_LAMBDA_API_KEY") as info:
        _run(key="wrong-key-must-not-leak")
    assert "wrong-key" not in str(info.value)


def test_the_key_never_prints(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    settings = LambdaSettings(api_url=BASE, api_key=KEY)
    assert KEY not in repr(settings) and KEY not in str(settings.model_dump())
    _run()
    assert KEY not in caplog.text


def test_the_base_url_is_a_setting_with_the_real_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GPUHOURS_LAMBDA_API_URL", raising=False)
    assert LambdaSettings().api_url == DEFAULT_API_URL == "https://cloud.lambdalabs.com"
    monkeypatch.setenv("GPUHOURS_LAMBDA_API_URL", "http://mirror.test/lambda/")
    assert LambdaSettings().api_url == "http://mirror.test/lambda"


def test_without_a_key_the_provider_is_not_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GPUHOURS_LAMBDA_API_KEY", raising=False)
    provider = LambdaProvider()
    assert provider.missing_credentials(LambdaSettings()) == NOT_CONFIGURED
    assert provider.missing_credentials(LambdaSettings(api_key="  ")) == NOT_CONFIGURED
    assert provider.missing_credentials(LambdaSettings(api_key=KEY)) is None


def test_the_provider_passes_the_gpuhours_kit(gpuhours_check: Any, tmp_path: Path) -> None:
    responses = record(tmp_path, _server(), [(URL, {"Authorization": f"Bearer {KEY}"})])
    assert KEY not in "".join(p.read_text(errors="ignore") for p in tmp_path.rglob("*.json"))
    settings = LambdaSettings(api_url=BASE, api_key="any-key")  # replay needs no real key
    report = gpuhours_check(LambdaProvider(), responses=responses, settings=settings)
    assert report.feeds["lambda/instance-types"].offers == 16


def test_without_a_key_a_sync_is_not_configured_and_sends_nothing(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GPUHOURS_LAMBDA_API_KEY", raising=False)
    requests: list[httpx.Request] = []
    run = sync(engine, "lambda", plugins.lambdacloud, _server(requests=requests))
    assert run.status is SyncStatus.NOT_CONFIGURED and run.error == NOT_CONFIGURED
    assert requests == []


def test_a_sync_stores_the_offers_and_a_broken_answer_changes_nothing(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GPUHOURS_LAMBDA_API_URL", BASE)
    monkeypatch.setenv("GPUHOURS_LAMBDA_API_KEY", KEY)
    run = sync(engine, "lambda", plugins.lambdacloud, _server())
    assert run.status is SyncStatus.OK and run.seen == 16, run.error
    before = store.query_offers(engine, store.OfferQuery(providers=["lambda"]))
    for body in (b"{}", b'{"data": {}}'):
        broken = sync(engine, "lambda", plugins.lambdacloud, _server(body))
        assert broken.status is SyncStatus.FAILED and broken.error
        assert KEY not in broken.error
    after = store.query_offers(engine, store.OfferQuery(providers=["lambda"]))
    assert [(o.id, o.price_per_hour) for o in after] == [(o.id, o.price_per_hour) for o in before]


def test_lambda_offers_appear_in_cheapest_plans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GPUHOURS_LAMBDA_API_URL", BASE)
    monkeypatch.setenv("GPUHOURS_LAMBDA_API_KEY", KEY)
    plan = plan_after_sync(
        tmp_path,
        monkeypatch,
        "lambda",
        plugins.lambdacloud,
        _server(),
        "--provider",
        "lambda",
        "--gpu",
        "A100:40",
        "--gpu-hours",
        "800",
    )
    assert plan["total_cost"] == pytest.approx(1592.0)  # 100 h of gpu_8x_a100 at 15.92 USD/h
    assert {line["instance_type"] for line in plan["lines"]} == {"gpu_8x_a100"}
