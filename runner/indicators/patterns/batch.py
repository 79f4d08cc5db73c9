"""Batch forms of the pattern family: whole polars columns, for backtests.

Every indicator here is a chain of comparisons or recursions over the bars before
it (TA-Lib's running yardsticks, the most recent open gap or block, seeded EMAs), so
each runs as one numba loop (`kernels`) through `runner.indicators.columns`; a
multi-output one returns one struct expression, so its kernel runs once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from runner.indicators.columns import kernel_column, kernel_columns
from runner.indicators.patterns import kernels as k

Inputs = Mapping[str, pl.Expr]
Outputs = dict[str, pl.Expr]


def _ohlc(inputs: Inputs) -> list[pl.Expr]:
    return [inputs["open"], inputs["high"], inputs["low"], inputs["close"]]


def _hlc(inputs: Inputs) -> list[pl.Expr]:
    return [inputs["high"], inputs["low"], inputs["close"]]


def doji(inputs: Inputs, p: Any) -> Outputs:
    return {"value": kernel_column(k.doji, _ohlc(inputs))}


def hammer(inputs: Inputs, p: Any) -> Outputs:
    return {"value": kernel_column(k.hammer, _ohlc(inputs))}


def shooting_star(inputs: Inputs, p: Any) -> Outputs:
    return {"value": kernel_column(k.shooting_star, _ohlc(inputs))}


def engulfing(inputs: Inputs, p: Any) -> Outputs:
    return {"value": kernel_column(k.engulfing, _ohlc(inputs))}


def fvg(inputs: Inputs, p: Any) -> pl.Expr:
    """Fair value gap: three bars where the outer two do not overlap.

    - Bullish at bar t when low[t] > high[t-2]: the gap is [high[t-2], low[t]] and
      `size` = low[t] - high[t-2]. Bearish when high[t] < low[t-2]: the gap is
      [high[t], low[t-2]] and `size` = low[t-2] - high[t]. The two cannot both hold.
      `bullish`/`bearish` are 1.0 on the bar that completes the gap, else 0.0; `size`
      is 0.0 when there is none.
    - `min_size` is a fraction of price: a gap counts only when
      size >= min_size * |close[t]|, so one setting fits any instrument (0.001 is
      ten basis points); 0 takes every gap.
    - One zone is tracked, the most recent gap: a new gap replaces the previous one,
      mitigated or not. `top`/`bottom` are its edges while it is open, null when no
      gap is open.
    - Mitigation is a touch, not a fill: from the bar after it forms, a bullish gap
      is mitigated by the first bar whose low reaches its top (low <= top), a bearish
      one by the first whose high reaches its bottom. A trader's limit order at the
      gap edge fills then, which is the event a strategy acts on; a full fill is
      a further condition it can test on `bottom`. `mitigated` is 1.0 on that bar,
      which still reports the gap's edges; from the next bar the gap is closed.
      When a bar both mitigates the open gap and forms a new one, `mitigated` refers
      to the old gap and the edges are the new one's.
    - Lookback 2; bar t reads bars t-2..t only.
    """
    return kernel_columns(k.fvg, _hlc(inputs),
                          ("bullish", "bearish", "size", "top", "bottom", "mitigated"),
                          float(p.min_size))


def order_block(inputs: Inputs, p: Any) -> pl.Expr:
    """Order block: the last opposite candle before an impulsive break.

    - Candidates: the most recent down candle (close < open) is the bullish
      candidate and the most recent up candle (close > open) the bearish one; a
      newer such candle replaces the candidate. Candles with close == open are
      neither.
    - The first later bar that closes above the bullish candidate's high decides
      it: if that close is at least `multiplier` x ATR(`period`) above the
      candidate's low, a bullish order block is confirmed on that bar (`bullish` =
      1.0) with `top`/`bottom` = the candidate's high/low; otherwise the move was
      not impulsive and the candidate is dropped. Bearish mirrors it: the first
      close below the bearish candidate's low, at least `multiplier` x ATR below its
      high. The ATR is TA-Lib's (Wilder, seeded with the mean of the first `period`
      true ranges) through the bar before the confirming one, so the impulsive bar
      does not widen its own yardstick; breaks before that ATR exists confirm
      nothing.
    - One block is tracked, the most recently confirmed. If one bar confirms both
      directions (it closes between the two candidates), both flags are 1.0 and
      the block of the more recent candle is kept.
    - Mitigation is a touch, as for `fvg`: from the bar after confirmation, a
      bullish block is mitigated by the first low at or below its top, a bearish one
      by the first high at or above its bottom; `mitigated` is 1.0 on that bar, which
      still reports the block, and from the next bar no block is open (null edges)
      until a new one is confirmed.
    - Lookback `period` + 1 (the first bar with an ATR through the previous bar);
      no bar reads a later one.
    """
    return kernel_columns(k.order_block, _ohlc(inputs),
                          ("bullish", "bearish", "top", "bottom", "mitigated"),
                          int(p.period), float(p.multiplier))


def wae(inputs: Inputs, p: Any) -> pl.Expr:
    """Waddah Attar explosion (LazyBear's form) with TA-Lib's building blocks.

    - MACD line = EMA(close, `fast`) - EMA(close, `slow`), each EMA TA-Lib's own
      (seeded with the SMA of its first `period` closes, at its own start, as
      `talib.EMA`; not the MACD function's shared start).
    - trend[t] = (line[t] - line[t-1]) * `sensitivity`; `up` = trend where > 0 else
      0, `down` = -trend where < 0 else 0.
    - `explosion` = upper - lower Bollinger band = 2 x `bb_stddev` x the population
      standard deviation of the last `bb_period` closes (as TA-Lib BBANDS). The
      deviation is summed afresh over the window each bar (mean, then squared
      deviations): running sums of x and x² cancel catastrophically on flat or
      high-priced stretches (1e-5 of noise on a flat 37.76 at period 10), and the
      `ta-lib` 0.8 wheel itself re-anchors its sums to stay within ~1e-13 of this
      two-pass value. It costs `bb_period` operations a bar.
    - `dead_zone` = TA-Lib ATR(`dead_zone_period`) (Wilder's RMA of the true range,
      seeded with the mean of the first true ranges, which start at the second bar)
      x `dead_zone_multiplier`.
    - All four outputs start together, at max(`slow`, `bb_period` - 1,
      `dead_zone_period`), so a strategy reading any of them warms up once.
    """
    return kernel_columns(k.wae, _hlc(inputs), ("up", "down", "explosion", "dead_zone"),
                          int(p.fast), int(p.slow), float(p.sensitivity), int(p.bb_period),
                          float(p.bb_stddev), int(p.dead_zone_period),
                          float(p.dead_zone_multiplier))
