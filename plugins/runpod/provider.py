"""The RunPod provider and its one feed, imported only when a command needs providers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import timedelta
from typing import Any, ClassVar

from pydantic_settings import BaseSettings

from aggregator import Feed, FetchContext, Provider
from aggregator.http.received import received_at
from plugins.json_api import json_object
from plugins.runpod.gpu_types import (
    GPU_TYPES_QUERY,
    PROVIDER,
    gpu_types_of,
    judge,
    secure_capacity,
)
from plugins.runpod.settings import RunpodSettings
from plugins.verdicts import report

__all__ = ["GpuTypesFeed", "RunpodProvider"]


class GpuTypesFeed(Feed):
    """``runpod/gpu-types``: on-demand and spot prices of every GPU type, both clouds."""

    name = "gpu-types"
    title = "RunPod GPU types: secure and community cloud, on-demand and spot"
    default_interval = timedelta(hours=1)

    async def fetch(self, ctx: FetchContext) -> AsyncIterator[Mapping[str, Any]]:
        settings = ctx.settings if isinstance(ctx.settings, RunpodSettings) else RunpodSettings()
        headers = {"Content-Type": "application/json"}
        if settings.api_key is not None:
            headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
        url = f"{settings.api_url}/graphql"
        response = await ctx.client.post(url, json={"query": GPU_TYPES_QUERY}, headers=headers)
        document = json_object(
            response, provider=PROVIDER, what="a GPU type list", setting="GPUHOURS_RUNPOD_API_URL"
        )
        types = gpu_types_of(document, url=url)
        ctx.progress(total=len(types))
        observed_at = received_at(response)
        capacity = secure_capacity(document)
        seen: set[str] = set()
        for item in types:
            ctx.progress(advance=1)
            type_id = item.get("id") if isinstance(item, dict) else None
            if isinstance(type_id, str) and type_id in seen:
                ctx.reject("GPU type listed twice", type_id)
                continue
            if isinstance(type_id, str):
                seen.add(type_id)
            verdict = judge(item, ctx.gpus, observed_at=observed_at, capacity=capacity)
            for offer in report(ctx, verdict, item, what="RunPod GPU type"):
                yield offer


class RunpodProvider(Provider):
    """RunPod, priced from the public GPU types of its GraphQL API."""

    name = PROVIDER
    title = "RunPod"
    settings_class: ClassVar[type[BaseSettings] | None] = RunpodSettings

    def feeds(self) -> Sequence[Feed]:
        return (GpuTypesFeed(),)
