"""Load a YAML strategy file into plain data plus a source map.

Why not `YAML(typ="rt").load`: the round-trip loader is pure Python (about 6 ms for a
strategy file) and hides duplicate keys behind an exception that stops at the first.
Instead we let ruamel's C-accelerated composer build the node graph (it keeps a mark
on every node, resolves anchors and reports syntax errors with positions) and
construct the values ourselves, which lets us

* report *every* duplicate key, each at the repeated key,
* apply merge keys (`<<: *defaults`) with explicit keys winning,
* record where each key and value stands, by key path, so that a pydantic error's
  `loc` maps to a line and column, and an expression's character offset maps to the
  exact column inside the file.

Scalars follow the YAML 1.2 core schema (`yes` is a string, `08:30` is a string),
dates stay strings for pydantic to parse.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from runner.config.diagnostics import Diagnostic, Severity

KeyPath = tuple[str | int, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"
_yaml = YAML(typ="safe")


@dataclass(frozen=True, slots=True)
class Pos:
    """1-based line and column, plus the 0-based character index into the text."""

    line: int
    column: int
    index: int


@dataclass(frozen=True, slots=True)
class Located:
    """Where one value stands: its key (absent for list items and the root)."""

    key: Pos | None
    start: Pos
    end: Pos
    style: str | None


@dataclass
class SourceMap:
    """Positions by key path, and the text they index into."""

    file: str
    text: str
    entries: dict[KeyPath, Located] = field(default_factory=dict)

    def nearest(self, path: KeyPath) -> tuple[KeyPath, Located]:
        """The entry for `path`, or for its longest prefix that has one."""
        p = tuple(path)
        while p not in self.entries and p:
            p = p[:-1]
        return p, self.entries.get(p) or Located(None, Pos(1, 1, 0), Pos(1, 1, 0), None)

    def key_pos(self, path: KeyPath) -> Pos:
        """Where a key stands (for unknown keys and parents of missing ones)."""
        _, loc = self.nearest(path)
        return loc.key or loc.start

    def value_pos(self, path: KeyPath) -> Pos:
        _, loc = self.nearest(path)
        return loc.start

    def offset_pos(self, path: KeyPath, offset: int) -> Pos:
        """Where character `offset` of the string value at `path` stands in the file.

        Plain and quoted one-line scalars map by adding the offset; folded or quoted
        multi-line ones are aligned character by character against the raw source
        (an expression has no escapes worth the name, so equal characters in order
        are a faithful map).
        """
        found, loc = self.nearest(path)
        if found != tuple(path) or not isinstance(self._value_at(path), str):
            return loc.start
        value: str = self._value_at(path)
        raw = self.text[loc.start.index : loc.end.index]
        vi = 0
        si = 0
        offset = max(0, min(offset, len(value)))
        if raw[:1] in ("'", '"'):
            si = 1
        elif raw[:1] in ("|", ">"):
            si = raw.find("\n") + 1 if "\n" in raw else len(raw)
        while vi < offset and si < len(raw):
            if value[vi] == raw[si]:
                vi += 1
            si += 1
        while si < len(raw) and raw[si] in " \n\t" and vi < len(value) and value[vi] != raw[si]:
            si += 1
        return self.pos_at(loc.start.index + si)

    def pos_at(self, index: int) -> Pos:
        line = self.text.count("\n", 0, index) + 1
        col = index - (self.text.rfind("\n", 0, index) + 1) + 1
        return Pos(line, col, index)

    def _value_at(self, path: KeyPath) -> Any:
        return self._values.get(tuple(path))

    _values: dict[KeyPath, Any] = field(default_factory=dict)


@dataclass
class Loaded:
    """The result of loading one file: data is None when the file could not be used."""

    file: str
    text: str
    data: Any
    source: SourceMap
    diagnostics: list[Diagnostic]

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()


def _pos(mark: Any) -> Pos:
    return Pos(mark.line + 1, mark.column + 1, mark.index)


def _error(file: str, pos: Pos, code: str, message: str, path: KeyPath = (),
           hint: str | None = None) -> Diagnostic:
    return Diagnostic(Severity.ERROR, code, message, file, pos.line, pos.column,
                      format_path(path), hint)


def format_path(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _Constructor:
    """Builds plain values from composed nodes, recording positions by path."""

    def __init__(self, file: str, source: SourceMap) -> None:
        self.file = file
        self.source = source
        self.diagnostics: list[Diagnostic] = []

    def build(self, node: Node, path: KeyPath, key: Pos | None) -> Any:
        start, end = _pos(node.start_mark), _pos(node.end_mark)
        style = getattr(node, "style", None) if isinstance(node, ScalarNode) else None
        self.source.entries[path] = Located(key, start, end, style)
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, i), None) for i, item in enumerate(node.value)]
        value = _scalar(node)
        self.source._values[path] = value
        return value

    def _mapping(self, node: MappingNode, path: KeyPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_seen: dict[str, Pos] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            kpos = _pos(key_node.start_mark)
            if not isinstance(key_node, ScalarNode):
                self.diagnostics.append(_error(self.file, kpos, "invalid-type",
                                               "a key must be a plain name, not a list or mapping",
                                               path))
                continue
            name = str(_scalar(key_node))
            if name in first_seen:
                self.diagnostics.append(_error(
                    self.file, kpos, "duplicate-key",
                    f'duplicate key "{name}" (first defined at line {first_seen[name].line})',
                    (*path, name), "remove one of the two, or merge them"))
                continue
            first_seen[name] = kpos
            out[name] = self.build(value_node, (*path, name), kpos)
        for merge in merges:
            self._merge(out, merge, path)
        return out

    def _merge(self, out: dict[str, Any], merge: Node, path: KeyPath) -> None:
        """`<<: *a` or `<<: [*a, *b]`: earlier sources win, explicit keys win over all."""
        sources = merge.value if isinstance(merge, SequenceNode) else [merge]
        for src in sources:
            if not isinstance(src, MappingNode):
                self.diagnostics.append(_error(self.file, _pos(src.start_mark), "invalid-type",
                                               "a merge key (<<) takes a mapping or a list of "
                                               "mappings", path))
                continue
            for key_node, value_node in src.value:
                if key_node.tag == _MERGE_TAG:
                    nested: dict[str, Any] = {}
                    self._merge(nested, value_node, path)
                    for k, v in nested.items():
                        out.setdefault(k, v)
                    continue
                name = str(_scalar(key_node))
                if name not in out:
                    out[name] = self.build(value_node, (*path, name), _pos(key_node.start_mark))


_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_NULL_TAG = "tag:yaml.org,2002:null"


def _scalar(node: Node) -> Any:
    tag, text = node.tag, node.value
    if tag == _INT_TAG:
        t = text.replace("_", "")
        sign = -1 if t.startswith("-") else 1
        t = t.lstrip("+-")
        if t.startswith("0x"):
            return sign * int(t, 16)
        if t.startswith("0o"):
            return sign * int(t[2:], 8)
        if t.startswith("0b"):
            return sign * int(t[2:], 2)
        return sign * int(t)
    if tag == _FLOAT_TAG:
        t = text.replace("_", "").lower()
        if t.endswith(".inf"):
            return float("-inf") if t.startswith("-") else float("inf")
        if t.endswith(".nan"):
            return float("nan")
        return float(t)
    if tag == _BOOL_TAG:
        return text.lower() == "true"
    if tag == _NULL_TAG:
        return None
    return str(text)


def load_text(text: str, file: str) -> Loaded:
    """Parse `text` (named `file` in diagnostics); never raises for bad YAML."""
    source = SourceMap(file, text)
    diagnostics: list[Diagnostic] = []
    if not text.strip() or all(
        not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()
    ):
        what = "empty" if not text.strip() else "only comments and blank lines"
        diagnostics.append(_error(file, Pos(1, 1, 0), "empty-file",
                                  f"the file is {what}; a strategy needs at least version, name, "
                                  "instruments and timeframes",
                                  hint="start from examples/ or run `runner schema`"))
        return Loaded(file, text, None, source, diagnostics)
    try:
        node = _yaml.compose(text)
    except MarkedYAMLError as exc:
        diagnostics.append(_yaml_error(file, exc, text))
        return Loaded(file, text, None, source, diagnostics)
    except ReaderError as exc:
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        diagnostics.append(_error(file, source.pos_at(exc.position), "yaml-syntax",
                                  f"the character U+{ord(char):04X} is not allowed in YAML",
                                  hint="remove the control character"))
        return Loaded(file, text, None, source, diagnostics)
    except YAMLError as exc:  # any other reader/scanner failure without a mark
        diagnostics.append(_error(file, Pos(1, 1, 0), "yaml-syntax", str(exc).strip()))
        return Loaded(file, text, None, source, diagnostics)
    if node is None:
        diagnostics.append(_error(file, Pos(1, 1, 0), "empty-file", "the file has no document"))
        return Loaded(file, text, None, source, diagnostics)
    ctor = _Constructor(file, source)
    data = ctor.build(node, (), None)
    diagnostics.extend(ctor.diagnostics)
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a single value ({data!r})"
        start = _pos(node.start_mark)
        diagnostics.append(_error(file, start, "not-a-mapping",
                                  f"a strategy file must be a mapping of keys, but this is {kind}",
                                  hint="begin with `version: 1` and `name: ...`"))
        return Loaded(file, text, None, source, diagnostics)
    return Loaded(file, text, data, source, diagnostics)


def load_file(path: Path, display: str | None = None) -> Loaded:
    name = display or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        d = _error(name, Pos(1, 1, 0), "io-error", f"cannot read the file: {exc.strerror}")
        return Loaded(name, "", None, SourceMap(name, ""), [d])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        pos = _pos_of_index(raw, exc.start)
        d = _error(name, pos, "yaml-syntax", "the file is not UTF-8 text")
        return Loaded(name, "", None, SourceMap(name, ""), [d])
    return load_text(text, name)


def _pos_of_index(raw: bytes, index: int) -> Pos:
    head = raw[:index]
    line = head.count(b"\n") + 1
    return Pos(line, index - (head.rfind(b"\n") + 1) + 1, index)


def _yaml_error(file: str, exc: MarkedYAMLError, text: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    pos = _pos(mark) if mark is not None else Pos(1, 1, 0)
    problem = (exc.problem or exc.context or "invalid YAML").strip()
    hint = None
    if "tab" in problem:
        problem = "a tab character is used for indentation"
        hint = "YAML indents with spaces only"
        line_text = text.splitlines()[pos.line - 1] if pos.line <= len(text.splitlines()) else ""
        if "\t" in line_text:
            pos = Pos(pos.line, line_text.index("\t") + 1, pos.index)
    elif "undefined alias" in problem and mark is not None:
        name = re.match(r"\*([^\s,\]}]+)", text[mark.index:])
        if name:
            problem = f'the alias *{name.group(1)} names no anchor (&{name.group(1)})'
            hint = "define the anchor before the alias that uses it"
    elif exc.context and exc.problem:
        ctx_mark = exc.context_mark
        where = f" (opened at line {ctx_mark.line + 1})" if ctx_mark is not None else ""
        problem = f"{exc.context.strip()}{where}: {exc.problem.strip()}"
    return _error(file, pos, "yaml-syntax", problem, hint=hint)


MISSING: Final = object()


def child(node: Any, part: str | int) -> Any:
    """`node[part]` when the data has it, else a sentinel (`child(...) is MISSING`)."""
    if isinstance(node, dict) and isinstance(part, str):
        return node.get(part, MISSING)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return MISSING


def iter_strings(data: Any, path: KeyPath = ()) -> Iterator[tuple[KeyPath, str]]:
    """Every string value below `data` with its key path."""
    if isinstance(data, dict):
        for k, v in data.items():
            yield from iter_strings(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from iter_strings(v, (*path, i))
    elif isinstance(data, str):
        yield path, data


def iter_keys(data: Any, path: KeyPath = ()) -> Iterator[KeyPath]:
    """Every mapping key below `data`, as the path that ends in it."""
    if isinstance(data, dict):
        for k, v in data.items():
            yield (*path, k)
            yield from iter_keys(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from iter_keys(v, (*path, i))
