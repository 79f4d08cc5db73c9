"""Run metrics: hand-checked numbers, every documented edge case, and a property test
against a slow exact (Fraction) reference."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.engine.metrics import METRIC_KEYS, drawdown, metrics

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def curve(values: list[float], in_position: list[bool] | None = None) -> pl.DataFrame:
    n = len(values)
    return pl.DataFrame({
        "time": [T0 + timedelta(days=i) for i in range(n)],
        "equity": [float(v) for v in values],
        "cash": [float(v) for v in values],
        "in_position": in_position if in_position is not None else [False] * n,
    }, schema={"time": pl.Datetime("ms", "UTC"), "equity": pl.Float64,
               "cash": pl.Float64, "in_position": pl.Boolean})


def trades(pnl: list[float], fees: list[float] | None = None) -> pl.DataFrame:
    return pl.DataFrame({"pnl": pnl, "fees": fees if fees is not None else [0.0] * len(pnl)},
                        schema={"pnl": pl.Float64, "fees": pl.Float64})


NO_TRADES = trades([])


def test_hand_checked_example() -> None:
    # returns 0.2, -0.1, 0.2: mean 0.1, sample stdev sqrt(0.03), downside deviation
    # sqrt(0.01 / 3); with 3 bars a year: sharpe = 0.1 / sqrt(.03) * sqrt(3) = 1,
    # sortino = 0.1 / sqrt(.01 / 3) * sqrt(3) = 3, cagr = total return (one year).
    m = metrics(curve([100, 120, 108, 129.6], [False, True, True, False]),
                trades([10, -5, 15, 0], [1, 1, 1, 0.5]), 3)
    assert list(m) == list(METRIC_KEYS)
    assert m["total_return"] == pytest.approx(0.296)
    assert m["cagr"] == pytest.approx(0.296)
    assert m["sharpe"] == pytest.approx(1.0)
    assert m["sortino"] == pytest.approx(3.0)
    assert m["max_drawdown"] == pytest.approx(0.1)  # 120 -> 108
    assert m["win_rate"] == 0.5  # the break-even trade is not a win
    assert m["profit_factor"] == pytest.approx(5.0)  # 25 / 5
    assert m["exposure"] == 0.5
    assert m["fees"] == 3.5


def test_annualisation_scales_with_sqrt_bars_per_year() -> None:
    a = metrics(curve([100, 120, 108, 129.6]), NO_TRADES, 3)
    b = metrics(curve([100, 120, 108, 129.6]), NO_TRADES, 12)
    assert b["sharpe"] == pytest.approx(a["sharpe"] * 2)
    assert b["sortino"] == pytest.approx(a["sortino"] * 2)
    assert b["cagr"] == pytest.approx(1.296 ** 4 - 1)  # 3 bars = a quarter year


def test_initial_cash_is_the_base() -> None:
    m = metrics(curve([110, 99]), NO_TRADES, 2, initial_cash=100)
    assert m["total_return"] == pytest.approx(-0.01)
    assert m["cagr"] == pytest.approx(-0.01)  # 2 returns, 2 bars a year
    assert m["max_drawdown"] == pytest.approx(0.1)
    # the peak starts at initial_cash: a curve that never reaches it is in drawdown
    assert metrics(curve([90]), NO_TRADES, 1, initial_cash=100)["max_drawdown"] == (
        pytest.approx(0.1))


def test_no_trades() -> None:
    m = metrics(curve([100, 101, 102]), NO_TRADES, 252)
    assert m["win_rate"] is None
    assert m["profit_factor"] is None
    assert m["fees"] == 0.0
    # a frame without even the columns counts as no trades too
    assert metrics(curve([100, 101]), pl.DataFrame(), 252)["win_rate"] is None


def test_flat_equity() -> None:
    m = metrics(curve([100, 100, 100, 100]), NO_TRADES, 252)
    assert m["total_return"] == 0.0
    assert m["cagr"] == 0.0
    assert m["sharpe"] is None  # stdev 0
    assert m["sortino"] is None  # no downside
    assert m["max_drawdown"] == 0.0
    assert m["exposure"] == 0.0


def test_single_bar() -> None:
    m = metrics(curve([100], [True]), NO_TRADES, 252)
    assert m == {"total_return": 0.0, "cagr": None, "sharpe": None, "sortino": None,
                 "max_drawdown": 0.0, "win_rate": None, "profit_factor": None,
                 "exposure": 1.0, "fees": 0.0}
    # with initial cash a single bar is one return: cagr defined, sharpe not
    m = metrics(curve([110]), NO_TRADES, 4, initial_cash=100)
    assert m["cagr"] == pytest.approx(1.1 ** 4 - 1)
    assert m["sharpe"] is None


def test_two_bars_have_one_return_so_no_sharpe() -> None:
    m = metrics(curve([100, 110]), NO_TRADES, 252)
    assert m["sharpe"] is None and m["sortino"] is None
    assert m["total_return"] == pytest.approx(0.1)


def test_constant_return_has_no_sharpe_and_no_sortino() -> None:
    m = metrics(curve([100, 200, 400, 800]), NO_TRADES, 252)
    assert m["sharpe"] is None
    assert m["sortino"] is None


def test_profit_factor_rules() -> None:
    assert metrics(curve([1]), trades([1, 2]), 1)["profit_factor"] == math.inf
    assert metrics(curve([1]), trades([-1, -2]), 1)["profit_factor"] == 0.0
    assert metrics(curve([1]), trades([0, 0]), 1)["profit_factor"] is None
    assert metrics(curve([1]), trades([0, 0]), 1)["win_rate"] == 0.0


def test_cagr_overflow_is_inf() -> None:
    assert metrics(curve([1, 1000]), NO_TRADES, 8760)["cagr"] == math.inf


def test_equity_through_zero() -> None:
    m = metrics(curve([100, -50, 10]), NO_TRADES, 2)
    assert m["max_drawdown"] == pytest.approx(1.5)
    assert m["sharpe"] is None and m["sortino"] is None  # a return from -50 is undefined
    assert m["cagr"] == pytest.approx(0.1 ** 1 - 1)
    assert metrics(curve([100, 50, 0]), NO_TRADES, 2)["cagr"] == -1.0
    assert metrics(curve([100, -5]), NO_TRADES, 2)["cagr"] == -1.0


def test_fees_from_fills_when_given() -> None:
    fills = pl.DataFrame({"fee": [0.25, 0.5, -0.125]})
    m = metrics(curve([1]), trades([1.0], [0.75]), 1, fills=fills)
    assert m["fees"] == 0.625


def test_null_positions_count_as_flat() -> None:
    eq = curve([1, 1, 1, 1]).with_columns(
        pl.Series("in_position", [True, None, False, True], dtype=pl.Boolean))
    assert metrics(eq, NO_TRADES, 1)["exposure"] == 0.5


def test_custom_position_column() -> None:
    eq = curve([1, 1]).with_columns(pl.Series("busy", [True, True]))
    assert metrics(eq, NO_TRADES, 1, position_column="busy")["exposure"] == 1.0


@pytest.mark.parametrize(("frame", "kwargs", "message"), [
    (curve([]), {}, "empty"),
    (curve([0, 1]), {}, "positive"),
    (curve([1]), {"initial_cash": -1.0}, "positive"),
    (curve([1]).drop("in_position"), {}, "in_position"),
    (curve([1]).with_columns(pl.lit(1).alias("in_position")), {}, "Boolean"),
    (curve([1]).drop("equity"), {}, "equity"),
    (curve([1, 2]).with_columns(pl.Series("equity", [1.0, None])), {}, "nulls"),
])
def test_invalid_input(frame: pl.DataFrame, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        metrics(frame, NO_TRADES, 252, **kwargs)


@pytest.mark.parametrize("bpy", [0.0, -1.0, math.inf, math.nan])
def test_invalid_bars_per_year(bpy: float) -> None:
    with pytest.raises(ValueError, match="bars_per_year"):
        metrics(curve([1]), NO_TRADES, bpy)


def test_drawdown_series() -> None:
    dd = drawdown(pl.Series([100.0, 120.0, 108.0, 130.0]))
    assert dd.name == "drawdown"
    assert dd.to_list() == pytest.approx([0.0, 0.0, 0.1, 0.0])
    assert drawdown(pl.Series([90.0]), initial_cash=100).to_list() == pytest.approx([0.1])


# -- property test against a slow exact reference ------------------------------------------

def reference(values: list[float], pnl: list[float], fees: list[float], pos: list[bool],
              bpy: float, initial_cash: float | None) -> dict[str, Any]:
    """The module docstring's definitions, computed with exact fractions where possible."""
    pts = ([Fraction(initial_cash)] if initial_cash is not None else []) + [
        Fraction(v) for v in values]
    n = len(pts) - 1
    out: dict[str, Any] = {"total_return": float(pts[-1] / pts[0] - 1)}
    if n == 0:
        out["cagr"] = None
    elif pts[-1] <= 0:
        out["cagr"] = -1.0
    else:
        try:
            out["cagr"] = float(pts[-1] / pts[0]) ** (bpy / n) - 1
        except OverflowError:
            out["cagr"] = math.inf
    out["sharpe"] = out["sortino"] = None
    if n >= 2 and all(p > 0 for p in pts[:-1]):
        rets = [pts[i] / pts[i - 1] - 1 for i in range(1, len(pts))]
        mean = sum(rets, Fraction(0)) / n
        var = sum(((r - mean) ** 2 for r in rets), Fraction(0)) / (n - 1)
        down = sum((min(r, Fraction(0)) ** 2 for r in rets), Fraction(0)) / n
        if var > 0:
            out["sharpe"] = float(mean) / math.sqrt(var) * math.sqrt(bpy)
        if down > 0:
            out["sortino"] = float(mean) / math.sqrt(down) * math.sqrt(bpy)
    worst = Fraction(0)
    for i in range(len(pts)):
        peak = max(pts[: i + 1])
        worst = max(worst, (peak - pts[i]) / peak)
    out["max_drawdown"] = float(worst)
    wins = [p for p in pnl if p > 0]
    losses = [p for p in pnl if p < 0]
    out["win_rate"] = len(wins) / len(pnl) if pnl else None
    if not pnl or (not wins and not losses):
        out["profit_factor"] = None
    elif not losses:
        out["profit_factor"] = math.inf
    else:
        out["profit_factor"] = float(sum(map(Fraction, wins), Fraction(0))
                                     / -sum(map(Fraction, losses), Fraction(0)))
    out["exposure"] = sum(pos) / len(pos)
    out["fees"] = float(sum(map(Fraction, fees), Fraction(0)))
    return out


def close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if math.isinf(a) or math.isinf(b):
        return bool(a == b)
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


money = st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: round(x, 2))


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.integers(-200, 2000), min_size=1, max_size=30),
    pnl=st.lists(money, max_size=20),
    bpy=st.sampled_from([1.0, 12.0, 252.0, 365.0, 8760.0]),
    initial_cash=st.one_of(st.none(), st.integers(1, 2000)),
    data=st.data(),
)
def test_matches_reference(values: list[int], pnl: list[float], bpy: float,
                           initial_cash: int | None, data: st.DataObject) -> None:
    if initial_cash is None and values[0] <= 0:
        values[0] = 1
    pos = data.draw(st.lists(st.booleans(), min_size=len(values), max_size=len(values)))
    fees = data.draw(st.lists(st.floats(0, 100).map(lambda x: round(x, 3)),
                              min_size=len(pnl), max_size=len(pnl)))
    vals = [float(v) for v in values]
    cash = None if initial_cash is None else float(initial_cash)
    got = metrics(curve(vals, pos), trades(pnl, fees), bpy, initial_cash=cash)
    want = reference(vals, pnl, fees, pos, bpy, cash)
    assert list(got) == list(METRIC_KEYS)
    for key in METRIC_KEYS:
        if key == "cagr" and want[key] not in (None, math.inf) and got[key] is not None:
            # a power of a large ratio amplifies rounding: compare the growth factor
            assert math.isclose(got[key] + 1, want[key] + 1, rel_tol=1e-9), key
        else:
            assert close(got[key], want[key]), (key, got[key], want[key])


# -- exact sums: the compiled kernels, the math.fsum path and the original formulas ----

def _original_sums(returns: Any, n: int) -> tuple[float, float, float]:
    """The sums as first written: math.fsum over every term."""
    import numpy as np

    mean = math.fsum(returns.tolist()) / n
    deviation = returns - mean
    losses = np.minimum(returns, 0.0)
    return (mean, math.fsum((deviation * deviation).tolist()),
            math.fsum((losses * losses).tolist()))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.just(0.0), st.just(-0.0),
                          st.floats(-1e3, 1e3, allow_nan=False),
                          st.floats(-1e-300, 1e-300),
                          st.sampled_from([1e-320, -1e154, 1e200, math.inf, math.nan])),
                min_size=2, max_size=80),
       st.booleans())
def test_return_sums_are_math_fsum_bit_for_bit(values: list[float], jit: bool) -> None:
    import numpy as np

    import runner.engine.metrics as engine_metrics

    returns = np.array(values, dtype=np.float64)

    def outcome(sums: Any) -> Any:
        try:
            with np.errstate(all="ignore"):
                return [x.hex() if x == x else "nan" for x in sums(returns, len(values))]
        except (OverflowError, ValueError) as exc:  # as math.fsum raises them
            return type(exc)

    original = engine_metrics.JIT_MIN_VALUES
    engine_metrics.JIT_MIN_VALUES = 0 if jit else 10**12
    try:
        got = outcome(engine_metrics._return_sums)
    finally:
        engine_metrics.JIT_MIN_VALUES = original
    assert got == outcome(_original_sums)


def test_many_zero_returns_sum_exactly() -> None:
    import numpy as np

    from runner.engine.metrics import _return_sums

    rng = np.random.default_rng(7)
    returns = rng.normal(0, 1e-4, 40_000) * (rng.random(40_000) < 0.3)
    assert _return_sums(returns, len(returns)) == _original_sums(returns, len(returns))


def test_shared_curve_gives_the_same_metrics() -> None:
    import numpy as np

    from runner.engine.metrics import curve_stats

    frame = curve([100, 104, 99, 99, 99, 101, 120, 90, 95], [True] * 4 + [False] * 5)
    deals = trades([3.0, -2.0, 0.0])
    shared = curve_stats(frame["equity"].to_numpy(), 100.0)
    assert metrics(frame, deals, 252, initial_cash=100.0, shared=shared) == metrics(
        frame, deals, 252, initial_cash=100.0)
    assert drawdown(frame["equity"], 100.0).to_list() == shared[1].tolist()
    # the same operations as over the curve with the initial cash in front
    values = np.array([100.0, *frame["equity"].to_list()])
    peaks = np.maximum.accumulate(values)
    assert shared[0].tolist() == peaks[1:].tolist()
    assert shared[1].tolist() == ((peaks - values) / peaks)[1:].tolist()
    assert shared[2] is not None
    assert shared[2].tolist() == (values[1:] / values[:-1] - 1.0).tolist()
