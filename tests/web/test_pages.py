"""The web pages over a store synced from the bundled snapshot, on SQLite and PostgreSQL.

Each page answers what the JSON API answers for the same question (the same offers, the same
plan, the same messages for bad input), escapes what it echoes, and answers a bad or unknown
query string with the page and a message, never a server error.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from aggregator.plans import PlanRequest
from aggregator.web.offers import COLUMNS, PAGE_SIZE
from aggregator.web.plan import FIELDS
from tests.web.conftest import web_app

ROW_ID = re.compile(r'<tr data-id="([^"]+)">')


def row_ids(body: str) -> list[str]:
    return ROW_ID.findall(body)


def field_error(body: str, name: str) -> str | None:
    found = re.search(rf'<[a-z]+ class="(?:field-)?error"[^>]* id="error-{name}">([^<]*)<', body)
    return html.unescape(found.group(1)) if found else None


def api_messages(body: dict[str, Any]) -> set[str]:
    """The messages of an API error body: the whole one and each field's."""
    error = body["error"]
    return {error["message"], *(e["message"] for e in error["errors"])}


def api_offers(web: TestClient, **params: Any) -> list[dict[str, Any]]:
    """Every offer ``GET /v1/offers`` lists for ``params``, following its cursors."""
    offers: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"limit": 500, **params, **({"cursor": cursor} if cursor else {})}
        response = web.get("/v1/offers", params=query)
        assert response.status_code == 200, response.text
        offers += response.json()["offers"]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return offers


def test_the_offers_page_lists_the_cheapest_offers_first_as_the_api_does(web: TestClient) -> None:
    page = web.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert row_ids(page.text) == [o["id"] for o in api_offers(web)][:PAGE_SIZE]


@pytest.mark.parametrize(
    "query",
    [
        {"gpu": "H100"},
        {"gpu": "a100:80", "region": "us-*"},
        {"provider": "gcp", "spot": "true"},
        {"purchase_option": "reserved", "min_gpu_memory_gb": "40"},
    ],
)
def test_filters_keep_the_offers_the_api_keeps(web: TestClient, query: dict[str, str]) -> None:
    page = web.get("/", params=query)
    assert page.status_code == 200
    expected = [o["id"] for o in api_offers(web, **query)]
    assert expected, "a filter that keeps nothing tests nothing"
    assert row_ids(page.text) == expected[:PAGE_SIZE]


def test_gpus_per_node_keeps_offers_with_that_many_gpus(web: TestClient) -> None:
    page = web.get("/", params={"gpus_per_node": "8", "limit": 500})
    offers = {o["id"]: o for o in api_offers(web)}
    ids = row_ids(page.text)
    assert ids and all(offers[i]["gpu_count"] == 8 for i in ids)


@pytest.mark.parametrize("column", [c.key for c in COLUMNS])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_every_column_sorts_either_way(web: TestClient, column: str, order: str) -> None:
    page = web.get("/", params={"sort": column, "order": order, "limit": 500})
    assert page.status_code == 200
    offers = {o["id"]: o for o in api_offers(web)}
    values = [offers[i][column] for i in row_ids(page.text)]
    known = [v for v in values if v is not None]
    assert values[: len(known)] == known, "unknown values come last"
    newest_first = column == "observed_at"  # ascending age
    descending = (order == "desc") != newest_first
    assert known == sorted(known, reverse=descending)
    assert f'aria-sort="{"ascending" if order == "asc" else "descending"}"' in page.text


def test_pages_follow_each_other_and_the_url_keeps_the_filters(web: TestClient) -> None:
    first = web.get("/", params={"gpu": "H100", "spot": "false", "limit": "5", "sort": "region"})
    link = re.search(r'href="(/\?[^"]+)" rel="next"', first.text)
    assert link is not None
    url = html.unescape(link.group(1))
    assert "gpu=H100" in url and "spot=false" in url and "sort=region" in url and "page=2" in url
    second = web.get(url)
    everything = row_ids(web.get("/?gpu=H100&spot=false&sort=region&limit=500").text)
    assert row_ids(first.text) + row_ids(second.text) == everything[:10]


def test_each_row_links_to_its_offer(web: TestClient) -> None:
    body = web.get("/", params={"limit": 3}).text
    for offer_id in row_ids(body):
        assert f'href="/offers/{offer_id}"' in body


def test_a_bad_filter_gets_the_api_message_next_to_its_field(web: TestClient) -> None:
    for query, field in [
        ({"gpu": "not-a-gpu"}, "gpu"),
        ({"min_gpu_memory_gb": "-1"}, "min_gpu_memory_gb"),
        ({"region": "*" * 20}, "region"),
        ({"purchase_option": "cheap"}, "purchase_option"),
    ]:
        page = web.get("/", params=query)
        api = web.get("/v1/offers", params=query)
        assert page.status_code == api.status_code == 422
        assert field_error(page.text, field) in api_messages(api.json())


def test_an_unknown_parameter_is_named_and_ignored(web: TestClient) -> None:
    page = web.get("/", params={"gpus": "H100", "gpu": "L4"})
    assert page.status_code == 200
    assert "Ignored unknown parameter: gpus." in page.text
    assert row_ids(page.text) == [o["id"] for o in api_offers(web, gpu="L4")][:PAGE_SIZE]


def test_what_a_page_echoes_is_escaped(web: TestClient) -> None:
    evil = '<script>alert("x")</script>'
    for path in ("/", "/plan", "/offers/x"):
        body = web.get(path, params={"gpu": evil, evil: "1", "gpus": evil}).text
        assert "<script>alert" not in body
        assert "&lt;script&gt;" in body


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(["/", "/plan", "/providers", "/offers/abc"]),
    params=st.lists(
        st.tuples(
            st.sampled_from(["gpu", "sort", "order", "page", "limit", "spot", "region",
                             "gpu_hours", "budget", "gpus", "throughput", "spot_overhead",
                             "deadline_hours", "top", "x"]),
            st.text(max_size=30),
        ),
        max_size=6,
    ),
)  # fmt: skip
def test_no_query_string_gives_a_server_error(
    web: TestClient, path: str, params: list[tuple[str, str]]
) -> None:
    response = web.get(path, params=params)
    assert response.status_code < 500 or response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("text/html")


def test_an_offer_page_shows_every_field_its_source_and_its_history(web: TestClient) -> None:
    offer = api_offers(web, gpu="H100")[0]
    page = web.get(f"/offers/{offer['id']}")
    assert page.status_code == 200
    for name in offer:
        if name != "source":
            assert f"<dt>{name}</dt>" in page.text
    for key, value in offer["source"].items():
        assert f"<dt>{html.escape(key)}</dt><dd><code>{html.escape(value)}</code>" in page.text
    history = web.get(f"/v1/offers/{offer['id']}/history").json()
    assert page.text.count("<tr><td><time") == len(history["intervals"])
    assert 'id="history-data"' in page.text and "uPlot.iife.min.js" in page.text


def test_an_unknown_offer_is_a_404_page(web: TestClient) -> None:
    for offer_id in ("nope", "x" * 65):
        page = web.get(f"/offers/{offer_id}")
        assert page.status_code == 404
        assert page.headers["content-type"].startswith("text/html")
        assert 'role="alert"' in page.text


PLAN = {"gpu_hours": "1000", "gpus": "H100", "deadline_hours": "72", "max_gpus": "64"}


def test_the_plan_page_shows_the_plan_the_api_gives(web: TestClient) -> None:
    page = web.get("/plan", params=PLAN)
    assert page.status_code == 200
    plan = web.get("/v1/plan", params=PLAN).json()
    total = re.search(r'id="plan" data-total="([^"]+)"', page.text)
    assert total is not None and float(total.group(1)) == plan["total_cost"]
    for note in plan["notes"]:
        assert html.escape(note) in page.text
    for alternative in plan["alternatives"]:
        assert html.escape(alternative["label"]) in page.text
    posted = web.post("/plan", data=PLAN)
    assert posted.status_code == 200
    assert f'data-total="{total.group(1)}"' in posted.text


def test_list_fields_take_commas_and_the_api_link_asks_the_same(web: TestClient) -> None:
    query = {"gpu_hours": "500", "gpus": "H100, A100", "providers": "aws,gcp"}
    page = web.get("/plan", params=query)
    link = re.search(r'href="([^"]+)" id="api-link"', page.text)
    assert link is not None
    api = web.get(html.unescape(link.group(1)))
    assert api.status_code == 200
    total = re.search(r'data-total="([^"]+)"', page.text)
    assert total is not None and float(total.group(1)) == api.json()["total_cost"]
    assert {line["gpu"] for line in api.json()["lines"]} <= {"H100", "A100"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"gpu_hours": "-1"}, "gpu_hours"),
        ({"gpu_hours": "100", "deadline_hours": "0.01"}, "deadline_hours"),
        ({"gpu_hours": "100", "gpus": "not-a-gpu"}, "gpus"),
        ({"gpu_hours": "100", "max_gpus": "3.5"}, "max_gpus"),
        ({"gpu_hours": "100", "throughput": "H100"}, "throughput"),
    ],
)
def test_bad_plan_input_gets_the_api_message_next_to_its_field(
    web: TestClient, query: dict[str, str], field: str
) -> None:
    page = web.get("/plan", params=query)
    api = web.get("/v1/plan", params=query)
    assert page.status_code == api.status_code == 422
    assert field_error(page.text, field) in api_messages(api.json())


def test_a_request_with_no_answer_says_why(web: TestClient) -> None:
    for query in (
        {"gpus": "H100"},
        {"gpu_hours": "100000", "gpus": "H100", "deadline_hours": "1", "max_gpus": "8"},
    ):
        page = web.get("/plan", params=query)
        api = web.get("/v1/plan", params=query)
        assert page.status_code == api.status_code == 422
        assert field_error(page.text, "general") in api_messages(api.json())


def test_the_plan_form_has_every_option_of_the_planner_with_a_label(web: TestClient) -> None:
    assert {f.name for f in FIELDS} == set(PlanRequest.model_fields)
    body = web.get("/plan").text
    for f in FIELDS:
        if f.kind == "options":
            assert f'aria-labelledby="label-{f.name}"' in body
        else:
            assert f'<label for="f-{f.name}">' in body and f'id="f-{f.name}"' in body
    assert 'id="plan"' not in body and 'role="alert"' not in body


def test_the_providers_page_shows_each_feed_and_its_health(web: TestClient) -> None:
    page = web.get("/providers")
    assert page.status_code == 200
    feeds = web.get("/v1/providers").json()["feeds"]
    for feed in feeds:
        assert f'data-feed="{feed["id"]}"' in page.text
        assert feed["last_run"]["status"] in page.text


def test_every_control_has_a_label(web: TestClient) -> None:
    for path in ("/", "/plan"):
        body = web.get(path).text
        for control in re.findall(r"<(?:input|select)\b[^>]*>", body):
            if 'type="hidden"' in control or 'type="checkbox"' in control:
                continue
            found = re.search(r'id="([^"]+)"', control)
            assert found is not None, control
            assert f'<label for="{found.group(1)}">' in body, control


def test_docs_and_pages_load_nothing_from_another_host(web: TestClient) -> None:
    offer = api_offers(web)[0]
    for path in ("/", f"/offers/{offer['id']}", "/plan?gpu_hours=10", "/providers", "/docs",
                 "/redoc"):  # fmt: skip
        body = web.get(path).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', body) + re.findall(r"url: '([^']+)'", body)
        for url in assets:
            assert not re.match(r"(https?:)?//", url), (path, url)
            if url.startswith("/") and not url.startswith(("/offers/", "/v1/", "/?", "/plan")):
                assert web.get(url).status_code == 200, (path, url)


def test_with_a_read_token_the_pages_need_it_as_the_api_does(snapshot_engine: Engine) -> None:
    token, admin = "read-5f1c", "admin-9b2e"
    app = web_app(snapshot_engine, api_read_token=token, admin_token=admin)
    with TestClient(app, raise_server_exceptions=False) as client:
        for path in ("/", "/plan?gpu_hours=10", "/providers", "/offers/x"):
            refused = client.get(path)
            assert refused.status_code == 401, path
            assert refused.headers["www-authenticate"] == "Bearer"
            assert refused.headers["content-type"].startswith("text/html")
            assert token not in refused.text
            wrong = client.get(path, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401 and "not valid" in wrong.text
            for given in (token, admin):
                allowed = client.get(path, headers={"Authorization": f"Bearer {given}"})
                assert allowed.status_code in (200, 404), path
        assert client.post("/plan", data={"gpu_hours": "10"}).status_code == 401
        assert client.get("/static/web.css").status_code == 200  # no secret in a stylesheet


def test_the_capacity_filter_keeps_what_the_api_keeps_and_rows_show_it(engine: Engine) -> None:
    from aggregator.models import utcnow
    from tests.offers import build_offer, save_offers

    save_offers(
        engine,
        [
            build_offer(price_per_hour=40.0),
            build_offer(instance_type="gone", price_per_hour=50.0, available_in=()),
            build_offer(instance_type="now", price_per_hour=60.0, available_in=("us-east-1a",)),
        ],
        now=utcnow(),
    )
    with TestClient(web_app(engine), raise_server_exceptions=False) as web:
        page = web.get("/", params={"available_now": "true"})
        assert page.status_code == 200
        expected = [o["id"] for o in api_offers(web, available_now="true")]
        assert len(expected) == 1 and row_ids(page.text) == expected
        assert "capacity: us-east-1a" in page.text
        assert "no capacity listed" in web.get("/").text
        offer = web.get(f"/offers/{expected[0]}").text
        assert "<dt>available_in</dt><dd>us-east-1a</dd>" in offer
        assert "<dt>available_now</dt><dd>True</dd>" in offer
        bad = web.get("/", params={"available_now": "maybe"})
        assert bad.status_code == 422 and field_error(bad.text, "available_now")
