"""The AWS provider as the core sees it: registration, settings, and syncs into a real store."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

import plugins.aws
from aggregator.models import PurchaseOption, SyncStatus
from aggregator.plugins import load_registry
from aggregator.providers import Provider
from aggregator.settings import Settings
from aggregator.sync import SyncOutcome, sync_feeds
from db import store
from plugins.aws import AwsProvider, register_providers
from plugins.aws.settings import DEFAULT_PRICING_URL, DEFAULT_SPOT_URL, AwsSettings
from tests import paths

FIXTURES = paths.FIXTURES / "aws"
INDEX_PATH = "/offers/v1.0/aws/AmazonEC2/current/region_index.json"
GPU_CSV = (FIXTURES / "ec2-us-east-1-gpu.csv").read_bytes()


def test_register_providers_registers_the_aws_provider() -> None:
    registered: list[Provider] = []
    register_providers(register=registered.append)
    [provider] = registered
    assert isinstance(provider, AwsProvider) and provider.name == "aws"
    feeds = {f.name: f.default_interval for f in provider.feeds()}
    assert feeds == {
        "on-demand": timedelta(days=1),
        "spot": timedelta(minutes=15),
        "savings-plan": timedelta(days=1),
        "spot-advisor": timedelta(days=1),
    }
    assert provider.settings_class is AwsSettings
    assert provider.not_configured_reason(AwsSettings()) is None


def test_settings_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PRICING_URL", "SPOT_URL", "REGIONS"):
        monkeypatch.delenv(f"GPUHOURS_AWS_{name}", raising=False)
    defaults = AwsSettings()
    assert (defaults.pricing_url, defaults.spot_url) == (DEFAULT_PRICING_URL, DEFAULT_SPOT_URL)
    assert defaults.pricing_url == "https://pricing.us-east-1.amazonaws.com"
    assert defaults.spot_url == "https://website.spot.ec2.aws.a2z.com/spot.js"
    assert defaults.region_allowlist is None
    monkeypatch.setenv("GPUHOURS_AWS_PRICING_URL", "http://mirror.local/aws/")
    monkeypatch.setenv("GPUHOURS_AWS_REGIONS", " us-east-1,us-west-2 ,")
    configured = AwsSettings()
    assert configured.pricing_base == "http://mirror.local/aws"
    assert configured.region_allowlist == frozenset({"us-east-1", "us-west-2"})


def test_module_docs_name_every_feed_and_setting() -> None:
    doc = plugins.aws.__doc__ or ""
    for text in (
        "aws/on-demand",
        "aws/spot",
        "aws/savings-plan",
        "aws/spot-advisor",
        "GPUHOURS_AWS_PRICING_URL",
        "GPUHOURS_AWS_SPOT_URL",
        "GPUHOURS_AWS_SPOT_ADVISOR_URL",
        "GPUHOURS_AWS_REGIONS",
    ):
        assert text in doc


# --- a real sync through the core: store, state, and a failed download --------------------


def sync(engine: Engine, handler: Callable[[httpx.Request], httpx.Response]) -> SyncOutcome:
    settings = Settings(http_retries=0)
    registry = load_registry(settings, load_entrypoints=False, extra_plugins=[("aws", plugins.aws)])
    refs = registry.select_feeds(["aws/on-demand"])
    [outcome] = asyncio.run(
        sync_feeds(refs, registry, engine, settings, transport=httpx.MockTransport(handler))
    )
    return outcome


def pricing_host(version: str, body: Callable[[], httpx.Response]) -> Any:
    """Serves a one-region index (us-east-1 at ``version``) and its offer file."""
    index = json.loads((FIXTURES / "region_index.json").read_text())
    entry = index["regions"]["us-east-1"]
    entry["currentVersionUrl"] = f"/offers/v1.0/aws/AmazonEC2/{version}/us-east-1/index.json"
    index["regions"] = {"us-east-1": entry}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == INDEX_PATH:
            return httpx.Response(200, json=index)
        if request.url.path == f"/offers/v1.0/aws/AmazonEC2/{version}/us-east-1/index.csv":
            return body()
        return httpx.Response(404)

    return handler


def dropping(keep: int) -> Callable[[], httpx.Response]:
    class Dropping(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield GPU_CSV[:keep]
            raise httpx.ReadError("connection reset by peer")

    return lambda: httpx.Response(200, stream=Dropping())


def test_sync_stores_offers_and_a_broken_download_changes_nothing(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GPUHOURS_AWS_PRICING_URL", "https://pricing.test")
    monkeypatch.delenv("GPUHOURS_AWS_REGIONS", raising=False)

    def ok() -> httpx.Response:
        return httpx.Response(200, content=GPU_CSV)

    first = sync(engine, pricing_host("20250523232744", ok))
    assert first.run.status is SyncStatus.OK, first.run.error
    assert (first.run.seen, first.run.rejected, first.run.unknown) == (26, 1, 1)
    stored = store.query_offers(engine, store.OfferQuery(providers=["aws"]))
    assert len(stored) == 26
    cheapest = stored[0]  # sorted by price per GPU-hour: the 3yr all-upfront standard p4d
    assert (cheapest.instance_type, cheapest.purchase_option, cheapest.term_hours) == (
        "p4d.24xlarge",
        PurchaseOption.RESERVED,
        26280,
    )
    state = store.load_feed_state(engine, "aws/on-demand")

    # A new version whose download breaks off: the sync fails, the store and state stay.
    broken = sync(engine, pricing_host("20250601000000", dropping(len(GPU_CSV) // 2)))
    assert broken.run.status is SyncStatus.FAILED
    assert "nothing was changed" in (broken.run.error or "")
    assert store.load_feed_state(engine, "aws/on-demand") == state
    after = store.query_offers(engine, store.OfferQuery(providers=["aws"]))
    assert [(o.id, o.price_per_hour) for o in after] == [(o.id, o.price_per_hour) for o in stored]

    # The old version again: nothing is downloaded and every offer stays live.
    def no_csv() -> httpx.Response:
        raise AssertionError("an unchanged offer file must not be downloaded")

    again = sync(engine, pricing_host("20250523232744", no_csv))
    assert again.run.status in (SyncStatus.OK, SyncStatus.UNCHANGED), again.run.error
    assert again.run.withdrawn == 0
    assert len(store.query_offers(engine, store.OfferQuery(providers=["aws"]))) == 26
