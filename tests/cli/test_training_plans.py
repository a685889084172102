"""``gpuhours cheapest`` for training runs: --equivalent, --throughput, --one-cluster and
--budget over a store on each dialect, as --json documents, tables and exit codes.

The answers are those worked out in tests/planner/test_training_examples.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from aggregator.cli import app
from tests.offers import TRAINING_OFFERS, save_offers

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The CLI's store is ``engine`` (SQLite or PostgreSQL), holding the training offers."""
    monkeypatch.setenv("GPUHOURS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GPUHOURS_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("GPUHOURS_PLUGINS", "none")
    save_offers(engine, TRAINING_OFFERS, now=NOW)
    return engine


def cheapest(*args: str) -> Any:
    result = CliRunner().invoke(app, ["cheapest", *args])
    assert "Traceback" not in result.output, result.output
    return result


def plan_of(*args: str) -> dict[str, Any]:
    result = cheapest(*args, "--json")
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_equivalent_work_with_and_without_measured_ratios(store: Engine) -> None:
    plan = plan_of("--equivalent", "H100", "--gpu-hours", "1000")
    assert plan["total_cost"] == pytest.approx(9000)
    assert plan["equivalent_gpu"] == "H100"
    assert plan["equivalent_gpu_hours"] == pytest.approx(1000)
    assert plan["price_per_equivalent_gpu_hour"] == pytest.approx(9)
    measured = plan_of(
        "--equivalent", "h100", "-n", "1000", "--throughput", "H100=1", "--throughput", "a100=0.4"
    )
    assert measured["total_cost"] == pytest.approx(7500)
    (line,) = measured["lines"]
    assert (line["gpu"], line["gpu_hours"], line["equivalent_gpu_hours"]) == ("A100", 2500, 1000)
    assert line["throughput_ratio"] == pytest.approx(0.4)


def test_one_cluster(store: Engine) -> None:
    plan = plan_of("--gpu", "H100", "-n", "100000", "--deadline", "8760h", "--one-cluster")
    assert plan["total_cost"] == pytest.approx(649_600)
    assert {(ln["region"], ln["purchase_option"]) for ln in plan["lines"]} == {
        ("us-east-1", "on_demand"),
        ("us-east-1", "reserved"),
    }


def test_budget(store: Engine) -> None:
    plan = plan_of("--gpu", "H100", "--budget", "9000")
    assert plan["label"] == "most for the budget" and plan["requested_gpu_hours"] is None
    assert plan["gpu_hours"] == pytest.approx(1000) and plan["budget"] == 9000
    result = cheapest("--gpu", "H100", "--gpu-hours", "1000", "--budget", "8999", "--json")
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "NoFeasiblePlan"
    assert "costs 9,000.00 USD, over the budget of 8,999.00 USD" in error["message"]


def test_the_table_shows_equivalent_work_and_the_budget(store: Engine) -> None:
    result = cheapest("--equivalent", "H100", "--budget", "9000")
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith("most for the budget: 9,000.00 USD for 1,000 H100 GPU-hours")
    assert "1,000 H100-equivalent GPU-hours = 9.0000 USD each; budget 9,000.00 USD" in first
    assert "H100-eq GPU-h" in result.stdout
    assert "note: budget: 9,000.00 USD buys at most 1,000.0 H100-equivalent" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give gpu_hours (how many GPU-hours to buy), budget (how much to spend), or both"),
        (["-n", "1", "--throughput", "H100=1"], "throughput ratios need equivalent_gpu"),
        (["-n", "1", "--equivalent", "H100", "--throughput", "H100"], "--throughput: expected"),
        (["-n", "1", "--equivalent", "H100", "--throughput", "H100=0"], "--throughput: Input"),
        (["-n", "1", "--equivalent", "H100", "--throughput", "H100=nan"], "finite number"),
        (["-n", "1", "--equivalent", "H100", "--throughput", "Q9=1"], "unknown GPU 'Q9'"),
        (["-n", "1", "--equivalent", "K80"], "K80 has no known throughput"),
        (["-n", "1", "--equivalent", "Q9"], "equivalent_gpu: unknown GPU 'Q9'"),
        (["--budget", "0"], "--budget: Input should be greater than 0"),
        (["--budget", "-3"], "--budget: Input should be greater than 0"),
        (["--budget", "inf"], "--budget: Input should be a finite number"),
    ],
)
def test_bad_combinations_exit_2(store: Engine, args: list[str], message: str) -> None:
    result = cheapest(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output
