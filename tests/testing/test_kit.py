"""The provider test kit: every check fails on a provider broken in exactly that way.

Each broken provider below is a small in-module :class:`Provider` whose one feed,
``kit/prices``, runs a script. The last tests prove that the ``pytest11`` registration
works: an inner pytest run finds the ``gpuhours_check`` fixture through the entry point alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import textwrap
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from aggregator import Feed, FetchContext, InterruptionFeed, Offer, Provider
from aggregator.errors import ConfigurationError, ProviderError
from aggregator.gpus import BUILTIN_GPUS, GpuSpec, GpuVocabulary
from aggregator.http import make_client
from aggregator.models import utcnow
from aggregator.settings import Settings
from aggregator.testing import (
    CHECKS,
    CheckFailure,
    ProviderCheckFailed,
    ProviderReport,
    check_provider,
)
from tests.rates import rate_fields

FEED = "kit/prices"
PRICES_URL = "https://prices.example.test/v1/list"

Script = Callable[[FetchContext, int], AsyncIterator[Any]]


def row(**overrides: Any) -> dict[str, Any]:
    """A valid offer row of the ``kit`` provider, as a feed yields it (a plain mapping)."""
    fields: dict[str, Any] = {
        "provider": "kit",
        "region": "eu-west-1",
        "instance_type": "k.8xh100",
        "gpu": "NVIDIA H100 80GB",
        "gpu_count": 8,
        "gpu_memory_gb": 80,
        "purchase_option": "on_demand",
        "price_per_hour": 24.5,
        "source": {"sku": "K-1"},
    }
    fields.update(overrides)
    return fields


def constructed(**overrides: Any) -> Offer:
    """An Offer built with ``model_construct``: no validation, as a careless plugin might."""
    return Offer.model_construct(**row(**overrides))


class ScriptedFeed(Feed):
    """A feed whose fetch is ``script(ctx, run)``; ``run`` counts fetches from 1."""

    name: ClassVar[str] = "prices"

    def __init__(self, script: Script) -> None:
        self.script = script
        self.runs = 0

    async def fetch(self, ctx: FetchContext) -> AsyncIterator[Any]:
        self.runs += 1
        async for item in self.script(ctx, self.runs):
            yield item


class OtherFeed(ScriptedFeed):
    name: ClassVar[str] = "other"


class KitProvider(Provider):
    name: ClassVar[str] = "kit"

    def __init__(self, *feeds: Feed) -> None:
        self._feeds = feeds

    def feeds(self) -> Sequence[Feed]:
        return self._feeds


def yielding(*items: Any) -> Script:
    async def script(ctx: FetchContext, run: int) -> AsyncIterator[Any]:
        for item in items:
            yield item

    return script


def provider(script: Script) -> KitProvider:
    return KitProvider(ScriptedFeed(script))


def failed(target: Provider, **kwargs: Any) -> ProviderCheckFailed:
    with pytest.raises(ProviderCheckFailed) as info:
        check_provider(target, **kwargs)
    return info.value


def assert_only(error: ProviderCheckFailed, check: str, feed: str = FEED) -> list[CheckFailure]:
    """Exactly ``check`` failed, only in ``feed``, and the message names both."""
    assert {(f.check, f.feed) for f in error.failures} == {(check, feed)}, str(error)
    assert f"{feed} [{check}]" in str(error)
    return error.failures


# --------------------------------------------------------------------------------------------
# A good provider passes, with counts


def test_a_good_provider_passes_and_reports_what_each_feed_yielded() -> None:
    async def script(ctx: FetchContext, run: int) -> AsyncIterator[Any]:
        yield row()
        yield constructed(region="eu-west-2")  # trusted as it is, like the sync engine does
        ctx.report_unknown("GPU", "Z9 row")
        ctx.reject("no price", "row 7")
        for n in range(8):
            yield row(region=f"eu-central-{n}", price_per_hour=10 + n)

    report = check_provider(provider(script))
    assert isinstance(report, ProviderReport) and report.ok
    feed = report.feeds[FEED]
    assert (feed.offers, feed.invalid, feed.rejects, feed.unknowns, feed.requests) == (
        10,
        0,
        1,
        1,
        0,
    )


def test_checks_have_stable_names() -> None:
    assert list(CHECKS) == [
        "replays-offline",
        "fetch-completes",
        "feed-yields-offers",
        "offers-validate",
        "unique-natural-keys",
        "source-named",
        "gpu-known",
        "prices-finite-positive",
        "rejects-within-limit",
        "replay-deterministic",
        "rates-validate",
    ]


# --------------------------------------------------------------------------------------------
# One test per check: a provider broken in exactly that way


def test_replays_offline_fails_on_a_request_with_no_recording_naming_the_redacted_url() -> None:
    async def script(ctx: FetchContext, run: int) -> AsyncIterator[Any]:
        # A feed that swallows the error must not hide that it reached for the network.
        with contextlib.suppress(ProviderError):
            await ctx.client.get(PRICES_URL, params={"key": "SECRET-KEY-123", "page": "1"})
        yield row()

    error = failed(provider(script))
    [failure] = assert_only(error, "replays-offline")
    assert f"GET {PRICES_URL}?key=REDACTED&page=1" in failure.detail
    assert "SECRET-KEY-123" not in str(error)


def test_replays_offline_also_with_recordings_that_lack_the_request(tmp_path: Path) -> None:
    async def script(ctx: FetchContext, run: int) -> AsyncIterator[Any]:
        response = await ctx.client.get(f"{PRICES_URL}?page=2")
        yield row(price_per_hour=response.json()["price"])

    (tmp_path / "prices.example.test").mkdir()
    error = failed(provider(script), responses=tmp_path)
    [failure] = assert_only(error, "replays-offline")  # not also fetch-completes
    assert f"{PRICES_URL}?page=2" in failure.detail and "gpuhours sync --record" in failure.detail


def test_fetch_completes_fails_when_fetch_raises_with_the_exception_text() -> None:
    async def script(ctx: FetchContext, run: int) -> AsyncIterator[Any]:
        yield row()
        raise RuntimeError("the parser fell over on line 12")

    [failure] = assert_only(failed(provider(script)), "fetch-completes")
    assert "RuntimeError: the parser fell over on line 12" in failure.detail


def test_feed_yields_offers_fails_on_an_empty_feed() -> None:
    async def script(ctx: FetchContext, run: int) -> AsyncIterator[Any]:
        ctx.report_unknown("instance type", "k.weird")
        return
        yield  # an async generator that yields nothing

    [failure] = assert_only(failed(provider(script)), "feed-yields-offers")
    assert "1 unknown" in failure.detail


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (row(gpu_count=0), "gpu_count"),
        (row(purchase_option="reserved"), "term_hours > 0"),
        (row(currency="XYZ"), "ISO 4217"),
        ("k.8xh100 24.5", "not an offer"),
        (row(provider="someone-else"), "does not match 'kit'"),
        (constructed(provider="someone-else"), "does not match 'kit'"),
    ],
    ids=["mapping", "term", "currency", "not-a-row", "provider", "constructed-provider"],
)
def test_offers_validate_fails_on_a_row_the_sync_engine_would_reject(
    bad: object, reason: str
) -> None:
    error = failed(provider(yielding(row(), bad)))
    [failure] = assert_only(error, "offers-validate")
    assert reason in failure.detail
    assert error.report.feeds[FEED].invalid == 1 and error.report.feeds[FEED].offers == 1


def test_unique_natural_keys_fails_on_two_offers_with_one_key_naming_both_rows() -> None:
    first, again = row(source={"sku": "K-1"}), row(source={"sku": "K-2"}, price_per_hour=30.0)
    [failure] = assert_only(failed(provider(yielding(first, again))), "unique-natural-keys")
    assert "natural key duplicated" in failure.detail
    assert "k.8xh100 eu-west-1 on_demand" in failure.detail
    assert "'K-1'" in failure.detail and "'K-2'" in failure.detail


@pytest.mark.parametrize("source", [{}, {"sku": "  "}, None, {"sku": 7}])
def test_source_named_fails_on_an_unvalidated_offer_without_a_source_row(source: Any) -> None:
    error = failed(provider(yielding(row(), constructed(region="x-1", source=source))))
    [failure] = assert_only(error, "source-named")
    assert "x-1" in failure.detail


@pytest.mark.parametrize("bad", [row(gpu="Z9000"), constructed(gpu=None), row(gpu="A100:48")])
def test_gpu_known_fails_on_a_gpu_the_vocabulary_does_not_know(bad: object) -> None:
    [failure] = assert_only(failed(provider(yielding(bad))), "gpu-known")
    assert "k.8xh100" in failure.detail


def test_gpu_known_uses_the_vocabulary_given() -> None:
    z9 = GpuSpec(name="Z9000", vendor="Zeta", memory_gb=(64.0,), bf16_tflops=None)
    vocabulary = GpuVocabulary([*BUILTIN_GPUS, z9])
    report = check_provider(provider(yielding(row(gpu="Z9000"))), vocabulary=vocabulary)
    assert report.feeds[FEED].offers == 1


@pytest.mark.parametrize(
    "bad",
    [
        constructed(price_per_hour=math.nan),
        constructed(price_per_hour=math.inf),
        constructed(price_per_hour=-1.0),
        constructed(price_per_hour=0),
        constructed(price_per_hour="24.5"),
        constructed(price_per_hour=True),
        constructed(upfront=-100.0),
    ],
    ids=["nan", "inf", "negative", "zero", "text", "bool", "negative-upfront"],
)
def test_prices_finite_positive_fails_on_an_unvalidated_bad_price(bad: Offer) -> None:
    [failure] = assert_only(failed(provider(yielding(bad))), "prices-finite-positive")
    assert "price_per_hour is" in failure.detail or "upfront is -100.0" in failure.detail


def test_rejects_within_limit_fails_when_more_rows_are_rejected_than_a_sync_accepts() -> None:
    async def script(ctx: FetchContext, run: int) -> AsyncIterator[Any]:
        yield row()
        ctx.reject("price column is empty", "row 2")
        ctx.reject("price column is empty", "row 3")

    [failure] = assert_only(failed(provider(script)), "rejects-within-limit")
    assert "2 of 3 rows" in failure.detail and "price column is empty: row 2" in failure.detail


def test_rejects_within_the_sync_engines_share_pass_and_are_reported() -> None:
    share = Settings().sync_max_reject_share

    async def script(ctx: FetchContext, run: int) -> AsyncIterator[Any]:
        offers = math.ceil(1 / share)  # one reject in offers + 1 rows stays within the share
        for n in range(offers):
            yield row(region=f"r-{n}")
        ctx.reject("price column is empty", "row 9")

    assert check_provider(provider(script)).feeds[FEED].rejects == 1


def test_replay_deterministic_fails_when_the_second_replay_yields_other_values() -> None:
    async def script(ctx: FetchContext, run: int) -> AsyncIterator[Any]:
        yield row(region="stable-1")
        yield row(price_per_hour=24.5 if run == 1 else 25.0)

    failures = assert_only(failed(provider(script)), "replay-deterministic")
    details = sorted(f.detail for f in failures)
    assert details[0].startswith("only in the first replay: ") and "24.5" in details[0]
    assert details[1].startswith("only in the second replay: ") and "25.0" in details[1]


def test_replay_deterministic_fails_when_the_second_replay_raises() -> None:
    async def script(ctx: FetchContext, run: int) -> AsyncIterator[Any]:
        yield row()
        if run == 2:
            raise ValueError("cache file half written")

    [failure] = assert_only(failed(provider(script)), "replay-deterministic")
    assert "cache file half written" in failure.detail


def test_replay_deterministic_ignores_order_and_observed_at() -> None:
    async def script(ctx: FetchContext, run: int) -> AsyncIterator[Any]:
        rows = [row(region=f"r-{n}", observed_at=utcnow()) for n in range(6)]
        random.Random(run).shuffle(rows)
        for item in rows:
            yield item

    assert check_provider(provider(script)).feeds[FEED].offers == 6


# --------------------------------------------------------------------------------------------
# Failures: every check, every feed, structured and readable


def test_every_failed_check_is_listed_and_structured() -> None:
    broken = KitProvider(
        ScriptedFeed(yielding(row(), row(source={"sku": "K-9"}), constructed(region="b", gpu="?"))),
        OtherFeed(yielding()),
    )
    error = failed(broken)
    assert isinstance(error, AssertionError)
    assert error.report.failed_checks == [
        "feed-yields-offers",
        "unique-natural-keys",
        "gpu-known",
    ]
    assert {(f.check, f.feed) for f in error.failures} == {
        ("unique-natural-keys", FEED),
        ("gpu-known", FEED),
        ("feed-yields-offers", "kit/other"),
    }
    message = str(error)
    assert message.splitlines()[0] == (
        "provider 'kit' failed 3 checks (feed-yields-offers, unique-natural-keys, gpu-known):"
    )
    assert all(str(f) in message for f in error.failures)


def test_the_message_quotes_a_few_failures_per_check_and_counts_the_rest() -> None:
    bad = [constructed(region=f"r-{n}", price_per_hour=-n) for n in range(12)]
    error = failed(provider(yielding(*bad)))
    assert len(error.failures) == 12
    assert f"{FEED} [prices-finite-positive]: ... and 7 more" in str(error)


# --------------------------------------------------------------------------------------------
# Recordings, settings, feeds: the same path a sync takes


def record(directory: Path, server: Callable[[httpx.Request], httpx.Response], url: str) -> None:
    """Record one GET of ``url`` into ``directory`` with the project's own recorder."""

    async def go() -> None:
        transport = httpx.MockTransport(server)
        async with make_client(Settings(), transport=transport, record_dir=directory) as client:
            (await client.get(url)).raise_for_status()

    asyncio.run(go())


async def priced_from_api(ctx: FetchContext, run: int) -> AsyncIterator[Any]:
    key = ctx.settings.api_key if isinstance(ctx.settings, KeyedSettings) else None
    params = {"key": key.get_secret_value()} if key is not None else None
    response = await ctx.client.get(PRICES_URL, params=params)
    for item in response.json()["items"]:
        yield row(region=item["region"], price_per_hour=item["price"], source={"sku": item["id"]})


def price_list(request: httpx.Request) -> httpx.Response:
    items = [{"region": "eu-west-1", "price": 24.5, "id": "K-1"}]
    return httpx.Response(200, json={"items": [*items, {"region": "us", "price": 26, "id": "2"}]})


def test_feeds_replay_from_a_directory_written_by_the_recorder(tmp_path: Path) -> None:
    record(tmp_path, price_list, PRICES_URL)
    report = check_provider(provider(priced_from_api), responses=tmp_path)
    assert (report.feeds[FEED].offers, report.feeds[FEED].requests) == (2, 1)


class KeyedSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GPUHOURS_KIT_", extra="ignore")
    api_key: SecretStr | None = None


class KeyedProvider(KitProvider):
    settings_class: ClassVar[type[BaseSettings] | None] = KeyedSettings

    def not_configured_reason(self, settings: BaseSettings | None) -> str | None:
        if isinstance(settings, KeyedSettings) and settings.api_key is None:
            return "set GPUHOURS_KIT_API_KEY"
        return None


def test_settings_default_to_the_providers_settings_class_read_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record(tmp_path, price_list, f"{PRICES_URL}?key=recorded-with-another-key")
    monkeypatch.setenv("GPUHOURS_KIT_API_KEY", "from-the-environment")
    keyed = KeyedProvider(ScriptedFeed(priced_from_api))
    assert check_provider(keyed, responses=tmp_path).feeds[FEED].offers == 2
    monkeypatch.delenv("GPUHOURS_KIT_API_KEY")
    given = KeyedSettings(api_key=SecretStr("given-key"))
    assert check_provider(keyed, responses=tmp_path, settings=given).feeds[FEED].offers == 2


def test_a_provider_not_configured_by_the_settings_is_a_setup_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GPUHOURS_KIT_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="GPUHOURS_KIT_API_KEY"):
        check_provider(KeyedProvider(ScriptedFeed(yielding(row()))))


def test_a_missing_responses_directory_is_a_setup_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        check_provider(provider(yielding(row())), responses=tmp_path / "nowhere")


def test_feeds_selects_by_name_or_id_and_rejects_unknown_names() -> None:
    broken_other = OtherFeed(yielding())
    mixed = KitProvider(ScriptedFeed(yielding(row())), broken_other)
    assert list(check_provider(mixed, feeds=["prices"]).feeds) == [FEED]
    assert list(check_provider(mixed, feeds=[FEED]).feeds) == [FEED]
    assert broken_other.runs == 0
    with pytest.raises(ValueError, match=r"no feed 'spot' .*known: kit/prices, kit/other"):
        check_provider(mixed, feeds=["spot"])


def test_each_replay_starts_from_empty_state_like_a_first_sync() -> None:
    async def script(ctx: FetchContext, run: int) -> AsyncIterator[Any]:
        assert ctx.state == {}, "state leaked from the first replay"
        ctx.state["version"] = str(run)
        yield row()

    check_provider(provider(script))


def test_a_recorded_server_error_is_retried_without_waiting(tmp_path: Path) -> None:
    def unavailable(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="down for maintenance")

    async def go() -> None:  # the recorder keeps error responses too
        transport = httpx.MockTransport(unavailable)
        settings = Settings(http_retries=0)
        async with make_client(settings, transport=transport, record_dir=tmp_path) as client:
            with pytest.raises(ProviderError):
                await client.get(PRICES_URL)

    asyncio.run(go())
    started = time.monotonic()
    [failure] = assert_only(
        failed(provider(priced_from_api), responses=tmp_path), "fetch-completes"
    )
    assert "503" in failure.detail
    assert time.monotonic() - started < 5  # five retries with real backoff would take ~15 s


def test_check_provider_works_from_inside_a_running_event_loop() -> None:
    async def from_async_test() -> ProviderReport:
        return check_provider(provider(yielding(row())))

    assert asyncio.run(from_async_test()).ok


# --------------------------------------------------------------------------------------------
# The pytest plugin, loaded through its pytest11 entry point

INNER_TEST = """
    from collections.abc import AsyncIterator
    from typing import Any

    from aggregator import Feed, FetchContext, Provider

    ROW = {
        "provider": "tiny", "region": "r1", "instance_type": "t.1", "gpu": "L4",
        "gpu_count": 1, "gpu_memory_gb": 24, "purchase_option": "on_demand",
        "price_per_hour": 0.7, "source": {"sku": "T-1"},
    }


    class OneFeed(Feed):
        name = "one"

        async def fetch(self, ctx: FetchContext) -> AsyncIterator[Any]:
            yield dict(ROW)
            if DUPLICATE:
                yield dict(ROW, source={"sku": "T-2"})


    class Tiny(Provider):
        name = "tiny"

        def feeds(self) -> list[Feed]:
            return [OneFeed()]


    def test_tiny(gpuhours_check: Any) -> None:
        report = gpuhours_check(Tiny())
        assert report.feeds["tiny/one"].offers == 1
"""


def test_the_plugin_is_registered_through_its_entry_point(request: pytest.FixtureRequest) -> None:
    plugin = request.config.pluginmanager.get_plugin("gpuhours")
    assert plugin is not None and plugin.__name__ == "aggregator.testing.pytest_plugin"


def test_gpuhours_check_fixture_passes_a_good_provider(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_tiny="DUPLICATE = False\n" + textwrap.dedent(INNER_TEST))
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_gpuhours_check_fixture_fails_a_broken_provider(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_tiny="DUPLICATE = True\n" + textwrap.dedent(INNER_TEST))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "ProviderCheckFailed" in output
    assert "tiny/one [unique-natural-keys]: natural key duplicated" in output


def test_without_the_plugin_there_is_no_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_tiny="DUPLICATE = False\n" + textwrap.dedent(INNER_TEST))
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:gpuhours")
    result.assert_outcomes(errors=1)
    assert "fixture 'gpuhours_check' not found" in result.stdout.str()


# --------------------------------------------------------------------------------------------
# Interruption feeds: rates are judged as rates


RATES = "kit/rates"


def rate(**overrides: Any) -> dict[str, Any]:
    """A valid interruption rate of the ``kit`` provider, as a feed yields it."""
    kit = {"provider": "kit", "instance_type": "k.8xh100", "source": {"path": "k.8xh100"}}
    return rate_fields(**{**kit, **overrides})


class RatesFeed(InterruptionFeed):
    name: ClassVar[str] = "rates"

    def __init__(self, *items: Any) -> None:
        self.items = items

    async def fetch(self, ctx: FetchContext) -> AsyncIterator[Any]:
        for item in self.items:
            yield item


def test_an_interruption_feed_passes_with_its_rates_counted() -> None:
    report = check_provider(KitProvider(RatesFeed(rate(), rate(region="eu-west-2"))))
    feed = report.feeds[RATES]
    assert (feed.offers, feed.interruption_rates, feed.invalid) == (0, 2, 0)


def test_rates_validate_fails_on_a_rate_the_sync_engine_would_reject() -> None:
    error = failed(KitProvider(RatesFeed(rate(), rate(region="x", bucket_label=""))))
    [failure] = assert_only(error, "rates-validate", RATES)
    assert "bucket_label" in failure.detail


def test_rates_validate_fails_on_an_offer_in_an_interruption_feed() -> None:
    error = failed(KitProvider(RatesFeed(rate(), row())))
    assert_only(error, "rates-validate", RATES)


def test_rates_validate_fails_on_a_rate_of_another_provider() -> None:
    error = failed(KitProvider(RatesFeed(rate(), rate(provider="aws"))))
    [failure] = assert_only(error, "rates-validate", RATES)
    assert "does not match 'kit'" in failure.detail


def test_unique_natural_keys_fails_on_two_rates_with_one_key() -> None:
    error = failed(KitProvider(RatesFeed(rate(), rate(bucket=1, source={"path": "again"}))))
    [failure] = assert_only(error, "unique-natural-keys", RATES)
    assert "'again'" in failure.detail


# --------------------------------------------------------------------------------------------
# The fabric fields go through the same checks as every other offer field


def test_a_row_with_an_implausible_fabric_fails_offers_validate() -> None:
    error = failed(provider(yielding(row(interconnect="EFA", interconnect_gbps=float("nan")))))
    [failure] = assert_only(error, "offers-validate")
    assert "interconnect_gbps" in failure.detail


def test_a_fabric_that_changes_between_replays_fails_replay_deterministic() -> None:
    async def script(ctx: FetchContext, run: int) -> AsyncIterator[Any]:
        yield row(interconnect="InfiniBand", interconnect_gbps=3200 if run == 1 else 1600)

    assert len(assert_only(failed(provider(script)), "replay-deterministic")) == 2
    steady = yielding(row(interconnect="InfiniBand", interconnect_gbps=3200))
    assert check_provider(provider(steady)).feeds[FEED].offers == 1
