"""Golden cases: each `cases/NAME.yaml` has its exact diagnostics in `NAME.expected`.

An expected file holds one rendered diagnostic per line, without the file name:
`LINE:COL: severity[code]: message`, then `  hint: ...` when there is one. Set
RUNNER_UPDATE_GOLDEN=1 to rewrite them after an intended change, and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runner.config.diagnostics import Diagnostic
from runner.config.validate import validate_file
from runner.plugins import Registry

CASES = Path(__file__).parent / "cases"
NAMES = sorted(p.stem for p in CASES.glob("*.yaml"))


def render(diagnostics: list[Diagnostic]) -> str:
    out = []
    for d in diagnostics:
        out.append(d.render_line().split(":", 1)[1])
        if d.hint:
            out.append(f"  hint: {d.hint}")
    return "\n".join(out) + "\n"


def test_there_are_at_least_fifty_cases() -> None:
    assert len(NAMES) >= 50


@pytest.mark.parametrize("name", NAMES)
def test_golden_case(name: str, registry: Registry) -> None:
    path = CASES / f"{name}.yaml"
    result = validate_file(path, registry, display=f"{name}.yaml", env={"BASE_URL": "http://x"})
    got = render(result.diagnostics)
    expected_path = CASES / f"{name}.expected"
    if os.environ.get("RUNNER_UPDATE_GOLDEN") == "1":
        expected_path.write_text(got, encoding="utf-8")
    assert got == expected_path.read_text(encoding="utf-8")
    assert result.diagnostics, "a golden case must produce at least one diagnostic"


@pytest.mark.parametrize("name", NAMES)
def test_every_diagnostic_points_inside_the_file(name: str, registry: Registry) -> None:
    path = CASES / f"{name}.yaml"
    lines = path.read_text(encoding="utf-8").splitlines() or [""]
    for d in validate_file(path, registry).diagnostics:
        assert 1 <= d.line <= len(lines), d
        assert 1 <= d.column <= len(lines[d.line - 1]) + 1, d
