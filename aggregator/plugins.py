"""Finding and loading provider plugins, one at a time, so one broken plugin never stops the rest.

Built-in and third-party plugins take the same path: an entry point in the group
``gpuhours.providers`` names a module holding hook implementations. Each entry point is
imported and registered on its own; an import error, a misspelled hook, a hook that raises,
a duplicate provider name or a registered object that is not a :class:`Provider` is recorded
against that plugin (``gpuhours providers`` shows it) and the others load normally.

Hooks are not called through ``pm.hook`` (pluggy stops at the first exception); each plugin's
implementation is called directly inside its own ``try``.

Price terms (:mod:`aggregator.terms`) are collected last: each plugin's ``register_price_terms``
(a term naming an unknown GPU, or an object that is not a ``PriceTerm``, is that plugin's
error), then the file ``GPUHOURS_TERMS_FILE``, read here once. A bad file does not stop the
loading (syncing and listing offers never use terms); it is kept as
:attr:`Registry.terms_error` and raised by :meth:`Registry.active_terms`, so planning with
terms fails with it while planning at list prices still works.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pluggy

from aggregator import hookspecs
from aggregator.errors import InvalidInput
from aggregator.gpus import GpuSpec, GpuVocabulary, default_vocabulary
from aggregator.plugin_names import PLUGINS_ENV, parse_allowlist
from aggregator.providers import Feed, Provider

if TYPE_CHECKING:
    from aggregator.settings import Settings
    from aggregator.terms import ActiveTerm

__all__ = [
    "ENTRY_POINT_GROUP",
    "FeedRef",
    "PluginInfo",
    "Registry",
    "get_plugin_manager",
    "load_registry",
]

ENTRY_POINT_GROUP = "gpuhours.providers"
log = logging.getLogger(__name__)


@dataclass
class PluginInfo:
    """What ``gpuhours providers`` reports about one plugin."""

    name: str
    distribution: str | None = None
    version: str | None = None
    providers: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class FeedRef:
    """A feed together with the provider that owns it."""

    provider: Provider
    feed: Feed

    @property
    def id(self) -> str:
        return f"{self.provider.name}/{self.feed.name}"


@dataclass
class Registry:
    """Everything the loaded plugins registered."""

    providers: dict[str, Provider] = field(default_factory=dict)
    feeds: dict[str, FeedRef] = field(default_factory=dict)
    gpus: GpuVocabulary = field(default_factory=default_vocabulary)
    plugins: list[PluginInfo] = field(default_factory=list)
    price_terms: list[ActiveTerm] = field(default_factory=list)
    """Plugin terms in load order, then the terms file's; see :meth:`active_terms`."""
    terms_error: str | None = None
    """Why ``GPUHOURS_TERMS_FILE`` could not be used, if it could not."""

    def built_in_providers(self) -> set[str]:
        """Providers registered by plugins that gpuhours' own distribution installs."""
        from aggregator.version import DISTRIBUTION

        return {
            p for info in self.plugins if info.distribution == DISTRIBUTION for p in info.providers
        }

    def active_terms(self) -> tuple[ActiveTerm, ...]:
        """The price terms a plan applies, in the order they apply.

        Raises :class:`InvalidInput` (``field="terms_file"``) when the terms file is wrong: a
        plan is never computed with only part of the user's terms.
        """
        if self.terms_error is not None:
            raise InvalidInput(self.terms_error, field="terms_file")
        return tuple(self.price_terms)

    def select_feeds(self, names: Iterable[str]) -> list[FeedRef]:
        """Feeds named by provider (``aws``: all its feeds) or feed id (``aws/spot``).

        No names selects every feed. Unknown names raise :class:`InvalidInput`.
        """
        names = list(names)
        if not names:
            return list(self.feeds.values())
        chosen: dict[str, FeedRef] = {}
        for name in names:
            if name in self.feeds:
                chosen[name] = self.feeds[name]
            elif name in self.providers:
                chosen.update({f.id: f for f in self.feeds.values() if f.provider.name == name})
            else:
                known = ", ".join(sorted([*self.providers, *self.feeds])) or "none loaded"
                raise InvalidInput(
                    f"no provider or feed named {name!r} (known: {known}); "
                    "`gpuhours providers` lists them and any plugin that failed to load",
                    field="feed",
                )
        return list(chosen.values())


def get_plugin_manager() -> pluggy.PluginManager:
    """A plugin manager with gpuhours' hook specifications and no plugins yet."""
    pm = pluggy.PluginManager("gpuhours")
    pm.add_hookspecs(hookspecs)
    return pm


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    return sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)


def load_registry(
    settings: Settings | None = None,
    *,
    load_entrypoints: bool = True,
    extra_plugins: Iterable[tuple[str, object]] = (),
    providers: bool = True,
    price_terms: bool = True,
) -> Registry:
    """Load plugins and collect what they register.

    ``extra_plugins`` are ``(name, module_or_object)`` pairs registered after the entry
    points; tests use it for throw-away plugins. ``GPUHOURS_PLUGINS`` (a comma-separated list
    of plugin names) restricts which entry points load. ``providers=False`` and
    ``price_terms=False`` skip those hooks for commands that need only the GPU vocabulary
    (and terms): providers import their feeds and parsers when registered. With neither, the
    settings are not read either, only ``GPUHOURS_PLUGINS`` (pydantic-settings alone takes
    longer to import than the rest of ``gpuhours gpus``).
    """
    if settings is None and not (providers or price_terms):
        allow = parse_allowlist(os.environ.get(PLUGINS_ENV))
    else:
        if settings is None:
            from aggregator.settings import Settings

            settings = Settings()
        allow = settings.plugin_allowlist
    pm = get_plugin_manager()
    registry = Registry()
    infos: dict[str, PluginInfo] = {}

    candidates: list[tuple[str, Callable[[], object], PluginInfo]] = []
    if load_entrypoints:
        for ep in _entry_points():
            if allow is not None and ep.name not in allow:
                continue
            dist = ep.dist
            info = PluginInfo(
                name=ep.name,
                distribution=dist.name if dist else None,
                version=dist.version if dist else None,
            )
            candidates.append((ep.name, ep.load, info))
    for name, obj in extra_plugins:
        candidates.append((name, _constant(obj), PluginInfo(name=name)))

    for name, load, info in candidates:
        infos[name] = info
        registry.plugins.append(info)
        if pm.has_plugin(name):
            info.errors.append(f"another plugin is already registered as {name!r}")
            continue
        try:
            pm.register(load(), name=name)
            pm.check_pending()
        except Exception as exc:  # one plugin's failure must not stop the others
            info.errors.append(f"failed to load: {type(exc).__name__}: {exc}")
            log.warning("plugin %s failed to load: %s", name, exc)
            if pm.has_plugin(name):
                pm.unregister(name=name)

    _call_each(pm, "register_gpus", infos, lambda info: _gpu_registrar(registry, info))
    if providers:
        _call_each(
            pm, "register_providers", infos, lambda info: _provider_registrar(registry, info)
        )
    if not price_terms:
        return registry
    from aggregator.terms.file import load_terms_file

    _collect_terms(pm, infos, registry)
    if settings is not None and settings.terms_file is not None:
        try:
            registry.price_terms += load_terms_file(settings.terms_file, registry.gpus)
        except InvalidInput as exc:
            registry.terms_error = str(exc)
            log.warning("price terms not usable (plans with terms will fail): %s", exc)
    return registry


def _constant(obj: object) -> Callable[[], object]:
    return lambda: obj


def _call_each(
    pm: pluggy.PluginManager,
    hook_name: str,
    infos: dict[str, PluginInfo],
    make_register: Callable[[PluginInfo], Callable[[Any], None]],
) -> None:
    hook = getattr(pm.hook, hook_name)
    for impl in hook.get_hookimpls():  # registration order (pluggy calls them LIFO)
        info = infos.setdefault(impl.plugin_name, PluginInfo(name=impl.plugin_name))
        try:
            impl.function(register=make_register(info))
        except Exception as exc:
            info.errors.append(f"{hook_name} raised {type(exc).__name__}: {exc}")
            log.warning("plugin %s: %s raised: %s", info.name, hook_name, exc)


def _gpu_registrar(registry: Registry, info: PluginInfo) -> Callable[[Any], None]:
    def register(spec: Any) -> None:
        if not isinstance(spec, GpuSpec):
            info.errors.append(f"register_gpus: {spec!r} is not a GpuSpec; ignored")
            return
        try:
            registry.gpus.register(spec)
        except ValueError as exc:
            info.errors.append(f"register_gpus: {exc}; ignored")

    return register


def _provider_registrar(registry: Registry, info: PluginInfo) -> Callable[[Any], None]:
    def register(provider: Any) -> None:
        if not isinstance(provider, Provider):
            info.errors.append(
                f"register_providers: {provider!r} is not a gpuhours Provider; ignored"
            )
            return
        name = getattr(provider, "name", None)
        if not isinstance(name, str) or not name or "/" in name:
            info.errors.append(f"register_providers: {provider!r} has no valid name; ignored")
            return
        if name in registry.providers:
            info.errors.append(f"register_providers: provider {name!r} is already registered")
            return
        try:
            feeds = list(provider.feeds())
        except Exception as exc:
            info.errors.append(f"provider {name!r}: feeds() raised {type(exc).__name__}: {exc}")
            return
        refs: list[FeedRef] = []
        for feed in feeds:
            feed_name = getattr(feed, "name", None)
            if not isinstance(feed, Feed) or not isinstance(feed_name, str) or not feed_name:
                info.errors.append(f"provider {name!r}: {feed!r} is not a named Feed; ignored")
                continue
            if "/" in feed_name or any(r.feed.name == feed_name for r in refs):
                info.errors.append(f"provider {name!r}: bad or duplicate feed name {feed_name!r}")
                continue
            refs.append(FeedRef(provider, feed))
        registry.providers[name] = provider
        registry.feeds.update({ref.id: ref for ref in refs})
        info.providers.append(name)

    return register


def _collect_terms(
    pm: pluggy.PluginManager, infos: dict[str, PluginInfo], registry: Registry
) -> None:
    """Each plugin's terms, all or none: a plugin whose hook raised or registered anything
    unusable contributes no term (part of a contract would misprice plans silently)."""
    pending: dict[str, list[ActiveTerm]] = {}
    hook = "register_price_terms"
    errors_before = {name: len(info.errors) for name, info in infos.items()}
    _call_each(pm, hook, infos, lambda info: _term_registrar(registry, info, pending))
    for name, terms in pending.items():
        info = infos[name]
        if len(info.errors) > errors_before.get(name, 0):  # this hook added an error
            if terms:
                dropped = f"{len(terms)} valid term{'s' if len(terms) != 1 else ''}"
                info.errors.append(f"{hook}: none of its terms apply ({dropped} dropped too)")
            continue
        registry.price_terms += terms


def _term_registrar(
    registry: Registry, info: PluginInfo, pending: dict[str, list[ActiveTerm]]
) -> Callable[[Any], None]:
    from aggregator.terms import ActiveTerm, PriceTerm

    own = pending.setdefault(info.name, [])

    def register(term: Any) -> None:
        if not isinstance(term, PriceTerm):
            info.errors.append(f"register_price_terms: {term!r} is not a PriceTerm")
            return
        try:
            own.append(ActiveTerm.of(term, registry.gpus, origin=f"plugin {info.name}"))
        except InvalidInput as exc:  # an unknown GPU name
            info.errors.append(f"register_price_terms: term {term.label!r}: {exc}")

    return register
