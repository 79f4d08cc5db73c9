"""Run metrics (DESIGN §6 `summary.json`) from an equity curve and closed trades.

Inputs:

- `equity`: one row per bar, in time order, with columns `time`, `equity`, `cash` and
  a Boolean column (default `in_position`) that is true on bars that end with an open
  position. `equity` is the mark-to-market account value at the bar's close.
- `trades`: one row per closed round trip with (at least) `pnl` and `fees`. `pnl` is
  the trade's result **net of fees**; `fees` is informational (what the round trip
  paid).

Definitions and edge cases (every metric is a float, or `None` when undefined):

- Base equity `E0` is `initial_cash` when given (the account before the first bar),
  else the first row's equity. It must be finite and > 0 (`ValueError` otherwise);
  an empty equity frame is a `ValueError` too.
- Per-bar returns `r_i = E_i / E_{i-1} - 1` over the curve with `E0` in front when
  `initial_cash` is given: `n` rows give `n` returns with `initial_cash`, `n - 1`
  without.
- `total_return = E_last / E0 - 1`.
- `cagr = (E_last / E0) ** (bars_per_year / N) - 1` with `N` the number of returns
  (the bar count is the clock, so non-trading gaps do not count). `None` when `N` is 0
  (a single bar without `initial_cash`); `-1.0` when `E_last <= 0` (all lost);
  `math.inf` when the compounding overflows a float (large growth over a short run).
- `sharpe = mean(r) / stdev(r) * sqrt(bars_per_year)`, sample stdev (ddof 1),
  risk-free rate 0. `None` with fewer than 2 returns, when the stdev is 0 (flat
  equity, or a constant return), or when any `E_{i-1} <= 0` (returns undefined).
- `sortino = mean(r) / DD * sqrt(bars_per_year)` with the downside deviation
  `DD = sqrt(sum(min(r_i, 0)^2) / N)` (target 0, every return counted, as Sortino &
  Price). `None` in the same cases as `sharpe`, and when `DD` is 0 (no losing bar).
- `max_drawdown`: the largest `(peak - E) / peak` over the curve, `peak` the running
  maximum (from `E0`): a positive fraction of the peak, `0.0` when equity never falls
  below its peak (flat equity, a single bar); above 1 if equity goes negative.
- `win_rate`: trades with `pnl > 0` over all trades (break-even is not a win); `None`
  with no trades.
- `profit_factor`: gross profit (sum of positive pnl) over gross loss (absolute sum of
  negative pnl). `None` with no trades or when both are 0 (only break-even trades);
  `math.inf` when there are profits and no losses; `0.0` with losses and no profits.
- `exposure`: the fraction of equity rows whose position column is true (`0.0` when
  never in the market).
- `fees`: the sum of the trades' `fees` (closed round trips only), or of the `fee`
  column of `fills` when `fills` is given (which also counts a position still open
  at the end). `0.0` with nothing to sum.
"""

from __future__ import annotations

import importlib
import itertools
import math
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

METRIC_KEYS: tuple[str, ...] = (
    "total_return", "cagr", "sharpe", "sortino", "max_drawdown",
    "win_rate", "profit_factor", "exposure", "fees",
)
"""The keys of `metrics()`, in DESIGN §6 order."""


def drawdown(equity: pl.Series, initial_cash: float | None = None) -> pl.Series:
    """Per-row drawdown `(peak - equity) / peak` (a positive fraction, 0 at a peak),
    `peak` the running maximum of the curve (and of `initial_cash` when given)."""
    values = equity.cast(pl.Float64)
    peak = values.cum_max()
    if initial_cash is not None:
        peak = peak.clip(lower_bound=float(initial_cash))
    return ((peak - values) / peak).alias("drawdown")


def _float_array(frame: pl.DataFrame, column: str, what: str) -> np.ndarray:
    if column not in frame.columns:
        raise ValueError(f"{what} has no column {column!r} (columns: {frame.columns})")
    values: np.ndarray = frame[column].cast(pl.Float64).drop_nulls().to_numpy()
    return values


_KERNELS = "runner.engine.exact_sum_kernel"
JIT_MIN_VALUES = 4_000_000
"""Below this many values the sums run without numba's JIT (`_kernel`), unless numba
is loaded already (then from a tenth of it)."""


def _kernel(name: str, size: int) -> Callable[..., Any] | None:
    """The kernel `name` of `runner.engine.exact_sum_kernel` for `size` values: the
    ahead-of-time build's when `runner.native` has it, else numba's JIT only from
    `JIT_MIN_VALUES` on (importing numba and loading a cached kernel cost a process
    about half a second; `math.fsum` over a million returns' terms ~0.1 s); None:
    sum with `math.fsum`. The module is imported here, never at the top: the CLI's
    import path does not load numba for it."""
    from runner.native.loader import compiled_kernels

    compiled = compiled_kernels().get((_KERNELS, name))
    if compiled is not None:
        return compiled
    if size >= (JIT_MIN_VALUES // 10 if "numba" in sys.modules else JIT_MIN_VALUES):
        function: Callable[..., Any] = getattr(importlib.import_module(_KERNELS), name)
        return function
    return None


def _fsum(values: np.ndarray) -> float:
    """`math.fsum(values)` of a float64 array, bit for bit: the compiled `exact_sum`
    (handing what it leaves out back to `math.fsum`), or `math.fsum` over the
    non-zero values (zeros add nothing to the exact sum, and `math.fsum` never returns
    -0.0)."""
    exact_sum = _kernel("exact_sum", len(values))
    if exact_sum is not None:
        array = np.ascontiguousarray(values, dtype=np.float64)
        total = float(exact_sum(array))
        if not math.isnan(total):
            return total
        return math.fsum(array.tolist())
    return math.fsum(values[values != 0.0].tolist())


def _split_pieces(term: float, count: int) -> list[float] | None:
    """`count` copies of `term` as a few floats with the same exact sum: `term` split
    (its low 24 significand bits masked off) into a part of at most 29 significant
    bits and a rest of at most 24, each times a count below 2**24: exact products.
    None when a product is not finite (then the copies themselves must be summed)."""
    bits = np.array([term], dtype=np.float64).view(np.int64)
    bits &= ~np.int64((1 << 24) - 1)
    high = float(bits.view(np.float64)[0])
    low = term - high
    pieces: list[float] = []
    while count:
        chunk = min(count, 1 << 24)
        count -= chunk
        pieces += [chunk * high, chunk * low]
    return pieces if all(math.isfinite(p) for p in pieces) else None


def _return_sums(returns: np.ndarray, n: int) -> tuple[float, float, float]:
    """`mean(r)`, `sum((r - mean)^2)` and `sum(min(r, 0)^2)`, every sum exactly rounded
    (`math.fsum`'s bits) and every term computed as numpy computes it
    (`d = r - mean; d * d`). Compiled kernels that make no array of terms when
    available (`_kernel`), else `math.fsum` over the non-zero terms: the many zero
    returns (flat equity out of the market) all have the same squared deviation
    `mean^2`, summed exactly as a product (`_split_pieces`), and no loss. Anything
    not finite takes the plain way: `math.fsum` over every term."""
    mean = _fsum(returns) / n
    squares = loss_squares = math.nan
    sq_dev = _kernel("exact_sum_sq_dev", len(returns))
    sq_neg = _kernel("exact_sum_sq_neg", len(returns))
    if sq_dev is not None and sq_neg is not None:
        squares = float(sq_dev(returns, mean))
        loss_squares = float(sq_neg(returns))
    elif bool(np.isfinite(returns).all()):
        moved = returns[returns != 0.0]
        deviation = moved - mean
        zero = 0.0 - mean
        pieces = _split_pieces(zero * zero, n - len(moved))
        if pieces is not None:
            squares = math.fsum(itertools.chain((deviation * deviation).tolist(), pieces))
        losses = returns[returns < 0.0]
        loss_squares = math.fsum((losses * losses).tolist())
    if math.isnan(squares):
        deviation = returns - mean
        squares = math.fsum((deviation * deviation).tolist())
    if math.isnan(loss_squares):
        losses = np.minimum(returns, 0.0)
        loss_squares = math.fsum((losses * losses).tolist())
    return mean, squares, loss_squares


def curve_stats(curve: np.ndarray, initial_cash: float,
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Per bar of `curve`, with `initial_cash` (`E0`, > 0) as the value before the
    first: the running peak (of `E0` and the curve so far), the drawdown
    `(peak - E) / peak`, and the return `E_i / E_{i-1} - 1` (None when some
    `E_{i-1} <= 0` or there are fewer than 2 bars). The same IEEE operations as over
    the curve with `E0` in front, without making that array (fresh memory is paid a
    page fault per 4 KiB); `metrics`, the report's metrics and equity.csv's
    `drawdown` column share them."""
    curve = np.ascontiguousarray(curve, dtype=np.float64)
    peaks = np.maximum.accumulate(curve)
    np.maximum(peaks, initial_cash, out=peaks)
    depth = peaks - curve
    depth /= peaks
    returns: np.ndarray | None = None
    if len(curve) >= 2 and initial_cash > 0 and bool((curve[:-1] > 0).all()):
        returns = np.empty(len(curve))
        returns[0] = curve[0] / initial_cash
        np.divide(curve[1:], curve[:-1], out=returns[1:])
        returns -= 1.0
    return peaks, depth, returns


def metrics(equity: pl.DataFrame, trades: pl.DataFrame, bars_per_year: float, *,
            initial_cash: float | None = None, position_column: str = "in_position",
            fills: pl.DataFrame | None = None,
            shared: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None,
            ) -> dict[str, Any]:
    """The DESIGN §6 metrics (keys `METRIC_KEYS`, in that order); see the module
    docstring for every definition and edge case.

    `shared` may hand in what the caller already computed from this curve, to save
    recomputing it: `curve_stats(equity, initial_cash)` (with `initial_cash` given)."""
    if not (bars_per_year > 0 and math.isfinite(bars_per_year)):
        raise ValueError(f"bars_per_year must be a positive number, not {bars_per_year!r}")
    if equity.height == 0:
        raise ValueError("the equity curve is empty")
    if "equity" not in equity.columns:
        raise ValueError(f"the equity frame has no column 'equity' (columns: {equity.columns})")
    column = equity["equity"]
    if column.null_count():
        raise ValueError("the equity column has nulls")
    if position_column not in equity.columns:
        raise ValueError(f"the equity frame has no Boolean column {position_column!r}")
    in_position = equity[position_column]
    if in_position.dtype != pl.Boolean:
        raise ValueError(f"column {position_column!r} must be Boolean, not {in_position.dtype}")

    curve = column.cast(pl.Float64).to_numpy()
    # the returns run over `tail` with `base` (E0) before it
    base = float(initial_cash) if initial_cash is not None else float(curve[0])
    tail = curve if initial_cash is not None else curve[1:]
    last = float(curve[-1])
    if not (math.isfinite(base) and base > 0):
        raise ValueError(f"the starting equity must be a positive number, not {base!r}")
    if shared is not None and initial_cash is not None:
        _, depth, returns = shared
    else:
        _, depth, returns = curve_stats(tail, base)

    n = len(tail)
    total_return = last / base - 1.0
    cagr: float | None = None
    if n > 0:
        try:
            cagr = -1.0 if last <= 0 else (last / base) ** (bars_per_year / n) - 1.0
        except OverflowError:
            cagr = math.inf

    # numpy for the element-wise steps (the same IEEE operations as scalar Python),
    # exactly rounded sums (math.fsum's, independent of order) for every sum
    sharpe: float | None = None
    sortino: float | None = None
    if returns is not None:
        mean, squares, loss_squares = _return_sums(returns, n)
        std = math.sqrt(squares / (n - 1))
        downside = math.sqrt(loss_squares / n)
        scale = math.sqrt(bars_per_year)
        if std > 0:
            sharpe = mean / std * scale
        if downside > 0:
            sortino = mean / downside * scale

    max_dd = max(0.0, float(depth.max())) if len(depth) else 0.0

    pnl = _float_array(trades, "pnl", "the trades frame") if trades.height else np.empty(0)
    win_rate: float | None = None
    profit_factor: float | None = None
    if len(pnl):
        wins = pnl > 0
        win_rate = int(wins.sum()) / len(pnl)
        gross_profit = _fsum(pnl[wins])
        gross_loss = -_fsum(pnl[pnl < 0])
        if gross_loss > 0:
            profit_factor = gross_profit / gross_loss
        elif gross_profit > 0:
            profit_factor = math.inf

    exposure = in_position.fill_null(False).sum() / equity.height
    if fills is not None:
        fees = _fsum(_float_array(fills, "fee", "the fills frame")) if fills.height else 0.0
    else:
        fees = _fsum(_float_array(trades, "fees", "the trades frame")) if trades.height else 0.0

    return {
        "total_return": total_return, "cagr": cagr, "sharpe": sharpe, "sortino": sortino,
        "max_drawdown": max_dd, "win_rate": win_rate, "profit_factor": profit_factor,
        "exposure": float(exposure), "fees": fees,
    }
