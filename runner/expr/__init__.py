"""The expression language of strategy files (DESIGN §2): parse, check, never eval.

Typical use by the config layer:

    result = analyze("crosses_above(fast, slow) and rsi < rsi_cap", scope, ValueType.BOOL)
    for issue in result.issues: ...          # offsets are into the expression text
    used = [r for r in result.refs if isinstance(r, IndicatorRef)]

`runner.expr.ast` documents the tree the engine evaluates. This package must not
import `runner.definitions` at run time (that module imports `runner.expr.types`,
which runs this file first); `runner.expr.functions` does, and is imported on
its own by the plugin manager.
"""

from __future__ import annotations

from runner.expr.check import CheckedExpr, check
from runner.expr.errors import ExprIssue, ExprSyntaxError
from runner.expr.parser import parse
from runner.expr.scope import (
    IndicatorInfo,
    IndicatorRef,
    ParamRef,
    PriceRef,
    Ref,
    Scope,
    SignalRef,
    StateRef,
)
from runner.expr.types import ValueType

__all__ = [
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


def analyze(text: str, scope: Scope, expect: ValueType | None = None) -> CheckedExpr:
    """Parse and check `text`; a syntax error becomes the result's only issue.

    Never raises for bad user input, so a validator can run it over every field
    of a file and report everything at once.
    """
    try:
        tree = parse(text)
    except ExprSyntaxError as error:
        return CheckedExpr(None, None, [error.to_issue()], ())
    return check(tree, scope, expect)
