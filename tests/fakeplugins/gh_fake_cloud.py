"""A test-only provider loaded through the same entry-point path as a third-party plugin.

``fakecloud/static`` yields the offers stored as JSON in the file named by
``GPUHOURS_FAKE_CATALOG`` (an item ``{"__raise__": "..."}`` makes the fetch fail there, after
yielding what came before). ``fakecloud/http`` pages through a JSON API at
``GPUHOURS_FAKE_URL`` with an API key, the way real price APIs are read.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

from aggregator import Feed, FetchContext, Provider, hookimpl
from aggregator.gpus import GpuSpec


class FakeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GPUHOURS_FAKE_")

    catalog: Path | None = None
    url: str = "https://prices.fake.invalid/v1/prices"
    api_key: str = "SECRET-KEY-123"


class StaticFeed(Feed):
    name = "static"
    title = "Fake static catalog"
    default_interval = timedelta(hours=1)

    async def fetch(self, ctx: FetchContext) -> AsyncIterator[Mapping[str, Any]]:
        settings = ctx.settings
        assert isinstance(settings, FakeSettings)
        assert settings.catalog is not None
        items = json.loads(settings.catalog.read_text())
        ctx.progress(total=len(items))
        for item in items:
            if "__raise__" in item:
                raise RuntimeError(item["__raise__"])
            if "__unknown__" in item:
                ctx.report_unknown("instance type", item["__unknown__"])
                continue
            if "__unchanged__" in item:
                ctx.mark_unchanged("not modified", **item["__unchanged__"])
                continue
            ctx.progress(advance=1)
            yield item


class HttpFeed(Feed):
    name = "http"
    title = "Fake paged price API"
    default_interval = timedelta(minutes=15)

    async def fetch(self, ctx: FetchContext) -> AsyncIterator[Mapping[str, Any]]:
        settings = ctx.settings
        assert isinstance(settings, FakeSettings)
        url: str | None = settings.url
        params: dict[str, str] | None = {"key": settings.api_key}
        while url:
            response = await ctx.client.get(url, params=params)
            page = response.json()
            for item in page["items"]:
                yield item
            url, params = page.get("next"), None


class FakeCloud(Provider):
    name = "fakecloud"
    title = "Fake Cloud"
    settings_class = FakeSettings

    def feeds(self) -> Sequence[Feed]:
        return [StaticFeed(), HttpFeed()]

    def not_configured_reason(self, settings: BaseSettings | None) -> str | None:
        assert isinstance(settings, FakeSettings)
        if settings.catalog is None:
            return "set GPUHOURS_FAKE_CATALOG to a JSON file of offers"
        return None


@hookimpl
def register_providers(register: Callable[[Provider], None]) -> None:
    register(FakeCloud())


@hookimpl
def register_gpus(register: Callable[[GpuSpec], None]) -> None:
    register(GpuSpec(name="FAKEGPU", vendor="Fake", memory_gb=(24.0,), bf16_tflops=None))
