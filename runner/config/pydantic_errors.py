"""Turn pydantic validation errors into positioned diagnostics.

A pydantic error's `loc` mixes real keys with union member tags
(`constrained-float`, `dict[constrained-str,...]`). We walk the loc through the data
that was validated and keep only the components that index into it, which yields
the key path the user wrote; the source map then gives its line and column. Errors of
a union's members at one place collapse into one diagnostic that lists the accepted
shapes, because "expected a number" followed by "expected a mapping" at the same
column reads like two problems when there is one.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from typing import Any, Union

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from runner.config.diagnostics import Diagnostic, Severity
from runner.config.loader import MISSING, KeyPath, SourceMap, child, format_path
from runner.config.models import TIMEFRAMES
from runner.expr.suggest import suggest

_KINDS: dict[str, str] = {
    "int": "a whole number",
    "float": "a number",
    "string": "text",
    "str": "text",
    "bool": "true or false",
    "dict": "a mapping",
    "model": "a mapping",
    "model_attributes": "a mapping",
    "list": "a list",
    "date": "a date such as 2024-01-31",
    "datetime": "a date or date-time such as 2024-01-31T09:30:00Z",
    "date_from_datetime": "a date such as 2024-01-31",
    "datetime_from_date": "a date such as 2024-01-31",
}

_PATTERN_HELP: dict[str, str] = {
    r"^[a-z_][a-z0-9_]*$": "lower-case letters, digits and underscores, starting with a letter",
    r"^[A-Z0-9][A-Z0-9_]*$": "upper-case letters, digits and underscores (such as BTCUSDT)",
    r"^[a-z0-9][a-z0-9\-_]*$": "lower-case letters, digits, '-' and '_'",
    r"^[a-z0-9][a-z0-9_]*$": "lower-case letters, digits and underscores",
    r"^([01]\d|2[0-3]):([0-5]\d)$": "a clock time HH:MM such as 08:30",
    r"^(https?://|\$\{)": "an http(s) URL or an ${ENV_VAR}",
}


def describe(value: Any) -> str:
    """What was received, in words: `text "abc"`, `the number 5`, `a list`."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f'text "{shown}"'
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


_KEY_MARK = "[key]"


def _clean_loc(loc: Sequence[Any], data: Any, kind: str) -> tuple[KeyPath, bool]:
    """The user's key path for `loc`, and whether union tags had to be dropped."""
    path: list[str | int] = []
    cur = data
    dropped = False
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if part == _KEY_MARK:
            continue
        nxt = child(cur, part)
        if nxt is not MISSING:
            path.append(part)
            cur = nxt
        elif last and kind == "missing" and isinstance(part, str):
            path.append(part)
        else:
            dropped = True
    return tuple(path), dropped


def _unwrap(tp: Any) -> list[Any]:
    """The concrete alternatives of an annotation (through Optional/Annotated/Union)."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (Union, types.UnionType):
        out: list[Any] = []
        for arg in typing.get_args(tp):
            out.extend(_unwrap(arg))
        return out
    return [tp]


def fields_at(model: type[BaseModel], path: Sequence[str | int]) -> list[str]:
    """The keys the model allows at `path` (for did-you-mean on an unknown key)."""
    current: list[Any] = [model]
    for part in path:
        nxt: list[Any] = []
        for tp in current:
            for alt in _unwrap(tp):
                origin = typing.get_origin(alt)
                if isinstance(alt, type) and issubclass(alt, BaseModel):
                    if isinstance(part, str) and part in alt.model_fields:
                        nxt.append(alt.model_fields[part].annotation)
                elif origin is dict:
                    nxt.append(typing.get_args(alt)[1])
                elif origin is list and isinstance(part, int):
                    nxt.append(typing.get_args(alt)[0])
        current = nxt
    names: list[str] = []
    for tp in current:
        for alt in _unwrap(tp):
            if isinstance(alt, type) and issubclass(alt, BaseModel):
                names.extend(alt.model_fields)
    return names


def _message(err: ErrorDetails, name: str) -> tuple[str, str, str | None]:
    """(code, message, hint) for one pydantic error."""
    kind = err["type"]
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    value = err.get("input")
    if kind == "missing":
        return "missing-field", f'missing required key "{name}"', None
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        options = [o.strip().strip("'") for o in expected.replace(" or ", ", ").split(",")]
        hint = suggest(str(value), options) if isinstance(value, str) else None
        code = "invalid-timeframe" if tuple(options) == TIMEFRAMES else "invalid-value"
        return (code,
                f"{describe(value)} is not allowed here; expected one of: {', '.join(options)}",
                hint)
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<",
              "less_than_equal": "<="}[kind]
        bound = next(iter(ctx.values()), "?")
        shown = f"{bound:g}" if isinstance(bound, float) else bound
        return "invalid-value", f"must be {op} {shown}, got {value}", None
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        help_text = _PATTERN_HELP.get(pattern, f"text matching {pattern}")
        return "invalid-value", f'"{value}" is not valid here: use {help_text}', None
    if kind in ("too_short", "too_long", "string_too_short", "string_too_long"):
        if kind.endswith("too_short") and ctx.get("min_length") == 1:
            return "invalid-value", "must not be empty", None
        n = ctx.get("min_length") if kind.endswith("too_short") else ctx.get("max_length")
        unit = ("character" if kind.startswith("string") else "entry") if n == 1 else \
            ("characters" if kind.startswith("string") else "entries")
        if kind.endswith("too_short"):
            return ("invalid-value",
                    f"needs at least {ctx.get('min_length')} {unit}, got {describe(value)}", None)
        return ("invalid-value",
                f"takes at most {ctx.get('max_length')} {unit}, got {describe(value)}", None)
    if kind in ("value_error", "assertion_error"):
        text = str(ctx.get("error", err["msg"]))
        return "invalid-value", text.removeprefix("Value error, "), None
    if kind == "int_from_float":
        return "invalid-type", f"expected a whole number, got {value}", None
    for suffix in ("_type", "_parsing"):
        if kind.endswith(suffix):
            base = kind.removesuffix(suffix)
            wanted = _KINDS.get(base, base.replace("_", " "))
            return "invalid-type", f"expected {wanted}, got {describe(value)}", None
    return "invalid-value", err["msg"], None


def to_diagnostics(
    exc: ValidationError,
    data: Any,
    source: SourceMap,
    *,
    prefix: KeyPath = (),
    model: type[BaseModel] | None = None,
    extra_fields: Sequence[str] = (),
    owner: str = "",
) -> list[Diagnostic]:
    """Positioned diagnostics for every error of `exc`, validated from `data`.

    `prefix` is where `data` stands in the file, so plugin-owned blocks validated on
    their own keep absolute lines. `extra_fields` join the did-you-mean candidates
    for unknown keys (the core keys beside a plugin's params).
    """
    groups: dict[KeyPath, list[tuple[ErrorDetails, bool]]] = {}
    for err in exc.errors(include_url=False):
        path, dropped = _clean_loc(err["loc"], data, err["type"])
        groups.setdefault(path, []).append((err, dropped))
    out: list[Diagnostic] = []
    for path, errs in groups.items():
        unions = [e for e, dropped in errs if dropped]
        constraint = [e for e in unions if not _is_type_error(e["type"])]
        if len(unions) > 1 and len(constraint) == 1:
            # the value had the right type for one member and broke its constraint
            errs = [(constraint[0], True)]
        elif len(unions) > 1 and len(unions) == len(errs):
            wanted = []
            for e in unions:
                code, msg, _ = _message(e, "")
                wanted.append(msg.split(", got ")[0].removeprefix("expected "))
            err0 = unions[0]
            alternatives = " or ".join(dict.fromkeys(wanted))
            code = "invalid-type"
            message = f"expected {alternatives}, got {describe(err0.get('input'))}"
            out.append(_at(source, prefix + path, code, message, None, err0["type"]))
            continue
        for err, _ in errs:
            name = str(path[-1]) if path else ""
            if err["type"] == "extra_forbidden":
                allowed = (fields_at(model, path[:-1]) if model else []) + list(extra_fields)
                where = f" in {owner or format_path(prefix + path[:-1]) or 'the file'}"
                message = f'unknown key "{name}"{where}'
                hint = suggest(name, allowed)
                if hint is None and allowed:
                    hint = "allowed keys: " + ", ".join(sorted(set(allowed)))
                out.append(_at(source, prefix + path, "unknown-field", message, hint,
                               "extra_forbidden"))
                continue
            code, message, hint = _message(err, name)
            if code == "missing-field" and path[:-1]:
                message += f" in {owner or format_path(prefix + path[:-1])}"
            kind = "key" if _KEY_MARK in err["loc"] else err["type"]
            out.append(_at(source, prefix + path, code, message, hint, kind))
    return out


def _is_type_error(kind: str) -> bool:
    return kind.endswith(("_type", "_parsing")) or kind in ("model_attributes_type",
                                                            "int_from_float")


def _at(source: SourceMap, path: KeyPath, code: str, message: str, hint: str | None,
        kind: str) -> Diagnostic:
    if kind == "missing":
        pos = source.key_pos(path[:-1]) if path[:-1] else source.value_pos(())
    elif kind in ("extra_forbidden", "key"):
        pos = source.key_pos(path)
    else:
        pos = source.value_pos(path)
    return Diagnostic(Severity.ERROR, code, message, source.file, pos.line, pos.column,
                      format_path(path), hint)
