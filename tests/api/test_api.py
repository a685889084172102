"""The HTTP API on SQLite and PostgreSQL, with prices synced through the fake plugin.

Every endpoint, the admin token on the sync endpoint, 422s naming the field, paging, history,
data age, metrics and error handling. Routes must give what the CLI's functions give.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from aggregator import catalog
from aggregator.api import create_app
from aggregator.api.cache import AnswerCache, ApiSettings
from aggregator.offer_query import build_offer_query
from aggregator.plugins import load_registry
from aggregator.scheduler import SchedulerSettings
from aggregator.settings import Settings
from tests.fake_plugins import offer_row

Catalog = Callable[[list[dict[str, Any]]], Path]
TOKEN = "test-admin-token-5e3f"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FEED = "fakecloud/static"


def catalog_rows() -> list[dict[str, Any]]:
    """Four distinct offers (two GPUs, spot and on-demand, two regions) plus 21 for paging."""
    rows = [
        offer_row(),
        offer_row(instance_type="fk.1xh100", gpu_count=1, price_per_hour=12.0),
        offer_row(instance_type="fk.8xa100", gpu="A100", gpu_memory_gb=40, price_per_hour=32.77),
        offer_row(
            instance_type="fk.8xa100",
            purchase_option="spot",
            price_per_hour=9.8,
            gpu="A100",
            gpu_memory_gb=40,
            region="eu-west-1",
        ),
    ]
    rows += [
        offer_row(instance_type=f"fk.l4.{i:02d}", gpu="L4", gpu_memory_gb=24, gpu_count=1,
                  price_per_hour=0.5 + i / 100, region="us-west-2")
        for i in range(21)
    ]  # fmt: skip
    return rows


def make_client(
    engine: Engine,
    *,
    token: str | None = TOKEN,
    cache_seconds: float = 1.0,
    version_check_seconds: float = 0.0,
    **settings: Any,
) -> TestClient:
    config = Settings(plugins="fakecloud", http_retries=0, admin_token=token, **settings)
    app = create_app(
        config,
        engine=engine,
        registry=load_registry(config),
        schedule=SchedulerSettings(schedule={"fakecloud/http": "off"}),
        api=ApiSettings(
            api_cache_seconds=cache_seconds, api_version_check_seconds=version_check_seconds
        ),
    )
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(engine: Engine, fake_catalog: Catalog) -> Iterator[TestClient]:
    fake_catalog(catalog_rows())
    with make_client(engine) as test_client:
        yield test_client


def sync(client: TestClient, feed: str = FEED, **params: Any) -> Any:
    response = client.post(f"/v1/sync/{feed}", headers=AUTH, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert "Traceback" not in response.text
    return dict(body["error"])


# -- sync and auth -------------------------------------------------------------------------------


def test_sync_endpoint_runs_the_sync_engine(client: TestClient, engine: Engine) -> None:
    document = sync(client)
    assert document["feeds"] == [FEED] and document["waited"] is True
    (run,) = document["runs"]
    assert (run["feed"], run["status"], run["seen"], run["new"]) == (FEED, "ok", 25, 25)
    assert catalog.providers_report(load_registry(Settings(plugins="fakecloud")), engine)


def test_sync_by_provider_name_selects_its_feeds(client: TestClient) -> None:
    document = client.post("/v1/sync/fakecloud", headers=AUTH).json()
    assert sorted(document["feeds"]) == ["fakecloud/http", FEED]


def test_sync_needs_the_admin_token(client: TestClient) -> None:
    missing = client.post(f"/v1/sync/{FEED}")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert error_of(missing)["type"] == "Unauthorized"
    wrong = client.post(f"/v1/sync/{FEED}", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    basic = client.post(f"/v1/sync/{FEED}", headers={"Authorization": f"Basic {TOKEN}"})
    assert basic.status_code == 401
    assert TOKEN not in wrong.text + basic.text
    assert client.get("/v1/offers").json()["count"] == 0  # nothing was synced


def test_sync_is_disabled_without_a_configured_token(engine: Engine, fake_catalog: Catalog) -> None:
    fake_catalog(catalog_rows())
    with make_client(engine, token=None) as client:
        response = client.post(f"/v1/sync/{FEED}", headers=AUTH)
        assert response.status_code == 403
        assert "GPUHOURS_ADMIN_TOKEN" in error_of(response)["message"]


def test_sync_of_an_unknown_feed_is_422_naming_the_feed(client: TestClient) -> None:
    response = client.post("/v1/sync/nosuchcloud/feed", headers=AUTH)
    assert response.status_code == 422
    assert error_of(response)["field"] == "feed"


def test_sync_without_waiting_answers_202_and_syncs_in_the_background(
    client: TestClient,
) -> None:
    response = client.post(f"/v1/sync/{FEED}", headers=AUTH, params={"wait": "false"})
    assert response.status_code == 202
    assert response.json() == {"feeds": [FEED], "runs": [], "waited": False}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        feeds = {f["id"]: f for f in client.get("/v1/providers").json()["feeds"]}
        if (feeds[FEED]["last_run"] or {}).get("status") not in (None, "running"):
            break
        time.sleep(0.05)
    assert feeds[FEED]["last_run"]["status"] == "ok"


# -- offers ----------------------------------------------------------------------------------------


def test_offers_are_the_catalog_query_cheapest_first(client: TestClient, engine: Engine) -> None:
    sync(client)
    page = client.get("/v1/offers", params={"limit": 100}).json()
    registry = load_registry(Settings(plugins="fakecloud"))
    expected = catalog.find_offers(engine, build_offer_query(registry.gpus, limit=100))
    assert page["count"] == 25 and page["next_cursor"] is None
    assert [o["id"] for o in page["offers"]] == [o.id for o in expected]
    assert page["offers"][0] == expected[0].model_dump(mode="json")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"gpu": "nvidia-tesla-a100"}, {"fk.8xa100"}),
        ({"gpu": ["h100", "a100:40"], "spot": "true"}, {"fk.8xa100"}),
        ({"spot": "false", "gpu": "A100"}, {"fk.8xa100"}),
        ({"region": "EU-*"}, {"fk.8xa100"}),
        ({"min_gpu_memory_gb": 80}, {"fk.8xh100", "fk.1xh100"}),
        ({"purchase_option": "spot"}, {"fk.8xa100"}),
        ({"provider": "nosuch"}, set()),
    ],
)
def test_offers_take_the_cli_filters(
    client: TestClient, params: dict[str, Any], expected: set[str]
) -> None:
    sync(client)
    offers = client.get("/v1/offers", params=params).json()["offers"]
    assert {o["instance_type"] for o in offers} == expected


def test_offers_sort_by_instance_hour(client: TestClient) -> None:
    sync(client)
    offers = client.get("/v1/offers", params={"sort": "hour", "gpu": "H100"}).json()["offers"]
    assert [o["price_per_hour"] for o in offers] == [12.0, 98.32]


def test_paging_walks_every_offer_once_in_order(client: TestClient) -> None:
    sync(client)
    everything = [o["id"] for o in client.get("/v1/offers", params={"limit": 500}).json()["offers"]]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 7}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/offers", params=params).json()
        seen += [o["id"] for o in page["offers"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 4 and seen == everything and len(set(seen)) == 25


def test_a_cursor_only_works_with_its_own_filters(client: TestClient) -> None:
    sync(client)
    cursor = client.get("/v1/offers", params={"limit": 2, "gpu": "L4"}).json()["next_cursor"]
    assert client.get("/v1/offers", params={"cursor": cursor, "gpu": "L4"}).status_code == 200
    other = client.get("/v1/offers", params={"cursor": cursor, "gpu": "H100"})
    assert other.status_code == 422 and error_of(other)["field"] == "cursor"
    garbage = client.get("/v1/offers", params={"cursor": "not-a-cursor"})
    assert garbage.status_code == 422 and error_of(garbage)["field"] == "cursor"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"limit": 100_000}, "limit"),
        ({"gpu": "Q9000"}, "gpu"),
        ({"purchase_option": "forever"}, "purchase_option"),
        ({"sort": "cheap"}, "sort"),
        ({"min_gpu_memory_gb": -1}, "min_gpu_memory_gb"),
        ({"min_gpu_memory_gb": "nan"}, "min_gpu_memory_gb"),
        ({"region": " "}, "region"),
        ({"spot": "maybe"}, "spot"),
    ],
)
def test_bad_offer_filters_are_422_naming_the_field(
    client: TestClient, params: dict[str, Any], field: str
) -> None:
    response = client.get("/v1/offers", params=params)
    assert response.status_code == 422
    error = error_of(response)
    assert error["field"] == field and error["message"]


def test_a_misspelt_query_parameter_is_422_not_ignored(client: TestClient) -> None:
    response = client.get("/v1/offers", params={"gpus": "H100"})  # the filter is "gpu"
    assert response.status_code == 422 and error_of(response)["field"] == "gpus"
    plan = client.get("/v1/plan", params={"gpu_hours": 10, "gpu": "H100"})  # here: "gpus"
    assert plan.status_code == 422 and error_of(plan)["field"] == "gpu"


def test_offers_carry_the_age_of_their_prices(client: TestClient) -> None:
    empty = client.get("/v1/offers")
    assert "x-data-age-seconds" not in empty.headers
    assert empty.json()["data_age_seconds"] is None
    sync(client)
    time.sleep(1.1)
    page = client.get("/v1/offers")
    age = page.json()["data_age_seconds"]
    assert 1 <= age < 30
    assert int(page.headers["x-data-age-seconds"]) == int(age)


def test_identical_requests_share_an_answer_until_any_process_syncs(
    engine: Engine, fake_catalog: Catalog
) -> None:
    import asyncio

    from aggregator.sync import sync_feeds

    fake_catalog(catalog_rows())
    with make_client(engine, cache_seconds=60) as client:
        sync(client)
        service = client.app.state.service  # type: ignore[attr-defined]
        first = client.get("/v1/offers", params={"gpu": "H100"}).json()["offers"]
        assert client.get("/v1/offers", params={"gpu": "H100"}).json()["offers"] == first
        assert service.answers.hits == 1
        rows = catalog_rows()
        rows[1] = offer_row(instance_type="fk.1xh100", gpu_count=1, price_per_hour=11.0)
        fake_catalog(rows)
        config = Settings(plugins="fakecloud", http_retries=0)
        registry = load_registry(config)  # a sync by another process: this one is not told
        asyncio.run(sync_feeds(registry.select_feeds([FEED]), registry, engine, config))
        fresh = client.get("/v1/offers", params={"gpu": "H100"}).json()["offers"]
        assert [o["price_per_hour"] for o in fresh] == [11.0, 98.32]  # at once, not after 60 s
        assert service.answers.hits == 1
        rows[1] = offer_row(instance_type="fk.1xh100", gpu_count=1, price_per_hour=10.0)
        fake_catalog(rows)
        sync(client)  # a sync through this process shows at once too
        now = client.get("/v1/offers", params={"gpu": "H100"}).json()["offers"]
        assert [o["price_per_hour"] for o in now] == [10.0, 98.32]


def test_another_process_sync_shows_once_the_version_is_read_again(
    engine: Engine, fake_catalog: Catalog
) -> None:
    import asyncio

    from aggregator.sync import sync_feeds

    fake_catalog(catalog_rows())
    with make_client(engine, cache_seconds=60, version_check_seconds=2.0) as client:
        sync(client)
        service = client.app.state.service  # type: ignore[attr-defined]
        first = client.get("/v1/offers", params={"gpu": "H100"}).json()["offers"]
        reads = service.version.reads
        rows = catalog_rows()
        rows[1] = offer_row(instance_type="fk.1xh100", gpu_count=1, price_per_hour=11.0)
        fake_catalog(rows)
        config = Settings(plugins="fakecloud", http_retries=0)
        registry = load_registry(config)
        asyncio.run(sync_feeds(registry.select_feeds([FEED]), registry, engine, config))
        for _ in range(5):  # within 2 s: the version is not read again, the memo answers
            assert client.get("/v1/offers", params={"gpu": "H100"}).json()["offers"] == first
        assert service.version.reads == reads
        time.sleep(2.1)
        fresh = client.get("/v1/offers", params={"gpu": "H100"}).json()["offers"]
        assert [o["price_per_hour"] for o in fresh] == [11.0, 98.32]
        assert service.version.reads == reads + 1


def test_the_answer_memo_is_bounded_expires_and_keeps_one_version() -> None:
    memo = AnswerCache(ttl=0.2, max_entries=2)
    memo.put("a", 7, 1)
    memo.put("b", 7, 2)
    assert memo.get("a", 7) == 1  # a is now the most recently used
    memo.put("c", 7, 3)
    assert (memo.get("a", 7), memo.get("b", 7), memo.get("c", 7)) == (1, None, 3)
    assert memo.get("c", 8) is None  # the store moved on: c is dropped
    assert memo.get("c", 7) is None
    time.sleep(0.25)
    assert memo.get("a", 7) is None and len(memo) == 0
    off = AnswerCache(ttl=0, max_entries=10)
    off.put("a", 1, 1)
    assert off.get("a", 1) is None and len(off) == 0


# -- history --------------------------------------------------------------------------------------


def test_history_shows_each_price_interval(client: TestClient, fake_catalog: Catalog) -> None:
    sync(client)
    first = client.get("/v1/offers", params={"gpu": "H100", "sort": "hour"}).json()["offers"][1]
    assert first["instance_type"] == "fk.8xh100"
    rows = catalog_rows()
    rows[0] = offer_row(price_per_hour=88.0)
    fake_catalog(rows)
    sync(client)
    response = client.get(f"/v1/offers/{first['id']}/history")
    assert response.status_code == 200 and "x-data-age-seconds" in response.headers
    history = response.json()
    assert history["offer"]["id"] == first["id"] and history["offer"]["price_per_hour"] == 88.0
    intervals = history["intervals"]
    assert [i["price_per_hour"] for i in intervals] == [98.32, 88.0]
    assert intervals[0]["valid_to"] == intervals[1]["valid_from"]
    assert intervals[1]["valid_to"] is None


def test_history_of_an_unknown_offer_is_404(client: TestClient) -> None:
    response = client.get("/v1/offers/0123456789abcdef0123/history")
    assert response.status_code == 404
    assert error_of(response)["field"] == "offer_id"


# -- plans -----------------------------------------------------------------------------------------


def test_plan_by_post_and_by_get_agree(client: TestClient) -> None:
    sync(client)
    body = {"gpu_hours": 100, "gpus": ["H100"], "max_gpus": 16}
    posted = client.post("/v1/plan", json=body)
    assert posted.status_code == 200, posted.text
    plan = posted.json()
    assert plan["lines"] and plan["total_cost"] > 0
    assert {line["gpu"] for line in plan["lines"]} == {"H100"}
    assert int(posted.headers["x-data-age-seconds"]) >= 0
    got = client.get("/v1/plan", params=body)
    assert got.status_code == 200
    assert got.json()["total_cost"] == plan["total_cost"]
    assert [line["offer_id"] for line in got.json()["lines"]] == [
        line["offer_id"] for line in plan["lines"]
    ]


def test_an_infeasible_plan_is_422_with_the_planners_reason(client: TestClient) -> None:
    sync(client)
    response = client.post(
        "/v1/plan",
        json={"gpu_hours": 1000, "gpus": ["H100"], "deadline_hours": 10, "max_gpus": 8},
    )
    assert response.status_code == 422
    error = error_of(response)
    assert error["type"] == "NoFeasiblePlan" and "max_gpus" in error["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"gpu_hours": -1}, "gpu_hours"),
        ({"budget": 0}, "budget"),
        ({"gpu_hours": 10, "gpus": ["Q9000"]}, "gpus"),
        ({"gpu_hours": 10, "purchase_options": ["forever"]}, "purchase_options.0"),
        ({"gpu_hours": 10, "surprise": 1}, "surprise"),
    ],
)
def test_bad_plan_requests_are_422_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    sync(client)
    posted = client.post("/v1/plan", json=body)
    assert posted.status_code == 422 and error_of(posted)["field"] == field
    got = client.get("/v1/plan", params=body)  # a query parameter is named without an index
    assert got.status_code == 422 and error_of(got)["field"] == field.split(".")[0]


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe\x00garbage", b"[]", b"null"])
def test_a_malformed_json_body_is_422(client: TestClient, body: bytes) -> None:
    response = client.post("/v1/plan", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422 and error_of(response)["type"] == "InvalidInput"


@pytest.mark.parametrize(
    ("body", "field"),
    [({"gpu_hours": "100"}, "gpu_hours"), ({"gpu_hours": 100, "top": False}, "top")],
)
def test_a_json_body_is_held_to_its_schema_types(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/plan", json=body)
    assert response.status_code == 422 and error_of(response)["field"] == field


# -- catalog facts ---------------------------------------------------------------------------------


def test_gpus_include_plugin_gpus(client: TestClient) -> None:
    gpus = {g["name"]: g for g in client.get("/v1/gpus").json()["gpus"]}
    assert {"H100", "A100", "L4", "FAKEGPU"} <= set(gpus)
    assert 80 in gpus["A100"]["memory_gb"] and gpus["FAKEGPU"]["vendor"] == "Fake"


def test_providers_report_schedule_age_and_failure_streaks(
    client: TestClient, fake_catalog: Catalog
) -> None:
    sync(client)
    fake_catalog([offer_row(), {"__raise__": "upstream went away"}])
    for _ in range(2):
        assert sync(client)["runs"][0]["status"] == "failed"
    response = client.get("/v1/providers")
    report = response.json()
    assert {p["name"] for p in report["plugins"]} == {"fakecloud"}
    feeds = {f["id"]: f for f in report["feeds"]}
    static = feeds[FEED]
    assert static["consecutive_failures"] == 2 and static["scheduled"] is True
    assert static["last_run"]["status"] == "failed"
    assert "upstream went away" in static["last_run"]["error"]
    assert static["live_offers"] == 25 and static["age_seconds"] < 60  # stale beats missing
    assert feeds["fakecloud/http"]["scheduled"] is False
    assert "x-data-age-seconds" in response.headers
    fake_catalog(catalog_rows())
    sync(client)
    feeds = {f["id"]: f for f in client.get("/v1/providers").json()["feeds"]}
    assert feeds[FEED]["consecutive_failures"] == 0


# -- operations ------------------------------------------------------------------------------------


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert ready.json()["schema_revision"] == ready.json()["required_revision"]


def test_a_store_with_an_old_schema_is_not_ready_and_queries_get_503(
    empty_engine: Engine, fake_plugins: None
) -> None:
    with make_client(empty_engine) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["status"] == "not_ready"
        assert "gpuhours db upgrade" in ready.json()["reason"]
        offers = client.get("/v1/offers")
        assert offers.status_code == 503 and error_of(offers)["type"] == "SchemaOutdated"
        metrics = client.get("/metrics")
        assert metrics.status_code == 200 and "gpuhours_store_up 0" in metrics.text


def test_an_unreachable_store_is_503_not_500(fake_plugins: None, tmp_path: Path) -> None:
    from db.engine import make_engine

    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2")
    try:
        with make_client(engine) as client:
            assert client.get("/readyz").status_code == 503
            response = client.get("/v1/offers")
            assert response.status_code == 503
            assert error_of(response)["type"] == "StoreUnavailable"
            assert "127.0.0.1" not in response.text
    finally:
        engine.dispose()


def test_an_unexpected_error_is_a_json_500_without_details(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("internal detail that must not leak")

    monkeypatch.setattr(catalog, "find_offers", explode)
    response = client.get("/v1/offers")
    assert response.status_code == 500
    error = error_of(response)
    assert error["type"] == "InternalError"
    assert "must not leak" not in response.text
    assert response.headers["x-request-id"] in error["message"]


def test_unknown_routes_and_methods_are_json_errors(client: TestClient) -> None:
    missing = client.get("/v2/nothing")
    assert missing.status_code == 404 and error_of(missing)["type"] == "NotFound"
    wrong = client.delete("/v1/offers")
    assert wrong.status_code == 405 and error_of(wrong)["type"] == "MethodNotAllowed"


def test_request_ids_are_echoed_or_made(client: TestClient) -> None:
    assert (
        client.get("/healthz", headers={"X-Request-Id": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    assert len(client.get("/healthz").headers["x-request-id"]) == 32


def test_metrics_count_requests_syncs_offers_and_data_age(
    client: TestClient, fake_catalog: Catalog
) -> None:
    sync(client)
    fake_catalog([{"__raise__": "boom"}])
    sync(client)
    client.get("/v1/offers")
    client.get("/v1/offers", params={"limit": 0})
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = _samples(response.text)
    assert (
        samples['gpuhours_http_requests_total{method="GET",route="/v1/offers",status="200"}'] == 1
    )
    assert (
        samples['gpuhours_http_requests_total{method="GET",route="/v1/offers",status="422"}'] == 1
    )
    assert (
        samples['gpuhours_http_request_duration_seconds_count{method="GET",route="/v1/offers"}']
        == 2
    )
    assert samples['gpuhours_sync_runs_total{feed="fakecloud/static",status="ok"}'] == 1
    assert samples['gpuhours_sync_runs_total{feed="fakecloud/static",status="failed"}'] == 1
    assert samples['gpuhours_feed_consecutive_failures{feed="fakecloud/static"}'] == 1
    assert samples['gpuhours_offers{provider="fakecloud"}'] == 25
    assert 0 <= samples['gpuhours_feed_data_age_seconds{feed="fakecloud/static"}'] < 60
    assert samples['gpuhours_feed_stale{feed="fakecloud/http"}'] == 1
    assert 'gpuhours_feed_interval_seconds{feed="fakecloud/http"}' not in samples  # off
    assert samples["gpuhours_store_up"] == 1
    assert samples['gpuhours_api_answers_total{source="computed"}'] >= 1


def _samples(text: str) -> dict[str, float]:
    """Parse the text exposition strictly enough to catch malformed lines."""
    samples: dict[str, float] = {}
    families: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            families[name] = kind
            continue
        if line.startswith("#") or not line:
            continue
        key, value = line.rsplit(" ", 1)
        name = key.split("{", 1)[0]
        base = name.removesuffix("_bucket").removesuffix("_sum").removesuffix("_count")
        assert name in families or base in families, line
        assert key not in samples, f"duplicate sample {key}"
        samples[key] = float(value)
    return samples


def test_openapi_documents_every_route_and_error(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    assert {
        "/v1/offers",
        "/v1/plan",
        "/v1/gpus",
        "/v1/providers",
        "/v1/offers/{offer_id}/history",
        "/v1/sync/{feed}",
        "/healthz",
        "/readyz",
        "/metrics",
    } <= set(paths)
    assert set(paths["/v1/plan"]) == {"get", "post"}
    error_ref = "#/components/schemas/ErrorResponse"
    offers = paths["/v1/offers"]["get"]
    assert offers["responses"]["422"]["content"]["application/json"]["schema"]["$ref"] == error_ref
    assert "X-Data-Age-Seconds" in offers["responses"]["200"]["headers"]
    assert {p["name"] for p in offers["parameters"]} >= {"gpu", "region", "limit", "cursor"}
    sync_op = paths["/v1/sync/{feed}"]["post"]
    assert sync_op["security"] == [{"AdminToken": []}]
    assert {"401", "403", "422"} <= set(sync_op["responses"])
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert client.get("/docs").status_code == 200


# -- host and fabric -------------------------------------------------------------------------------


def _fabric_rows() -> list[dict[str, Any]]:
    return [
        offer_row(interconnect="EFA", interconnect_gbps=3200),  # 24 vCPUs, 256 GB per GPU
        offer_row(instance_type="fk.8xh100.lean", vcpus=4, memory_gb=15, price_per_hour=40.0),
        offer_row(instance_type="fk.8xh100.open", vcpus=None, memory_gb=None, price_per_hour=60),
        offer_row(instance_type="fk.1xh100", gpu_count=1, vcpus=4, memory_gb=16,
                  interconnect_gbps=25, price_per_hour=12.5),
    ]  # fmt: skip


@pytest.fixture
def fabric_client(client: TestClient, fake_catalog: Catalog) -> TestClient:
    fake_catalog(_fabric_rows())
    sync(client)
    return client


def test_offers_show_and_filter_on_host_and_fabric(fabric_client: TestClient) -> None:
    def types(**params: Any) -> set[str]:
        page = fabric_client.get("/v1/offers", params=params)
        assert page.status_code == 200, page.text
        return {o["instance_type"] for o in page.json()["offers"]}

    (efa,) = fabric_client.get("/v1/offers", params={"min_interconnect_gbps": 400}).json()["offers"]
    assert (efa["interconnect"], efa["interconnect_gbps"], efa["vcpus"]) == ("EFA", 3200, 192)
    assert types(min_interconnect_gbps=0) == {"fk.8xh100", "fk.1xh100"}
    assert types(min_vcpus_per_gpu=4) == {"fk.8xh100", "fk.8xh100.open", "fk.1xh100"}
    assert types(min_memory_gb_per_gpu=100) == {"fk.8xh100", "fk.8xh100.open"}
    assert types(min_vcpus_per_gpu=0, min_memory_gb_per_gpu=0) == types()


def test_plans_leave_starved_hosts_out_unless_told_and_can_require_a_fabric(
    fabric_client: TestClient,
) -> None:
    def lines(method: str, **request: Any) -> list[str]:
        body = {"gpu_hours": 800, "gpus": ["H100"], "gpus_per_node": 8, **request}
        response = (
            fabric_client.post("/v1/plan", json=body)
            if method == "post"
            else fabric_client.get("/v1/plan", params=body)
        )
        assert response.status_code == 200, response.text
        return [line["instance_type"] for line in response.json()["lines"]]

    for method in ("post", "get"):
        assert lines(method) == ["fk.8xh100.open"]  # 60/h: the 40/h host is starved
        assert lines(method, min_vcpus_per_gpu=0, min_memory_gb_per_gpu=0) == ["fk.8xh100.lean"]
        assert lines(method, min_interconnect_gbps=400) == ["fk.8xh100"]


def test_offers_and_plans_take_available_now(client: TestClient, fake_catalog: Catalog) -> None:
    fake_catalog(
        [
            offer_row(price_per_hour=40.0),  # no capacity listed
            offer_row(instance_type="fk.8xh100.gone", price_per_hour=50.0, available_in=[]),
            offer_row(instance_type="fk.8xh100.now", price_per_hour=60.0, available_in=["dc-1"]),
        ]
    )
    sync(client)
    page = client.get("/v1/offers", params={"available_now": "true"})
    assert page.status_code == 200, page.text
    assert [(o["instance_type"], o["available_in"]) for o in page.json()["offers"]] == [
        ("fk.8xh100.now", ["dc-1"])
    ]
    every = {
        o["instance_type"]: o["available_now"] for o in client.get("/v1/offers").json()["offers"]
    }
    assert every == {"fk.8xh100": None, "fk.8xh100.gone": False, "fk.8xh100.now": True}
    body = {"gpu_hours": 800, "gpus": ["H100"], "available_now": True}
    for response in (client.post("/v1/plan", json=body), client.get("/v1/plan", params=body)):
        assert response.status_code == 200, response.text
        (line,) = response.json()["lines"]
        assert (line["instance_type"], line["available_in"]) == ("fk.8xh100.now", ["dc-1"])
    bad = client.get("/v1/offers", params={"available_now": "maybe"})
    assert bad.status_code == 422 and error_of(bad)["field"] == "available_now"
    bad_plan = client.post("/v1/plan", json={**body, "available_now": "maybe"})
    assert bad_plan.status_code == 422 and error_of(bad_plan)["field"] == "available_now"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"min_vcpus_per_gpu": -1}, "min_vcpus_per_gpu"),
        ({"min_memory_gb_per_gpu": "nan"}, "min_memory_gb_per_gpu"),
        ({"min_interconnect_gbps": 1e9}, "min_interconnect_gbps"),
        ({"min_interconnect_gbps": "fast"}, "min_interconnect_gbps"),
    ],
)
def test_bad_host_and_fabric_bounds_are_422_naming_the_field(
    fabric_client: TestClient, params: dict[str, Any], field: str
) -> None:
    offers = fabric_client.get("/v1/offers", params=params)
    assert offers.status_code == 422 and error_of(offers)["field"] == field
    plan = {"gpu_hours": 10, **params}
    got = fabric_client.get("/v1/plan", params=plan)
    assert got.status_code == 422 and error_of(got)["field"] == field
    if isinstance(params[field], str):
        return  # a string is never a number in a JSON body: the type error, not the bound
    posted = fabric_client.post("/v1/plan", json=plan)
    assert posted.status_code == 422 and error_of(posted)["field"] == field


def test_a_plan_that_needs_a_faster_fabric_is_422_with_the_reason(
    fabric_client: TestClient,
) -> None:
    response = fabric_client.post("/v1/plan", json={"gpu_hours": 10, "min_interconnect_gbps": 6400})
    assert response.status_code == 422
    error = error_of(response)
    assert error["type"] == "NoFeasiblePlan"
    assert error["message"] == (
        "no matching offers document at least 6400 Gbit/s between instances "
        "(the most documented is 3200 Gbit/s)"
    )
