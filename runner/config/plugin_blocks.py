"""Second validation phase: the blocks a plugin owns, against the plugin's own model.

`venue.params` belongs to the exchange plugin, an indicator's params to the indicator's
definition, the extra keys of `data:` to the data source. Each is validated with its
owner's pydantic model, with the block's key path as prefix so diagnostics keep
absolute line numbers.

An indicator param may name a strategy param (`period: fast_len`); the name is
replaced by its number before the indicator's model sees it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from runner.config.diagnostics import Diagnostic, Severity
from runner.config.loader import KeyPath, SourceMap, format_path
from runner.config.models import DATA_CORE_KEYS, INDICATOR_CORE_KEYS, Strategy
from runner.config.pydantic_errors import to_diagnostics
from runner.expr.suggest import suggest
from runner.plugins import Registry

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass
class PluginBlocks:
    """What the second phase learned: validated params per indicator, and problems."""

    indicator_params: dict[str, BaseModel] = field(default_factory=dict)
    venue_params: BaseModel | None = None
    data_options: BaseModel | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)


def validate_plugin_blocks(strategy: Strategy, raw: Mapping[str, Any], registry: Registry,
                           source: SourceMap) -> PluginBlocks:
    out = PluginBlocks()
    _venue(strategy, raw, registry, source, out)
    _data(strategy, raw, registry, source, out)
    for name, spec in strategy.indicators.items():
        _indicator(name, spec.type, spec.params, strategy.params, registry, source, out)
    return out


MAX_LISTED = 12
"""A hint lists the installed names only while the list stays readable."""


def unknown_name(source: SourceMap, path: KeyPath, kind: str, name: str,
                 known: Sequence[str], install_hint: str) -> Diagnostic:
    pos = source.value_pos(path)
    listing = (f"installed: {', '.join(sorted(known))}" if len(known) <= MAX_LISTED
               else f"{len(known)} installed")
    hint = suggest(name, known) or (f"{listing}; {install_hint}" if known else install_hint)
    # no package name is suggested: guessing "runner-<typo>" invites typo-squatting
    return Diagnostic(Severity.ERROR, "unknown-type", f'unknown {kind} "{name}"', source.file,
                      pos.line, pos.column, format_path(path), hint, len(name))


def _venue(strategy: Strategy, raw: Mapping[str, Any], registry: Registry, source: SourceMap,
           out: PluginBlocks) -> None:
    name = strategy.venue.exchange
    definition = registry.exchanges.get(name)
    if definition is None:
        out.diagnostics.append(unknown_name(
            source, ("venue", "exchange"), "exchange", name, list(registry.exchanges),
            "`runner plugins` lists what each installed plugin registers"))
        return
    params = strategy.venue.params
    try:
        out.venue_params = definition.params.model_validate(params)
    except ValidationError as exc:
        out.diagnostics.extend(to_diagnostics(
            exc, params, source, prefix=("venue", "params"), model=definition.params,
            owner=f'venue.params of exchange "{name}"'))


def _data(strategy: Strategy, raw: Mapping[str, Any], registry: Registry, source: SourceMap,
          out: PluginBlocks) -> None:
    if strategy.data is None:
        return
    name = strategy.data.source
    definition = registry.data_sources.get(name)
    if definition is None:
        out.diagnostics.append(unknown_name(
            source, ("data", "source"), "data source", name, list(registry.data_sources),
            "install the plugin that provides it"))
        return
    options = strategy.data.options
    try:
        out.data_options = definition.options.model_validate(options)
    except ValidationError as exc:
        out.diagnostics.extend(to_diagnostics(
            exc, options, source, prefix=("data",), model=definition.options,
            extra_fields=DATA_CORE_KEYS, owner=f'data (source "{name}")'))


def _indicator(name: str, type_name: str, params: Mapping[str, Any],
               strategy_params: Mapping[str, float], registry: Registry, source: SourceMap,
               out: PluginBlocks) -> None:
    prefix: KeyPath = ("indicators", name)
    definition = registry.indicators.get(type_name)
    if definition is None:
        out.diagnostics.append(unknown_name(
            source, (*prefix, "type"), "indicator type", type_name, list(registry.indicators),
            "`runner indicators` lists the catalogue"))
        return
    values: dict[str, Any] = {}
    unresolved: dict[str, str] = {}
    resolved: dict[str, str] = {}
    for key, value in params.items():
        if isinstance(value, str) and _IDENT.match(value):
            if value in strategy_params:
                number = strategy_params[value]
                values[key] = int(number) if float(number).is_integer() else number
                resolved[key] = value
                continue
            unresolved[key] = value
        values[key] = value
    try:
        out.indicator_params[name] = definition.params.model_validate(values)
    except ValidationError as exc:
        for d in to_diagnostics(exc, values, source, prefix=prefix, model=definition.params,
                                extra_fields=INDICATOR_CORE_KEYS,
                                owner=f'indicator "{name}" ({type_name})'):
            key = d.path.rsplit(".", 1)[-1]
            if d.code == "invalid-type" and key in unresolved:
                word = unresolved[key]
                pos = source.value_pos((*prefix, key))
                d = Diagnostic(Severity.ERROR, "unknown-reference",
                               f'"{word}" is not a param (indicator "{name}", key "{key}")',
                               source.file, pos.line, pos.column, d.path,
                               suggest(word, list(strategy_params)) or
                               "define it under params:, or write a number", len(word))
            elif key in resolved and d.code != "unknown-field":
                # the param's number is what is wrong: say which param, and what it is
                # (a misspelled key holding a param is the key's fault, not the number's)
                word = resolved[key]
                detail = d.message.split(", got ")[0]
                d = Diagnostic(Severity.ERROR, "invalid-value",
                               f'param "{word}" is {strategy_params[word]:g}, but {key} of '
                               f'indicator "{name}" {_as_requirement(detail)}',
                               d.file, d.line, d.column, d.path,
                               f"change params.{word} or write a number here", len(word))
            out.diagnostics.append(d)


def _as_requirement(detail: str) -> str:
    """`expected a whole number` -> `needs a whole number`; `must be >= 2` stays."""
    if detail.startswith("expected "):
        return "needs " + detail.removeprefix("expected ")
    return detail
