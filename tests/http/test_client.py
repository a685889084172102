"""The shared HTTP client: retries, typed errors, redaction, record and replay.

No network: every test answers through respx routes (``route.calls`` says what was sent) or,
for a streamed body, a hand-written ``httpx.MockTransport`` handler, injected into the client
``make_client`` builds; waits go through an injected sleep that only records how long it was
asked to wait.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import logging
import tracemalloc
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import respx

from aggregator.errors import (
    ConfigurationError,
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderResponseError,
    ProviderUnavailable,
    ReplayMiss,
)
from aggregator.http import (
    RECEIVED_AT_HEADER,
    USER_AGENT,
    RecordTransport,
    ReplayTransport,
    make_client,
    redact_url,
    translate_error,
)
from aggregator.http.network import _NetworkTransport
from aggregator.settings import Settings

T = TypeVar("T")

SECRET = "SECRET123"
URL = f"https://api.example.com/v1/skus?currencyCode=USD&key={SECRET}"


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "http_retries": 3,
        "http_max_retry_wait": 120.0,
        "http_connect_timeout": 3.0,
        "http_read_timeout": 7.0,
    }
    values.update(overrides)
    return Settings(**values)


class Sleeps:
    """A sleep that does not wait, remembering what it was asked for."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


Step = int | type[httpx.TransportError]
Server = respx.Router | Callable[[httpx.Request], Any]


def reply(
    status: int, headers: dict[str, str] | None = None, body: bytes = b"body"
) -> httpx.Response:
    """One scripted answer, for a route's ``side_effect`` list."""
    return httpx.Response(status, headers=headers, content=body)


def effect(step: Step) -> httpx.Response | type[httpx.TransportError]:
    """A status as an answer; an exception class respx raises for that request instead."""
    return reply(step) if isinstance(step, int) else step


def mock_transport(server: Server) -> httpx.MockTransport:
    """The network of a test: a respx router's routes, or a hand-written handler."""
    return httpx.MockTransport(server.handler if isinstance(server, respx.Router) else server)


def client_for(server: Server, sleeps: Sleeps | None = None, **overrides: Any) -> httpx.AsyncClient:
    return make_client(
        settings(**overrides), transport=mock_transport(server), sleep=sleeps or Sleeps()
    )


async def fetch(client: httpx.AsyncClient, url: str = URL, method: str = "GET") -> httpx.Response:
    async with client:
        return await client.request(method, url)


# --- retries -----------------------------------------------------------------------------


def test_429_waits_what_retry_after_says_then_succeeds() -> None:
    sleeps = Sleeps()
    router = respx.MockRouter()
    route = router.get(URL).mock(side_effect=[reply(429, {"Retry-After": "2"}), reply(200)])
    response = run(fetch(client_for(router, sleeps)))
    assert response.status_code == 200
    assert sleeps.calls == [2.0]
    assert route.call_count == 2


def test_retry_after_as_http_date() -> None:
    sleeps = Sleeps()
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    router = respx.MockRouter()
    route = router.get(URL).mock(side_effect=[reply(503, {"Retry-After": when}), reply(200)])
    run(fetch(client_for(router, sleeps)))
    assert route.call_count == 2
    assert len(sleeps.calls) == 1
    assert 27 <= sleeps.calls[0] <= 30


@pytest.mark.parametrize(
    "first",
    [503, 500, 502, 504, httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError],
    ids=str,
)
def test_transient_failure_then_success(first: Step) -> None:
    sleeps = Sleeps()
    router = respx.MockRouter()
    route = router.get(URL).mock(side_effect=[effect(first), reply(200)])
    response = run(fetch(client_for(router, sleeps)))
    assert response.status_code == 200
    assert response.content == b"body"
    assert route.call_count == 2
    assert len(sleeps.calls) == 1
    assert 0.25 <= sleeps.calls[0] <= 0.5  # first backoff, jittered


def test_backoff_grows_exponentially_with_jitter() -> None:
    sleeps = Sleeps()
    router = respx.MockRouter()
    route = router.get(URL).mock(side_effect=[reply(503), reply(503), reply(503), reply(200)])
    run(fetch(client_for(router, sleeps, http_retries=3)))
    assert route.call_count == 4
    assert len(sleeps.calls) == 3
    for n, waited in enumerate(sleeps.calls):
        assert 0.5 * 2**n / 2 <= waited <= 0.5 * 2**n


def test_retried_response_is_closed_before_the_retry() -> None:
    closed: list[bool] = []

    class Body(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield b"unavailable"

        async def aclose(self) -> None:
            closed.append(True)

    def released(request: httpx.Request) -> httpx.Response:
        assert closed == [True]  # the 503 was released before we were asked again
        return httpx.Response(200)

    router = respx.MockRouter()
    route = router.get(URL).mock(side_effect=[httpx.Response(503, stream=Body()), released])
    assert run(fetch(client_for(router))).status_code == 200
    assert route.call_count == 2


def test_503_forever_names_url_without_secret_and_attempts() -> None:
    router = respx.MockRouter()
    route = router.get(URL).respond(503, content=b"body")  # every attempt
    with pytest.raises(ProviderUnavailable) as caught:
        run(fetch(client_for(router, http_retries=3)))
    message = str(caught.value)
    assert SECRET not in message
    assert "https://api.example.com/v1/skus?currencyCode=USD&key=REDACTED" in message
    assert "GET" in message and "503" in message
    assert "after 4 attempts" in message and "GPUHOURS_HTTP_RETRIES" in message
    assert caught.value.url is not None and SECRET not in caught.value.url
    assert getattr(caught.value, "status_code", None) == 503
    assert getattr(caught.value, "attempts", None) == 4
    assert route.call_count == 4


def test_429_forever_raises_rate_limited_with_retry_after() -> None:
    sleeps = Sleeps()
    router = respx.MockRouter()
    route = router.get(URL).respond(429, headers={"Retry-After": "5"}, content=b"body")
    with pytest.raises(ProviderRateLimited) as caught:
        run(fetch(client_for(router, sleeps, http_retries=2)))
    assert route.call_count == 3
    assert caught.value.retry_after == 5.0
    assert sleeps.calls == [5.0, 5.0]
    assert "after 3 attempts" in str(caught.value)
    assert "try again in 5 s" in str(caught.value)


def test_429_without_retry_after_has_none() -> None:
    router = respx.MockRouter()
    router.get(URL).respond(429, content=b"body")
    with pytest.raises(ProviderRateLimited) as caught:
        run(fetch(client_for(router, http_retries=0)))
    assert caught.value.retry_after is None


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failure_is_not_retried(status: int) -> None:
    sleeps = Sleeps()
    router = respx.MockRouter()
    route = router.get(URL).respond(status, content=b"body")
    with pytest.raises(ProviderAuthError) as caught:
        run(fetch(client_for(router, sleeps)))
    assert route.call_count == 1 and sleeps.calls == []
    assert "after 1 attempt." in str(caught.value) and "API key" in str(caught.value)
    assert getattr(caught.value, "status_code", None) == status


def test_404_is_a_response_error_and_not_retried() -> None:
    router = respx.MockRouter()
    route = router.get(URL).respond(404, content=b"body")
    with pytest.raises(ProviderResponseError) as caught:
        run(fetch(client_for(router)))
    assert getattr(caught.value, "status_code", None) == 404
    assert route.call_count == 1
    assert "HTTP 404 Not Found" in str(caught.value)


def test_error_message_quotes_server_without_echoed_secret() -> None:
    body = json.dumps({"error": {"message": f"API key {SECRET} not valid. Pass a valid key."}})
    router = respx.MockRouter()
    router.get(URL).respond(
        400, headers={"Content-Type": "application/json"}, content=body.encode()
    )
    with pytest.raises(ProviderResponseError) as caught:
        run(fetch(client_for(router)))
    assert "API key REDACTED not valid" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_retry_after_beyond_the_wait_budget_gives_up_at_once() -> None:
    sleeps = Sleeps()
    router = respx.MockRouter()
    route = router.get(URL).mock(side_effect=[reply(429, {"Retry-After": "1000"}), reply(200)])
    with pytest.raises(ProviderRateLimited) as caught:
        run(fetch(client_for(router, sleeps, http_max_retry_wait=120)))
    assert sleeps.calls == []
    assert route.call_count == 1
    assert caught.value.retry_after == 1000.0
    assert "GPUHOURS_HTTP_MAX_RETRY_WAIT" in str(caught.value)


def test_total_wait_is_capped_across_retries() -> None:
    sleeps = Sleeps()
    router = respx.MockRouter()
    route = router.get(URL).respond(503, headers={"Retry-After": "50"}, content=b"body")
    with pytest.raises(ProviderUnavailable):
        run(fetch(client_for(router, sleeps, http_retries=5, http_max_retry_wait=120)))
    assert sleeps.calls == [50.0, 50.0]  # a third 50 s wait would pass 120 s
    assert route.call_count == 3


@pytest.mark.parametrize("failure", [503, httpx.ConnectError], ids=str)
def test_post_is_not_retried(failure: Step) -> None:
    sleeps = Sleeps()
    router = respx.MockRouter()
    route = router.post(URL).mock(side_effect=[effect(failure), reply(200)])
    with pytest.raises(ProviderUnavailable) as caught:
        run(fetch(client_for(router, sleeps), method="POST"))
    assert route.call_count == 1 and sleeps.calls == []
    assert "POST is not retried" in str(caught.value)


def test_head_is_retried() -> None:
    router = respx.MockRouter()
    route = router.head(URL).mock(side_effect=[reply(503), reply(200)])
    assert run(fetch(client_for(router), method="HEAD")).status_code == 200
    assert route.call_count == 2


def test_timeouts_outlasting_retries_become_unavailable() -> None:
    router = respx.MockRouter()
    route = router.get(URL).mock(side_effect=httpx.ReadTimeout)  # every attempt
    with pytest.raises(ProviderUnavailable) as caught:
        run(fetch(client_for(router, http_retries=2)))
    assert route.call_count == 3
    message = str(caught.value)
    assert "timed out after 3 attempts" in message
    assert SECRET not in message and "key=REDACTED" in message
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)


def test_connection_errors_outlasting_retries_become_unavailable() -> None:
    router = respx.MockRouter()
    route = router.get(URL).mock(side_effect=httpx.ConnectError)  # every attempt
    with pytest.raises(ProviderUnavailable, match=r"failed after 2 attempts .*ConnectError"):
        run(fetch(client_for(router, http_retries=1)))
    assert route.call_count == 2


def test_error_while_streaming_the_body_is_translated() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"first,"
        raise httpx.ReadError("connection reset")

    async def go() -> None:
        client = client_for(lambda request: httpx.Response(200, content=body()))
        async with client, client.stream("GET", URL) as response:
            async for _ in response.aiter_bytes():
                pass

    with pytest.raises(ProviderUnavailable, match="while reading the body"):
        run(go())


def test_successful_body_stays_streamed() -> None:
    produced: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        for n in range(3):
            produced.append(n)
            yield b"x" * 10

    async def go() -> None:
        async with client_for(lambda request: httpx.Response(200, content=body())) as client:
            request = client.build_request("GET", URL)
            response = await client.send(request, stream=True)
            assert produced == []  # nothing read the body on the way to us
            assert len(await response.aread()) == 30
            await response.aclose()

    run(go())


# --- client configuration ----------------------------------------------------------------


def test_user_agent_and_timeouts_come_from_the_factory() -> None:
    router = respx.MockRouter()
    route = router.get(URL).respond(200, content=b"body")
    client = client_for(router, http_connect_timeout=3.5, http_read_timeout=42.0)
    assert client.timeout.connect == 3.5
    assert client.timeout.read == 42.0
    assert client.follow_redirects is True
    run(fetch(client))
    assert route.calls[0].request.headers["user-agent"] == USER_AGENT
    assert (
        USER_AGENT.startswith("gpuhours/") and "+https://github.com/gpuhours/gpuhours" in USER_AGENT
    )


def test_record_and_replay_together_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot be used together"):
        make_client(settings(), record_dir=tmp_path / "a", replay_dir=tmp_path)


def test_httpx_request_log_line_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    router = respx.MockRouter()
    router.get(URL).respond(200, content=b"body")
    with caplog.at_level(logging.INFO, logger="httpx"):
        run(fetch(client_for(router)))
    assert "HTTP Request" in caplog.text
    assert SECRET not in caplog.text


def test_network_transport_follows_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example,.mirror.test")
    network = _NetworkTransport()
    assert network.proxy_for(httpx.URL("https://pricing.us-east-1.amazonaws.com/")) == (
        "http://proxy.corp:3128"
    )
    assert network.proxy_for(httpx.URL("https://internal.example/x")) is None
    assert network.proxy_for(httpx.URL("https://a.mirror.test/x")) is None
    assert network.proxy_for(httpx.URL("http://plain.example/")) is None


# --- redaction and translation -----------------------------------------------------------


def test_redact_url_replaces_secret_values_only() -> None:
    url = "https://u:pw@h.example/p?Key=a&API_KEY=b&apikey=c&token=d&access_token=e&sig=f&" + (
        "Signature=g&password=h&secret=i&code=j&pageToken=next&page=2"
    )
    redacted = redact_url(url)
    for value in "abcdefghij":
        assert f"={value}&" not in redacted + "&"
    assert "pw" not in redacted and "REDACTED@h.example" in redacted
    assert "pageToken=next" in redacted and "page=2" in redacted
    assert redact_url(httpx.URL("https://h.example/p?q=1")) == "https://h.example/p?q=1"


def test_translate_error_maps_httpx_exceptions() -> None:
    request = httpx.Request("GET", URL)
    connect = translate_error(httpx.ConnectError("refused", request=request))
    assert isinstance(connect, ProviderUnavailable) and SECRET not in str(connect)
    timeout = translate_error(httpx.ReadTimeout("slow", request=request))
    assert isinstance(timeout, ProviderUnavailable) and "timed out" in str(timeout)
    for status, kind in [
        (404, ProviderResponseError),
        (403, ProviderAuthError),
        (502, ProviderUnavailable),
    ]:
        response = httpx.Response(status, request=request)
        raw = httpx.HTTPStatusError(f"error for url {URL}", request=request, response=response)
        error = translate_error(raw)
        assert type(error) is kind
        assert getattr(error, "status_code", None) == status and SECRET not in str(error)
    limited = httpx.Response(429, headers={"Retry-After": "7"}, request=request)
    error = translate_error(httpx.HTTPStatusError("x", request=request, response=limited))
    assert isinstance(error, ProviderRateLimited) and error.retry_after == 7.0
    assert isinstance(translate_error(httpx.ConnectError("no request")), ProviderUnavailable)
    already = ProviderError("done")
    assert translate_error(already) is already
    assert translate_error(ValueError("not ours")) is None


# --- record and replay -------------------------------------------------------------------


def files_under(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file())


def recording_client(record_dir: Path, server: Server) -> httpx.AsyncClient:
    return make_client(
        settings(), transport=mock_transport(server), record_dir=record_dir, sleep=Sleeps()
    )


def replaying_client(replay_dir: Path) -> httpx.AsyncClient:
    return make_client(settings(http_retries=0), replay_dir=replay_dir, sleep=Sleeps())


def test_record_then_replay_gives_the_same_answer(tmp_path: Path) -> None:
    body = b'{"skus": [1, 2, 3]}' * 1000
    headers = {
        "Content-Type": "application/json",
        "ETag": '"v1"',
        "X-Request-Id": "abc123",
        "Set-Cookie": "session=s3cr3t-cookie",
        "X-Echo": f"called with key={SECRET}",
    }
    recorded = run(
        fetch(
            recording_client(tmp_path, lambda r: httpx.Response(200, headers=headers, content=body))
        )
    )
    replayed = run(fetch(replaying_client(tmp_path), url=URL.replace(SECRET, "another-key")))
    assert replayed.status_code == recorded.status_code == 200
    assert replayed.content == recorded.content == body
    kept = {k: v for k, v in recorded.headers.items() if k not in ("set-cookie", "x-echo")}
    assert dict(replayed.headers) == kept
    assert "content-length" not in replayed.headers


def test_recording_layout(tmp_path: Path) -> None:
    url = f"https://api.example.com/p?b=2&key={SECRET}&a=1"
    run(fetch(recording_client(tmp_path, lambda r: httpx.Response(201, content=b"hi")), url=url))
    key = "GET https://api.example.com/p?a=1&b=2"  # secrets are not part of the key
    stem = hashlib.sha256(key.encode()).hexdigest()[:16]
    assert files_under(tmp_path) == [
        tmp_path / "api.example.com" / f"{stem}.body",
        tmp_path / "api.example.com" / f"{stem}.json",
    ]
    meta = json.loads((tmp_path / "api.example.com" / f"{stem}.json").read_text())
    [[name, stamp]] = meta.pop("headers")  # the one header is when it was received
    assert name == RECEIVED_AT_HEADER
    assert abs((datetime.now(UTC) - datetime.fromisoformat(stamp)).total_seconds()) < 60
    assert meta == {
        "method": "GET",
        "url": "https://api.example.com/p?b=2&key=REDACTED&a=1",
        "key": key,
        "status": 201,
        "body": f"{stem}.body",
    }
    assert (tmp_path / "api.example.com" / f"{stem}.body").read_bytes() == b"hi"


def test_secrets_never_reach_the_record_directory(tmp_path: Path) -> None:
    router = respx.MockRouter()
    start = router.get(path="/start").respond(302, headers={"Location": f"/final?key={SECRET}"})
    final = router.get(path="/final").respond(
        200,
        headers={
            "Set-Cookie": f"k={SECRET}",
            "Link": f"<https://api.example.com/final?page=2&key={SECRET}>; rel=next",
            "X-Api-Key": SECRET,
        },
        content=b"body mentions nothing",
    )

    response = run(
        fetch(recording_client(tmp_path, router), url=f"https://api.example.com/start?key={SECRET}")
    )
    assert response.status_code == 200
    assert start.call_count == 1 and final.call_count == 1
    files = files_under(tmp_path)
    assert len(files) == 4  # the redirect and the final answer, meta and body each
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), path
        assert SECRET not in str(path)
    replayed = run(fetch(replaying_client(tmp_path), url="https://api.example.com/start?key=x"))
    assert replayed.status_code == 200 and replayed.content == b"body mentions nothing"


def test_large_body_is_teed_to_disk_without_being_held_in_memory(tmp_path: Path) -> None:
    chunk_size, chunks = 64 * 1024, 320  # 20 MiB

    async def body() -> AsyncIterator[bytes]:
        for n in range(chunks):
            yield bytes([n % 251]) * chunk_size

    async def go() -> str:
        digest = hashlib.sha256()
        async with (
            recording_client(tmp_path, lambda r: httpx.Response(200, content=body())) as client,
            client.stream("GET", URL) as response,
        ):
            async for part in response.aiter_bytes():
                digest.update(part)
        return digest.hexdigest()

    tracemalloc.start()
    try:
        streamed = run(go())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes for a 20 MiB body"
    (body_file,) = tmp_path.rglob("*.body")
    on_disk = hashlib.sha256()
    with body_file.open("rb") as f:
        while block := f.read(1 << 20):
            on_disk.update(block)
    assert body_file.stat().st_size == chunk_size * chunks
    assert on_disk.hexdigest() == streamed


def test_gzip_content_encoding_is_recorded_decoded(tmp_path: Path) -> None:
    plain = b"region,price\n" * 500
    headers = {"Content-Encoding": "gzip", "Content-Type": "text/csv"}
    server = lambda r: httpx.Response(200, headers=headers, content=gzip.compress(plain))  # noqa: E731
    recorded = run(fetch(recording_client(tmp_path, server)))
    assert recorded.content == plain
    (meta_file,) = tmp_path.rglob("*.json")
    meta = json.loads(meta_file.read_text())
    assert ["content-type", "text/csv"] in meta["headers"]
    assert all(name != "content-encoding" for name, _ in meta["headers"])
    assert meta_file.with_suffix(".body").read_bytes() == plain
    replayed = run(fetch(replaying_client(tmp_path)))
    assert replayed.content == plain and "content-encoding" not in replayed.headers


def test_replay_reads_gzipped_bodies(tmp_path: Path) -> None:
    run(fetch(recording_client(tmp_path, lambda r: httpx.Response(200, content=b"a,b\n" * 100))))
    (body_file,) = tmp_path.rglob("*.body")
    body_file.with_name(body_file.name + ".gz").write_bytes(gzip.compress(body_file.read_bytes()))
    body_file.unlink()
    assert run(fetch(replaying_client(tmp_path))).content == b"a,b\n" * 100


def test_replay_miss_says_what_is_missing_and_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ReplayMiss) as caught:
        run(fetch(replaying_client(tmp_path)))
    message = str(caught.value)
    assert "GET https://api.example.com/v1/skus?currencyCode=USD&key=REDACTED" in message
    assert str(tmp_path) in message and "--record DIR" in message
    assert SECRET not in message


def test_abandoned_body_is_not_recorded(tmp_path: Path) -> None:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 1000

    async def go() -> None:
        async with (
            recording_client(tmp_path, lambda r: httpx.Response(200, content=body())) as client,
            client.stream("GET", URL) as response,
        ):
            async for _ in response.aiter_bytes():
                break

    run(go())
    assert files_under(tmp_path) == []


def test_later_response_for_the_same_key_replaces_the_earlier(tmp_path: Path) -> None:
    router = respx.MockRouter()
    route = router.get(host="api.example.com", path="/v1/skus").mock(
        side_effect=[reply(200, body=b"first"), reply(200, body=b"second")]
    )
    client = recording_client(tmp_path, router)

    async def go() -> None:
        async with client:
            await client.get(URL)
            await client.get(URL.replace(SECRET, "rotated-key"))

    run(go())
    assert route.call_count == 2
    (body_file,) = tmp_path.rglob("*.body")
    assert body_file.read_bytes() == b"second"


def test_retried_failures_are_not_left_in_the_recording(tmp_path: Path) -> None:
    router = respx.MockRouter()
    route = router.get(URL).mock(side_effect=[reply(503), reply(200)])
    run(fetch(recording_client(tmp_path, router)))
    assert route.call_count == 2
    (meta_file,) = tmp_path.rglob("*.json")
    assert json.loads(meta_file.read_text())["status"] == 200


def test_not_modified_keeps_the_recording_and_replay_answers_conditionals(tmp_path: Path) -> None:
    router = respx.MockRouter()  # routes are tried in order: the conditional one first
    not_modified = router.get(URL, headers={"If-None-Match": '"v1"'}).respond(
        304, headers={"ETag": '"v1"'}
    )
    fresh = router.get(URL).respond(200, headers={"ETag": '"v1"'}, content=b"prices")

    async def conditional(client: httpx.AsyncClient, etag: str) -> httpx.Response:
        async with client:
            return await client.get(URL, headers={"If-None-Match": etag})

    run(fetch(recording_client(tmp_path, router)))
    assert run(conditional(recording_client(tmp_path, router), '"v1"')).status_code == 304
    assert fresh.call_count == 1 and not_modified.call_count == 1
    (body_file,) = tmp_path.rglob("*.body")
    assert body_file.read_bytes() == b"prices"
    assert run(conditional(replaying_client(tmp_path), '"v1"')).status_code == 304
    assert run(conditional(replaying_client(tmp_path), '"v0"')).content == b"prices"


def test_pagination_cursors_are_separate_recordings(tmp_path: Path) -> None:
    router = respx.MockRouter()
    pages = [
        router.get(f"{URL}&pageToken={token}").respond(200, content=token.encode())
        for token in ("p1", "p2")
    ]
    client = recording_client(tmp_path, router)

    async def go() -> None:
        async with client:
            for token in ("p1", "p2"):
                await client.get(f"{URL}&pageToken={token}")

    run(go())
    assert [page.call_count for page in pages] == [1, 1]
    assert len(list(tmp_path.rglob("*.body"))) == 2
    replayed = run(fetch(replaying_client(tmp_path), url=URL + "&pageToken=p2"))
    assert replayed.content == b"p2"


def test_transports_are_usable_on_their_own(tmp_path: Path) -> None:
    async def go() -> bytes:
        recorder = RecordTransport(
            httpx.MockTransport(lambda r: httpx.Response(200, content=b"ok")), tmp_path
        )
        async with httpx.AsyncClient(transport=recorder) as client:
            await client.get(URL)
        async with httpx.AsyncClient(transport=ReplayTransport(tmp_path)) as client:
            return (await client.get(URL)).content

    assert run(go()) == b"ok"


def test_a_replayed_response_keeps_the_time_it_was_first_received(tmp_path: Path) -> None:
    from aggregator.http import received_at

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"hi")

    async def get(client: httpx.AsyncClient) -> datetime | None:
        async with client:
            return received_at(await client.get("https://api.example.com/p"))

    first = run(get(recording_client(tmp_path, answer)))
    assert first is not None and abs((datetime.now(UTC) - first).total_seconds()) < 60
    meta_path = next(tmp_path.glob("api.example.com/*.json"))
    meta = json.loads(meta_path.read_text())
    meta["headers"] = [[RECEIVED_AT_HEADER, "2024-09-12T08:00:00+00:00"]]
    meta_path.write_text(json.dumps(meta))
    assert run(get(replaying_client(tmp_path))) == datetime(2024, 9, 12, 8, tzinfo=UTC)
    del meta["headers"]  # a recording made before stamps existed: no time known
    meta_path.write_text(json.dumps(meta))
    assert run(get(replaying_client(tmp_path))) is None
