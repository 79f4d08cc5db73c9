"""The metrics a person reads, with labels and formatting shared by the HTML page and
the terminal summary. Undefined values (`None`, NaN) show as an em dash, infinities as
`∞`: a page or a table never shows `nan`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

Kind = Literal["pct", "ratio", "money", "int", "duration", "time", "text", "number"]
DASH = "—"

METRIC_GROUPS: tuple[tuple[str, tuple[tuple[str, str, Kind], ...]], ...] = (
    ("Returns and risk", (
        ("Total return", "total_return", "pct"),
        ("CAGR", "cagr", "pct"),
        ("Volatility (annualised)", "volatility", "pct"),
        ("Sharpe", "sharpe", "ratio"),
        ("Sortino", "sortino", "ratio"),
        ("Calmar", "calmar", "ratio"),
        ("Max drawdown", "max_drawdown", "pct"),
        ("Drawdown start (peak)", "drawdown.start", "time"),
        ("Drawdown trough", "drawdown.trough", "time"),
        ("Drawdown recovery", "drawdown.recovery", "time"),
        ("Drawdown duration", "drawdown.duration_seconds", "duration"),
        ("Longest under water", "drawdown.longest_seconds", "duration"),
        ("Time under water", "time_under_water", "pct"),
        ("Exposure", "exposure", "pct"),
        ("Turnover (x mean equity)", "turnover", "ratio"),
    )),
    ("Trades", (
        ("Trades", "trades", "int"),
        ("Win rate", "win_rate", "pct"),
        ("Profit factor", "profit_factor", "ratio"),
        ("Expectancy", "expectancy", "money"),
        ("Average win", "average_win", "money"),
        ("Average loss", "average_loss", "money"),
        ("Best trade", "best_trade", "money"),
        ("Worst trade", "worst_trade", "money"),
        ("Average holding time", "average_holding_seconds", "duration"),
        ("Longest win streak", "longest_win_streak", "int"),
        ("Longest loss streak", "longest_loss_streak", "int"),
        ("Trades per day", "trades_per_day", "ratio"),
        ("Fees paid", "fees", "money"),
    )),
    ("Run", (
        ("Initial cash", "initial_cash", "money"),
        ("Final equity", "final_equity", "money"),
        ("Start", "start", "time"),
        ("End", "end", "time"),
        ("Bars", "bars", "int"),
        ("Calendar", "calendar", "text"),
        ("Bars per year", "bars_per_year", "number"),
    )),
)
"""(group, ((label, dotted summary key, kind), ...)) in page order."""

TERMINAL_METRICS: tuple[tuple[str, str, Kind], ...] = (
    ("Total return", "total_return", "pct"), ("CAGR", "cagr", "pct"),
    ("Sharpe", "sharpe", "ratio"), ("Sortino", "sortino", "ratio"),
    ("Calmar", "calmar", "ratio"), ("Max drawdown", "max_drawdown", "pct"),
    ("Volatility", "volatility", "pct"), ("Exposure", "exposure", "pct"),
    ("Trades", "trades", "int"), ("Win rate", "win_rate", "pct"),
    ("Profit factor", "profit_factor", "ratio"), ("Expectancy", "expectancy", "money"),
    ("Fees", "fees", "money"), ("Final equity", "final_equity", "money"),
)
"""The compact set printed at the end of a backtest."""


def lookup(summary: Mapping[str, Any], key: str) -> Any:
    """A dotted key of a summary (`drawdown.start`), None when absent."""
    value: Any = summary
    for part in key.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def number(value: Any) -> float | None:
    """A summary value as a float: `"inf"` strings read back, None for what is not a
    number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def duration(seconds: float) -> str:
    """`3d 04:05`, `04:05:06` or `12s` (with a `-` in front when negative)."""
    if seconds < 0:
        return "-" + duration(-seconds)
    whole = round(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}:{minutes:02d}"
    if hours or minutes:
        return f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{secs}s"


def format_value(value: Any, kind: Kind) -> str:
    """One value as text for a person."""
    if kind == "text":
        return DASH if value is None else str(value)
    if kind == "time":
        if not isinstance(value, str) or not value:
            return DASH
        return value.replace("T", " ").removesuffix("Z").removesuffix(".000")
    v = number(value)
    if v is None or math.isnan(v):
        return DASH
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    if kind == "pct":
        return f"{v * 100:,.2f}%"
    if kind == "ratio":
        return f"{v:,.2f}"
    if kind == "money":
        return f"{v:,.2f}"
    if kind == "int":
        return f"{round(v):,d}"
    if kind == "duration":
        return duration(v)
    return f"{v:,.6g}"


__all__ = ["DASH", "METRIC_GROUPS", "TERMINAL_METRICS", "Kind", "duration",
           "format_value", "lookup", "number"]
