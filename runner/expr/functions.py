"""The built-in functions of the expression language, registered like any plugin's.

Built-ins go through the same `register_functions` hook as third-party functions
so that there is one catalogue, one name-clash rule and one checker path: nothing
in the checker knows which functions are built in. Only signatures live here; the
engine adds `batch`/`incremental` implementations.

Conventions the checker applies to any function, built-in or not (see
`runner.expr.check`): a `const` parameter named like a window (`n`, `window`,
`period`, `length`) counts bars and must be a whole number of at least 1, and one
named `ndigits` must be whole; a STRING parameter named `tz` must be an IANA
time-zone name.
"""

from __future__ import annotations

from typing import Final

from runner.definitions import FunctionDef, FunctionParam
from runner.expr.types import ValueType
from runner.hookspecs import hookimpl

NUMBER: Final = ValueType.NUMBER
BOOL: Final = ValueType.BOOL
TIME: Final = ValueType.TIME
STRING: Final = ValueType.STRING


def _number(name: str) -> FunctionParam:
    return FunctionParam(name, NUMBER)


def _window(default: float | None = None) -> FunctionParam:
    return FunctionParam("n", NUMBER, default, const=True)


def _clock(name: str, unit: str) -> FunctionDef:
    return FunctionDef(
        name,
        (FunctionParam("t", TIME), FunctionParam("tz", STRING, "UTC")),
        NUMBER,
        description=f"The {unit} of time t in time zone tz (default UTC).",
    )


BUILTIN_FUNCTIONS: Final[tuple[FunctionDef, ...]] = (
    FunctionDef(
        "crosses_above",
        (_number("a"), _number("b")),
        BOOL,
        description="True on the bar where a rises above b: a > b and prev(a) <= prev(b).",
    ),
    FunctionDef(
        "crosses_below",
        (_number("a"), _number("b")),
        BOOL,
        description="True on the bar where a falls below b: a < b and prev(a) >= prev(b).",
    ),
    FunctionDef(
        "prev",
        (FunctionParam("x", "any"), _window(1)),
        "same",
        description="The value of x n bars ago (null before the n-th bar).",
    ),
    FunctionDef(
        "change",
        (_number("x"), _window(1)),
        NUMBER,
        description="x minus its value n bars ago.",
    ),
    FunctionDef(
        "pct_change",
        (_number("x"), _window(1)),
        NUMBER,
        description="Percent change of x over n bars: 100 * (x / prev(x, n) - 1).",
    ),
    FunctionDef(
        "highest",
        (_number("x"), _window()),
        NUMBER,
        description="The largest value of x over the last n bars, this one included.",
    ),
    FunctionDef(
        "lowest",
        (_number("x"), _window()),
        NUMBER,
        description="The smallest value of x over the last n bars, this one included.",
    ),
    FunctionDef(
        "rising",
        (_number("x"), _window()),
        BOOL,
        description="True if x rose on each of the last n bars.",
    ),
    FunctionDef(
        "falling",
        (_number("x"), _window()),
        BOOL,
        description="True if x fell on each of the last n bars.",
    ),
    FunctionDef(
        "bars_since",
        (FunctionParam("cond", BOOL),),
        NUMBER,
        description="Bars since cond was last true (0 on that bar); null until it has been.",
    ),
    FunctionDef(
        "abs",
        (_number("x"),),
        NUMBER,
        description="The absolute value of x.",
    ),
    FunctionDef(
        "min",
        (_number("a"), _number("b")),
        NUMBER,
        variadic=True,
        description="The smallest of its two or more arguments.",
    ),
    FunctionDef(
        "max",
        (_number("a"), _number("b")),
        NUMBER,
        variadic=True,
        description="The largest of its two or more arguments.",
    ),
    FunctionDef(
        "round",
        (_number("x"), FunctionParam("ndigits", NUMBER, 0, const=True)),
        NUMBER,
        description="x rounded to ndigits decimal places (negative: to tens, hundreds...).",
    ),
    FunctionDef(
        "between",
        (_number("x"), _number("lo"), _number("hi")),
        BOOL,
        description="True if lo <= x <= hi (both ends inclusive).",
    ),
    _clock("hour", "hour (0-23)"),
    _clock("minute", "minute (0-59)"),
    FunctionDef(
        "weekday",
        (FunctionParam("t", TIME), FunctionParam("tz", STRING, "UTC")),
        NUMBER,
        description="The day of the week of time t in time zone tz, Monday = 0.",
    ),
)


def builtin_functions() -> dict[str, FunctionDef]:
    """The built-ins by name, as `Scope.functions` wants them when no plugin is loaded."""
    return {fn.name: fn for fn in BUILTIN_FUNCTIONS}


@hookimpl
def register_functions() -> tuple[FunctionDef, ...]:
    """Hand the built-ins to the plugin manager like any plugin would."""
    return BUILTIN_FUNCTIONS
