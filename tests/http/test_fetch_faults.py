"""Every fetch ends: hostile servers against the real client, feeds and sync, over real sockets.

Each test runs a :class:`~stand_in_server.StandInServer` on 127.0.0.1 that misbehaves the way a
broken or hostile API would (a body trickling in a byte at a time, silence after the request,
endless or looping page chains) and checks that the request or the sync stops with a message
that says what happened, and that the prices stored by the last good sync stay. Deadlines are
set to about a second through the settings, so no test waits long; none asserts on time.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.parse
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine

import plugins.azure
import plugins.gcp
from aggregator.errors import ProviderResponseError, ProviderUnavailable
from aggregator.http import make_client
from aggregator.http.paging import EMPTY_RUN, PAGES_FLOOR, PageChain
from aggregator.models import SyncRun, SyncStatus
from aggregator.plugins import load_registry
from aggregator.providers import FetchContext
from aggregator.settings import Settings
from aggregator.sync import sync_feeds
from db import store
from plugins.azure import RetailFeed
from plugins.azure.settings import AzureSettings
from plugins.gcp.feed import CatalogFeed
from plugins.gcp.settings import GcpSettings
from tests.paths import FIXTURES
from tests.plugins.gcp.test_fixtures import API_KEY, PAGE_THREE_TOKEN, PAGE_TWO_TOKEN, page_bodies
from tests.stand_in_server import StandInServer, head, never_answer, send_json, trickle

T = TypeVar("T")

AZURE_FIXTURE = json.loads((FIXTURES / "azure" / "virtual_machines_eastus2.json").read_bytes())
AZURE_ITEMS: list[Any] = AZURE_FIXTURE["Items"]
AZURE_PATH = "/api/retail/prices"
GCP_PATH = "/v1/services/6F81-5844-456A/skus"

# The deadline of every request in these tests; servers trickle a byte every 0.2 s.
TOTAL = 1.0

pytestmark = pytest.mark.timeout(60)  # a hang fails the test instead of the suite


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def client_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "http_total_timeout": TOTAL,
        "http_read_timeout": 30.0,  # per read: never what stops these requests
        "http_connect_timeout": 5.0,
        "http_retries": 0,
        **overrides,
    }
    return Settings(**values)


async def get_text(url: str, settings: Settings, *, stream: bool = False) -> str:
    async with make_client(settings) as client:
        if not stream:
            return (await client.get(url)).text
        async with client.stream("GET", url) as response:
            return "".join([line async for line in response.aiter_lines()])


# --- one request: the total deadline -------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["read", "streamed"])
def test_a_body_trickling_in_a_byte_at_a_time_stops_at_the_total_deadline(stream: bool) -> None:
    async def slow_loris(target: str, writer: asyncio.StreamWriter) -> None:
        await trickle(writer, every=0.2)

    with StandInServer(slow_loris) as server:
        url = f"{server.url}/prices?key=SECRET-KEY-1234"
        with pytest.raises(ProviderUnavailable) as caught:
            run(get_text(url, client_settings(), stream=stream))
    message = str(caught.value)
    assert f"GET {server.url}/prices?key=REDACTED" in message and "SECRET" not in message
    assert "did not finish within GPUHOURS_HTTP_TOTAL_TIMEOUT=1 s" in message
    assert "while reading the body" in message and re.search(r"stopped after \d+\.\d s", message)
    assert caught.value.url == f"{server.url}/prices?key=REDACTED"


def test_a_server_that_never_sends_the_headers_stops_at_the_total_deadline() -> None:
    async def silent(target: str, writer: asyncio.StreamWriter) -> None:
        await never_answer(writer)

    with StandInServer(silent) as server, pytest.raises(ProviderUnavailable) as caught:
        run(get_text(f"{server.url}/prices", client_settings(http_retries=3)))
    message = str(caught.value)
    assert "did not finish within GPUHOURS_HTTP_TOTAL_TIMEOUT=1 s" in message
    assert "while waiting for the response headers after 1 attempt" in message
    assert len(server.targets) == 1  # the deadline is the request's, not one attempt's


def test_retries_share_the_deadline_and_a_wait_past_it_is_not_taken() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def busy(target: str, writer: asyncio.StreamWriter) -> None:
        writer.write(head(503, length=0, headers={"Retry-After": "5"}))

    async def go() -> None:
        settings = client_settings(http_retries=5, http_max_retry_wait=100.0)
        async with make_client(settings, sleep=sleep) as client:
            await client.get(f"{server.url}/prices")

    with StandInServer(busy) as server, pytest.raises(ProviderUnavailable) as caught:
        run(go())
    assert waits == [] and len(server.targets) == 1
    assert "HTTP 503" in str(caught.value)
    assert "the next wait of 5 s would pass the 1 s deadline of the request" in str(caught.value)
    assert "GPUHOURS_HTTP_TOTAL_TIMEOUT" in str(caught.value)


def test_redirects_share_the_deadline_of_the_request_that_was_sent() -> None:
    async def slow_hops(target: str, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.6)  # each hop alone fits in the deadline; both do not
        if target == "/first":
            writer.write(head(302, length=0, headers={"Location": "/second"}))
        else:
            await send_json(writer, {"Items": []})

    with StandInServer(slow_hops) as server, pytest.raises(ProviderUnavailable) as caught:
        run(get_text(f"{server.url}/first", client_settings()))
    assert server.targets == ["/first", "/second"]
    assert f"GET {server.url}/second did not finish within" in str(caught.value)


def test_an_error_body_trickling_in_is_cut_at_the_deadline_and_the_status_reported() -> None:
    async def failing_slowly(target: str, writer: asyncio.StreamWriter) -> None:
        writer.write(head(500, length=1000, content_type="text/plain") + b"overloaded")
        for _ in range(1000):
            await writer.drain()
            await asyncio.sleep(0.2)
            writer.write(b".")

    with StandInServer(failing_slowly) as server, pytest.raises(ProviderUnavailable) as caught:
        run(get_text(f"{server.url}/prices", client_settings()))
    assert "answered HTTP 500" in str(caught.value)
    assert "the server said: overloaded" in str(caught.value)


def test_a_body_that_arrives_in_time_is_read_whole_through_the_deadline() -> None:
    document = {"Items": list(range(20_000)), "NextPageLink": None}

    async def fine(target: str, writer: asyncio.StreamWriter) -> None:
        await send_json(writer, document)

    with StandInServer(fine) as server:
        text = run(get_text(f"{server.url}/prices", client_settings(), stream=True))
    assert json.loads(text) == document


# --- page chains: the guards, as units ----------------------------------------------------------


def walk(chain: PageChain, pages: list[int], *, last_links_onward: bool = False) -> None:
    """Feed ``chain`` pages of these sizes, each linking to the next (the last one too if asked)."""
    for number, items in enumerate(pages):
        chain.before_page(f"link-{number}", "https://api.example.com/p")
        onward = number < len(pages) - 1 or last_links_onward
        chain.after_page(items, links_onward=onward, url="https://api.example.com/p")
    if not last_links_onward:
        chain.finished()


def guard(state: dict[str, str], max_pages: int = 1000) -> PageChain:
    return PageChain("Test API", link_name="link", max_pages=max_pages, state=state, state_key="k")


def test_a_chain_remembers_the_most_pages_it_ever_sent() -> None:
    state: dict[str, str] = {}
    walk(guard(state), [5, 5, 5])
    assert state == {"k": "3"}
    walk(guard(state), [5, 5])
    assert state == {"k": "3"}  # a shorter chain does not lower the limit
    walk(guard(state), [5] * 4)
    assert state == {"k": "4"}


def test_a_chain_far_longer_than_ever_stops_at_four_times_the_most_or_the_floor() -> None:
    with pytest.raises(ProviderResponseError, match=f"after {PAGES_FLOOR} pages") as caught:
        walk(guard({"k": "3"}), [5] * 500)
    assert "at most 3 in a good sync" in str(caught.value)
    with pytest.raises(ProviderResponseError, match="after 80 pages"):
        walk(guard({"k": "20"}), [5] * 500)
    walk(guard({"k": "20"}), [5] * 80)  # 80 pages are still fine


def test_an_unreadable_record_counts_as_a_first_sync_with_only_the_absolute_maximum() -> None:
    with pytest.raises(ProviderResponseError, match="still paging after 300 pages"):
        walk(guard({"k": "many"}, max_pages=300), [5] * 500)


def test_empty_pages_that_still_link_onward_stop_the_chain_after_a_run_of_them() -> None:
    walk(guard({}), [5] + [0] * (EMPTY_RUN - 1) + [5, 0])  # shorter runs and a last empty page
    with pytest.raises(ProviderResponseError, match=f"{EMPTY_RUN} empty pages in a row"):
        walk(guard({}), [5] + [0] * 10_000)


# --- Azure: endless and looping NextPageLink chains ----------------------------------------------


class AzureChain:
    """Answers the Retail Prices API: ``good`` pages, then (if ``endless``) new pages for ever."""

    def __init__(self, *, good: int = 2) -> None:
        self.good = good
        self.endless: list[Any] | None = None  # the items of every page after the good ones
        self.base = ""

    async def __call__(self, target: str, writer: asyncio.StreamWriter) -> None:
        number = int(target.split("page=")[1]) if "page=" in target else 0
        if number < self.good:
            share = len(AZURE_ITEMS) // self.good
            end = (number + 1) * share if number < self.good - 1 else None
            items = AZURE_ITEMS[number * share : end]
            last = number == self.good - 1 and self.endless is None
        else:
            items, last = self.endless or [], False
        link = None if last else f"{self.base}{AZURE_PATH}?page={number + 1}"
        await send_json(writer, {**AZURE_FIXTURE, "Items": items, "NextPageLink": link})


def fetch_azure(server: StandInServer, state: dict[str, str], **azure: Any) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        async with make_client(client_settings()) as client:
            settings = AzureSettings(prices_url=f"{server.url}{AZURE_PATH}", **azure)
            ctx = FetchContext(
                client=client, feed_id="azure/retail", settings=settings, state=state
            )
            return [dict(offer) async for offer in RetailFeed().fetch(ctx)]

    return run(go())


def sync_one(engine: Engine, feed: str, plugin: tuple[str, object]) -> SyncRun:
    settings = client_settings()
    registry = load_registry(settings, load_entrypoints=False, extra_plugins=[plugin])
    outcomes = run(sync_feeds(registry.select_feeds([feed]), registry, engine, settings))
    return outcomes[0].run


def test_an_endless_chain_of_new_empty_azure_pages_fails_the_sync_and_prices_stay(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = AzureChain(good=2)
    with StandInServer(chain) as server:
        chain.base = server.url
        monkeypatch.setenv("GPUHOURS_AZURE_PRICES_URL", f"{server.url}{AZURE_PATH}")
        good = sync_one(engine, "azure/retail", ("azure", plugins.azure))
        assert good.status is SyncStatus.OK, good.error
        stored = store.live_offer_count(engine, "azure/retail")
        assert stored > 0 and store.load_feed_state(engine, "azure/retail")["pages:all"] == "2"

        chain.endless = []  # from the second page on: empty pages, each linking to a new one
        server.targets.clear()
        failed = sync_one(engine, "azure/retail", ("azure", plugins.azure))
    assert failed.status is SyncStatus.FAILED
    assert failed.error is not None and f"sent {EMPTY_RUN} empty pages in a row" in failed.error
    assert "Azure Retail Prices" in failed.error and "nothing was changed" in failed.error
    assert len(server.targets) == 2 + EMPTY_RUN  # the two good pages, then the empty run
    assert store.live_offer_count(engine, "azure/retail") == stored
    assert store.load_feed_state(engine, "azure/retail")["pages:all"] == "2"


def test_an_endless_azure_chain_of_full_pages_stops_far_beyond_its_usual_length() -> None:
    chain = AzureChain(good=2)
    with StandInServer(chain) as server:
        chain.base = server.url
        chain.endless = AZURE_ITEMS[:3]  # the same rows again and again, new links each time
        with pytest.raises(ProviderResponseError) as caught:
            fetch_azure(server, {"pages:all": "2"})
    assert f"still paging after {PAGES_FLOOR} pages" in str(caught.value)
    assert "at most 2 in a good sync" in str(caught.value)
    assert "set GPUHOURS_AZURE_MAX_PAGES for one sync" in str(caught.value)
    assert len(server.targets) == PAGES_FLOOR


def test_an_explicit_azure_max_pages_lifts_the_learned_limit_and_still_stops() -> None:
    chain = AzureChain(good=2)
    with StandInServer(chain) as server:
        chain.base = server.url
        chain.endless = AZURE_ITEMS[:3]
        with pytest.raises(ProviderResponseError, match="GPUHOURS_AZURE_MAX_PAGES") as caught:
            fetch_azure(server, {"pages:all": "2"}, max_pages=PAGES_FLOOR + 10)
    assert f"still paging after {PAGES_FLOOR + 10} pages" in str(caught.value)
    assert len(server.targets) == PAGES_FLOOR + 10


def test_an_azure_page_that_links_to_itself_stops_at_once() -> None:
    async def looping(target: str, writer: asyncio.StreamWriter) -> None:
        link = f"{server.url}{AZURE_PATH}?page=1"
        await send_json(writer, {**AZURE_FIXTURE, "Items": AZURE_ITEMS[:3], "NextPageLink": link})

    with (
        StandInServer(looping) as server,
        pytest.raises(ProviderResponseError, match="came back a second time"),
    ):
        fetch_azure(server, {})
    assert len(server.targets) == 2


def test_each_azure_region_keeps_its_own_page_count() -> None:
    chain = AzureChain(good=3)
    state: dict[str, str] = {}
    with StandInServer(chain) as server:
        chain.base = server.url
        fetch_azure(server, state, regions="eastus2,westus")
    assert state == {"pages:eastus2": "3", "pages:westus": "3"}


# --- GCP: endless and looping page-token chains --------------------------------------------------


class GcpChain:
    """Answers the Cloud Billing catalog with the fixture pages, then (if set) endless pages."""

    def __init__(self) -> None:
        self.endless: list[Any] | None = None
        self.bodies = page_bodies()

    async def __call__(self, target: str, writer: asyncio.StreamWriter) -> None:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)
        token = query.get("pageToken", [""])[0]
        if self.endless is None or not token:
            body = json.loads(self.bodies[token])
            if self.endless is not None:
                body["nextPageToken"] = "endless-1"
        else:
            number = int(token.removeprefix("endless-"))
            body = {"skus": self.endless, "nextPageToken": f"endless-{number + 1}"}
        await send_json(writer, body)


def fetch_gcp(server: StandInServer, state: dict[str, str], **settings_values: Any) -> int:
    async def go() -> int:
        async with make_client(client_settings()) as client:
            settings = GcpSettings(api_key=API_KEY, billing_url=server.url, **settings_values)
            ctx = FetchContext(client=client, feed_id="gcp/catalog", settings=settings, state=state)
            return len([offer async for offer in CatalogFeed().fetch(ctx)])

    return run(go())


def test_an_endless_chain_of_new_empty_gcp_pages_fails_the_sync_and_prices_stay(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = GcpChain()
    with StandInServer(chain) as server:
        monkeypatch.setenv("GPUHOURS_GCP_BILLING_URL", server.url)
        monkeypatch.setenv("GPUHOURS_GCP_API_KEY", API_KEY)
        good = sync_one(engine, "gcp/catalog", ("gcp", plugins.gcp))
        assert good.status is SyncStatus.OK, good.error
        stored = store.live_offer_count(engine, "gcp/catalog")
        assert stored > 0 and store.load_feed_state(engine, "gcp/catalog")["pages"] == "3"

        chain.endless = []
        server.targets.clear()
        failed = sync_one(engine, "gcp/catalog", ("gcp", plugins.gcp))
    assert failed.status is SyncStatus.FAILED
    assert failed.error is not None and f"sent {EMPTY_RUN} empty pages in a row" in failed.error
    assert "the Cloud Billing catalog" in failed.error and API_KEY not in failed.error
    assert len(server.targets) == EMPTY_RUN + 1
    assert store.live_offer_count(engine, "gcp/catalog") == stored
    assert store.load_feed_state(engine, "gcp/catalog")["pages"] == "3"


def test_an_endless_gcp_chain_of_full_pages_stops_far_beyond_its_usual_length() -> None:
    chain = GcpChain()
    chain.endless = json.loads(chain.bodies[PAGE_TWO_TOKEN])["skus"][:2]
    with StandInServer(chain) as server, pytest.raises(ProviderResponseError) as caught:
        fetch_gcp(server, {"pages": "3"})
    assert f"still paging after {PAGES_FLOOR} pages" in str(caught.value)
    assert "at most 3 in a good sync" in str(caught.value) and API_KEY not in str(caught.value)
    assert len(server.targets) == PAGES_FLOOR


def test_an_explicit_gcp_max_pages_lifts_the_learned_limit_and_still_stops() -> None:
    chain = GcpChain()
    chain.endless = json.loads(chain.bodies[PAGE_TWO_TOKEN])["skus"][:2]
    with (
        StandInServer(chain) as server,
        pytest.raises(ProviderResponseError, match="GPUHOURS_GCP_MAX_PAGES") as caught,
    ):
        fetch_gcp(server, {"pages": "3"}, max_pages=PAGES_FLOOR + 10)
    assert "at most 3 in a good sync" not in str(caught.value)  # the learned limit is lifted
    assert len(server.targets) == PAGES_FLOOR + 10


def test_a_gcp_page_token_loop_stops_at_once() -> None:
    chain = GcpChain()
    looping = json.loads(chain.bodies[PAGE_THREE_TOKEN])
    looping["nextPageToken"] = PAGE_TWO_TOKEN
    chain.bodies[PAGE_THREE_TOKEN] = json.dumps(looping).encode()
    with (
        StandInServer(chain) as server,
        pytest.raises(ProviderResponseError, match="came back a second time"),
    ):
        fetch_gcp(server, {})
    assert len(server.targets) == 3


def test_a_gcp_body_trickling_in_fails_the_feed_with_the_url_but_never_the_key() -> None:
    async def slow_loris(target: str, writer: asyncio.StreamWriter) -> None:
        await trickle(writer, every=0.2)

    with StandInServer(slow_loris) as server, pytest.raises(ProviderUnavailable) as caught:
        fetch_gcp(server, {})
    message = str(caught.value)
    assert f"{server.url}{GCP_PATH}?key=REDACTED" in message and API_KEY not in message
    assert "GPUHOURS_HTTP_TOTAL_TIMEOUT=1 s" in message
