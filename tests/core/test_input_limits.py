"""Input limits shared by the CLI and the API, checked where both go through: region globs
(:func:`aggregator.globs.check_pattern`), offer filters (:func:`build_offer_query`) and plan
requests (:class:`PlanRequest`). Each refuses with the field named and the value never echoed
whole; each limit's edge is accepted.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pydantic
import pytest

from aggregator.errors import InvalidInput
from aggregator.globs import PATTERN_REGEX, check_pattern, strip_space
from aggregator.limits import (
    MAX_LIST_ITEMS,
    MAX_PATTERN_LENGTH,
    MAX_PATTERN_WILDCARDS,
    MAX_TEXT_LENGTH,
    MIN_DEADLINE_HOURS,
)
from aggregator.offer_query import build_offer_query
from aggregator.plans import PlanRequest
from aggregator.plugins import Registry, load_registry
from aggregator.settings import Settings


@pytest.fixture
def registry() -> Registry:
    return load_registry(Settings(plugins=""))


EDGE = "*" * MAX_PATTERN_WILDCARDS + "a" * (MAX_PATTERN_LENGTH - MAX_PATTERN_WILDCARDS)
TOO_COMPLEX = {
    "long": ("A" * 100_000, "characters"),
    "one-too-long": ("a" * (MAX_PATTERN_LENGTH + 1), "characters"),
    # counted as sent, spaces included, as the schema's maxLength counts
    "padded": (" " + "a" * MAX_PATTERN_LENGTH, "characters"),
    "wildcards": ("?" * (MAX_PATTERN_WILDCARDS + 1), "wildcards"),
    "mixed-wildcards": ("*a?" * 5, "wildcards"),
    "blank": (" \t ", "empty"),
}


@pytest.mark.parametrize("case", TOO_COMPLEX.values(), ids=TOO_COMPLEX.keys())
def test_check_pattern_refuses_long_and_wild_globs(case: tuple[str, str]) -> None:
    pattern, says = case
    with pytest.raises(InvalidInput) as caught:
        check_pattern(pattern, "region")
    assert caught.value.field == "region" and says in str(caught.value)
    assert len(str(caught.value)) < 200
    # The schema says the same: its pattern and maxLength.
    assert not (re.search(PATTERN_REGEX, pattern) and len(pattern) <= MAX_PATTERN_LENGTH)


@pytest.mark.parametrize("pattern", [EDGE, "us-*", "*", "  eu-west-1 ", "?" * 8, "a\x1cb"])
def test_check_pattern_accepts_globs_within_the_limits(pattern: str) -> None:
    assert check_pattern(pattern, "region") == strip_space(pattern)
    assert re.search(PATTERN_REGEX, pattern)


@pytest.mark.parametrize("case", TOO_COMPLEX.values(), ids=TOO_COMPLEX.keys())
def test_offer_filters_refuse_complex_globs_before_any_query(
    registry: Registry, case: tuple[str, str]
) -> None:
    with pytest.raises(InvalidInput) as caught:
        build_offer_query(registry.gpus, regions=[case[0]])
    assert caught.value.field == "region" and len(str(caught.value)) < 200


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"gpus": ["G" * 10_000_000]}, "gpu"),
        ({"providers": ["p" * (MAX_TEXT_LENGTH + 1)]}, "provider"),
        ({"gpus": ["H100"] * (MAX_LIST_ITEMS + 1)}, "gpu"),
        ({"regions": ["us-*"] * (MAX_LIST_ITEMS + 1)}, "region"),
        ({"ids": ["x" * (MAX_TEXT_LENGTH + 1)]}, "ids"),
        ({"purchase_options": ["s" * 10_000]}, "purchase_option"),
        ({"min_gpu_memory_gb": math.nan}, "min_gpu_memory_gb"),
        ({"min_gpu_memory_gb": math.inf}, "min_gpu_memory_gb"),
        ({"min_gpu_count": -math.inf}, "min_gpu_count"),
    ],
)
def test_offer_filters_refuse_long_texts_lists_and_non_finite_numbers(
    registry: Registry, arguments: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        build_offer_query(registry.gpus, **arguments)
    assert caught.value.field == field and len(str(caught.value)) < 200


def test_offer_filters_at_the_limits_are_accepted(registry: Registry) -> None:
    query = build_offer_query(
        registry.gpus, providers=["p" * MAX_TEXT_LENGTH] * MAX_LIST_ITEMS, regions=[EDGE, " us-* "]
    )
    assert query.regions == [EDGE, "us-*"]


def plan_errors(**fields: Any) -> list[dict[str, Any]]:
    with pytest.raises(pydantic.ValidationError) as caught:
        PlanRequest.model_validate({"gpu_hours": 10, **fields})
    return list(caught.value.errors(include_url=False))


@pytest.mark.parametrize(
    ("fields", "loc", "says"),
    [
        ({"deadline_hours": 1e-300}, ("deadline_hours",), f"{MIN_DEADLINE_HOURS:g}"),
        ({"deadline_hours": 0}, ("deadline_hours",), f"{MIN_DEADLINE_HOURS:g}"),
        ({"deadline_hours": math.nan}, ("deadline_hours",), "finite number"),
        ({"gpu_hours": math.nan}, ("gpu_hours",), "finite number"),
        ({"gpu_hours": "inf"}, ("gpu_hours",), "finite number"),
        ({"min_gpu_memory_gb": -math.inf}, ("min_gpu_memory_gb",), "finite number"),
        ({"regions": ["A" * 100_000]}, ("regions", 0), "at most"),
        ({"regions": ["*" * (MAX_PATTERN_WILDCARDS + 1)]}, ("regions", 0), "wildcards"),
        ({"gpus": ["G" * (MAX_TEXT_LENGTH + 1)]}, ("gpus", 0), "at most"),
        ({"gpus": [""]}, ("gpus", 0), "at least 1"),
        ({"providers": ["aws"] * (MAX_LIST_ITEMS + 1)}, ("providers",), "at most"),
        ({"top": 2.5}, ("top",), "integer"),
    ],
)
def test_plan_requests_refuse_out_of_bounds_values(
    fields: dict[str, Any], loc: tuple[Any, ...], says: str
) -> None:
    errors = plan_errors(**fields)
    assert errors[0]["loc"] == loc and says in errors[0]["msg"], errors


def test_nan_is_refused_as_not_finite_before_any_bound_is_checked() -> None:
    # Without the finiteness check first, NaN fails "<= 1000000000" (a misleading message).
    assert [e["msg"] for e in plan_errors(gpu_hours=math.nan)] == [
        "Input should be a finite number"
    ]


def test_plan_requests_at_the_limits_are_accepted() -> None:
    request = PlanRequest.model_validate(
        {
            "gpu_hours": 10,
            "deadline_hours": MIN_DEADLINE_HOURS,
            "regions": [EDGE, " us-* "],
            "gpus": ["G" * MAX_TEXT_LENGTH] * MAX_LIST_ITEMS,
            "top": 3.0,
            "max_gpus": "8",
        }
    )
    assert request.regions == [EDGE, "us-*"] and request.top == 3 and request.max_gpus == 8
    strict = PlanRequest.model_validate_json('{"gpu_hours": 10, "top": 4.0}', strict=True)
    assert strict.top == 4 and isinstance(strict.top, int)
    with pytest.raises(pydantic.ValidationError):
        PlanRequest.model_validate_json('{"gpu_hours": 10, "top": "4"}', strict=True)


@pytest.mark.parametrize(
    "case",
    [c for name, c in TOO_COMPLEX.items() if name != "long"],  # too long for a URL at all
    ids=[name for name in TOO_COMPLEX if name != "long"],
)
def test_a_bad_region_reads_the_same_from_the_cli_and_the_api(
    case: tuple[str, str], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from aggregator.api.app import create_app
    from aggregator.cli import app

    monkeypatch.setenv("GPUHOURS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("GPUHOURS_DATABASE_URL", raising=False)
    pattern = case[0]
    cli = CliRunner().invoke(app, ["offers", "--region", pattern, "--json"])
    with TestClient(create_app()) as client:
        api = client.get("/v1/offers", params={"region": pattern})
    assert cli.exit_code == 2 and api.status_code == 422
    said = json.loads(cli.stdout)["error"]["message"]
    assert said == api.json()["error"]["message"]
    assert "Value error" not in said
