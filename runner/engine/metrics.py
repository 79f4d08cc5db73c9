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

import itertools
import math
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


def _float_list(frame: pl.DataFrame, column: str, what: str) -> list[float]:
    if column not in frame.columns:
        raise ValueError(f"{what} has no column {column!r} (columns: {frame.columns})")
    values: list[float] = frame[column].cast(pl.Float64).drop_nulls().to_numpy().tolist()
    return values


def _fsum(values: np.ndarray, chunk: int = 1 << 16) -> float:
    """`math.fsum` of an array, fed in chunks so no list of a million floats is made."""
    return math.fsum(itertools.chain.from_iterable(
        values[i:i + chunk].tolist() for i in range(0, len(values), chunk)))


def metrics(equity: pl.DataFrame, trades: pl.DataFrame, bars_per_year: float, *,
            initial_cash: float | None = None, position_column: str = "in_position",
            fills: pl.DataFrame | None = None) -> dict[str, Any]:
    """The DESIGN §6 metrics (keys `METRIC_KEYS`, in that order); see the module
    docstring for every definition and edge case."""
    if not (bars_per_year > 0 and math.isfinite(bars_per_year)):
        raise ValueError(f"bars_per_year must be a positive number, not {bars_per_year!r}")
    if equity.height == 0:
        raise ValueError("the equity curve is empty")
    if "equity" not in equity.columns:
        raise ValueError(f"the equity frame has no column 'equity' (columns: {equity.columns})")
    curve = equity["equity"].cast(pl.Float64).drop_nulls().to_numpy()
    if len(curve) != equity.height:
        raise ValueError("the equity column has nulls")
    if position_column not in equity.columns:
        raise ValueError(f"the equity frame has no Boolean column {position_column!r}")
    in_position = equity[position_column]
    if in_position.dtype != pl.Boolean:
        raise ValueError(f"column {position_column!r} must be Boolean, not {in_position.dtype}")

    values = (np.concatenate([[float(initial_cash)], curve]) if initial_cash is not None
              else curve)
    base, last = float(values[0]), float(values[-1])
    if not (math.isfinite(base) and base > 0):
        raise ValueError(f"the starting equity must be a positive number, not {base!r}")

    n = len(values) - 1
    total_return = last / base - 1.0
    cagr: float | None = None
    if n > 0:
        try:
            cagr = -1.0 if last <= 0 else (last / base) ** (bars_per_year / n) - 1.0
        except OverflowError:
            cagr = math.inf

    # numpy for the element-wise steps (the same IEEE operations as scalar Python),
    # math.fsum for every sum (exactly rounded, independent of order)
    sharpe: float | None = None
    sortino: float | None = None
    if n >= 2 and bool((values[:-1] > 0).all()):
        returns = values[1:] / values[:-1] - 1.0
        mean = _fsum(returns) / n
        deviation = returns - mean
        std = math.sqrt(_fsum(deviation * deviation) / (n - 1))
        losses = np.minimum(returns, 0.0)
        downside = math.sqrt(_fsum(losses * losses) / n)
        scale = math.sqrt(bars_per_year)
        if std > 0:
            sharpe = mean / std * scale
        if downside > 0:
            sortino = mean / downside * scale

    peaks = np.maximum.accumulate(values)
    max_dd = max(0.0, float(((peaks - values) / peaks).max()))

    pnl = _float_list(trades, "pnl", "the trades frame") if trades.height else []
    win_rate: float | None = None
    profit_factor: float | None = None
    if pnl:
        win_rate = sum(1 for p in pnl if p > 0) / len(pnl)
        gross_profit = math.fsum(p for p in pnl if p > 0)
        gross_loss = -math.fsum(p for p in pnl if p < 0)
        if gross_loss > 0:
            profit_factor = gross_profit / gross_loss
        elif gross_profit > 0:
            profit_factor = math.inf

    exposure = in_position.fill_null(False).sum() / equity.height
    if fills is not None:
        fees = math.fsum(_float_list(fills, "fee", "the fills frame")) if fills.height else 0.0
    else:
        fees = math.fsum(_float_list(trades, "fees", "the trades frame")) if trades.height else 0.0

    return {
        "total_return": total_return, "cagr": cagr, "sharpe": sharpe, "sortino": sortino,
        "max_drawdown": max_dd, "win_rate": win_rate, "profit_factor": profit_factor,
        "exposure": float(exposure), "fees": fees,
    }
