"""The AWS provider and its feeds, imported only when a command needs providers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from pydantic_settings import BaseSettings

from aggregator import Feed, Provider
from plugins.aws.on_demand import OnDemandFeed
from plugins.aws.savings_plans import SavingsPlanFeed
from plugins.aws.settings import AwsSettings
from plugins.aws.spot import SpotFeed
from plugins.aws.spot_advisor import SpotAdvisorFeed

__all__ = ["AwsProvider"]


class AwsProvider(Provider):
    """Amazon Web Services EC2 GPU instances."""

    name: ClassVar[str] = "aws"
    title: ClassVar[str] = "Amazon Web Services (EC2)"
    settings_class: ClassVar[type[BaseSettings] | None] = AwsSettings

    def feeds(self) -> Sequence[Feed]:
        return (OnDemandFeed(), SpotFeed(), SavingsPlanFeed(), SpotAdvisorFeed())
