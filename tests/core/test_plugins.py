"""The plugin loader: entry points one by one, per-plugin error isolation, allow-list."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from aggregator import Feed, Provider, hookimpl
from aggregator.errors import InvalidInput
from aggregator.gpus import GpuSpec
from aggregator.plugins import load_registry
from aggregator.settings import Settings


def _info(registry: Any, name: str) -> Any:
    return next(p for p in registry.plugins if p.name == name)


def test_entry_point_plugins_load_and_broken_ones_are_reported(fake_plugins: None) -> None:
    registry = load_registry(Settings())
    assert "fakecloud" in registry.providers
    assert {"fakecloud/static", "fakecloud/http"} <= set(registry.feeds)

    good = _info(registry, "fakecloud")
    assert good.ok and good.providers == ["fakecloud"]
    assert good.distribution == "gpuhours-fakes" and good.version == "0.1"

    broken = _info(registry, "broken")
    assert not broken.ok
    assert "ImportError" in broken.errors[0] and "broken on purpose" in broken.errors[0]

    bad = _info(registry, "misbehaving")
    assert any("is not a gpuhours Provider" in e for e in bad.errors)
    assert any("'fakecloud' is already registered" in e for e in bad.errors)
    assert "impostor" not in registry.providers


def test_allow_list_restricts_loading(fake_plugins: None) -> None:
    registry = load_registry(Settings(plugins="fakecloud"))
    assert [p.name for p in registry.plugins] == ["fakecloud"]
    registry = load_registry(Settings(plugins="broken"))
    assert registry.providers == {}


def test_hook_register_providers(fake_plugins: None) -> None:
    class OneFeed(Feed):
        name = "only"

        async def fetch(self, ctx: Any) -> Any:  # pragma: no cover - never run here
            yield {}

    class Throwaway(Provider):
        name = "throwaway"

        def feeds(self) -> Sequence[Feed]:
            return [OneFeed()]

    class Plugin:
        @hookimpl
        def register_providers(self, register: Callable[[Provider], None]) -> None:
            register(Throwaway())

    registry = load_registry(Settings(), extra_plugins=[("throwaway", Plugin())])
    assert registry.feeds["throwaway/only"].provider.name == "throwaway"
    assert _info(registry, "throwaway").providers == ["throwaway"]


def test_hook_register_gpus(fake_plugins: None) -> None:
    registry = load_registry(Settings())
    assert registry.gpus.canonical("fakegpu") == "FAKEGPU"

    class Plugin:
        @hookimpl
        def register_gpus(self, register: Callable[[GpuSpec], None]) -> None:
            register(
                GpuSpec(
                    name="ZX9",
                    vendor="Zeta",
                    memory_gb=(48.0,),
                    bf16_tflops=None,
                    aliases=("zeta zx9",),
                )
            )
            register("not a spec")  # type: ignore[arg-type]

    registry = load_registry(Settings(), extra_plugins=[("zeta", Plugin())])
    assert registry.gpus.canonical("Zeta ZX9") == "ZX9"
    assert any("is not a GpuSpec" in e for e in _info(registry, "zeta").errors)


def test_a_hook_that_raises_only_affects_its_plugin(fake_plugins: None) -> None:
    class Exploding:
        @hookimpl
        def register_providers(self, register: Callable[[Provider], None]) -> None:
            raise RuntimeError("boom")

    registry = load_registry(Settings(), extra_plugins=[("exploding", Exploding())])
    assert "fakecloud" in registry.providers
    assert _info(registry, "exploding").errors == ["register_providers raised RuntimeError: boom"]


def test_misspelled_hook_is_reported_not_silently_ignored() -> None:
    class Typo:
        @hookimpl
        def register_provider(self, register: Callable[[Provider], None]) -> None:
            raise AssertionError("must never be called")

    registry = load_registry(Settings(), load_entrypoints=False, extra_plugins=[("typo", Typo())])
    errors = _info(registry, "typo").errors
    assert errors and "register_provider" in errors[0]


def test_select_feeds_by_provider_or_feed_id(fake_plugins: None) -> None:
    registry = load_registry(Settings())
    assert {r.id for r in registry.select_feeds(["fakecloud"])} == {
        "fakecloud/static",
        "fakecloud/http",
    }
    assert [r.id for r in registry.select_feeds(["fakecloud/http"])] == ["fakecloud/http"]
    with pytest.raises(InvalidInput, match="no provider or feed named 'nope'"):
        registry.select_feeds(["nope"])
