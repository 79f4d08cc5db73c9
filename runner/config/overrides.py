"""`--set key=value` overrides of a strategy file, applied before validation.

An override replaces one scalar of the loaded document, so its value goes through
exactly the checks a value written in the file goes through (models, plugin-owned
params, expressions, lint), and a problem with it is reported naming the override
(`--set indicators.fast.period=abc: error[invalid-type]: ...`) rather than a line
of the file.

The rules:

* `key` is a dotted path into the document: `params.fast_len`,
  `risk.max_position.BTCUSDT`, `orders.0.size.risk_pct`. Under a list a segment is
  an index (0-based, no leading zeros; it must exist); under a mapping, a key. Whitespace
  around the key and around each segment is ignored; keys containing a dot cannot
  be reached.
* `value` is read as one YAML 1.2 core-schema scalar, like a value in the file:
  `20` is an int, `0.5` a float, `true` a bool, `null` or nothing is null, `abc` and
  `"abc"` are the string abc, `"20"` is the string 20. A list or mapping
  (`[1, 2]`, `a: b`) is refused: quote it to pass a string.
* Only scalars are replaced: an override whose path ends on a mapping or a list is
  refused. A missing key is created, and so are missing mappings on the way
  (`risk.max_drawdown=0.2` with no `risk:` block); a null on the way counts as an
  empty mapping. Typos are still caught, as unknown fields, by validation.
* Overrides apply in order; of two overrides of one key the last wins.

A malformed override is an `OverrideError` (a `UsageError`, exit 2); an invalid
value is an ordinary diagnostic (exit 1). `Override.canonical` is the form that
goes into the config fingerprint: equivalent spellings (`params.x = 20`,
`params.x=20`, `params.x=0x14`; `name=abc`, `name="abc"`) share it, different
values (`20`, `20.0`, `"20"`) do not.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import ScalarNode

from runner.config.diagnostics import Diagnostic, finalize
from runner.config.loader import (
    KeyPath,
    Loaded,
    Pos,
    _scalar,
    format_path,
    iter_strings,
    load_file,
)
from runner.config.validate import Validated, validate_loaded
from runner.errors import UsageError
from runner.plugins import Registry

_yaml = YAML(typ="safe")


class OverrideError(UsageError):
    """A `--set` that cannot be parsed or applied (exit 2)."""

    def __init__(self, text: str, problem: str) -> None:
        super().__init__(f"--set {text}: {problem}")
        self.text = text
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Override:
    """One parsed `--set`: the text as given, the key path and the scalar value."""

    text: str
    path: tuple[str, ...]
    value: Any

    @property
    def key(self) -> str:
        return ".".join(self.path)

    @property
    def label(self) -> str:
        """How diagnostics name it: `--set key=value` as the user wrote it."""
        return f"--set {self.text}"

    @property
    def canonical(self) -> str:
        """`key=value` with the key normalised and the value in one spelling per
        (type, value), for the config fingerprint."""
        return f"{self.key}={canonical_value(self.value)}"


def canonical_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def parse_override(text: str) -> Override:
    """`key=value` -> `Override`; raises `OverrideError` when malformed."""
    key, sep, raw = text.partition("=")
    if not sep:
        raise OverrideError(text, "expected key=value, e.g. params.fast_len=20")
    key = key.strip()
    if not key:
        raise OverrideError(text, "the key before '=' is empty")
    path = tuple(part.strip() for part in key.split("."))
    if any(not part for part in path):
        raise OverrideError(text, f'the key "{key}" has an empty segment')
    return Override(text, path, _parse_value(text, raw))


def _parse_value(text: str, raw: str) -> Any:
    if not raw.strip():
        return None
    try:
        node = _yaml.compose(raw)
    except YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]
        raise OverrideError(text, f"the value is not valid YAML ({problem})") from None
    if node is None:
        return None
    if not isinstance(node, ScalarNode):
        kind = "a mapping" if node.id == "mapping" else "a list"
        raise OverrideError(text, f"the value is {kind}, but --set takes one scalar "
                                  "(quote it to pass a string)")
    return _scalar(node)


def parse_overrides(texts: Sequence[str]) -> list[Override]:
    return [parse_override(t) for t in texts]


@dataclass(frozen=True, slots=True)
class Applied:
    """Where one override landed: its document path, the first path it created (if
    any), and the span of the file value it replaced (if any)."""

    override: Override
    path: KeyPath
    created: KeyPath | None
    span: tuple[Pos, Pos] | None


def apply_overrides(loaded: Loaded, overrides: Sequence[Override]) -> list[Applied]:
    """Set each override's value in `loaded.data`, in order (mutates it).

    Raises `OverrideError` for a path through a scalar, a list index that is not a
    number or is out of range, or a path ending on a mapping or list. Does nothing
    when the file could not be loaded (its own diagnostics say why).
    """
    if not isinstance(loaded.data, dict):
        return []
    applied: list[Applied] = []
    for o in overrides:
        applied.append(_apply(loaded, o))
    return applied


def _apply(loaded: Loaded, o: Override) -> Applied:
    node: Any = loaded.data
    doc_path: list[str | int] = []
    created: KeyPath | None = None
    for depth, part in enumerate(o.path):
        last = depth == len(o.path) - 1
        where = format_path(tuple(doc_path)) or "the document"
        if isinstance(node, list):
            if not (part.isascii() and part.isdigit()) or part != str(int(part)):
                raise OverrideError(o.text, f'{where} is a list: "{part}" is not an index '
                                            "(0, 1, ...)")
            index = int(part)
            if index >= len(node):
                raise OverrideError(o.text, f"{where} has {len(node)} item"
                                            f"{'s' if len(node) != 1 else ''}: index {index} "
                                            "is out of range")
            step: str | int = index
        elif isinstance(node, dict):
            step = part
        else:
            shown = canonical_value(node)
            shown = shown if len(shown) <= 30 else shown[:27] + "..."
            raise OverrideError(o.text, f"{where} is a single value ({shown}), "
                                        "not a mapping or list")
        doc_path.append(step)
        here = tuple(doc_path)
        parent: Any = node  # a list indexed by int or a mapping keyed by str
        if last:
            old = parent[step] if isinstance(node, list) else parent.get(step)
            if isinstance(old, dict | list):
                kind = "a mapping" if isinstance(old, dict) else "a list"
                parts = "keys" if isinstance(old, dict) else "items"
                raise OverrideError(o.text, f"{format_path(here)} is {kind}; --set replaces "
                                            f"one scalar (set its {parts} one by one)")
            existed = isinstance(node, list) or step in node
            if not existed and created is None:
                created = here
            parent[step] = o.value
            span = None
            if existed and here in loaded.source.entries:
                loc = loaded.source.entries[here]
                span = (loc.start, loc.end)
            return Applied(o, here, created, span)
        child = parent[step] if isinstance(node, list) else parent.get(step)
        if child is None:
            if created is None:
                created = here
            child = {}
            parent[step] = child
        node = child
    raise AssertionError("unreachable: an override path has at least one part")


def attribute(diagnostics: Sequence[Diagnostic], applied: Sequence[Applied],
              data: Any = None) -> list[Diagnostic]:
    """Diagnostics about an overridden value, renamed to the override that set it.

    A diagnostic is about an override when its key path is the override's path, or lies
    under a mapping the override created, or its position lies inside the file value
    the override replaced, or (given the document `data`) the value at its path is the
    name of a param the override sets (`period: fast_len` with `--set
    params.fast_len=-3`). The last override of a path wins, as when applying.
    """
    names = {format_path(p): v for p, v in iter_strings(data)} if data is not None else {}
    out: list[Diagnostic] = []
    for d in diagnostics:
        owner = None
        for a in reversed(applied):
            if _owns(a, d) or (len(a.path) == 2 and a.path[0] == "params" and bool(d.path)
                               and names.get(d.path) == a.path[1]):
                owner = a
                break
        if owner is None:
            out.append(d)
        else:
            out.append(replace(d, file=owner.override.label, line=0, column=0,
                               path=d.path or format_path(owner.path)))
    return finalize(out)


def _within(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith((prefix + ".", prefix + "["))


def _owns(a: Applied, d: Diagnostic) -> bool:
    if d.path and _within(d.path, format_path(a.path)):
        return True
    if d.path and a.created is not None and _within(d.path, format_path(a.created)):
        return True
    if a.span is not None and d.line > 0:
        start, end = a.span
        return (start.line, start.column) <= (d.line, d.column) < (end.line, end.column)
    return False


def validate_with_overrides(path: Path, registry: Registry, overrides: Sequence[Override],
                            *, display: str | None = None, **kw: Any) -> Validated:
    """`validate_file` with `overrides` applied to the document first; diagnostics
    about overridden values name the override. Raises `OverrideError` when an
    override cannot be applied."""
    loaded = load_file(path, display)
    applied = apply_overrides(loaded, overrides)
    result = validate_loaded(loaded, registry, **kw)
    if applied:
        result.diagnostics = attribute(result.diagnostics, applied, loaded.data)
    return result


def render_text(d: Diagnostic, source_lines: Sequence[str] | None = None) -> str:
    """`Diagnostic.render_text`, except that one naming an override has no position:
    `--set key=value: error[code]: message`."""
    if d.line == 0 and d.file.startswith("--set "):
        out = f"{d.file}: {d.severity}[{d.code}]: {d.message}"
        return out + (f"\n  hint: {d.hint}" if d.hint else "")
    return d.render_text(source_lines)
