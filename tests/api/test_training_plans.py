"""POST and GET /v1/plan for training runs: equivalent work, one cluster and budgets, with the
same answers and the same refusals as the CLI, on each dialect.

The answers are those worked out in tests/planner/test_training_examples.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.api.test_api import error_of, make_client
from tests.offers import TRAINING_OFFERS, save_offers

Catalog = Callable[[list[dict[str, Any]]], Path]
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def client(engine: Engine, fake_catalog: Catalog) -> Iterator[TestClient]:
    save_offers(engine, TRAINING_OFFERS, now=NOW)
    with make_client(engine) as test_client:
        yield test_client


def both(client: TestClient, body: dict[str, Any], query: list[tuple[str, str]]) -> Any:
    """The plan asked by POST and by GET, which must agree."""
    posted = client.post("/v1/plan", json=body)
    got = client.get("/v1/plan", params=query)
    assert posted.status_code == got.status_code == 200, (posted.text, got.text)
    assert posted.json() == got.json()
    return posted.json()


def test_equivalent_work_with_measured_ratios(client: TestClient) -> None:
    plan = both(
        client,
        {"gpu_hours": 1000, "equivalent_gpu": "H100", "throughput": {"H100": 1, "A100": 0.4}},
        [("gpu_hours", "1000"), ("equivalent_gpu", "H100"), ("throughput", "H100=1"),
         ("throughput", "A100=0.4")],
    )  # fmt: skip
    assert plan["total_cost"] == pytest.approx(7500)
    assert plan["equivalent_gpu_hours"] == pytest.approx(1000)
    assert plan["gpu_hours"] == pytest.approx(2500)
    assert plan["price_per_equivalent_gpu_hour"] == pytest.approx(7.5)


def test_one_cluster_and_budget(client: TestClient) -> None:
    plan = both(
        client,
        {"gpus": ["H100"], "gpu_hours": 100_000, "deadline_hours": 8760, "one_cluster": True},
        [("gpus", "H100"), ("gpu_hours", "100000"), ("deadline_hours", "8760"),
         ("one_cluster", "true")],
    )  # fmt: skip
    assert plan["total_cost"] == pytest.approx(649_600)
    plan = both(
        client,
        {"gpus": ["H100"], "budget": 9000},
        [("gpus", "H100"), ("budget", "9000")],
    )
    assert plan["gpu_hours"] == pytest.approx(1000) and plan["requested_gpu_hours"] is None


def test_a_plan_over_budget_is_422_with_the_cheapest_cost(client: TestClient) -> None:
    body = {"gpus": ["H100"], "gpu_hours": 1000, "budget": 8999}
    for response in (
        client.post("/v1/plan", json=body),
        client.get("/v1/plan", params={k: str(v[0] if isinstance(v, list) else v)
                                       for k, v in body.items()}),
    ):  # fmt: skip
        assert response.status_code == 422
        error = error_of(response)
        assert error["type"] == "NoFeasiblePlan"
        assert "costs 9,000.00 USD, over the budget of 8,999.00 USD" in error["message"]


@pytest.mark.parametrize(
    ("body", "query", "field", "message"),
    [
        ({}, [], None, "give gpu_hours"),
        ({"gpu_hours": 1, "throughput": {"H100": 1}}, [("gpu_hours", "1"),
         ("throughput", "H100=1")], None, "throughput ratios need equivalent_gpu"),
        ({"gpu_hours": 1, "equivalent_gpu": "H100", "throughput": {"Q9": 1}},
         [("gpu_hours", "1"), ("equivalent_gpu", "H100"), ("throughput", "Q9=1")],
         "throughput", "unknown GPU 'Q9'"),
        ({"gpu_hours": 1, "equivalent_gpu": "K80"}, [("gpu_hours", "1"),
         ("equivalent_gpu", "K80")], "equivalent_gpu", "K80 has no known throughput"),
        ({"budget": 0}, [("budget", "0")], "budget", "greater than 0"),
    ],
)  # fmt: skip
def test_bad_combinations_are_422(
    client: TestClient,
    body: dict[str, Any],
    query: list[tuple[str, str]],
    field: str | None,
    message: str,
) -> None:
    for response in (client.post("/v1/plan", json=body), client.get("/v1/plan", params=query)):
        assert response.status_code == 422
        error = error_of(response)
        assert error["field"] == field and message in error["message"], error


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (["H100=0"], "greater than 0"),
        (["H100=1", "h100=2"], "names H100 a second time"),
        (["H100=1", "H100=2"], "'H100' is given twice"),
        (["H100"], "should match pattern"),
        (["=1"], "at least 3 characters"),
    ],
)
def test_throughput_pairs_in_the_query(client: TestClient, pairs: list[str], message: str) -> None:
    query = [("gpu_hours", "1"), ("equivalent_gpu", "H100")]
    response = client.get("/v1/plan", params=query + [("throughput", p) for p in pairs])
    assert response.status_code == 422
    error = error_of(response)
    assert error["field"] == "throughput" and message in error["message"], error
    body = {"gpu_hours": 1, "equivalent_gpu": "H100"}
    assert client.post("/v1/plan", json={**body, "throughput": {"H100": -1}}).status_code == 422
