"""Batch evaluation of checked expression trees as polars expressions.

Hand-checked small frames for every node type and built-in function; a hypothesis
property against a slow row-by-row evaluator written here; and every stateless
signal of the shipped strategies evaluated on a random frame.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.config.validate import validate_file
from runner.definitions import FunctionDef, FunctionParam
from runner.engine.expressions import (
    BatchError,
    ColumnNames,
    StateInBatchError,
    default_column,
    state_refs,
    to_polars,
)
from runner.expr import IndicatorInfo, Scope, analyze
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
    Unary,
)
from runner.expr.functions import builtin_functions
from runner.expr.parser import parse
from runner.expr.scope import IndicatorRef, ParamRef, PriceRef, SignalRef, StateRef
from runner.expr.types import ValueType
from runner.plugins import Registry

ROOT = Path(__file__).resolve().parents[3]
STRATEGIES = sorted((ROOT / "strategies.d").glob("*.yaml"))

DOUBLE = FunctionDef(
    "double",
    (FunctionParam("x", ValueType.NUMBER), FunctionParam("k", ValueType.NUMBER, 2, const=True)),
    ValueType.NUMBER,
    batch=lambda x, k: x * k,
)
NO_BATCH = FunctionDef("nobatch", (FunctionParam("x", ValueType.NUMBER),), ValueType.NUMBER)

SCOPE = Scope(
    indicators={
        "a": IndicatorInfo(("value",)),
        "b": IndicatorInfo(("value",)),
        "c": IndicatorInfo(("value",)),
        "macd": IndicatorInfo(("macd", "signal", "hist")),
        "atr": IndicatorInfo(("value",), timeframe="1h"),
    },
    signals=frozenset({"sig"}),
    params=frozenset({"p", "n2"}),
    instruments=frozenset({"ETHUSDT"}),
    timeframes=("1m", "1h"),
    functions={**builtin_functions(), "double": DOUBLE, "nobatch": NO_BATCH},
)
PARAMS = {"p": 1.5, "n2": 2.0}
COLUMNS = ColumnNames(params=PARAMS)
N = None


def tree(text: str) -> Expr:
    checked = analyze(text, SCOPE)
    assert checked.ok, [str(i) for i in checked.issues]
    assert checked.tree is not None
    return checked.tree


def ev(text: str, frame: pl.DataFrame, columns: ColumnNames = COLUMNS) -> list[object]:
    return frame.with_columns(to_polars(tree(text), columns).alias("out"))["out"].to_list()


def flags(pattern: str) -> list[bool]:
    """`".T."` is `[False, True, False]`."""
    return [c == "T" for c in pattern]


def col(**data: list[float | None]) -> pl.DataFrame:
    return pl.DataFrame({k: pl.Series(v, dtype=pl.Float64) for k, v in data.items()})


# -- naming ---------------------------------------------------------------------------


def test_default_column_names() -> None:
    assert default_column(PriceRef("close")) == "close"
    assert default_column(PriceRef("close", "ETHUSDT")) == "ETHUSDT.close"
    assert default_column(PriceRef("close", None, "1h")) == "close@1h"
    assert default_column(PriceRef("hl2", "ETHUSDT", "1h")) == "ETHUSDT.hl2@1h"
    assert default_column(IndicatorRef("fast")) == "fast"
    assert default_column(IndicatorRef("macd", "hist")) == "macd.hist"
    assert default_column(IndicatorRef("rsi", None, "ETHUSDT", "4h")) == "ETHUSDT.rsi@4h"
    assert default_column(SignalRef("enter_long", "ETHUSDT")) == "ETHUSDT.enter_long"
    with pytest.raises(TypeError):
        default_column(ParamRef("p"))


def test_names_read_their_columns() -> None:
    frame = pl.DataFrame(
        {
            "close": [1.0, 2.0],
            "ETHUSDT.close": [10.0, 20.0],
            "close@1h": [100.0, 200.0],
            "macd.hist": [0.5, -0.5],
            "atr@1h": [3.0, 4.0],
            "ETHUSDT.a": [7.0, 8.0],
        }
    )
    assert ev("close + ETHUSDT.close + close@1h", frame) == [111.0, 222.0]
    assert ev("macd.hist", frame) == [0.5, -0.5]
    assert ev("atr", frame) == [3.0, 4.0], "pinned to 1h, so read at 1h"
    assert ev("ETHUSDT.a", frame) == [7.0, 8.0]
    assert ev("p * close", frame) == [1.5, 3.0]


def test_overrides_and_time_column() -> None:
    frame = pl.DataFrame({"px": [1.0, 2.0]})
    columns = ColumnNames(params=PARAMS, overrides={PriceRef("close"): "px"})
    assert ev("close * 2", frame, columns) == [2.0, 4.0]


def test_integer_columns_become_floats_and_nan_is_null() -> None:
    frame = pl.DataFrame({"a": [1, 2, 3], "b": [1.0, math.nan, 0.5]})
    result = frame.with_columns(to_polars(tree("a / 2"), COLUMNS).alias("out"))
    assert result["out"].dtype == pl.Float64
    assert result["out"].to_list() == [0.5, 1.0, 1.5]
    assert ev("b", frame) == [1.0, None, 0.5]
    assert ev("b > 0", frame) == [True, False, True]


# -- literals, arithmetic --------------------------------------------------------------


def test_literals_broadcast() -> None:
    frame = col(a=[1.0, 2.0])
    assert ev("3", frame) == [3.0, 3.0]
    assert ev("true", frame) == [True, True]
    assert ev("not false", frame) == [True, True]
    assert ev("-2.5", frame) == [-2.5, -2.5]


def test_arithmetic_propagates_null() -> None:
    frame = col(a=[6.0, N, 3.0], b=[2.0, 1.0, N])
    assert ev("a + b", frame) == [8.0, N, N]
    assert ev("a - b", frame) == [4.0, N, N]
    assert ev("a * b", frame) == [12.0, N, N]
    assert ev("a / b", frame) == [3.0, N, N]
    assert ev("-a", frame) == [-6.0, N, -3.0]
    assert ev("a - -b * 2", frame) == [10.0, N, N]


def test_division_by_a_constant_is_exact() -> None:
    # polars divides by a scalar through its reciprocal; the engine must not
    frame = col(b=[2.5, 7.0])
    assert ev("b / p", frame) == [2.5 / 1.5, 7.0 / 1.5]
    assert ev("b / 3", frame) == [2.5 / 3, 7.0 / 3]
    assert ev("b / (1 + 0.5)", frame) == [2.5 / 1.5, 7.0 / 1.5]


def test_division_and_modulo_by_zero_are_null() -> None:
    frame = col(a=[1.0, 0.0, -1.0], b=[0.0, 0.0, 0.0])
    assert ev("a / b", frame) == [N, N, N]
    assert ev("a % b", frame) == [N, N, N]
    assert ev("a / b > 0 or a / b <= 0", frame) == [False, False, False]


def test_modulo_takes_the_divisors_sign() -> None:
    frame = col(a=[-7.0, 7.0, 7.5], b=[3.0, -3.0, 2.0])
    assert ev("a % b", frame) == [2.0, -2.0, 1.5]


def test_overflow_is_null() -> None:
    frame = col(a=[1e300, 2.0])
    assert ev("a * a", frame) == [N, 4.0]


# -- comparisons and logic ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        ("<", [True, False, False, False, False]),
        ("<=", [True, True, False, False, False]),
        (">", [False, False, True, False, False]),
        (">=", [False, True, True, False, False]),
        ("==", [False, True, False, False, False]),
        ("!=", [True, False, True, False, False]),
    ],
)
def test_comparison_with_null_is_false(op: str, expected: list[bool]) -> None:
    frame = col(a=[1.0, 2.0, 3.0, N, N], b=[2.0, 2.0, 2.0, 2.0, N])
    assert ev(f"a {op} b", frame) == expected


def test_boolean_equality() -> None:
    frame = col(a=[1.0, 3.0, N], b=[2.0, 2.0, 2.0])
    assert ev("(a > b) == (b > 1)", frame) == [False, True, False]
    assert ev("(a > b) != true", frame) == [True, False, True]


def test_logic_is_two_valued() -> None:
    frame = col(a=[1.0, 3.0, N, 3.0], b=[2.0, 2.0, 2.0, N])
    assert ev("a > b and b > 1", frame) == [False, True, False, False]
    assert ev("a > b or b > 1", frame) == [True, True, True, False]
    # documented: a comparison during warm-up is false, so its negation is true
    assert ev("not (a > b)", frame) == [True, False, True, True]
    assert ev("not a > b and true", frame) == [True, False, True, True]


def test_signal_columns_null_is_false() -> None:
    frame = pl.DataFrame({"sig": [True, None, False]}, schema={"sig": pl.Boolean})
    result = frame.with_columns(to_polars(tree("sig or false"), COLUMNS).alias("out"))
    assert result["out"].to_list() == [True, False, False]
    assert result["out"].dtype == pl.Boolean


@pytest.mark.parametrize("fill", [None, math.nan])
@pytest.mark.parametrize(
    "text",
    [
        "1.5 < a + a",
        "a + a > 1.5",
        "1.5 < -(a / b)",
        "2 < a % b",
        "1 < min(a, 2) or 1 > max(a, b, 3)",
        "1 < abs(a) + pct_change(a) + change(a) + round(a, -1) + round(a, 1)",
        "not between(1, a, b) and not crosses_above(a, 1) and not rising(a * 2, 2)",
        "bars_since(a > 1) > 0 or prev(a > 1)",
        "(highest(a, 2) > 1) == (1 < lowest(a, 2))",
    ],
)
def test_all_null_columns_keep_the_frame_height(text: str, fill: float | None) -> None:
    # regression: a scalar literal against an all-false when/then came back with length 1
    frame = col(a=[fill, fill, fill], b=[fill, fill, fill])
    result = frame.with_columns(to_polars(tree(text), COLUMNS).alias("out"))["out"]
    assert result.dtype == pl.Boolean
    assert result.len() == 3
    assert result.null_count() == 0


def test_a_literal_only_expression_is_full_height_even_in_select() -> None:
    frame = col(a=[1.0, 2.0, 3.0])
    assert frame.select(to_polars(tree("1 + 2 > p"), COLUMNS))[:, 0].to_list() == [True] * 3


# -- functions ------------------------------------------------------------------------


def test_crosses() -> None:
    frame = col(a=[1.0, 3.0, 3.0, 1.0, N, 3.0, 1.0], b=[2.0, 2.0, 3.0, 2.0, 2.0, 2.0, 2.0])
    assert ev("crosses_above(a, b)", frame) == [False, True, False, False, False, False, False]
    assert ev("crosses_below(a, b)", frame) == [False, False, False, True, False, False, True]
    # equality then rise counts: prev(a) <= prev(b)
    frame = col(a=[2.0, 3.0], b=[2.0, 2.0])
    assert ev("crosses_above(a, b)", frame) == [False, True]


def test_prev_change_pct_change() -> None:
    frame = col(a=[10.0, 11.0, N, 12.0, 0.0, 5.0])
    assert ev("prev(a)", frame) == [N, 10.0, 11.0, N, 12.0, 0.0]
    assert ev("prev(a, 2)", frame) == [N, N, 10.0, 11.0, N, 12.0]
    assert ev("prev(a, n=n2)", frame) == [N, N, 10.0, 11.0, N, 12.0]
    assert ev("change(a)", frame) == [N, 1.0, N, N, -12.0, 5.0]
    assert ev("change(a, 3)", frame) == [N, N, N, 2.0, -11.0, N]
    pct = ev("pct_change(a)", frame)
    assert pct[:4] == [N, pytest.approx(10.0), N, N]
    assert pct[4] == pytest.approx(-100.0)
    assert pct[5] is None, "from zero: null, not inf"


def test_prev_of_a_boolean_is_false_before_its_bar() -> None:
    frame = col(a=[3.0, 1.0, 3.0])
    assert ev("prev(a > 2)", frame) == [False, True, False]


def test_highest_lowest() -> None:
    frame = col(a=[1.0, 3.0, 2.0, N, 5.0, 4.0, 0.0])
    assert ev("highest(a, 2)", frame) == [N, 3.0, 3.0, N, N, 5.0, 4.0]
    assert ev("lowest(a, 2)", frame) == [N, 1.0, 2.0, N, N, 4.0, 0.0]
    assert ev("highest(a, 1)", frame) == [1.0, 3.0, 2.0, N, 5.0, 4.0, 0.0]


def test_rising_falling() -> None:
    frame = col(a=[1.0, 2.0, 3.0, 3.0, 2.0, 1.0, N, 0.0, -1.0])
    assert ev("rising(a, 2)", frame) == flags("..T......")
    assert ev("falling(a, 2)", frame) == flags(".....T...")
    assert ev("rising(a, 1)", frame) == flags(".TT......")


def test_bars_since() -> None:
    frame = col(a=[0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, N])
    assert ev("bars_since(a > 0)", frame) == [N, N, 0.0, 1.0, 2.0, 0.0, 0.0, 1.0]
    assert ev("bars_since(a > 5) >= 0", frame) == [False] * 8


def test_abs_min_max() -> None:
    frame = col(a=[-1.0, 2.0, N], b=[0.5, 3.0, 1.0], c=[0.0, 1.0, 2.0])
    assert ev("abs(a)", frame) == [1.0, 2.0, N]
    assert ev("min(a, b)", frame) == [-1.0, 2.0, N]
    assert ev("max(a, b)", frame) == [0.5, 3.0, N]
    assert ev("min(a, b, c)", frame) == [-1.0, 1.0, N]
    assert ev("max(b, c, 2.5)", frame) == [2.5, 3.0, 2.5]


def test_round() -> None:
    frame = col(a=[1.25, 2.5, 3.5, -2.5, 1234.0, 1250.0, N])
    assert ev("round(a)", frame) == [1.0, 2.0, 4.0, -2.0, 1234.0, 1250.0, N]
    assert ev("round(a, 1)", frame) == [1.2, 2.5, 3.5, -2.5, 1234.0, 1250.0, N]
    assert ev("round(a, -2)", frame) == [0.0, 0.0, 0.0, -0.0, 1200.0, 1200.0, N]
    assert [round(v, -2) for v in (1234.0, 1250.0)] == [1200.0, 1200.0], "as Python does"


def test_between() -> None:
    frame = col(a=[1.0, 2.0, 3.0, 4.0, N, 2.0], b=[2.0, 2.0, 2.0, 2.0, 2.0, N])
    assert ev("between(a, b, 3)", frame) == [False, True, True, False, False, False]


def test_clock_functions_in_time_zones() -> None:
    times = [
        datetime(2024, 3, 8, 20, 55),  # Friday; Chicago on CST (UTC-6): 14:55
        datetime(2024, 3, 11, 19, 55),  # Monday; Chicago on CDT (UTC-5): 14:55
        datetime(2024, 3, 10, 23, 5),  # Sunday UTC; Sunday 18:05 in Chicago
        datetime(2024, 3, 11, 3, 30),  # Monday UTC; Sunday 22:30 in Chicago
    ]
    naive = pl.DataFrame({"time": times})
    aware = pl.DataFrame({"time": pl.Series(times).dt.replace_time_zone("UTC")})
    other = aware.with_columns(pl.col("time").dt.convert_time_zone("Asia/Tokyo"))
    for frame in (naive, aware, other):
        assert ev("hour(time)", frame) == [20.0, 19.0, 23.0, 3.0]
        assert ev("minute(time)", frame) == [55.0, 55.0, 5.0, 30.0]
        assert ev("weekday(time)", frame) == [4.0, 0.0, 6.0, 0.0]
        assert ev('hour(time, "America/Chicago")', frame) == [14.0, 14.0, 18.0, 22.0]
        assert ev('weekday(time, tz="America/Chicago")', frame) == [4.0, 0.0, 6.0, 6.0]
        kolkata = 'hour(time, "Asia/Kolkata") + minute(time, "Asia/Kolkata") / 60'
        assert ev(kolkata, frame) == pytest.approx(
            [2 + 25 / 60, 1 + 25 / 60, 4 + 35 / 60, 9.0]  # UTC+05:30
        )


def test_time_column_name_is_configurable() -> None:
    frame = pl.DataFrame({"ts": [datetime(2024, 1, 1, 5, tzinfo=UTC)]})
    assert ev("hour(time)", frame, ColumnNames(time="ts")) == [5.0]


def test_at_is_transparent() -> None:
    checked = tree("close@1h")
    assert isinstance(checked, At)
    frame = pl.DataFrame({"close@1h": [4.0]})
    assert ev("close@1h * 2", frame) == [8.0]


def test_plugin_function_through_its_batch_form() -> None:
    frame = col(a=[1.0, N])
    assert ev("double(a)", frame) == [2.0, N]
    assert ev("double(a, k=p)", frame) == [1.5, N]
    with pytest.raises(BatchError, match="no batch implementation"):
        to_polars(tree("nobatch(a)"), COLUMNS)


# -- state and errors -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["position", "entry_price", "equity", "cash", "bar_index"])
def test_state_cannot_run_in_batch(name: str) -> None:
    text = f"a > 0 and {name} > 1"
    checked = tree(text)
    assert state_refs(checked) == (StateRef(name),)
    with pytest.raises(StateInBatchError) as info:
        to_polars(checked, COLUMNS)
    error = info.value
    assert error.ref == StateRef(name)
    assert text[error.start : error.end] == name
    assert name in str(error)


def test_time_is_not_state_for_batch() -> None:
    assert state_refs(tree("hour(time) > 3 and a > 0")) == ()
    assert state_refs(tree("bars_since(ETHUSDT.position > 0) > 2")) == (
        StateRef("position", "ETHUSDT"),
    )


def test_missing_param_and_unchecked_trees_are_errors() -> None:
    with pytest.raises(BatchError, match='no value for param "p"'):
        to_polars(tree("a > p"), ColumnNames())
    with pytest.raises(BatchError, match="unresolved"):
        to_polars(parse("a > 1"), COLUMNS)
    with pytest.raises(BatchError, match="not checked"):
        to_polars(Call("abs", (Number(1.0, start=4, end=5),), start=0, end=6), COLUMNS)


# -- property: against a slow row-by-row evaluator -------------------------------------

Value = float | bool | None


def slow(node: Expr, row: dict[str, float | None]) -> Value:
    """DESIGN §3 by hand, one row at a time, for stateless, window-free trees."""
    if isinstance(node, Number | Bool):
        return node.value
    if isinstance(node, Name):
        assert node.ref is not None
        if isinstance(node.ref, ParamRef):
            return PARAMS[node.ref.name]
        value = row[default_column(node.ref)]
        return None if value is None or math.isnan(value) else value
    if isinstance(node, Unary):
        operand = slow(node.operand, row)
        return None if operand is None else -operand
    if isinstance(node, Not):
        return not slow(node.operand, row)
    if isinstance(node, Logical):
        left, right = slow(node.left, row), slow(node.right, row)
        return (left and right) if node.op == "and" else (left or right)
    if isinstance(node, Compare):
        left, right = slow(node.left, row), slow(node.right, row)
        if left is None or right is None:
            return False
        return {
            "<": left < right,
            "<=": left <= right,
            ">": left > right,
            ">=": left >= right,
            "==": left == right,
            "!=": left != right,
        }[node.op]
    if isinstance(node, Binary):
        x, y = slow(node.left, row), slow(node.right, row)
        if x is None or y is None:
            return None
        assert isinstance(x, float) and isinstance(y, float)
        return _arith(node.op, x, y)
    assert isinstance(node, Call) and node.bound is not None
    args = [slow(arg, row) for arg in node.bound]
    if node.func == "abs":
        return None if args[0] is None else abs(args[0])
    if any(arg is None for arg in args):
        return None
    numbers = [float(arg) for arg in args if arg is not None]
    return min(numbers) if node.func == "min" else max(numbers)


def _arith(op: str, x: float, y: float) -> float | None:
    try:
        if op == "+":
            result = x + y
        elif op == "-":
            result = x - y
        elif op == "*":
            result = x * y
        elif op == "/":
            result = x / y
        else:
            quotient = x / y
            if not math.isfinite(quotient):
                return None
            result = x - y * float(math.floor(quotient))
    except (ZeroDivisionError, OverflowError):
        return None
    return result if math.isfinite(result) else None


LEAVES = st.sampled_from(["a", "b", "c", "p", "0", "1", "2.5", "3"])


def _number_exprs() -> st.SearchStrategy[str]:
    return st.recursive(
        LEAVES,
        lambda inner: st.one_of(
            st.builds(
                lambda x, op, y: f"({x} {op} {y})",
                inner,
                st.sampled_from(["+", "-", "*", "/", "%"]),
                inner,
            ),
            st.builds(lambda x: f"-{x}", inner),
            st.builds(lambda x: f"abs({x})", inner),
            st.builds(
                lambda f, xs: f"{f}({', '.join(xs)})",
                st.sampled_from(["min", "max"]),
                st.lists(inner, min_size=2, max_size=3),
            ),
        ),
        max_leaves=8,
    )


NUMBER_EXPRS = _number_exprs()
COMPARISONS = st.builds(
    lambda x, op, y: f"({x} {op} {y})",
    NUMBER_EXPRS,
    st.sampled_from(["<", "<=", ">", ">=", "==", "!="]),
    NUMBER_EXPRS,
)
BOOL_EXPRS = st.recursive(
    st.one_of(COMPARISONS, st.sampled_from(["true", "false"])),
    lambda inner: st.one_of(
        st.builds(lambda x, op, y: f"({x} {op} {y})", inner, st.sampled_from(["and", "or"]), inner),
        st.builds(lambda x: f"(not {x})", inner),
        st.builds(lambda x, op, y: f"({x} {op} {y})", inner, st.sampled_from(["==", "!="]), inner),
    ),
    max_leaves=4,
)
CELLS = st.one_of(
    st.none(),
    st.just(math.nan),
    st.sampled_from([0.0, 1.0, -1.0, 2.5, 3.0, -0.5]),
    st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False),
)


@settings(max_examples=300, deadline=None)
@given(
    text=st.one_of(NUMBER_EXPRS, BOOL_EXPRS),
    rows=st.lists(st.tuples(CELLS, CELLS, CELLS), min_size=1, max_size=8),
)
def test_matches_the_slow_evaluator(text: str, rows: list[tuple[float | None, ...]]) -> None:
    frame = pl.DataFrame(
        {name: pl.Series([r[i] for r in rows], dtype=pl.Float64) for i, name in enumerate("abc")}
    )
    checked = tree(text)
    got = frame.with_columns(to_polars(checked, COLUMNS).alias("out"))["out"]
    expected_dtype = pl.Boolean if checked.type is ValueType.BOOL else pl.Float64
    assert got.dtype == expected_dtype
    for row, value in zip(frame.iter_rows(named=True), got.to_list(), strict=True):
        want = slow(checked, row)
        if want is None:
            assert value is None, (text, row, value)
        else:
            assert value == want, (text, row, value, want)


# -- the shipped strategies ------------------------------------------------------------


def _random_frame(names: dict[str, ValueType], rows: int, seed: int) -> pl.DataFrame:
    rng = random.Random(seed)
    start = datetime(2024, 3, 8, tzinfo=UTC)
    data: dict[str, pl.Series] = {}
    for name, value_type in names.items():
        if value_type is ValueType.TIME:
            data[name] = pl.Series([start + timedelta(minutes=37 * i) for i in range(rows)])
        elif value_type is ValueType.BOOL:
            data[name] = pl.Series(
                [None if rng.random() < 0.1 else rng.random() < 0.5 for _ in range(rows)],
                dtype=pl.Boolean,
            )
        else:
            data[name] = pl.Series(
                [None if rng.random() < 0.15 else rng.uniform(0, 100) for _ in range(rows)],
                dtype=pl.Float64,
            )
    return pl.DataFrame(data)


@pytest.mark.parametrize("path", STRATEGIES, ids=lambda p: p.name)
def test_every_stateless_shipped_signal_evaluates(path: Path, registry: Registry) -> None:
    validated = validate_file(path, registry)
    assert validated.ok, [d.render_line() for d in validated.diagnostics]
    assert validated.strategy is not None
    columns = ColumnNames(params=dict(validated.strategy.params))
    signals = {key: c for key, c in validated.expressions.items() if key[0] == "signals"}
    assert signals
    evaluated = 0
    for key, checked in signals.items():
        assert checked.tree is not None
        names: dict[str, ValueType] = {}
        for ref in checked.refs:
            if isinstance(ref, ParamRef):
                continue
            if isinstance(ref, StateRef):
                names[columns.column(ref)] = ValueType.TIME
            elif isinstance(ref, SignalRef):
                names[columns.column(ref)] = ValueType.BOOL
            else:
                names[columns.column(ref)] = ValueType.NUMBER
        if state_refs(checked.tree):
            with pytest.raises(StateInBatchError):
                to_polars(checked.tree, columns)
            continue
        frame = _random_frame(names or {"close": ValueType.NUMBER}, 60, seed=len(str(key)))
        out = frame.with_columns(to_polars(checked.tree, columns).alias("out"))["out"]
        assert out.dtype == pl.Boolean, key
        assert out.null_count() == 0, key
        assert len(out) == 60
        evaluated += 1
    assert evaluated, "every shipped strategy has at least one stateless signal"
