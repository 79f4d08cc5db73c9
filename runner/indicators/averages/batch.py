"""Batch forms of the averages family, and `moving_average`, the polars side of the
MA-type machinery that every `ma`-typed indicator builds on.

A moving average here starts at the first non-null value of its input, the way
TA-Lib starts one at the first bar of its input range: an average of a derived
series (a %K, a MACD line) is seeded on that series' first values. A composite that
needs TA-Lib's later start for one of its averages (MACDEXT seeds the fast average
where the slow one starts) nulls the input before that row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import polars as pl

from runner.indicators.averages.incremental import ma_lookback
from runner.indicators.core.batch import TA_EPSILON

Inputs = Mapping[str, pl.Expr]
Outputs = dict[str, pl.Expr]

def _index() -> pl.Expr:
    return pl.int_range(0, pl.len(), dtype=pl.Int64)


def _kernel(x: pl.Expr, run: Callable[[np.ndarray], np.ndarray]) -> pl.Expr:
    """`run` over the values of `x` as a float array (nulls as NaN), NaN back to null."""
    def apply(s: pl.Series) -> pl.Series:
        values = s.cast(pl.Float64).fill_null(np.nan).to_numpy()
        return pl.Series(s.name, run(values), nan_to_null=True)

    return x.map_batches(apply, return_dtype=pl.Float64)


def moving_average(kind: str, x: pl.Expr, period: int) -> pl.Expr:
    """TA-Lib's MA of `kind` over `period`, started at the first non-null value of `x`.

    Period 1 is the input itself whatever the kind (TA-Lib's MA rule); T3 runs with
    volume factor 0.7, as TA-Lib's MA does. The averages are numba kernels
    (`kernels.average`): chained EMAs as polars expressions re-evaluate their input
    at every level and run tens of times slower than TA-Lib.
    """
    if period == 1:
        return x
    from runner.indicators.averages.kernels import KIND_CODES

    code = KIND_CODES[kind]

    def run(values: np.ndarray) -> np.ndarray:
        from runner.indicators.averages.kernels import average

        out: np.ndarray = average(values, code, period)
        return out

    return _kernel(x, run)


def starting_at(x: pl.Expr, row: int) -> pl.Expr:
    """`x` with the rows before `row` nulled, so an average of it starts there."""
    return pl.when(_index() >= row).then(x)


# ---- single-series averages -------------------------------------------------------


def dema(inputs: Inputs, p: Any) -> Outputs:
    return {"value": moving_average("dema", inputs["close"], p.period)}


def tema(inputs: Inputs, p: Any) -> Outputs:
    return {"value": moving_average("tema", inputs["close"], p.period)}


def trima(inputs: Inputs, p: Any) -> Outputs:
    return {"value": moving_average("trima", inputs["close"], p.period)}


def kama(inputs: Inputs, p: Any) -> Outputs:
    return {"value": moving_average("kama", inputs["close"], p.period)}


def t3(inputs: Inputs, p: Any) -> Outputs:
    close = inputs["close"]
    if p.period == 1:
        return {"value": close}

    def run(values: np.ndarray) -> np.ndarray:
        from runner.indicators.averages.kernels import t3 as t3_kernel

        out: np.ndarray = t3_kernel(values, p.period, float(p.vfactor))
        return out

    return {"value": _kernel(close, run)}


def rma(inputs: Inputs, p: Any) -> Outputs:
    return {"value": moving_average("rma", inputs["close"], p.period)}


def hma(inputs: Inputs, p: Any) -> Outputs:
    return {"value": moving_average("hma", inputs["close"], p.period)}


def zlema(inputs: Inputs, p: Any) -> Outputs:
    return {"value": moving_average("zlema", inputs["close"], p.period)}


def ma(inputs: Inputs, p: Any) -> Outputs:
    return {"value": moving_average(p.ma, inputs["close"], p.period)}


# ---- oscillators of two averages ------------------------------------------------


def _fast_slow(x: pl.Expr, p: Any) -> tuple[pl.Expr, pl.Expr]:
    """Both averages seeded from the first bar (TA-Lib's APO/PPO/PVO; not MACD's
    alignment): they only meet where the slow one starts."""
    return moving_average(p.ma, x, p.fast), moving_average(p.ma, x, p.slow)


def _percent_of(fast: pl.Expr, slow: pl.Expr) -> pl.Expr:
    """(fast - slow) / slow in percent, 0 where TA-Lib finds the slow average zero."""
    return (pl.when(slow.abs() < TA_EPSILON).then(0.0)
            .otherwise((fast - slow) / slow * 100.0))


def apo(inputs: Inputs, p: Any) -> Outputs:
    fast, slow = _fast_slow(inputs["close"], p)
    return {"value": fast - slow}


def ppo(inputs: Inputs, p: Any) -> Outputs:
    return {"value": _percent_of(*_fast_slow(inputs["close"], p))}


def pvo(inputs: Inputs, p: Any) -> Outputs:
    return {"value": _percent_of(*_fast_slow(inputs["volume"], p))}


def _ewm_alpha(x: pl.Expr, period: int, alpha: float) -> pl.Expr:
    def run(values: np.ndarray) -> np.ndarray:
        from runner.indicators.averages.kernels import ewm

        out: np.ndarray = ewm(values, period, alpha)
        return out

    return _kernel(x, run)


def _signal_lines(line: pl.Expr, signal: pl.Expr, ready: int) -> Outputs:
    line = pl.when(_index() >= ready).then(line)
    return {"macd": line, "signal": signal, "hist": line - signal}


def macdfix(inputs: Inputs, p: Any) -> Outputs:
    """MACD 12/26 with TA-Lib's fixed smoothing constants 0.15 and 0.075 (not 2/13 and
    2/27); the fast EMA is seeded on the 12 closes ending where the slow one starts."""
    close = inputs["close"]
    fast = _ewm_alpha(starting_at(close, 26 - 12), 12, 0.15)
    slow = _ewm_alpha(close, 26, 0.075)
    line = fast - slow
    signal = _ewm_alpha(line, p.signal, 2.0 / (p.signal + 1))
    return _signal_lines(line, signal, 25 + p.signal - 1)


def macdext(inputs: Inputs, p: Any) -> Outputs:
    """Both averages start where the later-starting one does (TA-Lib's MACDEXT), so an
    EMA-type fast average is seeded on the bars just before that row."""
    close = inputs["close"]
    fast_lb = ma_lookback(p.fast_ma, p.fast)
    slow_lb = ma_lookback(p.slow_ma, p.slow)
    start = max(fast_lb, slow_lb)
    fast = moving_average(p.fast_ma, starting_at(close, start - fast_lb), p.fast)
    slow = moving_average(p.slow_ma, starting_at(close, start - slow_lb), p.slow)
    line = fast - slow
    signal = moving_average(p.signal_ma, line, p.signal)
    return _signal_lines(line, signal, start + ma_lookback(p.signal_ma, p.signal))


# ---- stochastics ------------------------------------------------------------------


def _fast_k(high: pl.Expr, low: pl.Expr, close: pl.Expr, period: int) -> pl.Expr:
    """TA-Lib's raw %K: (close - lowest) / ((highest - lowest) / 100), 0 on a flat
    window (its `!= 0` test)."""
    lowest = low.rolling_min(period)
    highest = high.rolling_max(period)
    flat = (highest - lowest).abs() <= TA_EPSILON * (highest.abs() + lowest.abs())
    return pl.when(flat).then(0.0).otherwise((close - lowest) / ((highest - lowest) / 100.0))


def _k_and_d(fast_k: pl.Expr, p: Any, ready: int) -> Outputs:
    d = moving_average(p.d_ma, fast_k, p.d_period)
    return {"k": pl.when(_index() >= ready).then(fast_k), "d": d}


def stochf(inputs: Inputs, p: Any) -> Outputs:
    fast_k = _fast_k(inputs["high"], inputs["low"], inputs["close"], p.k_period)
    return _k_and_d(fast_k, p, p.k_period - 1 + ma_lookback(p.d_ma, p.d_period))


def stochrsi(inputs: Inputs, p: Any) -> Outputs:
    """STOCHF with the RSI as high, low and close."""
    from runner.indicators.core.batch import rsi

    value = rsi(inputs, p)["value"]
    fast_k = _fast_k(value, value, value, p.k_period)
    return _k_and_d(fast_k, p, p.period + p.k_period - 1 + ma_lookback(p.d_ma, p.d_period))


def kdj(inputs: Inputs, p: Any) -> Outputs:
    """TA-Lib's STOCH with Wilder averages by default, and J = 3 K - 2 D."""
    fast_k = _fast_k(inputs["high"], inputs["low"], inputs["close"], p.k_period)
    k = moving_average(p.k_ma, fast_k, p.k_smooth)
    d = moving_average(p.d_ma, k, p.d_period)
    ready = p.k_period - 1 + ma_lookback(p.k_ma, p.k_smooth) + ma_lookback(p.d_ma, p.d_period)
    k = pl.when(_index() >= ready).then(k)
    return {"k": k, "d": d, "j": 3.0 * k - 2.0 * d}
