"""Checked expression trees as polars expressions over whole columns (batch form).

    expr = to_polars(checked.tree, ColumnNames(params={"rsi_cap": 70}))
    frame = frame.with_columns(expr.alias("enter_long"))

The frame holds one instrument's bars on the base timeframe, one row per closed
base bar, oldest first, plus one column per value the expression reads.

Column naming (`ColumnNames.column`; `ColumnNames.overrides` replaces any of it):

* price field: `close`; another instrument: `ETHUSDT.close`; another timeframe:
  `close@1h`; both: `ETHUSDT.close@1h`. A higher-timeframe column is already
  aligned to the base bars without lookahead (DESIGN §3): that is the engine's job.
* indicator: `fast`, a multi-output one `macd.hist`, with the same instrument
  prefix and `@tf` suffix as prices (`ETHUSDT.rsi`, `atr@1h`).
* signal: `enter_long`, `ETHUSDT.enter_long`.
* param: not a column; its value comes from `ColumnNames.params` as a literal.
* `time`: the column `ColumnNames.time` (default `"time"`), the bar's close time
  (a bar is an event at its close, DESIGN §3), a polars Datetime, naive meaning
  UTC or time-zone aware.

Semantics (DESIGN §3), the contract the incremental form must match:

* Numbers are Float64 and null while warming up. NaN read from a column is null.
  Arithmetic propagates null, and any non-finite result (division or `%` by zero,
  overflow) is null too, so nothing downstream ever sees NaN or inf. `%` is
  floored, `a - b * floor(a / b)` in floats (the sign of the divisor, as in
  Python, but that formula, not Python's exact `fmod`-based `%`: the
  incremental form must use the formula to match bit for bit).
* Booleans are never null. A comparison with a null operand is false, not null;
  `between`, `crosses_*`, `rising`/`falling` are built from comparisons and are
  false while warming up too. A null read from a signal column, and `prev(b)` of
  a boolean before its n-th bar, are false. So `and`/`or`/`not` are plain
  two-valued logic, and `not (rsi > 70)` is *true* while `rsi` warms up.
* `prev(x, n)` is null before the n-th bar; `change` and `pct_change` likewise.
  `highest`/`lowest(x, n)` are null unless all of the last n values are non-null.
  `rising(x, n)`: x[t-i] > x[t-i-1] for i in 0..n-1, each comparison as above.
  `bars_since(cond)` counts bars since cond was last true (0 on that bar), null
  until it has been. `min`/`max` are null if any argument is. `round` scales by
  10^ndigits, rounds half to even and scales back (polars' rule, which can differ
  from Python's `round`: round(0.0125, 3) is 0.012); negative `ndigits` rounds to
  tens, hundreds...
  `hour`/`minute`/`weekday(time, tz)` read the close time in zone `tz`, Monday = 0.

Run-time state (`position`, `entry_price`, `equity`, `cash`, `bar_index`) cannot
be computed over whole columns: it depends on the fills the run makes.
`to_polars` raises `StateInBatchError` for it (with the ref and its span), and
`state_refs(tree)` lists it beforehand, so the engine can send such expressions
to its per-bar evaluator instead. `time` is not in that list: it is a column. A
signal that reads another signal needs that signal's column, so a signal that
depends on a state-using signal must go per bar as well: the engine follows
`SignalRef`s for that.

Functions beyond the built-ins run through their `FunctionDef.batch`, called as
`batch(*args)` with one argument per bound parameter: a `pl.Expr` for a value,
a float for a const parameter, a str for a string.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

import polars as pl

from runner.errors import RunnerError
from runner.expr.ast import (
    At,
    Binary,
    Bool,
    Call,
    Compare,
    Expr,
    Logical,
    Name,
    Not,
    Number,
    String,
    Unary,
    walk,
)
from runner.expr.scope import IndicatorRef, ParamRef, PriceRef, Ref, SignalRef, StateRef
from runner.expr.types import ValueType
from runner.indicators.columns import full_height

BATCH_STATE: Final = frozenset({"time"})
"""State names that are plain columns of the bar frame and so work in batch."""


class ExpressionError(RunnerError):
    """An expression cannot be evaluated; `start`/`end` locate the offending node in
    the expression text. The batch and per-bar evaluators raise their own subclass."""

    exit_code = 3

    def __init__(self, message: str, start: int, end: int) -> None:
        super().__init__()
        self.message = message
        self.start = start
        self.end = end

    def __str__(self) -> str:
        return f"{self.message} (at {self.start}-{self.end})"


class BatchError(ExpressionError):
    """An expression tree cannot be turned into a polars expression."""


def param_value(params: Mapping[str, float], name: str, node: Expr,
                error: type[ExpressionError]) -> float:
    try:
        return float(params[name])
    except KeyError:
        raise error(f'no value for param "{name}"', node.start, node.end) from None


def const_value(node: Expr, params: Mapping[str, float],
                error: type[ExpressionError]) -> float:
    """The value of a const argument: a number, a param, or minus one of those."""
    sign, inner = 1.0, node
    if isinstance(node, Unary) and node.op == "-":
        sign, inner = -1.0, node.operand
    if isinstance(inner, Number):
        return sign * inner.value
    if isinstance(inner, Name) and isinstance(inner.ref, ParamRef):
        return sign * param_value(params, inner.ref.name, inner, error)
    raise error("expected a constant: a number or a param", node.start, node.end)


def window_value(node: Expr, params: Mapping[str, float],
                 error: type[ExpressionError]) -> int:
    """A const argument that counts bars: a whole number of at least 1."""
    value = const_value(node, params, error)
    if not value.is_integer() or value < 1:
        raise error(f"a window must be a whole number of at least 1, got {value:g}",
                    node.start, node.end)
    return int(value)


class StateInBatchError(BatchError):
    """The expression reads run-time state; evaluate it per bar instead."""

    def __init__(self, ref: StateRef, start: int, end: int) -> None:
        super().__init__(
            f'"{ref.name}" is run-time state and cannot be computed over whole columns',
            start,
            end,
        )
        self.ref = ref


def _qualified(instrument: str | None, name: str, timeframe: str | None) -> str:
    text = f"{instrument}.{name}" if instrument is not None else name
    return f"{text}@{timeframe}" if timeframe is not None else text


def default_column(ref: Ref) -> str:
    """The column a ref reads under the module's naming (params have none)."""
    if isinstance(ref, PriceRef):
        return _qualified(ref.instrument, ref.field, ref.timeframe)
    if isinstance(ref, IndicatorRef):
        name = ref.name if ref.output is None else f"{ref.name}.{ref.output}"
        return _qualified(ref.instrument, name, ref.timeframe)
    if isinstance(ref, SignalRef | StateRef):
        return _qualified(ref.instrument, ref.name, None)
    raise TypeError(f"a param is a literal, not a column: {ref.name}")


@dataclass(frozen=True)
class ColumnNames:
    """Where each reference's values live in the frame, and the params' values."""

    params: Mapping[str, float] = field(default_factory=dict)
    time: str = "time"
    overrides: Mapping[Ref, str] = field(default_factory=dict)

    def column(self, ref: Ref) -> str:
        override = self.overrides.get(ref)
        if override is not None:
            return override
        if isinstance(ref, StateRef) and ref.name == "time" and ref.instrument is None:
            return self.time
        return default_column(ref)


def state_refs(tree: Expr) -> tuple[StateRef, ...]:
    """The run-time state a tree reads that batch evaluation cannot provide."""
    return tuple(
        node.ref
        for node in walk(tree)
        if isinstance(node, Name)
        and isinstance(node.ref, StateRef)
        and node.ref.name not in BATCH_STATE
    )


def to_polars(tree: Expr, columns: ColumnNames) -> pl.Expr:
    """The polars expression computing a checked tree over a whole bar frame.

    A NUMBER tree gives Float64, a BOOL tree a Boolean with no nulls. A tree
    made of literals only is still a full-height column.
    """
    if isinstance(tree, Number):
        # A bare number (`size: {quantity: 1}`) is the whole expression: nothing
        # divides by it or filters it, which is all `_constant` guards against, so it
        # is repeated, not computed as a column of arithmetic (four passes over as
        # many rows). `+ 0.0` gives what `_constant` gives for -0.0: +0.0.
        return pl.repeat(tree.value + 0.0, pl.len(), dtype=pl.Float64)
    return _Builder(columns).build(tree)


def _constant(value: float | bool) -> pl.Expr:
    """A literal as a full-height column, never a scalar `pl.lit`.

    Two polars 2.1 behaviours make scalars unsafe here: dividing by a scalar
    multiplies by its reciprocal (`2.5 / 1.5` gives 1.6666666666666665, not
    IEEE's ...67, which the per-bar form would compute), and a scalar combined
    with a `when/then/otherwise(None)` whose predicate is false on every row (as
    `fill_nan` is) yields a length-1 result that `with_columns` rejects. A
    number is built as `row_index * 0.0 + value`: exactly `value` on every row,
    and no valid optimizer folds it back to a scalar (it is not a no-op for
    NaN or inf).
    """
    if isinstance(value, bool):
        return pl.repeat(value, pl.len(), dtype=pl.Boolean)
    return full_height(value)


def _finite(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr.is_finite()).then(expr)


def _compare(op: str, left: pl.Expr, right: pl.Expr) -> pl.Expr:
    if op == "<":
        result = left < right
    elif op == "<=":
        result = left <= right
    elif op == ">":
        result = left > right
    elif op == ">=":
        result = left >= right
    elif op == "==":
        result = left == right
    else:
        result = left != right
    return result.fill_null(False)


def _arithmetic(op: str, left: pl.Expr, right: pl.Expr) -> pl.Expr:
    if op == "+":
        result = left + right
    elif op == "-":
        result = left - right
    elif op == "*":
        result = left * right
    elif op == "/":
        result = left / right
    else:
        result = left % right
    return _finite(result)


def _window_all(cond: pl.Expr, n: int) -> pl.Expr:
    """True where `cond` (never null) held on each of the last n bars."""
    return cond.cast(pl.UInt8).rolling_min(n).cast(pl.Boolean).fill_null(False)


def _clock(part: str, t: pl.Expr, tz: str) -> pl.Expr:
    # Through the epoch so a naive (UTC) and an aware column give the same instant.
    local = pl.from_epoch(t.dt.epoch("us"), time_unit="us")
    local = local.dt.replace_time_zone("UTC").dt.convert_time_zone(tz)
    if part == "hour":
        value = local.dt.hour()
    elif part == "minute":
        value = local.dt.minute()
    else:
        value = local.dt.weekday() - 1
    return value.cast(pl.Float64)


class _Builder:
    __slots__ = ("columns",)

    def __init__(self, columns: ColumnNames) -> None:
        self.columns = columns

    def build(self, node: Expr) -> pl.Expr:
        if isinstance(node, Number):
            return _constant(node.value)
        if isinstance(node, Bool):
            return _constant(node.value)
        if isinstance(node, Name):
            return self.name(node)
        if isinstance(node, At):
            return self.build(node.operand)
        if isinstance(node, Unary):
            return -self.build(node.operand)
        if isinstance(node, Not):
            return ~self.build(node.operand)
        if isinstance(node, Binary):
            return _arithmetic(node.op, self.build(node.left), self.build(node.right))
        if isinstance(node, Compare):
            return _compare(node.op, self.build(node.left), self.build(node.right))
        if isinstance(node, Logical):
            left, right = self.build(node.left), self.build(node.right)
            return left & right if node.op == "and" else left | right
        if isinstance(node, Call):
            return self.call(node)
        raise BatchError(
            f'a string ("{node.value}") is only valid as a time-zone argument',
            node.start,
            node.end,
        )

    def name(self, node: Name) -> pl.Expr:
        ref = node.ref
        if ref is None or node.type is None:
            raise BatchError(
                f'"{".".join(node.parts)}" is unresolved: evaluate checked trees only',
                node.start,
                node.end,
            )
        if isinstance(ref, ParamRef):
            return _constant(self.param(ref.name, node))
        if isinstance(ref, StateRef) and ref.name not in BATCH_STATE:
            raise StateInBatchError(ref, node.start, node.end)
        column = pl.col(self.columns.column(ref))
        if node.type is ValueType.BOOL:
            return column.cast(pl.Boolean).fill_null(False)
        if node.type is ValueType.NUMBER:
            return column.cast(pl.Float64).fill_nan(None)
        return column

    def param(self, name: str, node: Expr) -> float:
        return param_value(self.columns.params, name, node, BatchError)

    def const(self, node: Expr) -> float:
        return const_value(node, self.columns.params, BatchError)

    def window(self, node: Expr) -> int:
        return window_value(node, self.columns.params, BatchError)

    def call(self, node: Call) -> pl.Expr:
        fn, bound = node.fn, node.bound
        if fn is None or bound is None:
            raise BatchError(
                f'call to "{node.func}" was not checked: evaluate checked trees only',
                node.start,
                node.end,
            )
        builtin = _BUILTINS.get(node.func)
        if builtin is not None and fn.batch is None:
            return builtin(self, node, bound)
        if fn.batch is None:
            raise BatchError(
                f'function "{node.func}" has no batch implementation', node.start, node.end
            )
        params = fn.params + (fn.params[-1],) * (len(bound) - len(fn.params))
        args = [self.argument(arg, const=p.const) for p, arg in zip(params, bound, strict=True)]
        result = fn.batch(*args)
        if not isinstance(result, pl.Expr):
            raise BatchError(
                f'batch form of "{node.func}" returned {type(result).__name__}, not a polars'
                " expression",
                node.start,
                node.end,
            )
        return result

    def argument(self, arg: Expr, *, const: bool) -> object:
        if isinstance(arg, String):
            return arg.value
        if const:
            return self.const(arg)
        return self.build(arg)

    # -- built-ins -----------------------------------------------------------------

    def prev(self, node: Call, bound: tuple[Expr, ...]) -> pl.Expr:
        shifted = self.build(bound[0]).shift(self.window(bound[1]))
        return shifted.fill_null(False) if node.type is ValueType.BOOL else shifted

    def crosses(self, node: Call, bound: tuple[Expr, ...]) -> pl.Expr:
        a, b = self.build(bound[0]), self.build(bound[1])
        now, before = (">", "<=") if node.func == "crosses_above" else ("<", ">=")
        return _compare(now, a, b) & _compare(before, a.shift(1), b.shift(1))

    def change(self, node: Call, bound: tuple[Expr, ...]) -> pl.Expr:
        x, n = self.build(bound[0]), self.window(bound[1])
        if node.func == "change":
            return _arithmetic("-", x, x.shift(n))
        return _finite((x / x.shift(n) - _constant(1.0)) * _constant(100.0))

    def extreme(self, node: Call, bound: tuple[Expr, ...]) -> pl.Expr:
        x, n = self.build(bound[0]), self.window(bound[1])
        return x.rolling_max(n) if node.func == "highest" else x.rolling_min(n)

    def monotone(self, node: Call, bound: tuple[Expr, ...]) -> pl.Expr:
        x, n = self.build(bound[0]), self.window(bound[1])
        step = _compare(">" if node.func == "rising" else "<", x, x.shift(1))
        return _window_all(step, n)

    def bars_since(self, node: Call, bound: tuple[Expr, ...]) -> pl.Expr:
        cond = self.build(bound[0])
        index = pl.int_range(pl.len(), dtype=pl.Int64)
        last = pl.when(cond).then(index).forward_fill()
        return (index - last).cast(pl.Float64)

    def absolute(self, node: Call, bound: tuple[Expr, ...]) -> pl.Expr:
        return self.build(bound[0]).abs()

    def extremum(self, node: Call, bound: tuple[Expr, ...]) -> pl.Expr:
        args = [self.build(arg) for arg in bound]
        any_null = pl.any_horizontal([arg.is_null() for arg in args])
        value = pl.min_horizontal(args) if node.func == "min" else pl.max_horizontal(args)
        return pl.when(~any_null).then(value)

    def round(self, node: Call, bound: tuple[Expr, ...]) -> pl.Expr:
        x = self.build(bound[0])
        digits = self.const(bound[1])
        if not digits.is_integer():
            raise BatchError(
                f"ndigits must be a whole number, got {digits:g}", bound[1].start, bound[1].end
            )
        if digits >= 0:
            return x.round(int(digits), mode="half_to_even")
        scale = math.pow(10.0, -digits)
        rounded = (x / _constant(scale)).round(0, mode="half_to_even")
        return _finite(rounded * _constant(scale))

    def between(self, node: Call, bound: tuple[Expr, ...]) -> pl.Expr:
        x, lo, hi = (self.build(arg) for arg in bound)
        return _compare("<=", lo, x) & _compare("<=", x, hi)

    def clock(self, node: Call, bound: tuple[Expr, ...]) -> pl.Expr:
        zone = bound[1]
        if not isinstance(zone, String):
            raise BatchError("the time zone must be a string literal", zone.start, zone.end)
        return _clock(node.func, self.build(bound[0]), zone.value)


_BUILTINS: Final[dict[str, Callable[[_Builder, Call, tuple[Expr, ...]], pl.Expr]]] = {
    "crosses_above": _Builder.crosses,
    "crosses_below": _Builder.crosses,
    "prev": _Builder.prev,
    "change": _Builder.change,
    "pct_change": _Builder.change,
    "highest": _Builder.extreme,
    "lowest": _Builder.extreme,
    "rising": _Builder.monotone,
    "falling": _Builder.monotone,
    "bars_since": _Builder.bars_since,
    "abs": _Builder.absolute,
    "min": _Builder.extremum,
    "max": _Builder.extremum,
    "round": _Builder.round,
    "between": _Builder.between,
    "hour": _Builder.clock,
    "minute": _Builder.clock,
    "weekday": _Builder.clock,
}
