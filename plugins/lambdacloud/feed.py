"""The ``lambda/instance-types`` feed: Lambda's instance types and their on-demand prices.

One request, ``GET {GPUHOURS_LAMBDA_API_URL}/api/v1/instance-types`` with the API key as a
bearer token. Lambda sells no spot or commitments through this API, so every offer is on
demand. Entries that cannot be read are rejected, GPUs the vocabulary does not know reported.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Any

from aggregator.errors import ProviderAuthError
from aggregator.http.received import received_at
from aggregator.providers import Feed, FetchContext
from plugins.json_api import bad_body, json_object
from plugins.lambdacloud.instance_types import REGION, EntryError, parse_entry
from plugins.lambdacloud.settings import LambdaSettings

__all__ = ["KEY_HINT", "InstanceTypesFeed", "instance_types_url"]

KEY_HINT = "set GPUHOURS_LAMBDA_API_KEY to a valid Lambda Cloud API key"


def instance_types_url(settings: LambdaSettings) -> str:
    return f"{settings.api_url}/api/v1/instance-types"


class InstanceTypesFeed(Feed):
    """Lambda's GPU instance types at their on-demand price (one price in every region)."""

    name = "instance-types"
    title = "Lambda Cloud instance types, on demand"
    default_interval = timedelta(hours=6)

    async def fetch(self, ctx: FetchContext) -> AsyncIterator[Mapping[str, Any]]:
        settings = ctx.settings if isinstance(ctx.settings, LambdaSettings) else LambdaSettings()
        headers = {}
        if settings.api_key is not None:
            headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
        try:
            response = await ctx.client.get(instance_types_url(settings), headers=headers)
        except ProviderAuthError as exc:
            raise ProviderAuthError(
                f"the Lambda Cloud API refused our API key: {KEY_HINT}. ({exc})",
                provider="lambda",
                feed=ctx.feed_id,
                url=exc.url,
            ) from exc
        body = json_object(response, provider="lambda", what="an instance-type list")
        data = body.get("data")
        if not isinstance(data, Mapping):
            raise bad_body(response, "lambda", "an instance-type list", "'data' is not an object")
        seen = received_at(response)
        for key, raw in data.items():
            try:
                entry = parse_entry(key, raw)
            except EntryError as exc:
                ctx.reject(str(exc), raw, offer=_key(key))
                continue
            if entry is None:
                continue  # a CPU-only instance type
            gpu = ctx.gpus.get(entry.gpu_text)
            if gpu is None:
                ctx.report_unknown("GPU", f"{key}: {entry.gpu_text}", once=entry.gpu_text)
                continue
            yield entry.offer(gpu.name, seen)


def _key(instance_type: str) -> dict[str, Any]:
    return {
        "region": REGION,
        "instance_type": instance_type,
        "purchase_option": "on_demand",
        "term_hours": 0,
    }
