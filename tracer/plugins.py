"""The plugin manager: built-ins and entry-point plugins, loaded lazily on first use."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import pluggy

from . import hookspecs
from .languages import Registry

ENTRY_POINT_GROUP = hookspecs.PROJECT

#: Built-in plugin modules: registered exactly like third-party ones.
BUILTINS = ("codealchemy.tracer.builtins",)


class PluginError(RuntimeError):
    pass


@cache
def manager() -> pluggy.PluginManager:
    import importlib

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in BUILTINS:
        pm.register(importlib.import_module(name), name=name)
    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    pm.check_pending()
    return pm


def _collect(hook: Callable[..., Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def register(name: str, factory: Any) -> None:
        if name in found:
            raise PluginError(f"two plugins register the {kind} {name!r}")
        found[name] = factory

    hook(register=register)
    return found


@cache
def languages() -> Registry:
    registry = Registry()
    manager().hook.register_languages(register=registry.add)
    return registry


@cache
def backends() -> dict[str, Any]:
    return _collect(manager().hook.register_backends, "backend")


@cache
def strategies() -> dict[str, Any]:
    return _collect(manager().hook.register_strategies, "strategy")


@cache
def benchmarks() -> dict[str, Any]:
    return _collect(manager().hook.register_benchmarks, "benchmark")


@cache
def generators() -> dict[str, Any]:
    return _collect(manager().hook.register_generators, "generator")


def plugin_list() -> list[dict]:
    """Every registered plugin with the hooks it implements."""
    pm = manager()
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    rows = []
    for name, plugin in pm.list_name_plugin():
        dist = dists.get(id(plugin))
        rows.append({"name": name, "hooks": sorted(h.name for h in pm.get_hookcallers(plugin) or ()),
                     "distribution": f"{dist.project_name} {dist.version}" if dist else "built-in"})
    return rows
