"""The planner over the store: SQL filtering, diagnosis, real recorded prices, and the CLI.

Real data: the AWS on-demand feed and the Azure retail feed run against their real recorded
responses (``tests/fixtures``) through ``httpx.MockTransport``; what they yield is stored with
``apply_snapshot`` exactly as a sync stores it, and the plans must trace to those rows.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from aggregator.cli import app
from aggregator.errors import InvalidInput, NoFeasiblePlan
from aggregator.gpus import default_vocabulary
from aggregator.http import make_client
from aggregator.models import Offer, PurchaseOption
from aggregator.planner import plan_from_store, solve
from aggregator.plans import PlanRequest
from aggregator.providers import FetchContext
from aggregator.settings import Settings
from db import store
from db.engine import make_engine
from db.migrate import upgrade
from tests.offers import TRAINING_OFFERS, build_offer, save_offers
from tests.paths import FIXTURES

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
GPUS = default_vocabulary()


save = functools.partial(save_offers, now=NOW)


AWS = build_offer(price_per_hour=80.0)  # 10 per GPU-hour
AWS_SMALL = build_offer(instance_type="p5.12xlarge", gpu_count=4, price_per_hour=48.0)  # 12
GCP = build_offer(
    provider="gcp", region="us-central1", instance_type="a3-highgpu-8g", price_per_hour=88.0
)
SPOT = build_offer(
    instance_type="p5.48xlarge", purchase_option=PurchaseOption.SPOT, price_per_hour=24.0
)
A100 = build_offer(instance_type="p4d.24xlarge", gpu="A100", gpu_memory_gb=40, price_per_hour=24.0)


def test_plan_from_store_traces_to_stored_offers(engine: Engine) -> None:
    save(engine, [AWS, AWS_SMALL, GCP, SPOT, A100])
    request = PlanRequest(gpu_hours=100, gpus=["h100"], deadline_hours=10, max_gpus=12)
    plan = plan_from_store(engine, request, gpus=GPUS, now=NOW)
    assert plan.total_cost == pytest.approx(1040)  # see test_planner_examples
    for line in plan.lines:
        stored = store.get_offer(engine, line.offer_id)
        assert stored is not None and stored.withdrawn_at is None
        assert (stored.instance_type, stored.price_per_hour) == (
            line.instance_type,
            line.unit_price,
        )
        assert line.observed_at == stored.observed_at == NOW
    # The same answer as the in-memory planner over every stored offer.
    in_memory = solve(store.query_offers(engine, store.OfferQuery()), request, now=NOW)
    assert in_memory.model_dump() == plan.model_dump()


def test_sql_filters_match_the_python_ones(engine: Engine) -> None:
    eu = build_offer(region="eu-west-1", price_per_hour=72.0)
    save(engine, [AWS, GCP, SPOT, A100, eu])
    requests = [
        PlanRequest(gpu_hours=80, regions=["EU-*"]),
        PlanRequest(gpu_hours=80, providers=["gcp"]),
        PlanRequest(gpu_hours=80, gpus=["A100-40GB"]),
        PlanRequest(gpu_hours=80, min_gpu_memory_gb=80, regions=["us-?ast-1"]),
        PlanRequest(gpu_hours=80, purchase_options=["spot"]),
        PlanRequest(gpu_hours=80, gpus=["a100", "h100"], max_gpus_per_node=8),
    ]
    offers = store.query_offers(engine, store.OfferQuery())
    assert len(offers) == 5
    for request in requests:
        from_store = plan_from_store(engine, request, gpus=GPUS, now=NOW)
        assert from_store.model_dump() == solve(offers, request, now=NOW).model_dump(), request


def test_withdrawn_offers_are_never_planned_with(engine: Engine) -> None:
    cheap = build_offer(region="us-west-2", price_per_hour=40.0)
    save(engine, [AWS, cheap])
    assert plan_from_store(engine, PlanRequest(gpu_hours=8), gpus=GPUS).lines[0].region == (
        "us-west-2"
    )
    save(engine, [AWS], now=NOW + timedelta(hours=1))  # the next sync no longer sees it
    plan = plan_from_store(engine, PlanRequest(gpu_hours=8), gpus=GPUS)
    assert [line.offer_id for line in plan.lines] == [AWS.id]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"gpus": ["L4"]},
            r"^no offers match the GPU filter: nothing for L4 \(there are offers for",
        ),
        ({"min_gpu_memory_gb": 200}, r"at least 200 GB .*\(the largest is 80 GB\)$"),
        ({"providers": ["azure"]}, r"^no matching offers from provider azure \(.* aws, gcp\)$"),
        ({"regions": ["ap-*"]}, r"^no matching offers in a region matching ap-\*"),
        ({"gpus": ["A100"], "purchase_options": ["spot"]}, r"purchase option spot"),
        ({"gpus_per_node": 2}, r"exactly 2 GPUs per instance \(sizes available: 8\)"),
        ({"deadline_hours": 1, "max_gpus": 16}, r"needs at least 80 GPUs at once"),
    ],
)
def test_no_plan_names_the_first_filter_that_leaves_nothing(
    engine: Engine, fields: dict[str, Any], message: str
) -> None:
    save(engine, [AWS, GCP, SPOT, A100])
    with pytest.raises(NoFeasiblePlan, match=message):
        plan_from_store(engine, PlanRequest(gpu_hours=80, **fields), gpus=GPUS)


def test_an_empty_store_says_to_sync(engine: Engine) -> None:
    with pytest.raises(NoFeasiblePlan, match="run `gpuhours sync`"):
        plan_from_store(engine, PlanRequest(gpu_hours=1, gpus=["H100"]), gpus=GPUS)


def test_unknown_gpu_is_invalid_input(engine: Engine) -> None:
    with pytest.raises(InvalidInput, match="unknown GPU 'Q9000'"):
        plan_from_store(engine, PlanRequest(gpu_hours=1, gpus=["Q9000"]), gpus=GPUS)


# -- real recorded prices -------------------------------------------------------------------


def _aws_server(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path.endswith("/region_index.json"):
        return httpx.Response(200, content=(FIXTURES / "aws" / "region_index.json").read_bytes())
    if path.endswith("/us-east-1/index.csv"):
        return httpx.Response(
            200, content=(FIXTURES / "aws" / "ec2-us-east-1-gpu.csv").read_bytes()
        )
    return httpx.Response(404)


def _azure_server(request: httpx.Request) -> httpx.Response:
    page = json.loads((FIXTURES / "azure" / "virtual_machines_eastus2.json").read_bytes())
    page["NextPageLink"] = None
    return httpx.Response(200, json=page)


def _fetch(feed: Any, feed_id: str, settings: Any, server: Callable[..., Any]) -> list[Offer]:
    async def go() -> list[Offer]:
        transport = httpx.MockTransport(server)
        async with make_client(Settings(http_retries=0), transport=transport) as client:
            ctx = FetchContext(client=client, feed_id=feed_id, settings=settings, state={})
            return [Offer.model_validate(dict(item)) async for item in feed.fetch(ctx)]

    return asyncio.run(go())


@pytest.fixture(scope="module")
def real_offers() -> list[Offer]:
    from plugins.aws.on_demand import OnDemandFeed
    from plugins.aws.settings import AwsSettings
    from plugins.azure import RetailFeed
    from plugins.azure.settings import AzureSettings

    aws = _fetch(
        OnDemandFeed(),
        "aws/on-demand",
        AwsSettings(pricing_url="https://pricing.test/", regions="us-east-1"),
        _aws_server,
    )
    azure = _fetch(RetailFeed(), "azure/retail", AzureSettings(), _azure_server)
    assert aws and azure
    return aws + azure


def _stored_cheapest_on_demand(engine: Engine, gpu: str) -> Offer:
    query = store.OfferQuery(gpus=[gpu], purchase_options=[PurchaseOption.ON_DEMAND])
    return store.query_offers(engine, query)[0]


def test_real_prices_h100_1000_gpu_hours(engine: Engine, real_offers: list[Offer]) -> None:
    save(engine, real_offers)
    request = PlanRequest(gpu_hours=1000, gpus=["H100"])
    plan = plan_from_store(engine, request, gpus=GPUS, now=NOW)
    best = _stored_cheapest_on_demand(engine, "H100")
    # A year's reservation costs far more than 1,000 GPU-hours on demand: on demand it is.
    assert [line.offer_id for line in plan.lines] == [best.id]
    assert plan.total_cost == pytest.approx(1000 * best.price_per_gpu_hour)
    assert (best.provider, best.instance_type) == ("aws", "p5.48xlarge")
    assert plan.lines[0].unit_price == best.price_per_hour


def test_real_prices_a100_20000_gpu_hours(engine: Engine, real_offers: list[Offer]) -> None:
    save(engine, real_offers)
    plan = plan_from_store(engine, PlanRequest(gpu_hours=20_000, gpus=["A100"]), gpus=GPUS, now=NOW)
    # Without a deadline one 2-GPU Azure 1-year reservation runs its whole year: 17,520
    # GPU-hours at 4.802 x 8760 / 17,520 = 2.40 per GPU-hour, cheaper than AWS p4d on demand
    # (2.74); the remaining 2,480 GPU-hours go on demand (a second unit would cost more).
    stored = {o.id: o for o in store.query_offers(engine, store.OfferQuery(gpus=["A100"]))}
    reserved, on_demand = sorted(plan.lines, key=lambda line: line.term_hours, reverse=True)
    r, od = stored[reserved.offer_id], stored[on_demand.offer_id]
    assert (r.provider, r.instance_type, r.purchase_option, r.term_hours) == (
        "azure",
        "Standard_NC48ads_A100_v4",
        PurchaseOption.RESERVED,
        8760,
    )
    assert od == _stored_cheapest_on_demand(engine, "A100")
    assert (od.provider, od.instance_type) == ("aws", "p4d.24xlarge")
    assert reserved.instances == 1 and reserved.gpu_hours == pytest.approx(2 * 8760)
    expected = r.price_per_hour * 8760 + (20_000 - 2 * 8760) * od.price_per_gpu_hour
    assert plan.total_cost == pytest.approx(expected)
    (flexible,) = [a for a in plan.alternatives if a.label == "cheapest without commitments"]
    assert flexible.total_cost == pytest.approx(20_000 * od.price_per_gpu_hour)
    assert plan.total_cost < flexible.total_cost
    assert any(n.startswith("1-year reservation (azure Standard_NC48ads") for n in plan.notes)


def test_real_prices_a_long_job_buys_a_commitment(engine: Engine, real_offers: list[Offer]) -> None:
    save(engine, real_offers)
    request = PlanRequest(gpu_hours=200_000, gpus=["A100"], deadline_hours=26_280)
    plan = plan_from_store(engine, request, gpus=GPUS, now=NOW)
    assert any(line.term_hours for line in plan.lines)
    (flexible,) = [a for a in plan.alternatives if a.label == "cheapest without commitments"]
    assert plan.total_cost < flexible.total_cost
    assert any("reservation" in note or "savings plan" in note for note in plan.notes)


# -- the CLI ---------------------------------------------------------------------------------


@pytest.fixture
def cli_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The default SQLite store of a CLI run, migrated and filled; no plugins loaded."""
    monkeypatch.setenv("GPUHOURS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GPUHOURS_DATABASE_URL", raising=False)
    monkeypatch.setenv("GPUHOURS_PLUGINS", "none")
    engine = make_engine(settings=Settings())
    upgrade(engine)
    save(engine, [AWS, AWS_SMALL, GCP, SPOT, A100])
    try:
        yield engine
    finally:
        engine.dispose()


def _invoke(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output, result.output
    return result


def test_cli_json_is_the_plan(cli_store: Engine) -> None:
    result = _invoke(
        "cheapest",
        "--gpu",
        "H100",
        "--gpu-hours",
        "100",
        "--deadline",
        "10h",
        "--max-gpus",
        "12",
        "--json",
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["total_cost"] == pytest.approx(1040)
    assert {line["offer_id"] for line in document["lines"]} == {AWS.id, AWS_SMALL.id}
    assert document["alternatives"] == []  # gcp has only 8-GPU instances: 80 GPU-hours in time


def test_cli_spot_and_durations(cli_store: Engine) -> None:
    result = _invoke("cheapest", "-g", "h100", "-n", "80", "--spot", "--deadline", "1d", "--json")
    assert json.loads(result.stdout)["lines"][0]["purchase_option"] == "spot"
    result = _invoke(
        "cheapest", "-g", "h100", "-n", "80", "--spot", "--spot-overhead", "0.5", "--json"
    )
    assert json.loads(result.stdout)["total_cost"] == pytest.approx(80 * 3 * 1.5)


def test_cli_table(cli_store: Engine) -> None:
    result = _invoke("cheapest", "--gpu", "H100", "--gpu-hours", "100", "--deadline", "3d")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("cheapest: 1,000.00 USD for 100.0 H100 GPU-hours")
    assert "p5.48xlarge" in result.stdout and AWS.id in result.stdout
    assert "cheapest on gcp" in result.stdout and "note: price age" in result.stdout


def test_cli_no_plan_exits_1_with_the_reason(cli_store: Engine) -> None:
    result = _invoke("cheapest", "--gpu", "L4", "--gpu-hours", "10", "--json")
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "NoFeasiblePlan"
    assert error["message"].startswith("no offers match the GPU filter")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gpu-hours", "0"], "--gpu-hours: Input should be greater than or equal to 0.001"),
        (["--gpu-hours", "lots"], "Invalid value for '--gpu-hours'"),
        (["--gpu-hours", "1", "--deadline", "soon"], "--deadline: cannot read 'soon'"),
        (
            ["--gpu-hours", "1", "--deadline", "0h"],
            "--deadline: Input should be greater than or equal to 0.1",
        ),
        (["--gpu-hours", "1", "--max-gpus", "0"], "--max-gpus: Input should be greater than 0"),
        (["--gpu-hours", "1", "--gpu", "Q9000"], "unknown GPU 'Q9000'"),
        (["--gpu-hours", "1", "--purchase-option", "forever"], "unknown purchase option"),
        (["--gpu-hours", "1", "--spot-overhead", "-1"], "--spot-overhead"),
        (
            ["--gpu-hours", "1", "--gpus-per-node", "8", "--min-gpus-per-node", "2"],
            "give gpus_per_node, or min/max_gpus_per_node, not both",
        ),
        (["--gpu-hours", "1", "--region", " "], "--region: an empty pattern matches nothing"),
        (["--gpu-hours", "1", "--no-such-flag"], "No such option"),
        ([], "give gpu_hours (how many GPU-hours to buy), budget (how much to spend), or both"),
    ],
)
def test_cli_bad_input_exits_2(cli_store: Engine, args: list[str], message: str) -> None:
    result = _invoke("cheapest", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_cli_bad_input_with_json_prints_one_error_document(cli_store: Engine) -> None:
    result = _invoke("cheapest", "--gpu-hours", "-3", "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["field"] == "gpu_hours"


@pytest.mark.parametrize(
    ("text", "hours"),
    [("72h", 72), ("3d", 72), ("90m", 1.5), ("1.5d", 36), ("2w", 336), ("12", 12), (" 4 H ", 4)],
)
def test_deadline_spellings(text: str, hours: float) -> None:
    from aggregator.cli.plan import parse_duration_hours

    assert parse_duration_hours(text) == pytest.approx(hours)


def test_json_stdout_is_one_document_in_a_fresh_process(cli_store: Engine) -> None:
    # HiGHS prints a banner on file descriptor 1 when a process creates its first solver,
    # which CliRunner cannot see: run the command in a new interpreter and parse all stdout.
    program = (
        "import sys\n"
        "from aggregator.cli import app\n"
        "sys.argv = ['gpuhours', *sys.argv[1:]]\n"
        "app()\n"
    )
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            program,
            "cheapest",
            "--gpu",
            "H100",
            "--gpu-hours",
            "100",
            "--deadline",
            "10h",
            "--max-gpus",
            "12",
            "--json",
        ],
        capture_output=True,
        env={**os.environ},
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert b"HiGHS" not in completed.stdout
    assert json.loads(completed.stdout)["total_cost"] == pytest.approx(1040)


# -- training-run requests ---------------------------------------------------------------------

_MORE = [  # same-shape offers in more places, zoned reservations: what the SQL must not lose
    build_offer(region="us-west-2", price_per_hour=76.0),
    build_offer(region="us-west-2", zone="us-west-2a", purchase_option=PurchaseOption.RESERVED,
                term_hours=8760, price_per_hour=39.0),
    build_offer(region="us-west-2", zone="us-west-2b", purchase_option=PurchaseOption.RESERVED,
                term_hours=8760, price_per_hour=38.0),
    build_offer(region="eu-west-1", instance_type="p4d.24xlarge", gpu="A100", gpu_memory_gb=40,
                price_per_hour=22.0),
    build_offer(region="eu-west-1", instance_type="p4de.24xlarge", gpu="A100", gpu_memory_gb=80,
                price_per_hour=30.0),
]  # fmt: skip


@pytest.mark.parametrize(
    "fields",
    [
        {"gpu_hours": 1000, "equivalent_gpu": "H100"},
        {"gpu_hours": 1000, "equivalent_gpu": "H100", "throughput": {"A100-80GB": 0.5}},
        {"gpu_hours": 100_000, "gpus": ["H100"], "deadline_hours": 8760, "one_cluster": True},
        {"gpu_hours": 160_000, "deadline_hours": 8760, "one_cluster": True, "max_gpus": 24},
        {"budget": 400_000, "deadline_hours": 8760, "equivalent_gpu": "A100"},
        {"budget": 5000, "deadline_hours": 10, "max_gpus": 16, "one_cluster": True},
        {"gpu_hours": 500, "budget": 6000, "equivalent_gpu": "H100", "one_cluster": True},
    ],
)
def test_training_requests_plan_the_same_from_the_store(
    engine: Engine, fields: dict[str, Any]
) -> None:
    save(engine, [*TRAINING_OFFERS, *_MORE])
    request = PlanRequest(**fields)
    from_store = plan_from_store(engine, request, gpus=GPUS, now=NOW)
    in_memory = solve(store.query_offers(engine, store.OfferQuery()), request, now=NOW)
    assert from_store.model_dump() == in_memory.model_dump()


def test_training_requests_name_the_filter_that_leaves_nothing(engine: Engine) -> None:
    save(engine, TRAINING_OFFERS)
    with pytest.raises(NoFeasiblePlan, match="K80 has no dense BF16/FP16 figure"):
        plan_from_store(
            engine, PlanRequest(gpu_hours=1, equivalent_gpu="H100", gpus=["K80"]), gpus=GPUS
        )
    with pytest.raises(NoFeasiblePlan, match="nothing for L4"):
        plan_from_store(
            engine, PlanRequest(gpu_hours=1, equivalent_gpu="H100", gpus=["L4"]), gpus=GPUS
        )
    with pytest.raises(InvalidInput, match="equivalent_gpu: unknown GPU"):
        plan_from_store(engine, PlanRequest(gpu_hours=1, equivalent_gpu="Q9"), gpus=GPUS)
