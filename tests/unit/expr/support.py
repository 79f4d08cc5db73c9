"""A scope resembling DESIGN §1's example strategy, and helpers to query results."""

from __future__ import annotations

from runner.expr import CheckedExpr, IndicatorInfo, Scope, analyze
from runner.expr.functions import builtin_functions
from runner.expr.types import ValueType

SCOPE = Scope(
    indicators={
        "fast": IndicatorInfo(("value",)),
        "slow": IndicatorInfo(("value",)),
        "rsi": IndicatorInfo(("value",)),
        "atr": IndicatorInfo(("value",), timeframe="1h"),
        "atr_base": IndicatorInfo(("value",), timeframe="1m"),
        "macd": IndicatorInfo(("macd", "signal", "hist")),
        "bb": IndicatorInfo(("upper", "middle", "lower"), timeframe="4h"),
    },
    signals=frozenset({"enter_long", "exit_long"}),
    params=frozenset({"rsi_cap", "stop_atr", "fast_len"}),
    instruments=frozenset({"BTCUSDT", "ETHUSDT", "6EH4"}),
    timeframes=("1m", "5m", "1h", "4h"),
    functions=builtin_functions(),
)

NUMBER = ValueType.NUMBER
BOOL = ValueType.BOOL


def run(text: str, expect: ValueType | None = None, scope: Scope = SCOPE) -> CheckedExpr:
    return analyze(text, scope, expect)


def codes(text: str, expect: ValueType | None = None) -> list[str]:
    return [issue.code for issue in run(text, expect).issues]


def located(text: str, expect: ValueType | None = None) -> list[tuple[str, str]]:
    """Each issue as (code, the text it points at)."""
    return [(i.code, text[i.start : i.end]) for i in run(text, expect).issues]


def one_issue(text: str, expect: ValueType | None = None) -> tuple[str, str, str, str | None]:
    """The only issue: (code, pointed-at text, message, hint)."""
    issues = run(text, expect).issues
    assert len(issues) == 1, [str(i) for i in issues]
    issue = issues[0]
    return issue.code, text[issue.start : issue.end], issue.message, issue.hint
