"""Batch forms of the oscillators: whole polars columns, for backtests.

Every oscillator here is a numba kernel of `kernels.py` called through
`pl.map_batches`: their values hinge on the rounding order of running sums (ratios
guarded by a zero test, moving sums started where TA-Lib starts them, EMAs in the
wheel's fused form), which polars' rolling kernels do not reproduce, and a single
loop is also faster than a chain of rolling expressions. With the same order the
columns equal the wheel's bit for bit, and the incremental forms equal them too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

Inputs = Mapping[str, pl.Expr]
Outputs = dict[str, pl.Expr]


def _arrays(series: Sequence[pl.Series]) -> list[np.ndarray]:
    return [np.ascontiguousarray(s.cast(pl.Float64).to_numpy()) for s in series]


def _column(name: str, values: np.ndarray) -> pl.Series:
    """The kernel's NaNs are its leading lookback rows only (TA-Lib's guards keep
    NaN out of the rest), so they become nulls without a pass over the column: a
    short null chunk, then the array itself, taken without a copy."""
    from runner.indicators.oscillators.kernels import leading_nans

    head = leading_nans(values)
    out = pl.Series(name, [None] * head, dtype=pl.Float64)
    return out.append(pl.Series(name, values[head:]))


def _kernel(inputs: Inputs, roles: tuple[str, ...], outputs: tuple[str, ...],
            fn: Callable[..., Any], *args: Any) -> Outputs | pl.Expr:
    """Run `fn(*columns, *args)` over the input columns; it returns one array (one
    output) or a tuple of arrays, NaN where TA-Lib has no value."""
    exprs = [inputs[r] for r in roles]
    if len(outputs) == 1:
        def single(series: Sequence[pl.Series]) -> pl.Series:
            return _column(outputs[0], fn(*_arrays(series), *args))

        return {outputs[0]: pl.map_batches(exprs, single, return_dtype=pl.Float64)}

    def together(series: Sequence[pl.Series]) -> pl.Series:
        result = fn(*_arrays(series), *args)
        return pl.DataFrame([_column(o, r) for o, r in zip(outputs, result, strict=True)]
                            ).to_struct("outputs")

    # one struct expression, so the kernel runs once (see `runner.indicators.columns`)
    return pl.map_batches(exprs, together,
                          return_dtype=pl.Struct(dict.fromkeys(outputs, pl.Float64)))


def bop(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    from runner.indicators.oscillators.kernels import bop

    return _kernel(inputs, ("open", "high", "low", "close"), ("value",), bop)


def cci(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    from runner.indicators.oscillators.kernels import cci

    return _kernel(inputs, ("high", "low", "close"), ("value",), cci, p.period)


def cmo(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    from runner.indicators.oscillators.kernels import cmo

    return _kernel(inputs, ("close",), ("value",), cmo, p.period)


def cmou(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    """Chande's original, unsmoothed CMO (TA-Lib CMOU): plain moving sums of the up
    and down moves over `period` changes, 100 * (up - down) / (up + down)."""
    from runner.indicators.oscillators.kernels import cmou

    return _kernel(inputs, ("close",), ("value",), cmou, p.period)


def mfi(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    from runner.indicators.oscillators.kernels import mfi

    return _kernel(inputs, ("high", "low", "close", "volume"), ("value",), mfi, p.period)


def trix(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    from runner.indicators.oscillators.kernels import trix

    return _kernel(inputs, ("close",), ("value",), trix, p.period)


def ultosc(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    from runner.indicators.oscillators.kernels import ultosc

    return _kernel(inputs, ("high", "low", "close"), ("value",), ultosc, p.short, p.medium,
                   p.long)


def imi(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    from runner.indicators.oscillators.kernels import imi

    return _kernel(inputs, ("open", "close"), ("value",), imi, p.period)


def qstick(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    from runner.indicators.oscillators.kernels import qstick

    return _kernel(inputs, ("open", "close"), ("value",), qstick, p.period)


def ao(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    from runner.indicators.oscillators.kernels import ao

    return _kernel(inputs, ("high", "low"), ("value",), ao, p.fast, p.slow)


def ac(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    from runner.indicators.oscillators.kernels import ac

    return _kernel(inputs, ("high", "low"), ("value",), ac, p.fast, p.slow, p.signal)


def coppock(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    from runner.indicators.oscillators.kernels import coppock

    return _kernel(inputs, ("close",), ("value",), coppock, p.period, p.short_roc,
                   p.long_roc)


def dpo(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    """TA-Lib's DPO: the close `period // 2 + 1` bars back minus the SMA ending at
    this bar. The textbook DPO sets that SMA against the close it is centred on,
    which at bar t needs bars up to t + period // 2 + 1; TA-Lib reports the same
    difference on the bar where its last input is known, so nothing looks ahead."""
    from runner.indicators.oscillators.kernels import dpo

    return _kernel(inputs, ("close",), ("value",), dpo, p.period)


def er(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    from runner.indicators.oscillators.kernels import er

    return _kernel(inputs, ("close",), ("value",), er, p.period)


def eri(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    from runner.indicators.oscillators.kernels import eri

    return _kernel(inputs, ("high", "low", "close"), ("bull", "bear"), eri, p.period)


def smi(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    from runner.indicators.oscillators.kernels import smi

    return _kernel(inputs, ("high", "low", "close"), ("smi", "signal"), smi, p.period, p.fast,
                   p.slow, p.signal)


def tsi(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    from runner.indicators.oscillators.kernels import tsi

    return _kernel(inputs, ("close",), ("value",), tsi, p.long, p.short)


def fractal(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    """TA-Lib FRACTAL places each fractal on its confirming bar (centre + `right`),
    hence its lookback of left + right: the value at bar t reads bars <= t only."""
    from runner.indicators.oscillators.kernels import fractal

    return _kernel(inputs, ("high", "low"), ("swing_high", "swing_low"), fractal, p.left,
                   p.right)
