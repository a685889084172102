"""The ``oci/price-list`` feed on the real (trimmed) price-list recording: which parts price
which shapes, the lookalike rows it must leave out, bad answers, the kit, a sync and a plan."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

import plugins.oci
from aggregator.errors import ProviderResponseError
from aggregator.models import SyncStatus
from db import store
from plugins.oci.feed import PriceListFeed
from plugins.oci.price_list import SkipKind, classify
from plugins.oci.provider import OciProvider
from plugins.oci.settings import DEFAULT_API_URL, OciSettings
from tests import paths
from tests.plugins.feed_runs import Run, fetch, plan_after_sync, record, sync

RECORDING = paths.FIXTURES / "oci" / "products_usd-gpu-rows-2026-08-22-gpu-index.json"
BODY: dict[str, Any] = json.loads(RECORDING.read_bytes())
BASE = "http://oci.test/cetools/api/v1"
URL = f"{BASE}/products/?currencyCode=USD"


def _server(body: bytes | None = None, requests: list[httpx.Request] | None = None) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        if requests is not None:
            requests.append(request)
        if str(request.url) != URL:
            return httpx.Response(404)
        return httpx.Response(200, content=RECORDING.read_bytes() if body is None else body)

    return handler


def _run(body: bytes | None = None) -> Run:
    return fetch(PriceListFeed(), "oci/price-list", _server(body), OciSettings(api_url=BASE))


def _item(part: str) -> dict[str, Any]:
    return copy.deepcopy(next(i for i in BODY["items"] if i["partNumber"] == part))


def _with(*items: dict[str, Any]) -> bytes:
    body = copy.deepcopy(BODY)
    body["items"] = [
        i for i in body["items"] if i["partNumber"] not in {x["partNumber"] for x in items}
    ]
    body["items"].extend(items)
    return json.dumps(body).encode()


def test_real_parts_price_their_shapes_per_gpu_hour_times_gpus() -> None:
    run = _run()
    h100 = run.find("BM.GPU.H100.8")
    assert (h100.gpu, h100.gpu_count, h100.gpu_memory_gb) == ("H100", 8, 80.0)
    assert h100.price_per_hour == 80.0 and h100.price_per_gpu_hour == 10.0  # B98415: 10/GPU-h
    assert h100.source == {"part_number": "B98415", "shape": "BM.GPU.H100.8"}
    assert (h100.region, h100.currency) == ("global", "USD")
    assert run.find("BM.GPU.MI300X.8").price_per_hour == 48.0  # B109485: 6
    assert run.find("BM.GPU.L40S.4").price_per_hour == 14.0  # B109479: 3.5
    assert run.find("BM.GPU.A100-v2.8").price_per_hour == 32.0  # B95907: 4
    assert run.find("VM.GPU3.1").price_per_hour == 2.95  # B89734
    assert run.find("BM.GPU2.2").price_per_hour == 2.55  # B88517: 1.275


def test_the_double_spaced_a10_row_prices_every_a10_shape() -> None:
    # real quirk: displayName "Compute  - GPU - A10" (two spaces)
    run = _run()
    assert [
        run.find(s).price_per_hour for s in ("VM.GPU.A10.1", "VM.GPU.A10.2", "BM.GPU.A10.4")
    ] == [
        2.0,
        4.0,
        8.0,
    ]


def test_preemptible_is_half_the_on_demand_price_and_interruptible() -> None:
    run = _run()
    spot = run.find("BM.GPU.A100-v2.8", "spot")
    assert spot.price_per_hour == 16.0 and spot.interruptible
    assert spot.source == run.find("BM.GPU.A100-v2.8").source
    assert not any(
        o.purchase_option.value == "spot" and o.instance_type == "BM.GPU.H100.8" for o in run.offers
    )


def test_lookalike_rows_price_nothing() -> None:
    run = _run()
    sources = {o.source["part_number"] for o in run.offers}
    # VMware node commits, Cloud@Customer L40S twins, Roving Edge, licences, an OCPU row
    assert sources.isdisjoint(
        {"B108806", "B110965", "B111455", "B111454", "B109493", "B111824", "B111827", "B108776"}
    )
    assert classify(_item("B111824"), "USD").kind is SkipKind.LICENCE  # type: ignore[union-attr]
    assert classify(_item("B110965"), "USD").kind is SkipKind.OTHER_SERVICE  # type: ignore[union-attr]
    assert len(run.offers) == 15 + 8  # 15 shapes on demand, 8 preemptible
    assert run.ctx.rejects == []


def test_gpu_parts_without_a_shape_are_reported_once_not_guessed() -> None:
    run = _run()
    unknown = {raw for _, raw in run.ctx.unknowns}
    assert "OCI - Compute - GPU - GB200" in unknown and "OCI- Compute - GPU - MI355X" in unknown
    assert "OCI - Compute - GPU - H100T" in unknown  # "Compute - GPU - Other" category
    assert sorted(run.ctx.unknown_names) == [
        f"GPU part {part}"
        for part in sorted(
            ["B109480", "B110979", "B111758", "B112140", "B112237", "B112613", "B92740", "B93544"]
        )
    ]


@pytest.mark.parametrize("value", [0, -4, "4.00", None, True])
def test_an_unusable_price_rejects_the_part_and_holds_its_shapes(value: Any) -> None:
    item = _item("B95907")
    item["currencyCodeLocalizations"][0]["prices"][0]["value"] = value
    run = _run(_with(item))
    assert not any(o.instance_type == "BM.GPU.A100-v2.8" for o in run.offers)
    assert len(run.ctx.rejects) == 1 and "B95907" in run.ctx.rejects[0][0]
    assert {(k["instance_type"], k["purchase_option"]) for k in run.ctx.held} == {
        ("BM.GPU.A100-v2.8", "on_demand"),
        ("BM.GPU.A100-v2.8", "spot"),
    }


def test_a_tiered_price_is_rejected_not_picked_from() -> None:
    item = _item("B98415")
    prices = item["currencyCodeLocalizations"][0]["prices"]
    prices.append({"model": "PAY_AS_YOU_GO", "value": 9, "rangeMin": 100, "rangeMax": 1000})
    run = _run(_with(item))
    assert not any(o.instance_type == "BM.GPU.H100.8" for o in run.offers)
    assert "tiered" in run.ctx.rejects[0][0]


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"<html>maintenance</html>", "not JSON"),
        (b"[]", "JSON list, not an object"),
        (b'{"items": {}}', "'items' is not a list"),
        (b'{"items": [], "hasMore": true}', "no 'next' link"),
    ],
)
def test_a_body_that_is_not_a_price_list_is_a_clear_error(body: bytes, match: str) -> None:
    with pytest.raises(ProviderResponseError, match=match):
        _run(body)


def test_a_next_link_is_followed_and_a_repeated_one_stops() -> None:
    first = {
        "items": BODY["items"][:10],
        "hasMore": True,
        "links": [{"rel": "next", "href": f"{BASE}/products/?page=2"}],
    }
    second = {"items": BODY["items"][10:], "hasMore": False}

    def handler(request: httpx.Request) -> httpx.Response:
        page = second if request.url.params.get("page") == "2" else first
        return httpx.Response(200, json=page)

    run = fetch(PriceListFeed(), "oci/price-list", handler, OciSettings(api_url=BASE))
    assert len(run.offers) == len(_run().offers)
    looping = {**second, "hasMore": True, "links": first["links"]}

    def loop(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=looping if request.url.params.get("page") == "2" else first)

    with pytest.raises(ProviderResponseError, match="second time"):
        fetch(PriceListFeed(), "oci/price-list", loop, OciSettings(api_url=BASE))


def test_the_base_url_is_a_setting_with_the_real_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GPUHOURS_OCI_API_URL", raising=False)
    assert (
        OciSettings().api_url
        == DEFAULT_API_URL
        == "https://apexapps.oracle.com/pls/apex/cetools/api/v1"
    )
    monkeypatch.setenv("GPUHOURS_OCI_API_URL", "http://mirror.test/oci/")
    assert OciSettings().api_url == "http://mirror.test/oci"
    requests: list[httpx.Request] = []
    fetch(PriceListFeed(), "oci/price-list", _server(requests=requests), OciSettings(api_url=BASE))
    assert [str(r.url) for r in requests] == [URL]


def test_the_provider_passes_the_gpuhours_kit(gpuhours_check: Any, tmp_path: Path) -> None:
    responses = record(tmp_path, _server(), [(URL, {})])
    report = gpuhours_check(OciProvider(), responses=responses, settings=OciSettings(api_url=BASE))
    assert report.feeds["oci/price-list"].offers == 23


def test_a_sync_stores_the_offers_and_a_broken_list_changes_nothing(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GPUHOURS_OCI_API_URL", BASE)
    run = sync(engine, "oci", plugins.oci, _server())
    assert run.status is SyncStatus.OK, run.error
    assert run.seen == 23
    before = store.query_offers(engine, store.OfferQuery(providers=["oci"]))
    assert {o.instance_type for o in before} >= {"BM.GPU.H100.8", "VM.GPU.A10.1"}
    for body in (b"<html>oops</html>", b'{"items": []}'):
        broken = sync(engine, "oci", plugins.oci, _server(body))
        assert broken.status is SyncStatus.FAILED and broken.error
    after = store.query_offers(engine, store.OfferQuery(providers=["oci"]))
    assert [(o.id, o.price_per_hour) for o in after] == [(o.id, o.price_per_hour) for o in before]


def test_oci_offers_appear_in_cheapest_plans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GPUHOURS_OCI_API_URL", BASE)
    plan = plan_after_sync(
        tmp_path,
        monkeypatch,
        "oci",
        plugins.oci,
        _server(),
        "--provider",
        "oci",
        "--gpu",
        "H100",
        "--gpu-hours",
        "800",
    )
    assert plan["total_cost"] == pytest.approx(8000.0)  # 100 h of BM.GPU.H100.8 at 80 USD/h
    assert {(line["provider"], line["instance_type"]) for line in plan["lines"]} == {
        ("oci", "BM.GPU.H100.8")
    }
