"""The Lambda provider and its feed, imported only when a command needs providers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from pydantic_settings import BaseSettings

from aggregator import Feed, Provider
from plugins.lambdacloud.feed import InstanceTypesFeed
from plugins.lambdacloud.settings import LambdaSettings

__all__ = ["NOT_CONFIGURED", "LambdaProvider"]

NOT_CONFIGURED = "set GPUHOURS_LAMBDA_API_KEY to a Lambda Cloud API key"


class LambdaProvider(Provider):
    """Lambda: one feed, ``lambda/instance-types``, that needs an API key."""

    name: ClassVar[str] = "lambda"
    title: ClassVar[str] = "Lambda"
    settings_class: ClassVar[type[BaseSettings] | None] = LambdaSettings

    def feeds(self) -> Sequence[Feed]:
        return [InstanceTypesFeed()]

    def missing_credentials(self, settings: BaseSettings | None) -> str | None:
        if not isinstance(settings, LambdaSettings) or settings.api_key is None:
            return NOT_CONFIGURED
        return None
