"""Planning with negotiated price terms: totals change exactly as the terms state, the cheapest
offer after terms wins, plans show list prices beside them, and stored list prices never change
(store, ``offers``, ``history``, the offer endpoints), on SQLite and PostgreSQL; the CLI and
the API give the same answers. The terms themselves are tested in ``tests/terms/test_terms.py``.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from aggregator import PriceTerm, catalog
from aggregator.api import create_app
from aggregator.api.cache import ApiSettings
from aggregator.cli import app
from aggregator.errors import InvalidInput
from aggregator.gpus import default_vocabulary
from aggregator.models import PurchaseOption
from aggregator.planner import plan_from_store, solve
from aggregator.plans import Plan, PlanRequest
from aggregator.plugins import Registry, load_registry
from aggregator.scheduler import SchedulerSettings
from aggregator.settings import Settings
from aggregator.terms import ActiveTerm, apply_terms
from db import store
from tests.fake_plugins import FAKES_DIR, STORE_TABLES, dump_tables, offer_row
from tests.offers import build_offer, save_offers
from tests.paths import REPO

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

AWS = build_offer(price_per_hour=80.0)  # 10 per GPU-hour
GCP = build_offer(
    provider="gcp",
    region="us-central1",
    instance_type="a3-highgpu-8g",
    price_per_hour=84.0,  # 10.5 per GPU-hour
    source={"sku": "GCP-OD"},
)
AZURE = build_offer(
    provider="azure",
    region="eastus",
    instance_type="Standard_ND96isr_H100_v5",
    price_per_hour=98.32,  # 12.29 per GPU-hour
    source={"meter": "AZ-1"},
)
GCP_3Y = build_offer(
    provider="gcp",
    region="us-central1",
    instance_type="a3-highgpu-8g",
    purchase_option=PurchaseOption.COMMITTED,
    term_hours=26280,
    price_per_hour=60.0,
    source={"sku": "GCP-CUD-3Y"},
)
OFFERS = [AWS, GCP, AZURE, GCP_3Y]
H100_1000 = PlanRequest(gpu_hours=1000, gpus=["h100"])


save = functools.partial(save_offers, now=NOW)


def terms(*price_terms: PriceTerm) -> list[ActiveTerm]:
    vocabulary = default_vocabulary()
    return [ActiveTerm.of(term, vocabulary, origin="test") for term in price_terms]


def registry_with(*price_terms: PriceTerm) -> Registry:
    return Registry(price_terms=terms(*price_terms))


def plan_with(engine: Engine, registry: Registry, request: PlanRequest) -> Plan:
    """A plan over the store with ``registry``'s GPUs and terms, as the CLI and the API ask."""
    return plan_from_store(
        engine, request, gpus=registry.gpus, terms=registry.active_terms, now=NOW
    )


def with_terms(request: PlanRequest, apply: bool) -> PlanRequest:
    return request.model_copy(update={"apply_terms": apply})


EDP = PriceTerm(provider="aws", purchase_option="on_demand", discount_percent=12)


# -- totals change exactly as stated -------------------------------------------------------------


def test_a_percentage_scales_the_plan_exactly(engine: Engine) -> None:
    save(engine, OFFERS)
    registry = registry_with(EDP)
    listed = plan_with(engine, registry, with_terms(H100_1000, False))
    plan = plan_with(engine, registry, H100_1000)

    assert listed.total_cost == listed.list_total_cost == pytest.approx(10_000, rel=1e-12)
    assert [ln.terms for ln in listed.lines] == [[]]
    assert [ln.offer_id for ln in plan.lines] == [AWS.id]
    assert plan.total_cost == pytest.approx(listed.total_cost * 0.88, rel=1e-12)
    assert plan.list_total_cost == listed.total_cost
    (line,) = plan.lines
    assert (line.unit_price, line.list_unit_price) == (80.0 * 0.88, 80.0)
    assert line.cost == line.instance_hours * 80.0 * 0.88
    assert line.list_cost == line.instance_hours * 80.0
    assert line.terms == ["aws on_demand -12 %"]
    assert plan.price_per_gpu_hour == pytest.approx(8.8, rel=1e-12)
    assert plan.notes[0] == (
        "your price terms apply (aws on_demand -12 %): the plan costs 8,800.00 USD instead of "
        "10,000.00 USD at list prices (12.0% less); offers and price history keep list prices"
    )


def test_a_fixed_price_costs_instances_times_hours_times_the_price(engine: Engine) -> None:
    save(engine, OFFERS)
    deal = PriceTerm(
        name="ND H100 v5 private offer",
        provider="azure",
        region="eastus",
        instance_type="Standard_ND*_H100_v5",
        price_per_hour=50.0,
    )
    request = H100_1000.model_copy(update={"deadline_hours": 25.0})
    plan = plan_with(engine, registry_with(deal), request)
    (line,) = plan.lines
    assert (line.provider, line.instances, line.hours_per_instance) == ("azure", 5, 25.0)
    assert plan.total_cost == pytest.approx(5 * 25.0 * 50.0, rel=1e-12)
    assert plan.list_total_cost == pytest.approx(5 * 25.0 * 98.32, rel=1e-12)
    assert (line.unit_price, line.list_unit_price, line.terms) == (
        50.0,
        98.32,
        ["ND H100 v5 private offer"],
    )


def test_per_gpu_hour_prices_scale_with_the_instance() -> None:
    deal = PriceTerm(gpu="H100", provider="aws", price_per_gpu_hour=7.5)
    plan = solve(apply_terms([AWS], terms(deal)), H100_1000, now=NOW)
    assert plan.lines[0].unit_price == 60.0
    assert plan.total_cost == pytest.approx(1000 * 7.5, rel=1e-12)


def test_terms_stack_in_order_on_a_commitment() -> None:
    """ "gcp committed 3y -5 % more", on top of a GCP-wide 10 %: 0.90 x 0.95 of the list."""
    request = PlanRequest(gpu_hours=8 * 26280, gpus=["h100"], purchase_options=["committed"])
    gcp = PriceTerm(provider="gcp", discount_percent=10)
    cud = PriceTerm(provider="gcp", purchase_option="committed", term="3y", discount_percent=5)
    plan = solve(apply_terms(OFFERS, terms(gcp, cud)), request, now=NOW)
    (line,) = plan.lines
    assert (line.offer_id, line.instances, line.billed_instance_hours) == (GCP_3Y.id, 1, 26280)
    assert line.unit_price == 60.0 * 0.9 * 0.95
    assert plan.total_cost == pytest.approx(26280 * 60.0 * 0.9 * 0.95, rel=1e-12)
    assert plan.list_total_cost == pytest.approx(26280 * 60.0, rel=1e-12)
    assert line.terms == ["gcp -10 %", "gcp committed 3y -5 %"]

    fixed = PriceTerm(provider="gcp", purchase_option="committed", price_per_hour=50.0)
    after_fixed = solve(apply_terms(OFFERS, terms(fixed, gcp)), request, now=NOW)
    assert after_fixed.lines[0].unit_price == 50.0 * 0.9  # later terms apply to a fixed price
    fixed_last = solve(apply_terms(OFFERS, terms(gcp, fixed)), request, now=NOW)
    assert fixed_last.lines[0].unit_price == 50.0  # a fixed price replaces what came before
    assert fixed_last.total_cost == pytest.approx(26280 * 50.0, rel=1e-12)


def test_a_discount_can_change_which_offer_wins(engine: Engine) -> None:
    save(engine, OFFERS)
    gcp = PriceTerm(name="GCP: 10 % off", provider="gcp", discount_percent=10)
    registry = registry_with(gcp)
    listed = plan_with(engine, registry, with_terms(H100_1000, False))
    assert [ln.provider for ln in listed.lines] == ["aws"]

    plan = plan_with(engine, registry, H100_1000)
    (line,) = plan.lines
    assert (line.offer_id, line.unit_price, line.list_unit_price) == (GCP.id, 84.0 * 0.9, 84.0)
    assert plan.total_cost == pytest.approx(125 * 84.0 * 0.9, rel=1e-12)  # 9,450 < 10,000
    assert plan.list_total_cost == pytest.approx(10_500, rel=1e-12)  # dearer at list prices
    on_aws = next(alt for alt in plan.alternatives if alt.label == "cheapest on aws")
    assert on_aws.total_cost == on_aws.list_total_cost == pytest.approx(10_000, rel=1e-12)
    assert on_aws.lines[0].terms == []


def test_a_surcharge_raises_the_price() -> None:
    support = PriceTerm(name="reseller fee", discount_percent=-5)
    plan = solve(apply_terms([AWS], terms(support)), H100_1000, now=NOW)
    assert plan.total_cost == pytest.approx(10_000 * 1.05, rel=1e-12)
    assert "(5.0% more)" in plan.notes[0]


# -- stored list prices are never touched ------------------------------------------------------


def _listings(engine: Engine) -> tuple[Any, ...]:
    everything = store.OfferQuery(include_withdrawn=True)
    return (
        dump_tables(engine, *STORE_TABLES),
        [o.model_dump() for o in catalog.find_offers(engine, everything)],
        [h.model_dump() for h in catalog.offer_history(engine, everything)],
    )


def test_planning_with_terms_never_touches_stored_list_prices(engine: Engine) -> None:
    save(engine, OFFERS)
    before = _listings(engine)
    registry = registry_with(EDP, PriceTerm(provider="gcp", price_per_hour=1.0))
    for _ in range(2):  # the second plan may read offers from memory: still list prices
        plan = plan_with(engine, registry, H100_1000)
        assert plan.lines[0].provider == "gcp" and plan.lines[0].unit_price == 1.0
    assert _listings(engine) == before

    listed = plan_with(engine, registry, with_terms(H100_1000, False))
    stored = {o.id: o.price_per_hour for o in catalog.find_offers(engine, store.OfferQuery())}
    for line in [*listed.lines, *(ln for alt in listed.alternatives for ln in alt.lines)]:
        assert line.unit_price == line.list_unit_price == stored[line.offer_id]
        assert line.terms == []


def test_a_bad_terms_file_stops_planning_with_terms_only(engine: Engine, tmp_path: Path) -> None:
    save(engine, OFFERS)
    path = tmp_path / "terms.toml"
    path.write_text('[[term]]\nprovider = "aws"\ndiscount_percent = 120\n')
    registry = load_registry(Settings(terms_file=path), load_entrypoints=False)
    with pytest.raises(InvalidInput, match=r"term #1 \(line 1\), field discount_percent") as bad:
        plan_with(engine, registry, H100_1000)
    assert bad.value.field == "terms_file"
    listed = plan_with(engine, registry, with_terms(H100_1000, False))
    assert listed.total_cost == pytest.approx(10_000)


# -- the CLI ---------------------------------------------------------------------------------

CLI_TERMS = """\
[[term]]
name = "fakecloud EDP"
provider = "fakecloud"
purchase_option = "on_demand"
discount_percent = 12
"""


@pytest.fixture
def cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_catalog: Callable[..., Path]
) -> Callable[..., Any]:
    """The CLI in-process on a fresh SQLite store holding the fake plugin's offers."""
    monkeypatch.setenv("GPUHOURS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GPUHOURS_DATABASE_URL", raising=False)
    monkeypatch.delenv("GPUHOURS_TERMS_FILE", raising=False)
    monkeypatch.setenv("GPUHOURS_PLUGINS", "fakecloud")
    fake_catalog(
        [
            offer_row(),  # 8x H100 at 98.32 (12.29 per GPU-hour)
            offer_row(instance_type="fk.1xh100", gpu_count=1, price_per_hour=12.0),  # wins
        ]
    )
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        result = runner.invoke(app, list(args))
        assert "Traceback" not in result.output, result.output
        return result

    assert invoke("sync", "fakecloud/static").exit_code == 0
    return invoke


def test_cheapest_shows_list_and_after_terms_prices(
    cli: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listings = [cli(*args, "--json").stdout for args in (("offers",), ("history",))]
    listed = json.loads(cli("cheapest", "--gpu", "H100", "-n", "1000", "--json").stdout)

    path = tmp_path / "terms.toml"
    path.write_text(CLI_TERMS)
    monkeypatch.setenv("GPUHOURS_TERMS_FILE", str(path))
    result = cli("cheapest", "--gpu", "H100", "-n", "1000", "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["list_total_cost"] == listed["total_cost"] == pytest.approx(12_000)
    assert plan["total_cost"] == pytest.approx(listed["total_cost"] * 0.88, rel=1e-12)
    (line,) = plan["lines"]
    assert (line["list_unit_price"], line["terms"]) == (12.0, ["fakecloud EDP"])
    assert line["unit_price"] == 12.0 * 0.88

    table = cli("cheapest", "--gpu", "H100", "-n", "1000")
    assert table.exit_code == 0
    text = " ".join(table.stdout.split())
    assert "10,560.00 USD (list price 12,000.00)" in text
    assert "list USD/h" in text and "your USD/h" in text and "fakecloud EDP" in text
    assert "your price terms apply (fakecloud EDP)" in text

    at_list = json.loads(
        cli("cheapest", "--gpu", "H100", "-n", "1000", "--list-prices", "--json").stdout
    )
    assert at_list["total_cost"] == at_list["list_total_cost"] == listed["total_cost"]
    assert [cli(*args, "--json").stdout for args in (("offers",), ("history",))] == listings


def test_a_bad_terms_file_exits_2_with_the_reason(
    cli: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "terms.toml"
    path.write_text(CLI_TERMS + 'gpu = "H1000"\n')
    monkeypatch.setenv("GPUHOURS_TERMS_FILE", str(path))
    result = cli("cheapest", "--gpu", "H100", "-n", "1000")
    assert result.exit_code == 2
    assert f"error: terms file {path}, term #1 (line 1, 'fakecloud EDP'), field gpu" in " ".join(
        result.output.split()
    )
    document = json.loads(cli("cheapest", "--gpu", "H100", "-n", "1000", "--json").stdout)
    assert document["error"]["field"] == "terms_file"
    assert cli("cheapest", "--gpu", "H100", "-n", "1000", "--list-prices").exit_code == 0
    assert cli("offers").exit_code == 0  # commands that never use terms are not affected
    shown = cli("providers")
    assert shown.exit_code == 0 and "price terms not usable" in " ".join(shown.output.split())
    report = json.loads(cli("providers", "--json").stdout)
    assert report["price_terms"]["terms"] == [] and "field gpu" in report["price_terms"]["error"]


def test_providers_lists_the_terms_plans_apply(
    cli: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert json.loads(cli("providers", "--json").stdout)["price_terms"] == {
        "terms": [],
        "error": None,
    }
    path = tmp_path / "terms.toml"
    path.write_text(CLI_TERMS)
    monkeypatch.setenv("GPUHOURS_TERMS_FILE", str(path))
    report = json.loads(cli("providers", "--json").stdout)
    assert report["price_terms"]["error"] is None
    ((term,),) = [report["price_terms"]["terms"]]
    assert term["label"] == "fakecloud EDP" and "term #1" in term["origin"]
    text = " ".join(cli("providers").stdout.split())
    assert "price terms applied to plans, in order (1): fakecloud EDP" in text


def test_serve_refuses_to_start_with_a_bad_terms_file(tmp_path: Path) -> None:
    path = tmp_path / "terms.toml"
    path.write_text("[[term]]\nprice_per_hour = -1.0\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GPUHOURS_")},
        "PYTHONPATH": os.pathsep.join([str(FAKES_DIR), str(REPO)]),
        "GPUHOURS_DATA_DIR": str(tmp_path / "data"),
        "GPUHOURS_PLUGINS": "fakecloud",
        "GPUHOURS_TERMS_FILE": str(path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "aggregator", "serve", "--port", str(port)],
        env=env, cwd=REPO, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "field price_per_hour" in done.stderr and "Traceback" not in done.stderr


# -- the API ---------------------------------------------------------------------------------

TOKEN = "terms-admin-token-3d9e"


@pytest.fixture
def api(
    engine: Engine, fake_catalog: Callable[..., Path], tmp_path: Path
) -> Iterator[Callable[[str], TestClient]]:
    """``api(terms_toml)``: a client of an app whose terms file holds ``terms_toml``."""
    fake_catalog(
        [offer_row(), offer_row(instance_type="fk.1xh100", gpu_count=1, price_per_hour=12.0)]
    )
    clients: list[TestClient] = []

    def make(text: str) -> TestClient:
        path = tmp_path / f"terms-{len(clients)}.toml"
        path.write_text(text)
        config = Settings(plugins="fakecloud", http_retries=0, admin_token=TOKEN, terms_file=path)
        application = create_app(
            config,
            engine=engine,
            registry=load_registry(config),
            schedule=SchedulerSettings(schedule={"fakecloud/http": "off"}),
            api=ApiSettings(api_cache_seconds=0),
        )
        client = TestClient(application, raise_server_exceptions=False).__enter__()
        clients.append(client)
        if len(clients) == 1:
            auth = {"Authorization": f"Bearer {TOKEN}"}
            assert client.post("/v1/sync/fakecloud/static", headers=auth).status_code == 200
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def test_the_plan_endpoints_return_list_and_after_terms_prices(
    api: Callable[[str], TestClient],
) -> None:
    client = api(CLI_TERMS)
    offers_before = client.get("/v1/offers").json()["offers"]
    body: dict[str, Any] = {"gpu_hours": 1000, "gpus": ["H100"]}
    posted = client.post("/v1/plan", json=body)
    assert posted.status_code == 200, posted.text
    plan = Plan.model_validate(posted.json())
    assert posted.json()["list_total_cost"] == pytest.approx(12_000)
    assert plan.total_cost == pytest.approx(12_000 * 0.88, rel=1e-12)
    assert (plan.lines[0].list_unit_price, plan.lines[0].terms) == (12.0, ["fakecloud EDP"])

    terms = client.get("/v1/providers").json()["price_terms"]
    assert [t["label"] for t in terms["terms"]] == ["fakecloud EDP"] and terms["error"] is None

    got = client.get("/v1/plan", params=body).json()
    assert got["total_cost"] == posted.json()["total_cost"]

    for listed in (
        client.post("/v1/plan", json={**body, "apply_terms": False}).json(),
        client.get("/v1/plan", params={**body, "apply_terms": "false"}).json(),
    ):
        assert listed["total_cost"] == listed["list_total_cost"] == pytest.approx(12_000)
        assert listed["lines"][0]["terms"] == []
    assert client.get("/v1/offers").json()["offers"] == offers_before  # list prices, as stored

    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert "apply_terms" in schemas["PlanRequest"]["properties"]
    plan_schema = next(
        s
        for name, s in schemas.items()
        if name.startswith("Plan") and "list_total_cost" in s.get("properties", {})
    )
    assert "list_total_cost" in plan_schema.get("required", [])
    line_schema = schemas["PlanLine"]["properties"]
    assert {"list_unit_price", "list_cost", "terms"} <= set(line_schema)


def test_a_bad_terms_file_stops_the_api_from_starting(
    api: Callable[[str], TestClient],
) -> None:
    with pytest.raises(InvalidInput, match="exactly one effect") as raised:
        api("[[term]]\ndiscount_percent = 5\nprice_per_hour = 1.0\n")
    assert raised.value.field == "terms_file"
