"""The plugin manager: built-ins and entry-point plugins, loaded lazily on first use.

A third-party plugin is *broken* when its import fails, it implements a hook that does not
exist (a misspelling), a hook's signature does not fit its spec, or one of its hooks raises or
registers a name another plugin already has. A broken plugin is reported once, as one stderr
line that names it and says why, and skipped from then on (what its earlier hooks registered
stays); every command goes on working and `trace plugins list` shows it with its reason. A
built-in that breaks is a bug in CodeAlchemy and fails loudly.

`CODEALCHEMY_DISABLE_PLUGINS` turns third-party plugins off: `1`, `all` or `*` loads none; a
comma-separated list skips those, each named by its entry-point name or its distribution name
(as `trace plugins list` shows them).
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs
from .languages import Registry

ENTRY_POINT_GROUP = hookspecs.PROJECT
DISABLE_VAR = "CODEALCHEMY_DISABLE_PLUGINS"

#: Built-in plugin modules: registered exactly like third-party ones.
BUILTINS = ("codealchemy.tracer.builtins",)


class PluginError(RuntimeError):
    pass


@dataclass
class ThirdParty:
    """An entry point of the `codealchemy` group and what became of it."""

    name: str
    distribution: str | None
    version: str | None
    status: str = "loaded"  # loaded | broken | disabled
    reason: str | None = None


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _disabled() -> set[str] | None:
    """The plugin names turned off by the environment; None means all of them."""
    value = os.environ.get(DISABLE_VAR, "").strip()
    if value.lower() in ("1", "all", "*", "true", "yes"):
        return None
    return {canonical(v.strip()) for v in value.split(",") if v.strip()}


_third_party: dict[str, ThirdParty] = {}


def _mark_broken(pm: pluggy.PluginManager, name: str, reason: str) -> None:
    info = _third_party[name]
    if info.status == "broken":
        return
    info.status, info.reason = "broken", reason
    if pm.has_plugin(name):
        pm.unregister(name=name)
    dist = f" ({info.distribution})" if info.distribution else ""
    print(f"trace: plugin {name}{dist} is broken and skipped: {reason} ({DISABLE_VAR}={name} silences this)",
          file=sys.stderr)


def _unknown_hooks(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    return sorted(caller.name for caller in pm.get_hookcallers(plugin) or ()
                  if not caller.has_spec()
                  and any(i.plugin is plugin and not i.optionalhook for i in caller.get_hookimpls()))


def _load_third_party(pm: pluggy.PluginManager) -> None:
    disabled = _disabled()
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _third_party or pm.has_plugin(ep.name):
            continue
        dist = ep.dist
        info = _third_party[ep.name] = ThirdParty(ep.name, dist.name if dist else None,
                                                  dist.version if dist else None)
        if disabled is None or canonical(ep.name) in disabled or (dist and canonical(dist.name) in disabled):
            info.status, info.reason = "disabled", f"by {DISABLE_VAR}"
            continue
        try:
            plugin = ep.load()
        except (Exception, SystemExit) as e:
            _mark_broken(pm, ep.name, f"import failed: {type(e).__name__}: {e}")
            continue
        try:
            pm.register(plugin, name=ep.name)
        except (pluggy.PluginValidationError, ValueError) as e:
            _mark_broken(pm, ep.name, str(e))
            continue
        unknown = _unknown_hooks(pm, plugin)
        if unknown:
            _mark_broken(pm, ep.name, f"unknown hook {', '.join(unknown)} (misspelled? see hookspecs)")


@cache
def manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in BUILTINS:
        pm.register(importlib.import_module(name), name=name)
    pm.check_pending()
    _load_third_party(pm)
    return pm


def call_each(hook_name: str, make_kwargs: Callable[[], dict[str, Any]],
              commit: Callable[[str, dict], None] | None = None,
              rollback: Callable[[dict], None] | None = None) -> None:
    """Call every implementation of a hook on its own, built-ins first. `make_kwargs()` gives one
    call's arguments; `commit(plugin_name, kwargs)` keeps what the call registered, once it has
    returned. An implementation that raises (in itself or in commit) marks its plugin broken and
    `rollback(kwargs)` undoes what it did."""
    pm = manager()
    for impl in list(getattr(pm.hook, hook_name).get_hookimpls()):
        kwargs = make_kwargs()
        try:
            impl.function(**{k: kwargs[k] for k in impl.argnames})
            if commit is not None:
                commit(impl.plugin_name, kwargs)
        except Exception as e:
            if impl.plugin_name not in _third_party:
                raise
            if rollback is not None:
                rollback(kwargs)
            _mark_broken(pm, impl.plugin_name, f"{hook_name} raised {type(e).__name__}: {e}")


def _collect(hook_name: str, kind: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    owner: dict[str, str] = {}

    def make_kwargs() -> dict[str, Any]:
        pending: dict[str, Any] = {}

        def register(name: str, factory: Any) -> None:
            if name in pending:
                raise PluginError(f"registers the {kind} {name!r} twice")
            pending[name] = factory

        return {"register": register, "_pending": pending}

    def commit(plugin: str, kwargs: dict[str, Any]) -> None:
        pending = kwargs["_pending"]
        clash = sorted(set(pending) & set(found))
        if clash:
            raise PluginError(f"registers the {kind} {clash[0]!r} that {owner[clash[0]]} already registers")
        found.update(pending)
        owner.update(dict.fromkeys(pending, plugin))

    call_each(hook_name, make_kwargs, commit)
    return found


@cache
def languages() -> Registry:
    registry = Registry()

    def make_kwargs() -> dict[str, Any]:
        pending: list = []
        return {"register": pending.append, "_pending": pending}

    call_each("register_languages", make_kwargs, lambda _, kw: [registry.add(lang) for lang in kw["_pending"]])
    return registry


@cache
def backends() -> dict[str, Any]:
    return _collect("register_backends", "backend")


@cache
def strategies() -> dict[str, Any]:
    return _collect("register_strategies", "strategy")


@cache
def benchmarks() -> dict[str, Any]:
    return _collect("register_benchmarks", "benchmark")


@cache
def generators() -> dict[str, Any]:
    return _collect("register_generators", "generator")


def add_commands(app: Any) -> None:
    """Let every plugin add its commands; a plugin whose hook raises leaves none behind."""
    def make_kwargs() -> dict[str, Any]:
        return {"app": app, "_sizes": [(lst, len(lst)) for lst in (app.registered_commands, app.registered_groups)]}

    def rollback(kwargs: dict) -> None:
        for lst, n in kwargs["_sizes"]:
            del lst[n:]

    call_each("register_commands", make_kwargs, rollback=rollback)


def third_party() -> dict[str, ThirdParty]:
    """Every third-party entry point seen, loaded, broken or disabled (after loading them)."""
    manager()
    return dict(_third_party)


def plugin_list() -> list[dict]:
    """Every plugin, built-in, loaded, broken or disabled, with the hooks it implements."""
    pm = manager()
    for registry in (languages, backends, strategies, benchmarks, generators):
        registry()  # a hook that raises shows up as broken
    rows = []
    for name in BUILTINS:
        plugin = pm.get_plugin(name)
        rows.append({"name": name, "distribution": "built-in", "status": "loaded", "reason": None,
                     "hooks": sorted(h.name for h in pm.get_hookcallers(plugin) or ())})
    for info in third_party().values():
        plugin = pm.get_plugin(info.name)
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or ()) if plugin is not None else []
        dist = f"{info.distribution} {info.version}" if info.distribution else "?"
        rows.append({"name": info.name, "distribution": dist, "status": info.status, "reason": info.reason,
                     "hooks": hooks})
    return rows


def distribution_of(name: str) -> str | None:
    """The distribution pip knows for NAME, an entry-point name or a distribution name."""
    for info in third_party().values():
        if name == info.name or (info.distribution and canonical(name) == canonical(info.distribution)):
            return info.distribution
    try:
        return metadata.distribution(name).name
    except metadata.PackageNotFoundError:
        return None
