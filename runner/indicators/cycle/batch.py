"""Batch forms of the Hilbert-transform family.

Every value here comes out of a recurrence that feeds back on the previous bar's
period, so nothing is expressible as polars column arithmetic: each indicator runs
its numba kernel (`kernels.py`) through `map_batches` over the close column. The
kernels start the Hilbert machine at TA-Lib's start bar and blank the lookback, so
the columns line up with TA-Lib's, NaN-for-lookback turned into null.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import polars as pl

from runner.indicators.cycle import incremental as inc

Inputs = Mapping[str, pl.Expr]
Outputs = dict[str, pl.Expr]

SHORT = (inc.SHORT_START, inc.SHORT_LOOKBACK)
LONG = (inc.LONG_START, inc.LONG_LOOKBACK)


@functools.cache
def _dft_tables() -> tuple[np.ndarray, np.ndarray]:
    """The incremental form's sin/cos tables as (51, 50) arrays, row = window length,
    so both forms multiply by the very same doubles."""
    sines = np.zeros((inc.MAX_CYCLE + 1, inc.MAX_CYCLE))
    cosines = np.zeros((inc.MAX_CYCLE + 1, inc.MAX_CYCLE))
    for n in range(1, inc.MAX_CYCLE + 1):
        sines[n, :n] = inc.DFT_SIN[n]
        cosines[n, :n] = inc.DFT_COS[n]
    return sines, cosines


def _prices(close: pl.Series) -> np.ndarray:
    return np.ascontiguousarray(close.cast(pl.Float64).to_numpy(), dtype=np.float64)


def _single(close: pl.Expr, kernel: Callable[[np.ndarray], np.ndarray]) -> pl.Expr:
    def run(series: pl.Series) -> pl.Series:
        return pl.Series(series.name, kernel(_prices(series)), nan_to_null=True)

    return close.map_batches(run, return_dtype=pl.Float64)


def _pair(close: pl.Expr, names: tuple[str, str],
          kernel: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]) -> pl.Expr:
    """A two-output kernel as one struct expression, so the recurrence runs once
    (see `runner.indicators.columns`)."""
    def run(series: pl.Series) -> pl.Series:
        first, second = kernel(_prices(series))
        return pl.DataFrame({names[0]: first, names[1]: second},
                            nan_to_null=True).to_struct("pair")

    return close.map_batches(run, return_dtype=pl.Struct(dict.fromkeys(names, pl.Float64)))


def ht_trendline(inputs: Inputs, p: Any) -> Outputs:
    from runner.indicators.cycle import kernels

    return {"value": _single(inputs["close"], lambda x: kernels.ht_trendline(x, *LONG))}


def ht_dcperiod(inputs: Inputs, p: Any) -> Outputs:
    from runner.indicators.cycle import kernels

    return {"value": _single(inputs["close"], lambda x: kernels.ht_dcperiod(x, *SHORT))}


def ht_dcphase(inputs: Inputs, p: Any) -> Outputs:
    from runner.indicators.cycle import kernels

    return {"value": _single(inputs["close"],
                             lambda x: kernels.ht_dcphase(x, *LONG, *_dft_tables()))}


def ht_phasor(inputs: Inputs, p: Any) -> pl.Expr:
    from runner.indicators.cycle import kernels

    return _pair(inputs["close"], ("inphase", "quadrature"),
                 lambda x: kernels.ht_phasor(x, *SHORT))


def ht_sine(inputs: Inputs, p: Any) -> pl.Expr:
    from runner.indicators.cycle import kernels

    return _pair(inputs["close"], ("sine", "leadsine"),
                 lambda x: kernels.ht_sine(x, *LONG, *_dft_tables()))


def ht_trendmode(inputs: Inputs, p: Any) -> Outputs:
    from runner.indicators.cycle import kernels

    return {"value": _single(inputs["close"],
                             lambda x: kernels.ht_trendmode(x, *LONG, *_dft_tables()))}


def mama(inputs: Inputs, p: Any) -> pl.Expr:
    from runner.indicators.cycle import kernels

    fast, slow = float(p.fast_limit), float(p.slow_limit)
    return _pair(inputs["close"], ("mama", "fama"),
                 lambda x: kernels.mama(x, *SHORT, fast, slow))
