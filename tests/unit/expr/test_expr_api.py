"""The package surface: exports, import weight, and the speed the validator relies on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import runner.expr
from runner.expr import analyze, check, parse
from runner.expr.types import ValueType
from tests.unit.expr.support import SCOPE

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = "crosses_above(fast, slow) and rsi < rsi_cap and macd.hist > 0"


def test_exports_are_exact_and_sorted() -> None:
    assert runner.expr.__all__ == [
        "CheckedExpr",
        "ExprIssue",
        "ExprSyntaxError",
        "IndicatorInfo",
        "IndicatorRef",
        "ParamRef",
        "PriceRef",
        "Ref",
        "Scope",
        "SignalRef",
        "StateRef",
        "analyze",
        "check",
        "parse",
    ]
    assert sorted(runner.expr.__all__) == runner.expr.__all__
    for name in runner.expr.__all__:
        assert hasattr(runner.expr, name)


def _fresh_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT)},
    )
    return done.stdout.strip()


def test_import_stays_light() -> None:
    heavy = _fresh_python(
        "import sys, runner.expr, runner.expr.functions;"
        "print(sorted(m for m in ('polars', 'numpy', 'pandas', 'pyarrow') if m in sys.modules))"
    )
    assert heavy == "[]"


def test_no_import_cycle_with_definitions() -> None:
    # runner.definitions imports runner.expr.types, which runs runner/expr/__init__.py.
    for first in ("runner.definitions", "runner.expr.functions", "runner.expr.check"):
        assert _fresh_python(f"import {first}; import runner.expr; print('ok')") == "ok"


def test_parse_and_check_compose_like_analyze() -> None:
    assert check(parse(EXAMPLE), SCOPE, ValueType.BOOL) == analyze(EXAMPLE, SCOPE, ValueType.BOOL)


def test_deep_but_reasonable_nesting_is_fine() -> None:
    text = "(" * 50 + "close" + ")" * 50 + " > 1"
    assert analyze(text, SCOPE, ValueType.BOOL).ok
    long_sum = " + ".join(["close"] * 150) + " > 1"
    assert analyze(long_sum, SCOPE, ValueType.BOOL).ok


@pytest.mark.parametrize(
    "text",
    [
        "(" * 1000 + "close" + ")" * 1000,
        " + ".join(["close"] * 5000),
        "-" * 5000 + "close",
        "not " * 3000 + "enter_long",
        "abs(" * 1000 + "close" + ")" * 1000,
        "close" + "@1h" * 1000,
        " and ".join(["(a or b)"] * 1000),
    ],
)
def test_hostile_nesting_is_a_syntax_error_not_a_crash(text: str) -> None:
    result = analyze(text, SCOPE, ValueType.BOOL)
    assert [(i.code, i.message) for i in result.issues] == [
        ("expression-syntax", "the expression is nested too deeply")
    ]


def test_equality_of_time_reports_both_sides() -> None:
    issues = analyze("time == time", SCOPE).issues
    assert [(i.code, i.start) for i in issues] == [("type-mismatch", 0), ("type-mismatch", 8)]
