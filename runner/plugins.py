"""Plugin manager factory and the registry of everything plugins define.

Built-ins are plugins: `BUILTIN_PLUGINS` register with the very `@hookimpl` functions a
third party writes, and are loaded first so that a third party cannot silently replace
`sma` or `sim` (a clash is reported with both names, and the first definition stays).

Third-party plugins come from entry points of group `runner`. A plugin that fails to
import, or whose hook raises, is reported by name and the rest go on: one broken pip
package must not stop a trader from validating or running their strategy.

Environment:
    RUNNER_DISABLE_PLUGIN_AUTOLOAD=1   load built-ins only (no entry points)
    RUNNER_PLUGINS=mod.a,mod.b         also load these modules as plugins (tests, dev)
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy

from runner import hookspecs
from runner._version import __version__
from runner.definitions import DataSourceDef, ExchangeDef, FunctionDef, IndicatorDef

BUILTIN_PLUGINS: tuple[str, ...] = (
    "runner.indicators",
    "runner.sim",
    "runner.datasources",
    "runner.expr.functions",
)
ENTRY_POINT_GROUP = "runner"
ENV_DISABLE_AUTOLOAD = "RUNNER_DISABLE_PLUGIN_AUTOLOAD"
ENV_EXTRA_PLUGINS = "RUNNER_PLUGINS"

_KINDS: dict[str, str] = {
    "register_indicators": "indicators",
    "register_exchanges": "exchanges",
    "register_data_sources": "data_sources",
    "register_functions": "functions",
}
Definition = IndicatorDef | ExchangeDef | DataSourceDef | FunctionDef
_TYPES: dict[str, type[Definition]] = {
    "indicators": IndicatorDef,
    "exchanges": ExchangeDef,
    "data_sources": DataSourceDef,
    "functions": FunctionDef,
}


@dataclass
class PluginInfo:
    """One loaded (or failed) plugin, as `runner plugins` shows it."""

    name: str
    version: str
    source: str  # "builtin", "entry point <dist>" or "RUNNER_PLUGINS"
    registers: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Registry:
    """Everything the installed plugins define, by kind and name."""

    indicators: dict[str, IndicatorDef] = field(default_factory=dict)
    exchanges: dict[str, ExchangeDef] = field(default_factory=dict)
    data_sources: dict[str, DataSourceDef] = field(default_factory=dict)
    functions: dict[str, FunctionDef] = field(default_factory=dict)
    plugins: list[PluginInfo] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    owners: dict[tuple[str, str], str] = field(default_factory=dict)

    def table(self, kind: str) -> dict[str, Any]:
        table: dict[str, Any] = getattr(self, kind)
        return table


def get_plugin_manager(
    *, autoload: bool | None = None, extra: Sequence[str | ModuleType] = ()
) -> tuple[pluggy.PluginManager, list[PluginInfo]]:
    """A fresh plugin manager with built-ins, entry points and `extra` registered.

    Returns the manager and one `PluginInfo` per plugin tried, including failures.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    infos: list[PluginInfo] = []
    for modname in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(modname), name=modname)
        infos.append(PluginInfo(modname, __version__, "builtin"))
    if autoload is None:
        autoload = os.environ.get(ENV_DISABLE_AUTOLOAD, "") in ("", "0", "false")
    if autoload:
        _load_entry_points(pm, infos)
    env_extra = [m for m in os.environ.get(ENV_EXTRA_PLUGINS, "").split(",") if m.strip()]
    for item in [*env_extra, *extra]:
        _register_module(pm, infos, item)
    pm.check_pending()
    return pm, infos


def _load_entry_points(pm: pluggy.PluginManager, infos: list[PluginInfo]) -> None:
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = ep.dist
        version = dist.version if dist is not None else "?"
        source = f"entry point of {dist.name}" if dist is not None else "entry point"
        if pm.has_plugin(ep.name):
            continue
        info = PluginInfo(ep.name, version, source)
        infos.append(info)
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:  # a broken plugin must not take the others down
            info.error = f"failed to load: {type(exc).__name__}: {exc}"


def _register_module(pm: pluggy.PluginManager, infos: list[PluginInfo],
                     item: str | ModuleType) -> None:
    name = item.strip() if isinstance(item, str) else item.__name__
    if pm.has_plugin(name):
        return
    info = PluginInfo(name, "", ENV_EXTRA_PLUGINS if isinstance(item, str) else "in-process")
    infos.append(info)
    try:
        module = importlib.import_module(name) if isinstance(item, str) else item
        pm.register(module, name=name)
        info.version = str(getattr(module, "__version__", ""))
    except Exception as exc:
        info.error = f"failed to load: {type(exc).__name__}: {exc}"
        sys.modules.pop(name, None)


def build_registry(pm: pluggy.PluginManager, infos: Sequence[PluginInfo]) -> Registry:
    """Call every `register_*` hook plugin by plugin and index what they return."""
    registry = Registry(plugins=list(infos))
    by_name = {info.name: info for info in infos}
    for hook_name, kind in _KINDS.items():
        caller: Any = getattr(pm.hook, hook_name)
        impls = caller.get_hookimpls()  # registration order: built-ins first
        for impl in impls:
            info = by_name.setdefault(impl.plugin_name,
                                      PluginInfo(impl.plugin_name, "", "in-process"))
            _collect(registry, info, kind, impl.function)
    for info in registry.plugins:
        if info.error:
            registry.problems.append(f'plugin "{info.name}" {info.error}')
    return registry


def _collect(registry: Registry, info: PluginInfo, kind: str,
             hook: Callable[[], Sequence[Any]]) -> None:
    try:
        defs = list(hook() or ())
    except Exception as exc:
        info.error = f"raised in {kind} registration: {type(exc).__name__}: {exc}"
        return
    table = registry.table(kind)
    expected = _TYPES[kind]
    for d in defs:
        if not isinstance(d, expected):
            registry.problems.append(
                f'plugin "{info.name}" registered {d!r} as {kind}, which is not a '
                f"{expected.__name__}")
            continue
        owner = registry.owners.get((kind, d.name))
        if owner is not None:
            registry.problems.append(
                f'{kind[:-1].replace("_", " ")} "{d.name}" is registered by both "{owner}" and '
                f'"{info.name}"; the one from "{owner}" is used')
            continue
        registry.owners[(kind, d.name)] = info.name
        table[d.name] = d
        info.registers.setdefault(kind, []).append(d.name)


def load_registry(*, autoload: bool | None = None,
                  extra: Sequence[str | ModuleType] = ()) -> Registry:
    """The one-call form most commands use."""
    pm, infos = get_plugin_manager(autoload=autoload, extra=extra)
    return build_registry(pm, infos)
