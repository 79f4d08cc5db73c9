"""The JSON Schema of a strategy file, for editors (yaml-language-server) and CI.

Generated from the same pydantic models `validate` uses, then made to know the
installed plugins: an indicator is a `oneOf` over every registered type (a
discriminated union on `type`, with that indicator's params), `venue` and `data` are
a `oneOf` over exchanges and data sources with their params and options. Numeric
indicator params also accept a param name (`period: fast_len`).

The output is draft-07 (`definitions`, no 2019+ keywords), the newest draft
yaml-language-server fully supports. The schema checks shape only; references,
expressions and cycles need `runner validate`.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from pydantic import BaseModel

from runner.config.models import (
    DATA_CORE_KEYS,
    NAME_PATTERN,
    TIMEFRAMES,
    Strategy,
)
from runner.plugins import Registry

DRAFT_07 = "http://json-schema.org/draft-07/schema#"
SCHEMA_FILENAME = "strategy.schema.json"
_REF = "#/definitions/{model}"


def _model_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(mode="validation", ref_template=_REF)
    return _fix_defs(schema)


def _fix_defs(schema: dict[str, Any]) -> dict[str, Any]:
    if "$defs" in schema:
        schema["definitions"] = schema.pop("$defs")
    return schema


def _hoist(schema: dict[str, Any], into: dict[str, Any]) -> dict[str, Any]:
    """Move a sub-schema's definitions into the document's, keeping refs valid."""
    for name, definition in schema.pop("definitions", {}).items():
        into.setdefault(name, definition)
    return schema


def _numeric(prop: dict[str, Any]) -> bool:
    if prop.get("type") in ("integer", "number"):
        return True
    return any(alt.get("type") in ("integer", "number") for alt in prop.get("anyOf", []))


def _allow_param_names(props: dict[str, Any]) -> None:
    name_ref = {"type": "string", "pattern": NAME_PATTERN, "description": "a param's name"}
    for key, prop in list(props.items()):
        if _numeric(prop):
            props[key] = {"anyOf": [{k: v for k, v in prop.items() if k != "default"},
                                    name_ref],
                          **({"default": prop["default"]} if "default" in prop else {})}


def _indicator_schemas(registry: Registry, defs: dict[str, Any]) -> list[dict[str, Any]]:
    branches = []
    for name in sorted(registry.indicators):
        definition = registry.indicators[name]
        params = _hoist(_model_schema(definition.params), defs)
        props = copy.deepcopy(params.get("properties", {}))
        _allow_param_names(props)
        input_schema: dict[str, Any]
        if len(definition.inputs) == 1:
            input_schema = {"type": "string", "description": "a price field or indicator"}
        else:
            input_schema = {"type": "object", "additionalProperties": False,
                            "properties": {r: {"type": "string"} for r in definition.inputs}}
        branches.append({
            "title": name,
            "description": definition.description,
            "type": "object",
            "properties": {
                "type": {"const": name},
                "input": input_schema,
                "timeframe": {"enum": list(TIMEFRAMES)},
                **props,
            },
            "required": ["type"],
            "additionalProperties": False,
        })
    return branches


def _venue_schemas(registry: Registry, base: dict[str, Any],
                   defs: dict[str, Any]) -> list[dict[str, Any]]:
    branches = []
    for name in sorted(registry.exchanges):
        definition = registry.exchanges[name]
        params = _hoist(_model_schema(definition.params), defs)
        branch = copy.deepcopy(base)
        branch["title"] = name
        branch["properties"]["exchange"] = {"const": name}
        branch["properties"]["params"] = params
        if name != "sim":
            branch["required"] = ["exchange"]
        branches.append(branch)
    return branches


def _data_schemas(registry: Registry, base: dict[str, Any],
                  defs: dict[str, Any]) -> list[dict[str, Any]]:
    branches = []
    core = {k: v for k, v in base["properties"].items() if k in DATA_CORE_KEYS}
    for name in sorted(registry.data_sources):
        definition = registry.data_sources[name]
        options = _hoist(_model_schema(definition.options), defs)
        branch = {
            "title": name,
            "type": "object",
            "properties": {**copy.deepcopy(core), "source": {"const": name},
                           **options.get("properties", {})},
            "required": sorted({*base.get("required", []), *(
                ["source"] if name != "parquet" else [])}),
            "additionalProperties": False,
        }
        branches.append(branch)
    return branches


def _order_rule_rules() -> list[dict[str, Any]]:
    """The cross-field rules of an order rule that draft-07 can say (`if`/`then`).

    `lint` checks the same rules with better messages; here they let an editor flag
    them as the user types.
    """
    def when_type(kind: str, *keys: str) -> dict[str, Any]:
        return {"if": {"properties": {"type": {"const": kind}}, "required": ["type"]},
                "then": {"required": list(keys)}}

    one_size = {"oneOf": [{"required": [m]} for m in
                          ("quantity", "notional", "equity_pct", "risk_pct")]}
    return [
        {"anyOf": [{"required": ["side"]}, {"required": ["action"]}]},
        {"not": {"required": ["side", "action"]}},
        when_type("limit", "price"),
        when_type("stop", "trigger"),
        when_type("stop_limit", "price", "trigger"),
        {"if": {"required": ["side"]},
         "then": {"required": ["size"], "properties": {"size": one_size}}},
        {"if": {"properties": {"size": {"required": ["risk_pct"]}}, "required": ["size"]},
         "then": {"required": ["stop_loss"]}},
    ]


def build_schema(registry: Registry) -> dict[str, Any]:
    schema = _model_schema(Strategy)
    defs: dict[str, Any] = schema.setdefault("definitions", {})
    defs["Indicator"] = {"oneOf": _indicator_schemas(registry, defs)}
    defs["Venue"] = {"oneOf": _venue_schemas(registry, defs["Venue"], defs)}
    defs["Data"] = {"oneOf": _data_schemas(registry, defs["Data"], defs)}
    defs["OrderRule"]["allOf"] = _order_rule_rules()
    schema = {
        "$schema": DRAFT_07,
        "title": "runner strategy file (format version 1)",
        "description": "Generated by `runner schema` from the installed plugins; "
                       "`runner validate` checks what a schema cannot (references, "
                       "expressions, cycles).",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }
    return schema


def render_schema(registry: Registry) -> str:
    return json.dumps(build_schema(registry), indent=2, sort_keys=False) + "\n"
