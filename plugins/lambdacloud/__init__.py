"""Lambda (Lambda Cloud) GPU prices from its instance-types API.

The package is ``plugins.lambdacloud`` because ``lambda`` is a Python keyword; the provider
and entry point are ``lambda``. Feed ``lambda/instance-types`` (every 6 hours) reads
``GET {GPUHOURS_LAMBDA_API_URL}/api/v1/instance-types`` with ``GPUHOURS_LAMBDA_API_KEY``
(required and a secret; without it the feed is not configured and the others sync).
What is read and how: docs/providers/lambda.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aggregator.hookspecs import hookimpl

if TYPE_CHECKING:
    from aggregator.providers import Provider

__all__ = ["register_providers"]


@hookimpl
def register_providers(register: Callable[[Provider], None]) -> None:
    """Register the Lambda provider; its module is imported only here (cheap plugin loading)."""
    from plugins.lambdacloud.provider import LambdaProvider

    register(LambdaProvider())
