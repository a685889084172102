"""``GET /v1/export`` and the read token, and the mirror feed reading another server through
them: an ``ETag`` that changes exactly with the offers, 304 for an unchanged store, one
conditional request per unchanged mirror sync, and a token that is sent, never shown."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from aggregator.api import create_app
from aggregator.api.cache import ApiSettings
from aggregator.export import FORMAT_VERSION, export_tag
from aggregator.models import SyncStatus
from aggregator.plugins import load_registry
from aggregator.scheduler import SchedulerSettings
from aggregator.settings import Settings
from aggregator.sync import SyncOutcome, sync_feeds
from db import store
from db.engine import make_engine
from db.export_rows import export_marker
from db.migrate import upgrade
from tests.offers import OfferFactory, save_offers

READ_TOKEN = "read-token-7c1d9e"
ADMIN_TOKEN = "admin-token-2b8f"
SEEN = datetime(2026, 4, 30, 8, tzinfo=UTC)
URL = "http://server.test/v1/export"
READ_ROUTES = ["/v1/export", "/v1/offers", "/v1/plan?gpu_hours=10", "/v1/gpus", "/v1/providers"]


def server_app(engine: Engine, **settings: Any) -> FastAPI:
    config = Settings(http_retries=0, **settings)
    return create_app(
        config,
        engine=engine,
        registry=load_registry(config),
        schedule=SchedulerSettings(),
        api=ApiSettings(api_cache_seconds=0, api_version_check_seconds=0),
    )


@pytest.fixture
def served(engine: Engine, make_offer: OfferFactory) -> Engine:
    offers = [make_offer(observed_at=SEEN), make_offer(region="eu-west-1", observed_at=SEEN)]
    save_offers(engine, offers, now=SEEN + timedelta(hours=1))
    return engine


@pytest.fixture
def client(served: Engine) -> Iterator[TestClient]:
    with TestClient(server_app(served), raise_server_exceptions=False) as test_client:
        yield test_client


def test_the_export_route_serves_the_export_with_its_tag(client: TestClient) -> None:
    response = client.get("/v1/export")
    assert response.status_code == 200 and response.headers["content-type"] == "application/gzip"
    lines = [json.loads(line) for line in gzip.decompress(response.content).splitlines()]
    assert [line["kind"] for line in lines] == ["header", "offer", "offer", "end"]
    tag = response.headers["etag"]
    assert tag.startswith(f'"{FORMAT_VERSION}-')
    assert lines[0]["store_version"] == int(tag.split("-")[1])


def test_an_unchanged_store_answers_304_and_a_sync_changes_the_tag(
    client: TestClient, served: Engine, make_offer: OfferFactory
) -> None:
    tag = client.get("/v1/export").headers["etag"]
    for given in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        response = client.get("/v1/export", headers={"If-None-Match": given})
        assert response.status_code == 304 and response.headers["etag"] == tag
        assert response.content == b""
    assert client.get("/v1/export", headers={"If-None-Match": '"other"'}).status_code == 200
    later = SEEN + timedelta(hours=2)
    save_offers(served, [make_offer(observed_at=later)], now=later)  # withdraws eu-west-1
    response = client.get("/v1/export", headers={"If-None-Match": tag})
    assert response.status_code == 200 and response.headers["etag"] != tag


@pytest.mark.parametrize("route", READ_ROUTES)
def test_a_read_token_guards_every_read_route(served: Engine, route: str) -> None:
    app = server_app(served, api_read_token=READ_TOKEN, admin_token=ADMIN_TOKEN)
    with TestClient(app, raise_server_exceptions=False) as client:
        missing = client.get(route)
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        assert READ_TOKEN not in missing.text
        wrong = client.get(route, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "not valid" in wrong.json()["error"]["message"]
        for token in (READ_TOKEN, ADMIN_TOKEN):
            allowed = client.get(route, headers={"Authorization": f"Bearer {token}"})
            assert allowed.status_code in (200, 422), allowed.text  # 422: no plan fits
        assert client.get("/healthz").status_code == 200  # probes need no token


def test_without_a_read_token_the_read_routes_are_open(client: TestClient) -> None:
    for route in READ_ROUTES:
        assert client.get(route).status_code in (200, 422)


class Counting(httpx.AsyncBaseTransport):
    """The server's ASGI app as a transport, counting requests and keeping their headers."""

    def __init__(self, app: FastAPI) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)


def mirror_once(laptop: Engine, transport: Counting) -> SyncOutcome:
    settings = Settings(plugins="mirror", http_retries=0)
    registry = load_registry(settings)
    refs = registry.select_feeds(["mirror"])
    (outcome,) = asyncio.run(sync_feeds(refs, registry, laptop, settings, transport=transport))
    return outcome


@pytest.fixture
def laptop(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'laptop.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def test_a_mirror_of_a_server_costs_one_conditional_request_when_nothing_changed(
    served: Engine,
    laptop: Engine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("GPUHOURS_MIRROR_URL", URL)
    monkeypatch.setenv("GPUHOURS_MIRROR_TOKEN", READ_TOKEN)
    caplog.set_level(logging.DEBUG)
    transport = Counting(server_app(served, api_read_token=READ_TOKEN))
    first = mirror_once(laptop, transport)
    assert first.run.status is SyncStatus.OK and first.run.new == 2
    mirrored = store.query_offers(laptop, store.OfferQuery(limit=10))
    served_offers = store.query_offers(served, store.OfferQuery(limit=10))
    assert [(o.id, o.source, o.observed_at) for o in mirrored] == [
        (o.id, o.source, o.observed_at) for o in served_offers
    ]
    version, tag = store.data_version(laptop), export_tag(*export_marker(laptop))

    second = mirror_once(laptop, transport)
    assert second.run.status is SyncStatus.UNCHANGED and second.run.unchanged == 2
    assert len(transport.requests) == 2
    last = transport.requests[-1]
    assert last.headers["if-none-match"] and last.headers["authorization"] == f"Bearer {READ_TOKEN}"
    assert store.query_offers(laptop, store.OfferQuery(limit=10)) == mirrored  # ages kept
    assert store.data_version(laptop) == version  # nothing written, nothing to re-export:
    assert export_tag(*export_marker(laptop)) == tag  # the mirror's own export is unchanged
    assert READ_TOKEN not in caplog.text
    assert all(
        READ_TOKEN not in json.dumps(r)
        for r in store.load_feed_state(laptop, "mirror/export").items()
    )


def test_a_wrong_mirror_token_fails_the_sync_saying_so(
    served: Engine, laptop: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GPUHOURS_MIRROR_URL", URL)
    monkeypatch.setenv("GPUHOURS_MIRROR_TOKEN", "wrong-token-1234")
    outcome = mirror_once(laptop, Counting(server_app(served, api_read_token=READ_TOKEN)))
    assert outcome.failed and "401" in (outcome.run.error or "")
    assert "wrong-token-1234" not in (outcome.run.error or "")
    assert store.live_offer_count(laptop) == 0


def test_a_price_change_on_the_server_reaches_the_mirror_with_its_history(
    served: Engine, laptop: Engine, make_offer: OfferFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GPUHOURS_MIRROR_URL", URL)
    transport = Counting(server_app(served))
    assert mirror_once(laptop, transport).run.new == 2
    later = SEEN + timedelta(hours=5)
    moved = [
        make_offer(price_per_hour=80.0, observed_at=later),
        make_offer(region="eu-west-1", observed_at=later),
    ]
    save_offers(served, moved, now=later)
    outcome = mirror_once(laptop, transport)
    assert (outcome.run.status, outcome.run.changed) == (SyncStatus.OK, 1)
    ids = [o.id for o in moved]
    assert store.price_history(laptop, ids) == store.price_history(served, ids)
    assert [i.price_per_hour for i in store.price_history(laptop, [moved[0].id])] == [98.32, 80.0]
    mine = store.get_offer(laptop, moved[0].id)
    theirs = store.get_offer(served, moved[0].id)
    assert mine is not None and theirs is not None and mine.first_seen == theirs.first_seen
