"""Per-bar evaluation of checked expression trees.

The key property: stepping a stateless tree row by row gives exactly the column
`to_polars` computes over the whole frame (same nulls, same floats), for random
trees using every built-in function with random windows over random frames with
nulls and NaN. Then hand-checked state cases, plugin functions, errors, and every
expression of the shipped strategies stepped over a random frame.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.config.validate import validate_file
from runner.definitions import FunctionDef, FunctionParam
from runner.engine.expressions import ColumnNames, default_column, state_refs, to_polars
from runner.engine.per_bar import PerBarError, Values, compile_per_bar
from runner.expr import IndicatorInfo, Scope, analyze
from runner.expr.ast import Call, Expr, Number
from runner.expr.functions import builtin_functions
from runner.expr.parser import parse
from runner.expr.scope import ParamRef, SignalRef, StateRef
from runner.expr.types import ValueType
from runner.plugins import Registry

ROOT = Path(__file__).resolve().parents[3]
STRATEGIES = sorted((ROOT / "strategies.d").glob("*.yaml"))


def _double_incremental(x: float | None, k: float) -> float | None:
    return None if x is None else x * k


DOUBLE = FunctionDef(
    "double",
    (FunctionParam("x", ValueType.NUMBER), FunctionParam("k", ValueType.NUMBER, 2, const=True)),
    ValueType.NUMBER,
    batch=lambda x, k: x * k,
    incremental=_double_incremental,
)
POSITIVE = FunctionDef(
    "positive",
    (FunctionParam("x", ValueType.NUMBER),),
    ValueType.BOOL,
    incremental=lambda x: None if x is None else x > 0,
)
BAD = FunctionDef(
    "bad", (FunctionParam("x", ValueType.NUMBER),), ValueType.NUMBER, incremental=lambda x: "x"
)
NO_INCREMENTAL = FunctionDef(
    "noinc", (FunctionParam("x", ValueType.NUMBER),), ValueType.NUMBER, batch=lambda x: x
)

SCOPE = Scope(
    indicators={
        "a": IndicatorInfo(("value",)),
        "b": IndicatorInfo(("value",)),
        "c": IndicatorInfo(("value",)),
        "atr": IndicatorInfo(("value",)),
    },
    signals=frozenset({"sig"}),
    params=frozenset({"p", "n2"}),
    instruments=frozenset({"ETHUSDT"}),
    timeframes=("1m", "1h"),
    functions={
        **builtin_functions(),
        "double": DOUBLE,
        "positive": POSITIVE,
        "bad": BAD,
        "noinc": NO_INCREMENTAL,
    },
)
PARAMS = {"p": 1.5, "n2": 2.0}
NO_STATE: dict[str, float | None] = {}


def tree(text: str) -> Expr:
    checked = analyze(text, SCOPE)
    assert checked.ok, [str(i) for i in checked.issues]
    assert checked.tree is not None
    return checked.tree


def run(
    text: str,
    rows: Sequence[Values],
    states: Sequence[Mapping[str, float | None]] | None = None,
) -> list[float | bool | None]:
    expr = compile_per_bar(tree(text), PARAMS)
    states = states or [NO_STATE] * len(rows)
    return [expr.step(row, state) for row, state in zip(rows, states, strict=True)]


def column(name: str, values: Sequence[float | bool | datetime | None]) -> list[Values]:
    return [{name: v} for v in values]


N = None

# -- hand-checked cases ---------------------------------------------------------------


def test_state_entry_price_none_compares_false() -> None:
    rows: list[Values] = [{"close": 90.0, "atr": 2.0}] * 3
    states: list[dict[str, float | None]] = [
        {"entry_price": None},
        {"entry_price": 100.0},
        {"entry_price": 93.0},
    ]
    assert run("close < entry_price - 2 * atr", rows, states) == [False, True, False]
    assert run("not (close < entry_price - 2 * atr)", rows, states) == [True, False, True]


def test_state_values() -> None:
    rows: list[Values] = [{"a": 1.0}] * 3
    states: list[dict[str, float | None]] = [
        {"position": 0.0, "ETHUSDT.position": 2.0, "equity": 100.0, "cash": 50.0, "bar_index": 0},
        {
            "position": 1.0,
            "ETHUSDT.position": math.nan,
            "equity": 90.0,
            "cash": 0.0,
            "bar_index": 1,
        },
        {"position": 1.0, "ETHUSDT.position": 0.0, "equity": 120.0, "cash": 0.0, "bar_index": 2},
    ]
    assert run("position * 10 + ETHUSDT.position", rows, states) == [2.0, N, 10.0]
    assert run("bars_since(position > 0)", rows, states) == [N, 0.0, 0.0]
    assert run("change(equity)", rows, states) == [N, -10.0, 30.0]
    assert run("highest(equity - cash, 2)", rows, states) == [N, 90.0, 120.0]
    assert run("bar_index % 2 == 0 and a > 0", rows, states) == [True, False, True]


def test_bars_since_over_a_boolean_with_nulls() -> None:
    rows = column("sig", [N, False, True, N, False, True, N])
    assert run("bars_since(sig)", rows) == [N, N, 0.0, 1.0, 2.0, 0.0, 1.0]
    assert run("bars_since(not sig)", rows) == [0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0]
    assert run("prev(sig, 2)", rows) == [False, False, False, False, True, False, False]


def test_windowed_functions_by_hand() -> None:
    rows = column("a", [1.0, 3.0, 2.0, N, 5.0, math.nan, 0.0, 1.0, 2.0])
    assert run("prev(a)", rows) == [N, 1.0, 3.0, 2.0, N, 5.0, N, 0.0, 1.0]
    assert run("change(a, n=n2)", rows) == [N, N, 1.0, N, 3.0, N, -5.0, N, 2.0]
    assert run("pct_change(a)", rows)[:3] == [N, 200.0, (2.0 / 3.0 - 1.0) * 100.0]
    assert run("pct_change(a)", rows)[7] is None, "from zero: null"
    assert run("highest(a, 2)", rows) == [N, 3.0, 3.0, N, N, N, N, 1.0, 2.0]
    assert run("lowest(a, 2)", rows) == [N, 1.0, 2.0, N, N, N, N, 0.0, 1.0]
    assert run("rising(a, 2)", rows) == [False] * 8 + [True]
    assert run("falling(a, 1)", rows) == [False, False, True] + [False] * 6
    assert run("crosses_above(a, 1.5)", rows) == [False, True] + [False] * 6 + [True]
    assert run("crosses_below(a, 1.5)", rows) == [False] * 7 + [False, False]


def test_round_clock_and_min_max() -> None:
    rows = column("a", [1.25, 2.5, -2.5, 1250.0, N])
    assert run("round(a, 1)", rows) == [1.2, 2.5, -2.5, 1250.0, N]
    assert run("round(a)", rows) == [1.0, 2.0, -2.0, 1250.0, N]
    assert run("round(a, -2)", rows) == [0.0, 0.0, -0.0, 1200.0, N]
    # polars scales, rounds and scales back; Python's round would give 0.013 here
    assert run("round(a, 3)", column("a", [0.0125])) == [0.012]
    assert pl.Series([0.0125]).round(3, mode="half_to_even").to_list() == [0.012]
    assert run("min(a, 2, p)", rows) == [1.25, 1.5, -2.5, 1.5, N]
    times = [datetime(2024, 3, 8, 20, 55), datetime(2024, 3, 11, 3, 30, tzinfo=UTC), N]
    assert run('hour(time, "America/Chicago")', column("time", times)) == [14.0, 22.0, N]
    assert run("weekday(time)", column("time", times)) == [4.0, 0.0, N]
    tokyo = [datetime(2024, 3, 11, 12, 30, tzinfo=ZoneInfo("Asia/Tokyo"))]
    assert run("minute(time) + hour(time)", column("time", tokyo)) == [33.0]


def test_logic_evaluates_both_sides_every_bar() -> None:
    # `false and prev(a) > 0` must still feed prev's history on every bar
    rows = [{"a": 1.0, "b": 0.0}, {"a": 2.0, "b": 1.0}]
    assert run("b > 0 and prev(a) > 0", rows) == [False, True]
    assert run("b < 1 or crosses_above(a, 1.5)", rows) == [True, True]


def test_each_compile_has_its_own_history() -> None:
    checked = tree("prev(a)")
    first, second = compile_per_bar(checked, PARAMS), compile_per_bar(checked, PARAMS)
    assert first.step({"a": 1.0}, NO_STATE) is None
    assert first.step({"a": 2.0}, NO_STATE) == 1.0
    assert second.step({"a": 5.0}, NO_STATE) is None


def test_plugin_functions_run_incrementally() -> None:
    rows = column("a", [1.0, N, -2.0, 1e308])
    assert run("double(a)", rows) == [2.0, N, -4.0, N]
    assert run("double(a, k=p)", rows) == [1.5, N, -3.0, 1.5e308]
    assert run("positive(a)", rows) == [True, False, False, True]
    with pytest.raises(PerBarError, match="no incremental implementation"):
        compile_per_bar(tree("noinc(a)"), PARAMS)
    with pytest.raises(PerBarError, match="returned str"):
        run("bad(a)", rows)


def test_errors() -> None:
    with pytest.raises(PerBarError, match='no value for param "p"'):
        compile_per_bar(tree("a > p"), {})
    with pytest.raises(PerBarError, match="unresolved"):
        compile_per_bar(parse("a > 1"), PARAMS)
    with pytest.raises(PerBarError, match="not checked"):
        compile_per_bar(Call("abs", (Number(1.0, start=4, end=5),), start=0, end=6), PARAMS)
    expr = compile_per_bar(tree("a > 0 and position > 0"), PARAMS)
    with pytest.raises(PerBarError, match='no value for "a"') as info:
        expr.step({}, {"position": 1.0})
    assert (info.value.start, info.value.end) == (0, 1)
    with pytest.raises(PerBarError, match='"position" in this bar\'s state'):
        expr.step({"a": 1.0}, {})


# -- property: per bar equals batch ---------------------------------------------------

WINDOWS = st.one_of(st.integers(1, 4).map(str), st.just("n=n2"))
ZONES = st.sampled_from(['"UTC"', '"America/Chicago"', '"Asia/Kolkata"', '"Europe/London"'])
LEAVES = st.sampled_from(["a", "b", "c", "p", "0", "1", "2.5", "3"])


def _bools_of(numbers: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(
            lambda x, op, y: f"({x} {op} {y})",
            numbers,
            st.sampled_from(["<", "<=", ">", ">=", "==", "!="]),
            numbers,
        ),
        st.sampled_from(["sig", "true", "false"]),
        st.builds(
            lambda f, x, y: f"{f}({x}, {y})",
            st.sampled_from(["crosses_above", "crosses_below"]),
            numbers,
            numbers,
        ),
        st.builds(
            lambda f, x, n: f"{f}({x}, {n})",
            st.sampled_from(["rising", "falling"]),
            numbers,
            WINDOWS,
        ),
        st.builds(lambda x, lo, hi: f"between({x}, {lo}, {hi})", numbers, numbers, numbers),
    )


def _extend_numbers(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
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
        st.builds(
            lambda f, x, n: f"{f}({x}, {n})",
            st.sampled_from(["prev", "change", "pct_change", "highest", "lowest"]),
            inner,
            WINDOWS,
        ),
        st.builds(
            lambda f, x: f"{f}({x})", st.sampled_from(["prev", "change", "pct_change"]), inner
        ),
        st.builds(lambda x, d: f"round({x}, {d})", inner, st.integers(-2, 4)),
        st.builds(lambda x: f"round({x})", inner),
        st.builds(lambda c: f"bars_since({c})", _bools_of(inner)),
        st.builds(
            lambda f, z: f"{f}(time, {z})", st.sampled_from(["hour", "minute", "weekday"]), ZONES
        ),
        st.builds(lambda x: f"double({x}, p)", inner),
    )


NUMBER_EXPRS = st.recursive(LEAVES, _extend_numbers, max_leaves=8)
BOOL_EXPRS = st.recursive(
    _bools_of(NUMBER_EXPRS),
    lambda inner: st.one_of(
        st.builds(lambda x, op, y: f"({x} {op} {y})", inner, st.sampled_from(["and", "or"]), inner),
        st.builds(lambda x: f"(not {x})", inner),
        st.builds(lambda x, op, y: f"({x} {op} {y})", inner, st.sampled_from(["==", "!="]), inner),
        st.builds(lambda x, n: f"prev({x}, {n})", inner, WINDOWS),
        st.builds(lambda x: f"(bars_since({x}) > 1)", inner),
    ),
    max_leaves=4,
)
CELLS = st.one_of(
    st.none(),
    st.just(math.nan),
    st.sampled_from([0.0, 1.0, -1.0, 2.5, 3.0, -0.5, 0.125, 0.0125, 1.005]),
    st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False),
)
FLAGS = st.one_of(st.none(), st.booleans())
TIMES = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2035, 12, 31))
TIME_ZONES = st.sampled_from([None, "UTC", "Asia/Tokyo", "America/New_York"])


def _frame(
    rows: Sequence[tuple[float | None, float | None, float | None]],
    flags: list[bool | None],
    times: list[datetime],
    zone: str | None,
) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            **{
                name: pl.Series([r[i] for r in rows], dtype=pl.Float64)
                for i, name in enumerate("abc")
            },
            "sig": pl.Series(flags, dtype=pl.Boolean),
            "time": pl.Series(times, dtype=pl.Datetime("us")),
        }
    )
    if zone is not None:
        frame = frame.with_columns(
            pl.col("time").dt.replace_time_zone("UTC").dt.convert_time_zone(zone)
        )
    return frame


def assert_same(expected: list[object], got: list[object], context: object) -> None:
    assert len(expected) == len(got)
    for i, (want, value) in enumerate(zip(expected, got, strict=True)):
        if want is None:
            assert value is None, (context, i, value)
        else:
            assert type(value) is type(want), (context, i, value, want)
            assert value == want, (context, i, value, want)


@settings(max_examples=400, deadline=None)
@given(
    text=st.one_of(NUMBER_EXPRS, BOOL_EXPRS),
    data=st.data(),
)
def test_stepping_equals_batch(text: str, data: st.DataObject) -> None:
    size = data.draw(st.integers(1, 12))
    rows = data.draw(st.lists(st.tuples(CELLS, CELLS, CELLS), min_size=size, max_size=size))
    flags = data.draw(st.lists(FLAGS, min_size=size, max_size=size))
    times = data.draw(st.lists(TIMES, min_size=size, max_size=size))
    frame = _frame(rows, flags, times, data.draw(TIME_ZONES))
    checked = tree(text)
    expected = frame.select(to_polars(checked, ColumnNames(params=PARAMS)).alias("out"))
    expr = compile_per_bar(checked, PARAMS)
    got = [expr.step(row, NO_STATE) for row in frame.iter_rows(named=True)]
    assert_same(expected["out"].to_list(), list(got), text)


# -- the shipped strategies ------------------------------------------------------------


DTYPES: dict[ValueType, pl.DataType] = {
    ValueType.TIME: pl.Datetime("us", "UTC"),
    ValueType.BOOL: pl.Boolean(),
    ValueType.NUMBER: pl.Float64(),
}


def _random_values(names: Mapping[str, ValueType], rng: random.Random, i: int) -> Values:
    start = datetime(2024, 3, 8, tzinfo=UTC)
    row: dict[str, float | bool | datetime | None] = {}
    for name, value_type in names.items():
        if value_type is ValueType.TIME:
            row[name] = start + timedelta(minutes=37 * i)
        elif value_type is ValueType.BOOL:
            row[name] = None if rng.random() < 0.1 else rng.random() < 0.5
        else:
            row[name] = None if rng.random() < 0.15 else rng.uniform(0, 100)
    return row


@pytest.mark.parametrize("path", STRATEGIES, ids=lambda p: p.name)
def test_every_shipped_expression_steps(path: Path, registry: Registry) -> None:
    validated = validate_file(path, registry)
    assert validated.ok, [d.render_line() for d in validated.diagnostics]
    assert validated.strategy is not None
    params = dict(validated.strategy.params)
    assert validated.expressions
    for key, checked in validated.expressions.items():
        assert checked.tree is not None
        names: dict[str, ValueType] = {}
        state_names: list[str] = []
        for ref in checked.refs:
            if isinstance(ref, ParamRef):
                continue
            name = default_column(ref)
            if isinstance(ref, StateRef) and ref.name != "time":
                state_names.append(name)
            elif isinstance(ref, StateRef):
                names[name] = ValueType.TIME
            elif isinstance(ref, SignalRef):
                names[name] = ValueType.BOOL
            else:
                names[name] = ValueType.NUMBER
        rng = random.Random(str(key))
        expr = compile_per_bar(checked.tree, params)
        rows = [_random_values(names, rng, i) for i in range(60)]
        got: list[float | bool | None] = []
        for i, row in enumerate(rows):
            state: dict[str, float | None] = {
                name: (None if rng.random() < 0.2 else rng.uniform(-5, 100)) for name in state_names
            }
            if "bar_index" in state:
                state["bar_index"] = float(i)
            value = expr.step(row, state)
            if checked.tree.type is ValueType.BOOL:
                assert isinstance(value, bool), key
            else:
                assert value is None or (isinstance(value, float) and math.isfinite(value)), key
            got.append(value)
        if not state_refs(checked.tree) and names:
            frame = pl.DataFrame(
                {
                    name: pl.Series(
                        [row[name] for row in rows],
                        dtype=DTYPES[value_type],
                    )
                    for name, value_type in names.items()
                }
            )
            batch = frame.select(to_polars(checked.tree, ColumnNames(params=params)).alias("o"))
            assert_same(batch["o"].to_list(), list(got), key)


@pytest.mark.parametrize("digits", [0, 2, 5, 16, 22, 23, 30, 100, 300, 308, -1, -3])
def test_round_matches_polars_for_any_digits(digits: int) -> None:
    rng = random.Random(digits)
    cells = [rng.uniform(-1e3, 1e3) * 10.0 ** rng.randint(-300, 5) for _ in range(400)]
    cells += [0.0125, 2.675, -0.5, 0.5, 1.5, 1e300, -1.7e308, 0.0]
    frame = pl.DataFrame({"a": pl.Series(cells, dtype=pl.Float64)})
    text = f"round(a, {digits})"
    expected = frame.select(to_polars(tree(text), ColumnNames(params=PARAMS)).alias("o"))
    assert_same(expected["o"].to_list(), list(run(text, column("a", cells))), text)
