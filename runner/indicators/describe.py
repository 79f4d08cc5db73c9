"""Text for `runner indicators`: the catalogue, or one indicator's contract."""

from __future__ import annotations

import inspect
from typing import Any

from runner.definitions import IndicatorDef
from runner.indicators.lazy import LazyBatch
from runner.plugins import Registry


def list_indicators(registry: Registry) -> str:
    rows = [(d.name, d.group, ", ".join(d.outputs) if len(d.outputs) > 1 else "-",
             d.description, registry.owners.get(("indicators", d.name), ""))
            for d in sorted(registry.indicators.values(), key=lambda d: (d.group, d.name))]
    width = [max(len(r[i]) for r in rows) if rows else 0 for i in range(3)]
    lines = [f"{'name':<{width[0]}}  {'group':<{width[1]}}  {'outputs':<{width[2]}}  description"]
    for name, group, outputs, description, owner in rows:
        origin = "" if owner == "runner.indicators" else f"  [{owner}]"
        lines.append(f"{name:<{width[0]}}  {group:<{width[1]}}  {outputs:<{width[2]}}  "
                     f"{description}{origin}")
    lines.append(f"{len(rows)} indicators")
    return "\n".join(lines)


def _param_line(name: str, prop: dict[str, Any], required: bool) -> str:
    kinds = [prop.get("type")] if "type" in prop else [a.get("type") for a in prop.get("anyOf", [])]
    bounds = []
    for alt in [prop, *prop.get("anyOf", [])]:
        for key, sym in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="),
                         ("exclusiveMaximum", "<")):
            if key in alt:
                bounds.append(f"{sym} {alt[key]}")
    default = "required" if required else f"default {prop.get('default')!r}"
    text = f"  {name}: {' | '.join(k for k in kinds if k)}  ({default}"
    text += f"; {', '.join(bounds)})" if bounds else ")"
    if prop.get("description"):
        text += f"  {prop['description']}"
    return text


def definition_text(d: IndicatorDef) -> str | None:
    """The written definition of an indicator: its batch form's docstring (where
    the formula, seeding and edge cases are stated), else its incremental form's."""
    candidates: list[Any] = []
    if isinstance(d.batch, LazyBatch):
        candidates.append(d.batch.resolve())
    candidates += [d.batch, d.incremental]
    for obj in candidates:
        doc = inspect.getdoc(obj) if obj is not None else None
        if doc and not doc.startswith(("The function `", "Base class")):
            return doc
    return None


def describe_indicator(registry: Registry, name: str) -> str | None:
    d = registry.indicators.get(name)
    if d is None:
        return None
    schema = d.params.model_json_schema()
    props: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    defaults = d.params.model_validate({}) if not required else None
    lines = [f"{d.name} — {d.description}", f"group: {d.group}",
             f"provided by: {registry.owners.get(('indicators', d.name), '?')}",
             f"inputs: {', '.join(d.inputs)}", f"outputs: {', '.join(d.outputs)}", "params:"]
    lines += [_param_line(k, v, k in required) for k, v in props.items()] or ["  (none)"]
    if defaults is not None:
        lines.append(f"lookback with defaults: {d.lookback(defaults)} bars")
    if d.reference:
        lines.append(f"reference: {d.reference}")
    text = definition_text(d)
    if text:
        lines += ["definition:", *(f"  {line}".rstrip() for line in text.splitlines())]
    return "\n".join(lines)
