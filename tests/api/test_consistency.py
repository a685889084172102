"""A sync running while readers query: every read sees a feed's old prices or its new ones,
never a mix, on SQLite and PostgreSQL, through the HTTP API.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from aggregator.api import create_app
from aggregator.api.cache import ApiSettings
from aggregator.plugins import load_registry
from aggregator.scheduler import SchedulerSettings
from aggregator.settings import Settings
from tests.fake_plugins import offer_row

Catalog = Callable[[list[dict[str, Any]]], Path]
TOKEN = "consistency-token-91ab"
OFFERS = 3000
PAGE = 500


def rows(price: float) -> list[dict[str, Any]]:
    return [
        offer_row(instance_type=f"fk.{i:05d}", price_per_hour=price, source={"sku": f"S{i}"})
        for i in range(OFFERS)
    ]


def test_readers_never_see_half_a_sync(engine: Engine, fake_catalog: Catalog) -> None:
    config = Settings(plugins="fakecloud", http_retries=0, admin_token=TOKEN)
    app = create_app(
        config,
        engine=engine,
        registry=load_registry(config),
        schedule=SchedulerSettings(schedule={"fakecloud/http": "off"}),
        api=ApiSettings(api_cache_seconds=0),  # every read goes to the store
    )
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(app) as client:
        fake_catalog(rows(10.0))
        assert client.post("/v1/sync/fakecloud/static", headers=auth).status_code == 200
        fake_catalog(rows(20.0))

        results: dict[str, Any] = {}

        def run_sync() -> None:
            results["sync"] = client.post("/v1/sync/fakecloud/static", headers=auth)

        observed: list[tuple[bool, set[float], set[float], int]] = []
        writer = threading.Thread(target=run_sync)
        writer.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            during = writer.is_alive()
            # Cheapest page and the dearest ones: a half-applied sync shows in one or the other.
            cheap = client.get("/v1/offers", params={"limit": PAGE, "sort": "hour"}).json()
            hist = client.get(f"/v1/offers/{cheap['offers'][-1]['id']}/history").json()
            prices = {o["price_per_hour"] for o in cheap["offers"]}
            current = {i["price_per_hour"] for i in hist["intervals"] if i["valid_to"] is None}
            observed.append((during, prices, current, cheap["count"]))
            if not during:
                break
        writer.join(timeout=60)

    assert results["sync"].status_code == 200
    assert results["sync"].json()["runs"][0]["changed"] == OFFERS
    during_sync = [o for o in observed if o[0]]
    assert during_sync, "no read overlapped the sync; the test proves nothing"
    for _, prices, current, count in observed:
        assert count == PAGE
        assert prices in ({10.0}, {20.0}), f"a read saw a mix of old and new prices: {prices}"
        assert len(current) == 1  # exactly one open price interval, never zero or two
    assert observed[-1][1] == {20.0}
