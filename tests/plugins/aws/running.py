"""Running one AWS feed's fetch through the core's HTTP client against a mock host."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from aggregator.http import make_client
from aggregator.providers import Feed, FetchContext
from aggregator.settings import Settings
from plugins.aws.settings import AwsSettings

Handler = Callable[[httpx.Request], httpx.Response]


def run_feed(
    feed: Feed, handler: Handler, settings: AwsSettings, state: dict[str, str] | None = None
) -> tuple[list[Any], FetchContext]:
    """Everything ``feed`` yields with ``handler`` as the network, and the context it ran with
    (``state`` is used and updated in place when given)."""

    async def go() -> tuple[list[Any], FetchContext]:
        async with make_client(
            Settings(http_retries=0), transport=httpx.MockTransport(handler)
        ) as client:
            ctx = FetchContext(
                client=client,
                feed_id=f"aws/{feed.name}",
                settings=settings,
                state=state if state is not None else {},
            )
            return [item async for item in feed.fetch(ctx)], ctx

    return asyncio.run(go())
