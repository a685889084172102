"""Bounded requests on the HTTP API, on SQLite and PostgreSQL: a body over the size limit is 413
(refused before it is read, or as soon as a chunked body passes the limit), texts, lists and
globs over their limits are 422 naming the field without echoing the value, numbers must be
finite and deadlines above the minimum, whole-number floats count as integers, and every JSON
response goes through the strict writer.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from starlette.responses import PlainTextResponse
from starlette.types import Message

from aggregator import catalog
from aggregator.api.responses import StrictJSONResponse, json_response
from aggregator.api.routes import router
from aggregator.api.routes.export import ExportResponse
from aggregator.json_text import NonFiniteNumber
from aggregator.limits import (
    MAX_BUDGET,
    MAX_LIST_ITEMS,
    MAX_PATTERN_LENGTH,
    MAX_PATTERN_WILDCARDS,
    MAX_REQUEST_BODY_BYTES,
    MAX_TEXT_LENGTH,
    MIN_DEADLINE_HOURS,
)
from aggregator.plans import MIN_PLAN_GPU_HOURS
from db.engine import make_engine
from tests.api.test_api import catalog_rows, error_of, make_client, sync

Catalog = Callable[[list[dict[str, Any]]], Path]


@pytest.fixture
def client(engine: Engine, fake_catalog: Catalog) -> Iterator[TestClient]:
    fake_catalog(catalog_rows())
    with make_client(engine) as test_client:
        sync(test_client)
        yield test_client


def refused(response: Any, status: int, field: str | None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = error_of(response)
    assert error["field"] == field, error
    return error


# -- request body size -----------------------------------------------------------------------


def test_a_declared_body_over_the_limit_is_413_and_never_read(client: TestClient) -> None:
    body = json.dumps({"gpu_hours": 10, "gpus": ["H100"], "pad": "x" * MAX_REQUEST_BODY_BYTES})
    error = refused(client.post("/v1/plan", content=body), 413, None)
    assert error["type"] == "RequestTooLarge" and str(MAX_REQUEST_BODY_BYTES) in error["message"]

    messages: list[Message] = []

    async def receive() -> Message:
        raise AssertionError("the body of a request declared too large was read")

    async def send(message: Message) -> None:
        messages.append(message)

    scope = _scope([(b"content-length", str(MAX_REQUEST_BODY_BYTES + 1).encode())])
    _run(client, scope, receive, send)
    assert messages[0]["status"] == 413


def test_a_chunked_body_is_cut_off_when_it_passes_the_limit(client: TestClient) -> None:
    chunk = b" " * 4096
    reads = 0

    async def receive() -> Message:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": chunk, "more_body": True}  # never ends

    messages: list[Message] = []

    async def send(message: Message) -> None:
        messages.append(message)

    _run(client, _scope([]), receive, send)
    assert messages[0]["status"] == 413
    assert reads == MAX_REQUEST_BODY_BYTES // len(chunk) + 1
    body = json.loads(b"".join(m.get("body", b"") for m in messages[1:]))
    assert body["error"]["type"] == "RequestTooLarge"


def test_a_streamed_body_over_the_limit_is_413_through_the_client(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"gpu_hours": 10, "gpus": ["'
        for _ in range(MAX_REQUEST_BODY_BYTES // 1024 + 1):
            yield b"A" * 1024
        yield b'"]}'

    response = client.post("/v1/plan", content=chunks())
    refused(response, 413, None)
    assert "AAAA" not in response.text


def _scope(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/v1/plan", "raw_path": b"/v1/plan", "query_string": b"",
        "root_path": "", "headers": [(b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 1), "server": ("testserver", 80),
    }  # fmt: skip


def _run(client: TestClient, scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert client.portal is not None
    client.portal.call(client.app, scope, receive, send)


# -- texts, lists and globs ------------------------------------------------------------------

LONG_GLOB = "A" * 60_000  # under the body limit: a 100,000-character one is 413 already
GLOBS = {
    "long": LONG_GLOB,
    "one-too-long": "A" * (MAX_PATTERN_LENGTH + 1),
    "wildcards": "*a" * (MAX_PATTERN_WILDCARDS + 1),
    "blank": "  ",
}


@pytest.mark.parametrize("glob", GLOBS.values(), ids=GLOBS.keys())
def test_a_too_complex_region_glob_is_422_on_plans(client: TestClient, glob: str) -> None:
    posted = client.post("/v1/plan", json={"gpu_hours": 10, "regions": [glob]})
    refused(posted, 422, "regions.0")
    assert len(posted.content) < 2000
    got = client.get("/v1/plan", params={"gpu_hours": 10, "regions": [glob[:10_000]]})
    refused(got, 422, "regions")


def test_the_issue_s_100k_region_glob_is_refused_before_any_query(client: TestClient) -> None:
    posted = client.post("/v1/plan", json={"gpu_hours": 10, "regions": ["A" * 100_000]})
    assert refused(posted, 413, None)["type"] == "RequestTooLarge"


@pytest.mark.parametrize("glob", GLOBS.values(), ids=GLOBS.keys())
def test_a_too_complex_region_glob_is_422_on_offers(client: TestClient, glob: str) -> None:
    region = glob[:10_000]  # the client's own URL limit
    response = client.get("/v1/offers", params={"region": region})
    refused(response, 422, "region")
    assert len(response.content) < 2000


def test_globs_at_the_limits_are_accepted(client: TestClient) -> None:
    glob = "*" * MAX_PATTERN_WILDCARDS + "a" * (MAX_PATTERN_LENGTH - MAX_PATTERN_WILDCARDS)
    assert client.get("/v1/offers", params={"region": glob}).status_code == 200
    listed = client.get("/v1/offers", params={"region": "*-west-?"})
    assert listed.status_code == 200 and listed.json()["count"] > 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"gpus": ["A" * 10_000]}, "gpus.0"),
        ({"providers": ["p" * (MAX_TEXT_LENGTH + 1)]}, "providers.0"),
        ({"gpus": ["H100"] * (MAX_LIST_ITEMS + 1)}, "gpus"),
        ({"regions": ["us-*"] * (MAX_LIST_ITEMS + 1)}, "regions"),
        ({"gpus": [""]}, "gpus.0"),
        ({"gpus": ["  "]}, "gpus"),
    ],
)
def test_long_texts_and_lists_in_a_plan_are_422_without_the_value(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/plan", json={"gpu_hours": 10, **body})
    refused(response, 422, field)
    assert len(response.content) < 2000


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"gpu": "G" * 10_000}, "gpu"),
        ({"provider": "p" * (MAX_TEXT_LENGTH + 1)}, "provider"),
        ({"gpu": ["H100"] * (MAX_LIST_ITEMS + 1)}, "gpu"),
        ({"gpu": ""}, "gpu"),
        ({"purchase_option": "forever"}, "purchase_option"),
        ({"cursor": "c" * 10_000}, "cursor"),
    ],
)
def test_long_texts_and_lists_in_offer_filters_are_422_without_the_value(
    client: TestClient, params: dict[str, Any], field: str
) -> None:
    response = client.get("/v1/offers", params=params)
    refused(response, 422, field)
    assert len(response.content) < 2000


def test_long_path_parameters_are_422(client: TestClient) -> None:
    refused(client.get(f"/v1/offers/{'x' * 10_000}/history"), 422, "offer_id")


def test_purchase_options_on_offers_accept_the_documented_spellings(client: TestClient) -> None:
    for spelling in ("spot", "SPOT", "on-demand", "on_demand"):
        response = client.get("/v1/offers", params={"purchase_option": spelling})
        assert response.status_code == 200, (spelling, response.text)
        assert response.json()["count"] > 0


# -- numbers -----------------------------------------------------------------------------------


def test_a_deadline_below_the_minimum_is_422_naming_it(client: TestClient) -> None:
    for deadline in (1e-300, 0, MIN_DEADLINE_HOURS / 2):
        body = {"gpu_hours": 10, "deadline_hours": deadline}
        error = refused(client.post("/v1/plan", json=body), 422, "deadline_hours")
        assert f"{MIN_DEADLINE_HOURS:g}" in error["message"]
    ok = {"gpu_hours": 1, "gpus": ["H100"], "deadline_hours": MIN_DEADLINE_HOURS}
    assert client.post("/v1/plan", json=ok).status_code == 200


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "Infinity"])
def test_nan_and_infinities_are_422_with_one_message(client: TestClient, text: str) -> None:
    offers = client.get("/v1/offers", params={"min_gpu_memory_gb": text})
    assert "finite number" in refused(offers, 422, "min_gpu_memory_gb")["message"]
    for field in ("gpu_hours", "deadline_hours", "spot_overhead"):
        params: dict[str, Any] = {"gpu_hours": 10, field: text}
        assert (
            "finite number" in refused(client.get("/v1/plan", params=params), 422, field)["message"]
        )
    raw = f'{{"gpu_hours": {text if text != "nan" else "NaN"}}}'
    posted = client.post("/v1/plan", content=raw, headers={"content-type": "application/json"})
    assert posted.status_code == 422


def test_whole_number_floats_count_as_integers_in_bodies_and_queries(client: TestClient) -> None:
    body: dict[str, Any] = {"gpu_hours": 10, "gpus": ["H100"], "top": 3.0, "max_gpus": 16.0}
    posted = client.post("/v1/plan", json=body)
    assert posted.status_code == 200, posted.text
    got = client.get("/v1/plan", params={**body, "top": "3.0", "max_gpus": "16.0"})
    assert got.status_code == 200, got.text
    assert got.json() == posted.json()
    offers = client.get("/v1/offers", params={"limit": "3.0"})
    assert offers.status_code == 200 and offers.json()["count"] == 3
    refused(client.post("/v1/plan", json={**body, "top": 3.5}), 422, "top")
    refused(client.post("/v1/plan", json={**body, "top": "3"}), 422, "top")  # JSON: no strings
    refused(client.get("/v1/offers", params={"limit": "3.5"}), 422, "limit")


# -- strict JSON --------------------------------------------------------------------------------


def test_every_json_route_answers_through_the_strict_writer() -> None:
    routes = [r for r in router.routes if isinstance(r, APIRoute)]
    assert len(routes) >= 10
    binary = {"/v1/export": ExportResponse}  # gzip JSON Lines, not a JSON document
    for route in routes:
        allowed = (StrictJSONResponse, PlainTextResponse, binary.get(route.path))
        assert route.response_class in allowed, route.path


def test_a_non_finite_number_fails_loudly_instead_of_becoming_null(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    listing = catalog.gpu_list(client.app.state.service.registry)  # type: ignore[attr-defined]
    broken = listing.model_copy(
        update={"gpus": [listing.gpus[0].model_copy(update={"bf16_tflops": math.inf})]}
    )
    with pytest.raises(NonFiniteNumber):
        json_response(broken)
    monkeypatch.setattr(catalog, "gpu_list", lambda registry: broken)
    response = client.get("/v1/gpus")
    assert response.status_code == 500 and error_of(response)["type"] == "NonFiniteNumber"
    assert "bf16_tflops" not in response.text and "Infinity" not in response.text


def test_strict_responses_are_the_same_json_as_pydantic_writes(client: TestClient) -> None:
    offers = client.get("/v1/offers", params={"limit": 5})
    plan = client.post("/v1/plan", json={"gpu_hours": 100, "gpus": ["H100"]})
    assert offers.status_code == plan.status_code == 200
    for response in (offers, plan, client.get("/v1/gpus"), client.get("/v1/providers")):
        assert response.headers["content-type"] == "application/json"
        document = json.loads(response.content)
        assert json.loads(json.dumps(document, allow_nan=False)) == document
    listing = catalog.gpu_list(client.app.state.service.registry)  # type: ignore[attr-defined]
    assert json.loads(bytes(json_response(listing).body)) == json.loads(listing.model_dump_json())


# -- the OpenAPI document --------------------------------------------------------------------

PYDANTIC_ONLY_KEYWORDS = {
    "gt", "ge", "lt", "le", "multiple_of", "min_length", "max_length", "allow_inf_nan",
    "strict", "max_digits", "decimal_places", "min_items", "max_items",
}  # fmt: skip


@pytest.fixture
def openapi(tmp_path: Path, fake_catalog: Catalog) -> Iterator[dict[str, Any]]:
    fake_catalog(catalog_rows())
    engine = make_engine(f"sqlite:///{tmp_path / 'schema.db'}")
    with make_client(engine) as test_client:
        yield test_client.get("/openapi.json").json()
    engine.dispose()


def _keywords(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, key) for every key of every schema object, property names left out."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _keywords(item, f"{path}/{index}")
    elif isinstance(node, dict):
        for key, value in node.items():
            yield path, key
            if key == "properties" and isinstance(value, dict):
                for name, schema in value.items():
                    yield from _keywords(schema, f"{path}/properties/{name}")
            else:
                yield from _keywords(value, f"{path}/{key}")


def test_the_schema_uses_only_standard_json_schema_keywords(openapi: dict[str, Any]) -> None:
    found = [f"{path}: {key}" for path, key in _keywords(openapi) if key in PYDANTIC_ONLY_KEYWORDS]
    assert not found


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        target: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = target
    return schema


def _unbounded(document: dict[str, Any], schema: dict[str, Any], where: str) -> Iterator[str]:
    schema = _resolve(document, schema)
    for branch in ("anyOf", "oneOf", "allOf"):
        for index, option in enumerate(schema.get(branch, [])):
            yield from _unbounded(document, option, f"{where}/{branch}/{index}")
    kind = schema.get("type")
    if kind == "string" and "maxLength" not in schema and "enum" not in schema:
        yield f"{where}: string without maxLength"
    if kind == "array":
        if "maxItems" not in schema:
            yield f"{where}: array without maxItems"
        yield from _unbounded(document, schema.get("items", {}), f"{where}/items")
        if "items" in schema and _resolve(document, schema["items"]).get("type") == "string":
            items = _resolve(document, schema["items"])
            if "enum" not in items and items.get("minLength", 0) < 1:
                yield f"{where}/items: string items without minLength 1"
    for name, child in schema.get("properties", {}).items():
        yield from _unbounded(document, child, f"{where}/{name}")


def test_every_text_and_list_the_api_takes_is_bounded(openapi: dict[str, Any]) -> None:
    problems: list[str] = []
    inputs = 0
    for route, operations in openapi["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                inputs += 1
                where = f"{method.upper()} {route} {parameter['name']}"
                problems += _unbounded(openapi, parameter["schema"], where)
            for content in operation.get("requestBody", {}).get("content", {}).values():
                inputs += 1
                problems += _unbounded(openapi, content["schema"], f"{method.upper()} {route}")
    assert inputs > 20 and not problems


def test_schema_bounds_are_the_limits_the_server_enforces(openapi: dict[str, Any]) -> None:
    plan = openapi["components"]["schemas"]["PlanRequest"]["properties"]
    assert plan["deadline_hours"]["anyOf"][0]["minimum"] == MIN_DEADLINE_HOURS
    assert plan["gpu_hours"]["anyOf"][0]["minimum"] == MIN_PLAN_GPU_HOURS
    assert plan["budget"]["anyOf"][0]["maximum"] == MAX_BUDGET
    assert plan["throughput"]["maxProperties"] == MAX_LIST_ITEMS
    assert plan["regions"]["items"]["maxLength"] == MAX_PATTERN_LENGTH
    assert plan["gpus"]["maxItems"] == MAX_LIST_ITEMS
    offers = {p["name"]: p["schema"] for p in openapi["paths"]["/v1/offers"]["get"]["parameters"]}
    items = _resolve(openapi, offers["purchase_option"]["anyOf"][0]["items"])
    assert set(items["enum"]) == {"on_demand", "spot", "low_priority", "reserved",
                                  "savings_plan", "committed"}  # fmt: skip
