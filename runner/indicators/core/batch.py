"""Batch forms: whole polars columns, for backtests.

Each function takes the indicator's input expressions by role and its validated
params, and returns one polars expression per output (or one struct expression for
a multi-output kernel), so the compiler can put every indicator of a strategy into
a single `with_columns` pass. Windowed and recursive ones run numba kernels
(`kernels.py`, through `runner.native`); element-wise ones are plain expressions.

TA-Lib is the reference, including its seeding rules (an EMA starts from the SMA of
its first `period` values; Wilder averages from the mean of the first `period`
values) and its zero tests (`TA_IS_ZERO`: |v| < 1e-14), which is why some formulas
below look more particular than a textbook's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from runner.indicators.columns import full_height, kernel_column, kernel_columns
from runner.native import kernel_module

k = kernel_module("runner.indicators.core.kernels")
"""The kernels, compiled ahead of time when built (`runner.native`), else by numba."""

Inputs = Mapping[str, pl.Expr]
Outputs = dict[str, pl.Expr]


def _hlc(inputs: Inputs) -> list[pl.Expr]:
    return [inputs["high"], inputs["low"], inputs["close"]]


def sma(inputs: Inputs, p: Any) -> Outputs:
    return {"value": kernel_column(k.rolling_mean, [inputs["close"]], p.period)}


def ema(inputs: Inputs, p: Any) -> Outputs:
    return {"value": kernel_column(k.seeded_ewm, [inputs["close"]], p.period,
                                   2.0 / (p.period + 1), 0)}


def wma(inputs: Inputs, p: Any) -> Outputs:
    return {"value": kernel_column(k.wma, [inputs["close"]], p.period)}


def atr(inputs: Inputs, p: Any) -> Outputs:
    return {"value": kernel_column(k.atr, _hlc(inputs), p.period)}


def rsi(inputs: Inputs, p: Any) -> Outputs:
    return {"value": kernel_column(k.rsi, [inputs["close"]], p.period)}


def macd(inputs: Inputs, p: Any) -> pl.Expr:
    return kernel_columns(k.macd, [inputs["close"]], ("macd", "signal", "hist"), p.fast, p.slow,
                          p.signal)


def bbands(inputs: Inputs, p: Any) -> pl.Expr:
    return kernel_columns(k.bbands, [inputs["close"]], ("upper", "middle", "lower"), p.period,
                          float(p.stddev))


def stoch(inputs: Inputs, p: Any) -> pl.Expr:
    return kernel_columns(k.stoch, _hlc(inputs), ("k", "d"), p.k_period, p.k_smooth,
                          p.d_period)


def _guarded_ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    """num / den, or 0 where TA-Lib's `den != 0` test fails."""
    return pl.when(den != 0.0).then(num / den).otherwise(0.0)


def mom(inputs: Inputs, p: Any) -> Outputs:
    close = inputs["close"]
    return {"value": close - close.shift(p.period)}


def roc(inputs: Inputs, p: Any) -> Outputs:
    close = inputs["close"]
    prev = close.shift(p.period)
    return {"value": pl.when(prev.is_null()).then(None)
            .when(prev != 0.0).then((close / prev - 1.0) * 100.0).otherwise(0.0)}


def rocp(inputs: Inputs, p: Any) -> Outputs:
    close = inputs["close"]
    prev = close.shift(p.period)
    return {"value": pl.when(prev.is_null()).then(None)
            .otherwise(_guarded_ratio(close - prev, prev))}


def rocr(inputs: Inputs, p: Any) -> Outputs:
    close = inputs["close"]
    prev = close.shift(p.period)
    return {"value": pl.when(prev.is_null()).then(None).otherwise(_guarded_ratio(close, prev))}


def rocr100(inputs: Inputs, p: Any) -> Outputs:
    return {"value": rocr(inputs, p)["value"] * 100.0}


def willr(inputs: Inputs, p: Any) -> Outputs:
    return {"value": kernel_column(k.willr, _hlc(inputs), p.period)}


def midpoint(inputs: Inputs, p: Any) -> Outputs:
    return {"value": kernel_column(k.midpoint, [inputs["close"]], p.period)}


def midprice(inputs: Inputs, p: Any) -> Outputs:
    return {"value": kernel_column(k.midprice, [inputs["high"], inputs["low"]], p.period)}


def medprice(inputs: Inputs, p: Any) -> Outputs:
    return {"value": (inputs["high"] + inputs["low"]) / 2.0}


def typprice(inputs: Inputs, p: Any) -> Outputs:
    return {"value": (inputs["high"] + inputs["low"] + inputs["close"]) / full_height(3.0)}


def avgprice(inputs: Inputs, p: Any) -> Outputs:
    return {"value": (inputs["open"] + inputs["high"] + inputs["low"] + inputs["close"]) / 4.0}


def wclprice(inputs: Inputs, p: Any) -> Outputs:
    return {"value": (inputs["high"] + inputs["low"] + inputs["close"] * 2.0) / 4.0}


def trange_indicator(inputs: Inputs, p: Any) -> Outputs:
    return {"value": kernel_column(k.trange, _hlc(inputs))}


def natr(inputs: Inputs, p: Any) -> Outputs:
    return {"value": kernel_column(k.natr, _hlc(inputs), p.period)}


def rolling_sum(inputs: Inputs, p: Any) -> Outputs:
    return {"value": kernel_column(k.rolling_sum, [inputs["close"]], p.period)}


def rolling_max(inputs: Inputs, p: Any) -> Outputs:
    return {"value": kernel_column(k.rolling_max, [inputs["close"]], p.period)}


def rolling_min(inputs: Inputs, p: Any) -> Outputs:
    return {"value": kernel_column(k.rolling_min, [inputs["close"]], p.period)}


def obv(inputs: Inputs, p: Any) -> Outputs:
    return {"value": kernel_column(k.obv, [inputs["close"], inputs["volume"]])}


def ad(inputs: Inputs, p: Any) -> Outputs:
    return {"value": kernel_column(k.ad, [inputs[r] for r in ("high", "low", "close", "volume")])}
