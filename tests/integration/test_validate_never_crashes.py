"""Property: whatever a user does to a valid file, `runner validate` exits 0 or 1 with
diagnostics, and never with a traceback or another exit code.

Mutations are the ones editors and hurried hands produce: deleted keys, wrong types,
random scalars, misspelt keys, broken indentation, stray characters.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from runner.cli import app
from runner.config.loader import load_file

ROOT = Path(__file__).resolve().parents[2]
VALID = sorted((ROOT / "strategies.d").glob("*.yaml")) + sorted((ROOT / "examples").glob("*.yaml"))
TEXTS = [p.read_text(encoding="utf-8") for p in VALID]
DATA = [load_file(p).data for p in VALID]
LINE = re.compile(r"^.+:\d+:\d+: (error|warning)\[[a-z-]+\]: ", re.M)
runner = CliRunner()

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from(["", "close >", "crosses_above(", "${X}", "1m", "sma", "@1h", "[", "{"]),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(),
                                                         max_size=2),
)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*path, i))
    return out


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


@st.composite
def data_mutations(draw: st.DrawFn) -> str:
    data = copy.deepcopy(draw(st.sampled_from(DATA)))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(data) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(data, path)
        action = draw(st.sampled_from(["delete", "replace", "misspell", "wrap"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "replace":
            parent[path[-1]] = draw(scalars)
        elif action == "misspell" and isinstance(parent, dict):
            key = path[-1]
            i = draw(st.integers(0, max(0, len(key) - 1)))
            parent[key[:i] + key[i + 1:] + draw(st.sampled_from(["", "s", "_"]))] = \
                parent.pop(key)
        elif action == "wrap":
            parent[path[-1]] = [parent[path[-1]]]
    return json.dumps(data, default=str, allow_nan=True)


@st.composite
def text_mutations(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from(TEXTS)).splitlines()
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["delete", "indent", "dedent", "tab", "insert", "dup",
                                       "truncate"]))
        if action == "delete":
            del lines[i]
        elif action == "indent":
            lines[i] = " " * draw(st.integers(1, 3)) + lines[i]
        elif action == "dedent":
            lines[i] = lines[i].lstrip()
        elif action == "tab":
            lines[i] = "\t" + lines[i]
        elif action == "insert":
            j = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:j] + draw(st.text(max_size=4)) + lines[i][j:]
        elif action == "dup":
            lines.insert(i, lines[i])
        elif action == "truncate":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        if not lines:
            lines = [""]
    return "\n".join(lines) + "\n"


def _check(text: str, tmp: Path) -> None:
    f = tmp / "mutant.yaml"
    f.write_text(text, encoding="utf-8", errors="surrogatepass")
    result = runner.invoke(app, ["validate", str(f)])
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output
    if result.exit_code == 1:
        assert LINE.search(result.output), result.output


SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(text=data_mutations())
def test_data_mutations_never_crash(text: str, tmp_path: Path,
                                    cli_env: dict[str, str]) -> None:
    _check(text, tmp_path)


@SETTINGS
@given(text=text_mutations())
def test_text_mutations_never_crash(text: str, tmp_path: Path,
                                    cli_env: dict[str, str]) -> None:
    _check(text, tmp_path)
