"""Run a numba kernel over whole columns inside a polars expression.

Most batch forms are numba loops rather than polars rolling/ewm expressions because,
measured on this project's 2-core machine at 1M bars, polars' `rolling_mean` takes
about 4x TA-Lib's time, `rolling_max` about 19x and `ewm_mean` about 3x, while a
numba loop runs at TA-Lib's speed; and a loop can follow TA-Lib's rounding order
exactly. Element-wise formulas (price transforms, ratios, shifts) stay polars
expressions: polars is as fast as C there.

The kernel receives float64 numpy arrays with no nulls (the API has removed rows
with a missing input) and returns one float64 array per output, NaN where the
indicator has no value; NaN becomes null on the way out.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import polars as pl

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_KEEP_UP_TO = 1 << 30


@functools.cache
def keep_freed_memory() -> bool:
    """Ask glibc to keep freed blocks for reuse instead of handing them back.

    A kernel's arrays come from numba's allocator, i.e. `malloc`; by default glibc
    serves an 8 MB request (a column of 1M floats) with a fresh `mmap` and unmaps it
    on free, so every array of every kernel call pays a page fault per 4 KiB on
    first write. Measured on the CI machine this tripled the time of kernels that
    use intermediate arrays (MACD: 29 ms -> 12 ms at 1M bars). The cost of keeping
    blocks is that the process's resident memory stays at its peak, which a
    backtest reaches anyway. A no-op outside glibc.
    """
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _KEEP_UP_TO)
                and mallopt(_M_TRIM_THRESHOLD, _KEEP_UP_TO))


def full_height(value: float) -> pl.Expr:
    """`value` on every row, as a column polars cannot fold back into a scalar.

    polars 2.1 divides by a scalar (a literal or `pl.repeat`) by multiplying with its
    reciprocal: `x / 3.0` is then not IEEE's `x / 3.0` in a third of the cases, while
    the incremental forms and the per-bar expressions divide exactly. Built as
    `row_index * 0.0 + value` (not a no-op for NaN or inf, so no valid optimizer
    folds it), a divisor gives the exact quotient.
    """
    return pl.int_range(pl.len(), dtype=pl.Int64).cast(pl.Float64) * 0.0 + value


def kernel_columns(kernel: Callable[..., Any], inputs: Sequence[pl.Expr],
                   outputs: Sequence[str], *args: Any) -> pl.Expr:
    """A struct expression with one field per output, computed by one kernel call.

    A batch form returns it as is (not split into `struct.field` expressions: polars
    does not share a `map_batches` between expressions, so each field would run the
    kernel again); `compute` and the compiler unnest it."""
    def run(columns: pl.Series) -> pl.Series:
        arrays = [columns.struct.field(f).to_numpy() for f in columns.struct.fields]
        result = kernel(*arrays, *args)
        if len(outputs) == 1:
            result = (result,)
        frame = pl.DataFrame({name: np.asarray(values, dtype=np.float64)
                              for name, values in zip(outputs, result, strict=True)},
                             nan_to_null=True)
        return frame.to_struct("out")

    fields = [e.alias(f"in{i}") for i, e in enumerate(inputs)]
    return pl.struct(fields).map_batches(
        run, return_dtype=pl.Struct(dict.fromkeys(outputs, pl.Float64)))


def kernel_column(kernel: Callable[..., Any], inputs: Sequence[pl.Expr], *args: Any) -> pl.Expr:
    """The single output of `kernel` as an expression."""
    def run(columns: pl.Series) -> pl.Series:
        arrays = [columns.struct.field(f).to_numpy() for f in columns.struct.fields]
        return pl.Series(np.asarray(kernel(*arrays, *args), dtype=np.float64), nan_to_null=True)

    if len(inputs) == 1:
        return inputs[0].map_batches(
            lambda s: pl.Series(np.asarray(kernel(s.to_numpy(), *args), dtype=np.float64),
                                nan_to_null=True), return_dtype=pl.Float64)
    fields = [e.alias(f"in{i}") for i, e in enumerate(inputs)]
    return pl.struct(fields).map_batches(run, return_dtype=pl.Float64)
