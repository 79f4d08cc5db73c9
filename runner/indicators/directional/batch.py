"""Batch forms of the directional family: whole polars columns, for backtests.

Most of this family is sequential (Wilder sums with hold-last-value rules, stop and
reverse systems), so the maths lives in numba kernels (`kernels.py`) called once per
column through `map_batches`; the functions here only wire inputs to kernels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import polars as pl

from runner.indicators.columns import kernel_column, kernel_columns

Inputs = Mapping[str, pl.Expr]
Outputs = dict[str, pl.Expr]
Kernel = Callable[..., Any]


def _run(inputs: Inputs, roles: tuple[str, ...], outputs: tuple[str, ...],
         kernel: Kernel, *args: Any) -> Outputs | pl.Expr:
    """`kernel(*columns, *args)` over the input columns: `{output: expr}` for one
    output, else one struct expression (the kernel runs once; see
    `runner.indicators.columns`)."""
    columns = [inputs[r] for r in roles]
    if len(outputs) == 1:
        return {outputs[0]: kernel_column(kernel, columns, *args)}
    return kernel_columns(kernel, columns, outputs, *args)


def _directional(inputs: Inputs, p: Any, what: str, roles: tuple[str, ...]) -> Outputs | pl.Expr:
    from runner.indicators.directional import kernels

    code = getattr(kernels, what)
    if roles == ("high", "low"):
        def kernel(high: np.ndarray, low: np.ndarray, period: int, w: int) -> np.ndarray:
            out: np.ndarray = kernels.directional(high, low, low, period, w)
            return out
        return _run(inputs, roles, ("value",), kernel, p.period, code)
    return _run(inputs, roles, ("value",), kernels.directional, p.period, code)


HL = ("high", "low")
HLC = ("high", "low", "close")


def plus_dm(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    return _directional(inputs, p, "PLUS_DM", HL)


def minus_dm(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    return _directional(inputs, p, "MINUS_DM", HL)


def plus_di(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    return _directional(inputs, p, "PLUS_DI", HLC)


def minus_di(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    return _directional(inputs, p, "MINUS_DI", HLC)


def dx(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    return _directional(inputs, p, "DX", HLC)


def adx(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    return _directional(inputs, p, "ADX", HLC)


def adxr(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    return _directional(inputs, p, "ADXR", HLC)


def aroon(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    from runner.indicators.directional.kernels import aroon as kernel

    return _run(inputs, HL, ("up", "down"), kernel, p.period, False)


def aroonosc(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    from runner.indicators.directional.kernels import aroon as kernel

    return _run(inputs, HL, ("value",), lambda h, lo, n: kernel(h, lo, n, True)[0], p.period)


def sar(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    """Wilder's parabolic SAR, bootstrapped as TA-Lib does: the first bar is consumed;
    the trade starts short when bar 2's -DM beats its +DM (long on a tie), with the
    first bar's low (long) or high (short) as the first SAR and bar 2's extreme as the
    first extreme point."""
    from runner.indicators.directional.kernels import sarext as kernel

    a, m = float(p.acceleration), float(p.maximum)
    return _run(inputs, HL, ("value",), kernel, 0.0, 0.0, a, a, m, a, a, m, False)


def sarext(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    """TA-Lib's extended SAR: separate acceleration per side, an optional forced start
    (`start_value` > 0 long at it, < 0 short at its magnitude, 0 as `sar`), and an
    optional offset applied to the SAR on each reversal. Values are negative while
    the trade is short, exactly as TA-Lib returns them."""
    from runner.indicators.directional.kernels import sarext as kernel

    return _run(inputs, HL, ("value",), kernel, float(p.start_value),
                float(p.offset_on_reverse), float(p.acceleration_init_long),
                float(p.acceleration_long), float(p.acceleration_max_long),
                float(p.acceleration_init_short), float(p.acceleration_short),
                float(p.acceleration_max_short), True)


def supertrend(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    """SuperTrend as TA-Lib 0.8 defines it (traders know several variants):

    - ATR: Wilder's, over `period` bars, seeded at bar `period` with the mean of the
      first `period` true ranges (bar 0 has none), then `(atr * (period - 1) + tr) /
      period`.
    - Bands: basic upper/lower = (high + low) / 2 +/- multiplier x ATR.
    - Ratchet: the final upper band takes the basic one only if that is lower than
      the previous final upper, or if the previous close was above the previous final
      upper; otherwise it keeps its value. Mirror image for the lower band (higher, or
      previous close below it). The two bands are not kept ordered.
    - Flip rule: an uptrend turns down when the close is below the final lower band;
      a downtrend turns up when the close is above the final upper band (strictly).
    - Seed: on the first bar (bar `period`) both bands are the basic ones and the
      trend is up.
    - Output: `line` is the final lower band in an uptrend, the final upper band in a
      downtrend; `direction` is +1.0 up, -1.0 down (TA-Lib's integer trend as a float).
    """
    from runner.indicators.directional.kernels import supertrend as kernel

    return _run(inputs, HLC, ("line", "direction"), kernel, p.period, float(p.multiplier))


def vortex(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    from runner.indicators.directional.kernels import vortex as kernel

    return _run(inputs, HLC, ("plus", "minus"), kernel, p.period)


def vhf(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    from runner.indicators.directional.kernels import vhf as kernel

    return _run(inputs, ("close",), ("value",), kernel, p.period)
