"""What a feed's fetch runs with (its provider's settings, its context) and how a failed fetch
is told: shared by the sync engine and the plugin test kit, so both run a feed alike."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import httpx
import pydantic
from pydantic_settings import BaseSettings

from aggregator.errors import ConfigurationError, GpuhoursError, ProviderError
from aggregator.gpus import GpuVocabulary, default_vocabulary
from aggregator.http import translate_error
from aggregator.plugins import FeedRef
from aggregator.providers import FetchContext, Provider
from aggregator.sync.collect import first_error

__all__ = ["describe_fetch_error", "fetch_context", "provider_settings"]


def provider_settings(provider: Provider) -> BaseSettings | None:
    """The provider's settings read from the environment, or ``None`` if it declares none.

    Raises :class:`ConfigurationError` naming the first invalid setting.
    """
    cls = provider.settings_class
    if cls is None:
        return None
    try:
        return cls()
    except pydantic.ValidationError as exc:
        raise ConfigurationError(
            f"settings of provider {provider.name!r} are invalid: {first_error(exc)}"
        ) from None


def fetch_context(
    ref: FeedRef,
    client: httpx.AsyncClient,
    settings: BaseSettings | None,
    state: Mapping[str, str],
    gpus: GpuVocabulary | None = None,
) -> FetchContext:
    """The context a feed's ``fetch`` runs with: ``state`` is copied, the log is the feed's,
    ``gpus`` the loaded plugins' vocabulary (default: the built-in one)."""
    return FetchContext(
        client=client,
        feed_id=ref.id,
        settings=settings,
        state=dict(state),
        log=logging.getLogger(f"gpuhours.feed.{ref.id}"),
        gpus=gpus if gpus is not None else default_vocabulary(),
    )


def describe_fetch_error(exc: Exception) -> str:
    """What to record when a feed's ``fetch`` raised ``exc``: httpx errors become ours first."""
    error = exc if isinstance(exc, GpuhoursError) else translate_error(exc)
    if error is None:
        return f"fetch raised {type(exc).__name__}: {exc}"
    if isinstance(error, ProviderError):
        return str(error)
    return f"{type(error).__name__}: {error}"
