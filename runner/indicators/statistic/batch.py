"""Batch forms of the rolling statistics: whole polars columns, for backtests.

Every column here comes from a numba kernel of `kernels.py` that runs the `ta-lib`
wheel's own loop (its re-anchored running sums, see the kernels' docstring), called
through `map_batches`; the functions below only wire inputs to kernels and derive
the outputs that share one kernel (the regression line family, min/max).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import polars as pl

Inputs = Mapping[str, pl.Expr]
Outputs = dict[str, pl.Expr]
Columns = Callable[..., tuple[np.ndarray, ...]]


def _kernel(inputs: Inputs, roles: tuple[str, ...], outputs: tuple[str, ...],
            fn: Columns) -> Outputs | pl.Expr:
    """Run `fn(*columns)` over the input columns; it returns one array per output,
    NaN where TA-Lib has no value. Several outputs come back as one struct
    expression, so `fn` runs once (see `runner.indicators.columns`)."""
    def run(s: pl.Series) -> pl.Series:
        cols = [np.ascontiguousarray(s.struct.field(r).cast(pl.Float64).to_numpy())
                for r in roles]
        arrays = fn(*cols)
        return pl.DataFrame(dict(zip(outputs, arrays, strict=True)),
                            nan_to_null=True).to_struct("out")

    dtype = pl.Struct(dict.fromkeys(outputs, pl.Float64))
    packed = pl.struct([inputs[r].alias(r) for r in roles]).map_batches(run, return_dtype=dtype)
    return {outputs[0]: packed.struct.field(outputs[0])} if len(outputs) == 1 else packed


def _close(inputs: Inputs, fn: Callable[[np.ndarray], np.ndarray]) -> Outputs | pl.Expr:
    """One output from the close alone: no struct packing needed."""
    def run(s: pl.Series) -> pl.Series:
        x = np.ascontiguousarray(s.cast(pl.Float64).to_numpy())
        return pl.Series(s.name, fn(x), nan_to_null=True)

    return {"value": inputs["close"].map_batches(run, return_dtype=pl.Float64)}


def stddev(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    from runner.indicators.statistic.kernels import stddev as kernel

    return _close(inputs, lambda x: kernel(x, p.period, float(p.deviations)))


def var(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    from runner.indicators.statistic.kernels import variance

    return _close(inputs, lambda x: variance(x, p.period)[0])


def avgdev(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    from runner.indicators.statistic.kernels import avgdev as kernel

    return _close(inputs, lambda x: kernel(x, p.period))


def _line(inputs: Inputs, p: Any,
          at: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Outputs | pl.Expr:
    """An output of the least-squares line over the window, from its slope and its
    intercept at the oldest bar."""
    from runner.indicators.statistic.kernels import linreg

    def run(x: np.ndarray) -> np.ndarray:
        slope, intercept = linreg(x, p.period)
        return at(slope, intercept)

    return _close(inputs, run)


def linearreg(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    return _line(inputs, p, lambda m, b: b + m * float(p.period - 1))


def linearreg_slope(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    return _line(inputs, p, lambda m, b: m)


def linearreg_angle(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    return _line(inputs, p, lambda m, b: np.arctan(m) * (180.0 / math.pi))


def linearreg_intercept(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    return _line(inputs, p, lambda m, b: b)


def tsf(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    return _line(inputs, p, lambda m, b: b + m * float(p.period))


def fosc(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    """The close against the forecast the previous bar made for it, in percent;
    0 on a zero close (TA-Lib's `!= 0` test)."""
    from runner.indicators.statistic.kernels import linreg

    def run(x: np.ndarray) -> np.ndarray:
        slope, intercept = linreg(x, p.period)
        forecast = np.concatenate(([np.nan], (intercept + slope * float(p.period))[:-1]))
        with np.errstate(divide="ignore", invalid="ignore"):
            out = 100.0 * (x - forecast) / x
        return np.where((x == 0.0) & ~np.isnan(forecast), 0.0, out)

    return _close(inputs, run)


def beta(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    """TA-Lib's BETA(a, b) regresses b's returns on a's, so the benchmark goes first."""
    from runner.indicators.statistic.kernels import beta as kernel

    return _kernel(inputs, ("benchmark", "close"), ("value",),
                   lambda bench, close: (kernel(bench, close, p.period),))


def correl(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    from runner.indicators.statistic.kernels import correl as kernel

    return _kernel(inputs, ("close", "other"), ("value",),
                   lambda x, y: (kernel(x, y, p.period),))


def maxindex(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    from runner.indicators.statistic.kernels import extreme_index

    return _close(inputs, lambda x: extreme_index(x, p.period, True)[0])


def minindex(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    from runner.indicators.statistic.kernels import extreme_index

    return _close(inputs, lambda x: extreme_index(x, p.period, False)[0])


def minmax(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    from runner.indicators.core.kernels import rolling_max, rolling_min

    return _kernel(inputs, ("close",), ("min", "max"),
                   lambda x: (rolling_min(x, p.period), rolling_max(x, p.period)))


def minmaxindex(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    from runner.indicators.statistic.kernels import minmax as kernel

    return _kernel(inputs, ("close",), ("min", "max"), lambda x: kernel(x, p.period)[:2])


def percentile_rank_of(period: int, percentile: float) -> int:
    """TA-Lib's nearest rank: ceil(P * n / 100), multiplied before dividing so round
    percentages land on the integer, clamped to 1..n."""
    rank = math.ceil(percentile * float(period) / 100.0)
    return min(max(rank, 1), period)


def percentile(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    from runner.indicators.statistic.kernels import percentile as kernel

    rank = percentile_rank_of(p.period, p.percentile)
    return _close(inputs, lambda x: kernel(x, p.period, rank))


def percent_rank(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    from runner.indicators.statistic.kernels import percent_rank as kernel

    return _close(inputs, lambda x: kernel(x, p.period))


def zscore(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    """Z-score of the close within its window (not in TA-Lib).

    z = (x - mean) / sd, where mean and sd are the population mean and standard
    deviation of the `period` closes ending at the bar (the bar included), both
    taken from the same re-anchored sums as `var` (TA-Lib VAR's algorithm: mean =
    anchor + mean deviation from the anchor). First value at bar `period - 1`.

    Zero test: z is 0 when that variance is not > 0. The variance kernel returns an
    exact 0 for a flat window (its re-anchor puts the anchor on a window value and
    floors anything below 1e-12 of the mean squared deviation to 0), so "flat" is
    decided by that floor, not by a tolerance of our own; |z| can never exceed
    sqrt(period - 1), so a nearly flat window gives no blow-up either.
    """
    from runner.indicators.statistic.kernels import zscore as kernel

    return _close(inputs, lambda x: kernel(x, p.period))
