"""The one exception hierarchy of gpuhours.

Every error a user or a plugin can see derives from :class:`GpuhoursError`. Messages name what
failed and what to do about it; none carries a secret (API keys are redacted before a URL is
put into a message). The tree, with what each kind means: docs/errors.md.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "ExportFormatError",
    "GpuhoursError",
    "InvalidInput",
    "NoFeasiblePlan",
    "PluginError",
    "ProviderAuthError",
    "ProviderError",
    "ProviderRateLimited",
    "ProviderResponseError",
    "ProviderUnavailable",
    "ReplayMiss",
    "SchemaOutdated",
    "StoreError",
    "SyncRejected",
    "UnknownGpu",
]


class GpuhoursError(Exception):
    """Base of every error gpuhours raises on purpose."""


class ConfigurationError(GpuhoursError):
    """A setting is missing or invalid; the message names the environment variable."""


class InvalidInput(GpuhoursError):
    """Input from a user (CLI flag, API body, query value) is not acceptable.

    ``field`` names the offending parameter so the CLI and API can point at it.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnknownGpu(InvalidInput, KeyError):
    """A GPU name that is neither a canonical name nor a known alias."""

    def __init__(self, name: str, suggestions: list[str] | None = None) -> None:
        self.name = name
        self.suggestions = list(suggestions or [])
        hint = f"; did you mean {', '.join(self.suggestions)}?" if self.suggestions else ""
        super().__init__(
            f"unknown GPU {name!r}{hint} (`gpuhours gpus` lists the known names)", field="gpu"
        )

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])


class PluginError(GpuhoursError):
    """A plugin could not be loaded or registered something that is not usable."""


class ProviderError(GpuhoursError):
    """A provider's price API failed. ``url`` never contains secrets.

    ``status_code`` is the final HTTP status (None for transport failures) and ``attempts``
    how many requests were made, where known.
    """

    status_code: int | None = None
    attempts: int | None = None

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        feed: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.feed = feed
        self.url = url


class ProviderAuthError(ProviderError):
    """The API refused our credentials (or we have none)."""


class ProviderRateLimited(ProviderError):
    """Still rate limited after every retry we were allowed."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: str | None) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ProviderUnavailable(ProviderError):
    """Timeouts, connection failures or server errors outlasted the retries."""


class ProviderResponseError(ProviderError):
    """The API answered, but not with something we can use."""


class ExportFormatError(ProviderResponseError):
    """An export (``gpuhours export``, ``GET /v1/export``) cannot be read: truncated,
    corrupted, not an export, or written in a newer format than this gpuhours knows."""


class ReplayMiss(ProviderError):
    """Replay mode was asked for a request that was never recorded."""


class StoreError(GpuhoursError):
    """The price store (database) failed or cannot be used."""


class SchemaOutdated(StoreError):
    """The database schema is older (or newer) than this version of gpuhours expects."""


class SyncRejected(GpuhoursError):
    """A sync produced a result that looks wrong; nothing was changed."""


class NoFeasiblePlan(GpuhoursError):
    """No plan meets the request; the message says which constraint leaves nothing."""
