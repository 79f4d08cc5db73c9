"""Checked expression trees evaluated one closed bar at a time (incremental form).

    expr = compile_per_bar(checked.tree, params={"rsi_cap": 70})
    for bar in bars:                      # oldest first, one call per closed bar
        value = expr.step(values, state)

`values` maps column names, exactly as `runner.engine.expressions.default_column`
names them (`close`, `ETHUSDT.close@1h`, `macd.hist`, `enter_long`, `time`), to
this bar's value: a float (NaN means null), a bool for a signal, a `datetime` for
`time` (naive meaning UTC), or None. `state` maps the run-time state the batch
form refuses (`position`, `entry_price`, `equity`, `cash`, `bar_index`, and the
per-instrument `ETHUSDT.position`...) to its value on this bar.

The semantics are `runner.engine.expressions`' (DESIGN §3), value for value:
stepping a stateless tree over a frame's rows, in order, gives exactly the column
`to_polars` computes over the whole frame (same nulls, same floats). In short:
numbers are floats or None; any non-finite arithmetic result is None; booleans
are never None (a comparison with None is False); `%` is `a - b * floor(a / b)`;
windowed functions (`prev`, `change`, `pct_change`, `highest`, `lowest`,
`rising`, `falling`, `crosses_*`, `bars_since`) keep their own bounded history,
sized from their const window argument, and so every sub-expression is evaluated
on every bar (no short-circuiting of `and`/`or`: history must not skip bars).

`round(x, d)` mirrors what polars 2.1 actually computes, which is *not* always
Python's correctly rounded `round` (0.0125 to 3 digits is 0.012, not 0.013): for
d >= 0 it scales, rounds half to even and scales back (`round_even(x * s) / s`
with s = 10**d by binary exponentiation, and x itself when `x * s` overflows),
checked against polars up to d = 308 (beyond that polars treats subnormals its
own way); for d < 0 the batch form's own `round_even(x / 10**-d) * 10**-d`.

Functions beyond the built-ins run through `FunctionDef.incremental`, called once
per bar as `incremental(*args)`: this bar's value (float/bool/datetime/None) for a
value parameter, a float for a const one, a str for a string. A NUMBER result that
is None or not finite is None; a BOOL result of None is False.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Final, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from runner.definitions import FunctionParam
from runner.engine.expressions import (
    ExpressionError,
    const_value,
    default_column,
    param_value,
    window_value,
)
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
)
from runner.expr.scope import ParamRef, StateRef
from runner.expr.types import ValueType

Value = float | bool | datetime | None
"""What a node yields on one bar: a number, a boolean, a time, or null."""
Values = Mapping[str, float | bool | datetime | None]
State = Mapping[str, float | None]
_Step = Callable[[Values, State], Value]

BAR_STATE: Final = frozenset({"time"})
"""State names read from `values` (they are bar columns), not from `state`."""


class PerBarError(ExpressionError):
    """An expression tree cannot be evaluated per bar, or a bar lacks a value it reads."""


class PerBarExpr:
    """One compiled expression with its own history; call `step` once per closed bar."""

    __slots__ = ("_root", "type")

    def __init__(self, root: _Step, value_type: ValueType | None) -> None:
        self._root = root
        self.type = value_type

    def step(self, values: Values, state: State) -> float | bool | None:
        """This bar's value; advances every window the expression keeps."""
        result = self._root(values, state)
        if isinstance(result, datetime):
            raise TypeError("a time is not an expression result")
        return result


def compile_per_bar(tree: Expr, params: Mapping[str, float],
                    hoisted: Mapping[int, str] | None = None) -> PerBarExpr:
    """Compile a checked tree; each call gives an independent history.

    `hoisted` maps `id(node)` of sub-trees of `tree` to a column name: such a node is
    not compiled but read from `values[name]` (its value on this bar, computed over
    the whole frame beforehand), which is how the backtest evaluates only the
    state-dependent skeleton of an expression per bar."""
    return PerBarExpr(_Compiler(params, hoisted or {}).build(tree), tree.type)


# -- scalar semantics ---------------------------------------------------------------


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _round_even(value: float) -> float:
    """Round half to even keeping the sign of zero, as polars' `round_ties_even`."""
    if not math.isfinite(value):
        return value
    return math.copysign(float(round(value)), value)


def _arithmetic(op: str, x: float, y: float) -> float | None:
    if op == "+":
        return _finite(x + y)
    if op == "-":
        return _finite(x - y)
    if op == "*":
        return _finite(x * y)
    if y == 0.0:
        return None  # x / 0 and x % 0 are inf or NaN in polars: null
    quotient = x / y
    if op == "/":
        return _finite(quotient)
    if not math.isfinite(quotient):
        return None
    return _finite(x - y * float(math.floor(quotient)))


def _compare(op: str, left: Value, right: Value) -> bool:
    if left is None or right is None:
        return False
    a, b = cast(float, left), cast(float, right)
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    if op == ">=":
        return a >= b
    if op == "==":
        return a == b
    return a != b


def _number(value: object) -> float | None:
    """A value read from a bar as a number: None and NaN are null."""
    if value is None:
        return None
    number = float(cast(float, value))
    return None if math.isnan(number) else number


def _powi(exponent: int) -> float:
    """10 ** exponent by binary exponentiation, as polars computes its rounding scale.

    This differs from the correctly rounded `10.0 ** exponent` above 10 ** 22.
    """
    result, base = 1.0, 10.0
    while exponent:
        if exponent & 1:
            result *= base
        base *= base
        exponent >>= 1
    return result


def _round(x: float, digits: int) -> float | None:
    if digits >= 0:
        scale = _powi(digits)
        scaled = x * scale
        if not math.isfinite(scaled):
            return x
        return _round_even(scaled) / scale
    scale = math.pow(10.0, -digits)
    return _finite(_round_even(x / scale) * scale)


def _clock(part: str, t: datetime, zone: ZoneInfo) -> float:
    moment = t.replace(tzinfo=UTC) if t.tzinfo is None else t
    local = moment.astimezone(zone)
    if part == "hour":
        return float(local.hour)
    if part == "minute":
        return float(local.minute)
    return float(local.weekday())


def _fixed(value: object) -> Callable[[Values, State], object]:
    return lambda values, state: value


# -- the compiler -------------------------------------------------------------------


class _Compiler:
    __slots__ = ("hoisted", "params")

    def __init__(self, params: Mapping[str, float], hoisted: Mapping[int, str]) -> None:
        self.params = params
        self.hoisted = hoisted

    def build(self, node: Expr) -> _Step:
        column = self.hoisted.get(id(node))
        if column is not None:
            return self.column(column, node)
        if isinstance(node, Number | Bool):
            constant: Value = node.value
            return lambda values, state: constant
        if isinstance(node, Name):
            return self.name(node)
        if isinstance(node, At):
            return self.build(node.operand)
        if isinstance(node, Unary):
            operand = self.build(node.operand)

            def negate(values: Values, state: State) -> Value:
                x = operand(values, state)
                return None if x is None else -cast(float, x)

            return negate
        if isinstance(node, Not):
            inner = self.build(node.operand)
            return lambda values, state: not inner(values, state)
        if isinstance(node, Binary):
            return self.binary(node)
        if isinstance(node, Compare):
            op, left, right = node.op, self.build(node.left), self.build(node.right)
            if node.left.type is ValueType.BOOL:
                equal = op == "=="
                return lambda values, state: (left(values, state) == right(values, state)) is equal
            return lambda values, state: _compare(op, left(values, state), right(values, state))
        if isinstance(node, Logical):
            return self.logical(node)
        if isinstance(node, Call):
            return self.call(node)
        raise PerBarError(
            f'a string ("{node.value}") is only valid as a time-zone argument',
            node.start,
            node.end,
        )

    def binary(self, node: Binary) -> _Step:
        op, left, right = node.op, self.build(node.left), self.build(node.right)

        def arithmetic(values: Values, state: State) -> Value:
            x, y = left(values, state), right(values, state)
            if x is None or y is None:
                return None
            return _arithmetic(op, cast(float, x), cast(float, y))

        return arithmetic

    def logical(self, node: Logical) -> _Step:
        left, right = self.build(node.left), self.build(node.right)
        if node.op == "and":

            def both(values: Values, state: State) -> Value:
                x, y = left(values, state), right(values, state)  # both: windows step
                return bool(x) and bool(y)

            return both

        def either(values: Values, state: State) -> Value:
            x, y = left(values, state), right(values, state)
            return bool(x) or bool(y)

        return either

    def name(self, node: Name) -> _Step:
        ref = node.ref
        if ref is None or node.type is None:
            raise PerBarError(
                f'"{".".join(node.parts)}" is unresolved: evaluate checked trees only',
                node.start,
                node.end,
            )
        if isinstance(ref, ParamRef):
            constant = self.param(ref.name, node)
            return lambda values, state: constant
        column = default_column(ref)
        start, end = node.start, node.end
        from_state = isinstance(ref, StateRef) and ref.name not in BAR_STATE

        def missing(where: str) -> PerBarError:
            return PerBarError(f'no value for "{column}" in this bar\'s {where}', start, end)

        if from_state:

            def read_state(values: Values, state: State) -> Value:
                try:
                    return _number(state[column])
                except KeyError:
                    raise missing("state") from None

            return read_state
        return self.column(column, node)

    def column(self, column: str, node: Expr) -> _Step:
        """Read `values[column]` typed like the node: a bar column, or a hoisted
        sub-tree's precomputed value."""
        value_type, start, end = node.type, node.start, node.end

        def read(values: Values, state: State) -> Value:
            try:
                raw = values[column]
            except KeyError:
                raise PerBarError(f'no value for "{column}" in this bar\'s values',
                                  start, end) from None
            if value_type is ValueType.NUMBER:
                return _number(raw)
            if value_type is ValueType.BOOL:
                return raw is not None and bool(raw)
            return raw

        return read

    def param(self, name: str, node: Expr) -> float:
        return param_value(self.params, name, node, PerBarError)

    def const(self, node: Expr) -> float:
        return const_value(node, self.params, PerBarError)

    def window(self, node: Expr) -> int:
        return window_value(node, self.params, PerBarError)

    # -- calls ----------------------------------------------------------------------

    def call(self, node: Call) -> _Step:
        fn, bound = node.fn, node.bound
        if fn is None or bound is None:
            raise PerBarError(
                f'call to "{node.func}" was not checked: evaluate checked trees only',
                node.start,
                node.end,
            )
        builtin = _BUILTINS.get(node.func)
        if builtin is not None and fn.incremental is None:
            return builtin(self, node, bound)
        if fn.incremental is None:
            raise PerBarError(
                f'function "{node.func}" has no incremental implementation',
                node.start,
                node.end,
            )
        return self.plugin(node, fn.incremental, fn.params, bound)

    def plugin(
        self,
        node: Call,
        function: Callable[..., object],
        params: tuple[FunctionParam, ...],
        bound: tuple[Expr, ...],
    ) -> _Step:
        declared = params + (params[-1],) * (len(bound) - len(params))
        arguments: list[Callable[[Values, State], object]] = []
        for param, arg in zip(declared, bound, strict=True):
            if isinstance(arg, String):
                arguments.append(_fixed(arg.value))
            elif param.const:
                arguments.append(_fixed(self.const(arg)))
            else:
                arguments.append(self.build(arg))
        result_type, func, start, end = node.type, node.func, node.start, node.end

        def apply(values: Values, state: State) -> Value:
            result = function(*(argument(values, state) for argument in arguments))
            if result_type is ValueType.BOOL:
                if result is None or isinstance(result, bool):
                    return bool(result)
            elif result_type is ValueType.NUMBER:
                if result is None:
                    return None
                if isinstance(result, int | float) and not isinstance(result, bool):
                    return _finite(float(result))
            elif result is None or isinstance(result, float | bool | datetime):
                return result
            raise PerBarError(
                f'incremental form of "{func}" returned {type(result).__name__}, not a'
                f" {result_type.value if result_type is not None else 'value'}",
                start,
                end,
            )

        return apply

    def prev(self, node: Call, bound: tuple[Expr, ...]) -> _Step:
        x, n = self.build(bound[0]), self.window(bound[1])
        history: deque[Value] = deque(maxlen=n)
        missing: Value = False if node.type is ValueType.BOOL else None

        def prev(values: Values, state: State) -> Value:
            old = history[0] if len(history) == n else missing
            history.append(x(values, state))
            return old

        return prev

    def change(self, node: Call, bound: tuple[Expr, ...]) -> _Step:
        x, n = self.build(bound[0]), self.window(bound[1])
        history: deque[float | None] = deque(maxlen=n)
        percent = node.func == "pct_change"

        def change(values: Values, state: State) -> Value:
            old = history[0] if len(history) == n else None
            now = cast(float | None, x(values, state))
            history.append(now)
            if now is None or old is None:
                return None
            if not percent:
                return _finite(now - old)
            if old == 0.0:
                return None  # inf or NaN in polars
            return _finite((now / old - 1.0) * 100.0)

        return change

    def extreme(self, node: Call, bound: tuple[Expr, ...]) -> _Step:
        x, n = self.build(bound[0]), self.window(bound[1])
        history: deque[float | None] = deque(maxlen=n)
        pick = max if node.func == "highest" else min

        def extreme(values: Values, state: State) -> Value:
            history.append(cast(float | None, x(values, state)))
            if len(history) < n or None in history:
                return None
            return pick(cast(deque[float], history))

        return extreme

    def monotone(self, node: Call, bound: tuple[Expr, ...]) -> _Step:
        x, n = self.build(bound[0]), self.window(bound[1])
        op = ">" if node.func == "rising" else "<"
        steps: deque[bool] = deque(maxlen=n)
        last: list[Value] = [None]

        def monotone(values: Values, state: State) -> Value:
            now = x(values, state)
            steps.append(_compare(op, now, last[0]))
            last[0] = now
            return len(steps) == n and all(steps)

        return monotone

    def crosses(self, node: Call, bound: tuple[Expr, ...]) -> _Step:
        a, b = self.build(bound[0]), self.build(bound[1])
        now_op, before_op = (">", "<=") if node.func == "crosses_above" else ("<", ">=")
        last: list[Value] = [None, None]

        def crosses(values: Values, state: State) -> Value:
            x, y = a(values, state), b(values, state)
            before = _compare(before_op, last[0], last[1])
            last[0], last[1] = x, y
            return _compare(now_op, x, y) and before

        return crosses

    def bars_since(self, node: Call, bound: tuple[Expr, ...]) -> _Step:
        cond = self.build(bound[0])
        counter: list[float | None] = [None]

        def bars_since(values: Values, state: State) -> Value:
            if cond(values, state):
                counter[0] = 0.0
            elif counter[0] is not None:
                counter[0] += 1.0
            return counter[0]

        return bars_since

    def absolute(self, node: Call, bound: tuple[Expr, ...]) -> _Step:
        x = self.build(bound[0])

        def absolute(values: Values, state: State) -> Value:
            value = x(values, state)
            return None if value is None else abs(cast(float, value))

        return absolute

    def extremum(self, node: Call, bound: tuple[Expr, ...]) -> _Step:
        args = [self.build(arg) for arg in bound]
        pick = min if node.func == "min" else max

        def extremum(values: Values, state: State) -> Value:
            numbers = [arg(values, state) for arg in args]
            if None in numbers:
                return None
            return pick(cast(list[float], numbers))

        return extremum

    def round(self, node: Call, bound: tuple[Expr, ...]) -> _Step:
        x = self.build(bound[0])
        digits = self.const(bound[1])
        if not digits.is_integer():
            raise PerBarError(
                f"ndigits must be a whole number, got {digits:g}", bound[1].start, bound[1].end
            )
        whole = int(digits)

        def rounded(values: Values, state: State) -> Value:
            value = x(values, state)
            return None if value is None else _round(cast(float, value), whole)

        return rounded

    def between(self, node: Call, bound: tuple[Expr, ...]) -> _Step:
        x, lo, hi = (self.build(arg) for arg in bound)

        def between(values: Values, state: State) -> Value:
            value, low, high = x(values, state), lo(values, state), hi(values, state)
            return _compare("<=", low, value) and _compare("<=", value, high)

        return between

    def clock(self, node: Call, bound: tuple[Expr, ...]) -> _Step:
        zone_node = bound[1]
        if not isinstance(zone_node, String):
            raise PerBarError(
                "the time zone must be a string literal", zone_node.start, zone_node.end
            )
        try:
            zone = ZoneInfo(zone_node.value)
        except (ZoneInfoNotFoundError, ValueError):
            raise PerBarError(
                f'unknown time zone "{zone_node.value}"', zone_node.start, zone_node.end
            ) from None
        t, part = self.build(bound[0]), node.func

        def clock(values: Values, state: State) -> Value:
            moment = t(values, state)
            if moment is None:
                return None
            if not isinstance(moment, datetime):
                raise PerBarError(
                    f"expected a datetime, got {type(moment).__name__}", node.start, node.end
                )
            return _clock(part, moment, zone)

        return clock


_BUILTINS: Final[dict[str, Callable[[_Compiler, Call, tuple[Expr, ...]], _Step]]] = {
    "crosses_above": _Compiler.crosses,
    "crosses_below": _Compiler.crosses,
    "prev": _Compiler.prev,
    "change": _Compiler.change,
    "pct_change": _Compiler.change,
    "highest": _Compiler.extreme,
    "lowest": _Compiler.extreme,
    "rising": _Compiler.monotone,
    "falling": _Compiler.monotone,
    "bars_since": _Compiler.bars_since,
    "abs": _Compiler.absolute,
    "min": _Compiler.extremum,
    "max": _Compiler.extremum,
    "round": _Compiler.round,
    "between": _Compiler.between,
    "hour": _Compiler.clock,
    "minute": _Compiler.clock,
    "weekday": _Compiler.clock,
}
