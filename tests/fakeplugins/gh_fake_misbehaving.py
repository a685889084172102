"""A plugin that registers things gpuhours must refuse, without stopping other plugins."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gh_fake_cloud import FakeCloud

from aggregator import hookimpl


class NotAProvider:
    name = "impostor"


@hookimpl
def register_providers(register: Callable[[Any], None]) -> None:
    register(NotAProvider())
    register(FakeCloud())  # duplicate name: fakecloud is already registered
