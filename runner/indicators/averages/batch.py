"""Batch forms of the averages family, and `moving_average`, the polars side of the
MA-type machinery that every `ma`-typed indicator builds on.

Every form here is one numba kernel (`kernels.py`) over whole columns: chained or
stacked averages as polars expressions re-evaluate their inputs at each level and
ran up to 30x TA-Lib's time at 1M bars. A multi-output indicator returns the
kernel's single struct expression (`kernel_columns`), which the API unnests, so the
kernel runs once for all its outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from runner.indicators.averages import kernels as k
from runner.indicators.columns import kernel_column, kernel_columns

Inputs = Mapping[str, pl.Expr]
Outputs = dict[str, pl.Expr]


def _hlc(inputs: Inputs) -> list[pl.Expr]:
    return [inputs["high"], inputs["low"], inputs["close"]]


def moving_average(kind: str, x: pl.Expr, period: int) -> pl.Expr:
    """TA-Lib's MA of `kind` over `period`, started at the first non-null value of `x`
    (a derived series with leading nulls is averaged from its first value).

    Period 1 is the input itself whatever the kind (TA-Lib's MA rule); T3 runs with
    volume factor 0.7, as TA-Lib's MA does.
    """
    if period == 1:
        return x
    code = k.KIND_CODES[kind]

    def run(s: pl.Series) -> pl.Series:
        s = s.cast(pl.Float64)
        if s.has_nulls():
            s = s.fill_null(np.nan)
        return pl.Series(s.name, k.average(s.to_numpy(), code, period), nan_to_null=True)

    return x.map_batches(run, return_dtype=pl.Float64)


def _average(kind: str, inputs: Inputs, period: int) -> Outputs:
    return {"value": kernel_column(k.average, [inputs["close"]], k.KIND_CODES[kind], period)}


# ---- single-series averages -------------------------------------------------------


def dema(inputs: Inputs, p: Any) -> Outputs:
    return _average("dema", inputs, p.period)


def tema(inputs: Inputs, p: Any) -> Outputs:
    return _average("tema", inputs, p.period)


def trima(inputs: Inputs, p: Any) -> Outputs:
    return _average("trima", inputs, p.period)


def kama(inputs: Inputs, p: Any) -> Outputs:
    return _average("kama", inputs, p.period)


def t3(inputs: Inputs, p: Any) -> Outputs:
    return {"value": kernel_column(k.t3, [inputs["close"]], p.period, float(p.vfactor))}


def rma(inputs: Inputs, p: Any) -> Outputs:
    return _average("rma", inputs, p.period)


def hma(inputs: Inputs, p: Any) -> Outputs:
    return _average("hma", inputs, p.period)


def zlema(inputs: Inputs, p: Any) -> Outputs:
    return _average("zlema", inputs, p.period)


def ma(inputs: Inputs, p: Any) -> Outputs:
    return _average(p.ma, inputs, p.period)


def mavp(inputs: Inputs, p: Any) -> Outputs:
    """Each bar's MA over its own period (see `kernels.mavp` for TA-Lib's seeding)."""
    return {"value": kernel_column(k.mavp, [inputs["close"], inputs["periods"]],
                                   p.min_period, p.max_period, k.KIND_CODES[p.ma])}


# ---- oscillators of two averages ------------------------------------------------


def _fast_slow(x: pl.Expr, p: Any, percent: bool) -> Outputs:
    return {"value": kernel_column(k.fast_slow, [x], k.KIND_CODES[p.ma], p.fast, p.slow,
                                   percent)}


def apo(inputs: Inputs, p: Any) -> Outputs:
    return _fast_slow(inputs["close"], p, False)


def ppo(inputs: Inputs, p: Any) -> Outputs:
    return _fast_slow(inputs["close"], p, True)


def pvo(inputs: Inputs, p: Any) -> Outputs:
    return _fast_slow(inputs["volume"], p, True)


MACD = ("macd", "signal", "hist")


def macdfix(inputs: Inputs, p: Any) -> pl.Expr:
    return kernel_columns(k.macdfix, [inputs["close"]], MACD, p.signal)


def macdext(inputs: Inputs, p: Any) -> pl.Expr:
    codes = k.KIND_CODES
    return kernel_columns(k.macdext, [inputs["close"]], MACD, p.fast, codes[p.fast_ma], p.slow,
                          codes[p.slow_ma], p.signal, codes[p.signal_ma])


# ---- stochastics ------------------------------------------------------------------


def stochf(inputs: Inputs, p: Any) -> pl.Expr:
    return kernel_columns(k.stochf, _hlc(inputs), ("k", "d"), p.k_period, p.d_period,
                          k.KIND_CODES[p.d_ma])


def stochrsi(inputs: Inputs, p: Any) -> pl.Expr:
    return kernel_columns(k.stochrsi, [inputs["close"]], ("k", "d"), p.period, p.k_period,
                          p.d_period, k.KIND_CODES[p.d_ma])


def kdj(inputs: Inputs, p: Any) -> pl.Expr:
    """TA-Lib's STOCH with Wilder averages by default, and J = 3 K - 2 D."""
    return kernel_columns(k.kdj, _hlc(inputs), ("k", "d", "j"), p.k_period, p.k_smooth,
                          k.KIND_CODES[p.k_ma], p.d_period, k.KIND_CODES[p.d_ma])
