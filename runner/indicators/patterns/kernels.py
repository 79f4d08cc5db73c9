"""Sequential kernels (numba, cached) for the pattern family.

TA-Lib's candle patterns compare a bar with running averages of the bars before it
("the body is shorter than the mean body of the last 10"). The comparisons are sharp
thresholds, so the averages must round exactly as TA-Lib's do: a total summed in
order from a fixed start bar, then moved on by (newest - leaving) after each bar.
Polars' rolling sums round differently, hence these loops. The settings come from
`incremental`, so both forms read one table.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from runner.indicators.patterns.incremental import (
    BEARISH,
    BODY_DOJI,
    BODY_SHORT,
    BULLISH,
    DOJI_LOOKBACK,
    ENGULFING_LOOKBACK,
    HAMMER_LOOKBACK,
    NEAR,
    NO_ZONE,
    SHADOW_LONG,
    SHADOW_VERY_SHORT,
    SHADOWS,
    SHOOTING_STAR_LOOKBACK,
    candle_color,
    candle_range,
    touched,
)

# the very function the incremental form calls, compiled: one definition of a range.
# The helpers below are inlined with a setting that is a compile-time constant, so
# each pattern's loop is specialised (no branch on the range type per bar).
_range = njit(cache=True, inline="always")(candle_range)
_color = njit(cache=True, inline="always")(candle_color)


@njit(cache=True, inline="always")
def _seed(s: tuple[int, int, float], o: np.ndarray, h: np.ndarray, low: np.ndarray,
          c: np.ndarray, first: int) -> float:
    """The total of the `period` ranges before `first`, summed oldest first."""
    total = 0.0
    for j in range(first - s[1], first):
        total += _range(s[0], o[j], h[j], low[j], c[j])
    return total


@njit(cache=True, inline="always")
def _yardstick(s: tuple[int, int, float], total: float, o: np.ndarray, h: np.ndarray,
               low: np.ndarray, c: np.ndarray, i: int) -> float:
    div = 2.0 if s[0] == SHADOWS else 1.0
    if s[1] == 0:
        return s[2] * _range(s[0], o[i], h[i], low[i], c[i]) / div
    return s[2] * (total / s[1]) / div


@njit(cache=True, inline="always")
def _roll(s: tuple[int, int, float], total: float, o: np.ndarray, h: np.ndarray,
          low: np.ndarray, c: np.ndarray, i: int) -> float:
    """After bar `i`: add its range less the one leaving, as one difference."""
    if s[1] == 0:
        return total
    k = i - s[1]
    return total + (_range(s[0], o[i], h[i], low[i], c[i])
                    - _range(s[0], o[k], h[k], low[k], c[k]))


@njit(cache=True)
def doji(o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray) -> np.ndarray:
    n = o.shape[0]
    out = np.full(n, np.nan)
    first = DOJI_LOOKBACK
    if n <= first:
        return out
    body = _seed(BODY_DOJI, o, h, low, c, first)
    for i in range(first, n):
        limit = _yardstick(BODY_DOJI, body, o, h, low, c, i)
        out[i] = 100.0 if abs(c[i] - o[i]) <= limit else 0.0
        body = _roll(BODY_DOJI, body, o, h, low, c, i)
    return out


@njit(cache=True)
def hammer(o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray) -> np.ndarray:
    n = o.shape[0]
    out = np.full(n, np.nan)
    first = HAMMER_LOOKBACK
    if n <= first:
        return out
    body = _seed(BODY_SHORT, o, h, low, c, first)
    long = _seed(SHADOW_LONG, o, h, low, c, first)
    very_short = _seed(SHADOW_VERY_SHORT, o, h, low, c, first)
    # "near the prior low" is judged with the prior bar's yardstick
    near = _seed(NEAR, o, h, low, c, first - 1)
    for i in range(first, n):
        white = c[i] >= o[i]
        lower = (o[i] if white else c[i]) - low[i]
        upper = h[i] - (c[i] if white else o[i])
        found = (abs(c[i] - o[i]) < _yardstick(BODY_SHORT, body, o, h, low, c, i)
                 and lower > _yardstick(SHADOW_LONG, long, o, h, low, c, i)
                 and upper < _yardstick(SHADOW_VERY_SHORT, very_short, o, h, low, c, i)
                 and min(c[i], o[i]) <= low[i - 1] + _yardstick(NEAR, near, o, h, low, c,
                                                                i - 1))
        out[i] = 100.0 if found else 0.0
        body = _roll(BODY_SHORT, body, o, h, low, c, i)
        long = _roll(SHADOW_LONG, long, o, h, low, c, i)
        very_short = _roll(SHADOW_VERY_SHORT, very_short, o, h, low, c, i)
        near = _roll(NEAR, near, o, h, low, c, i - 1)
    return out


@njit(cache=True)
def shooting_star(o: np.ndarray, h: np.ndarray, low: np.ndarray,
                  c: np.ndarray) -> np.ndarray:
    n = o.shape[0]
    out = np.full(n, np.nan)
    first = SHOOTING_STAR_LOOKBACK
    if n <= first:
        return out
    body = _seed(BODY_SHORT, o, h, low, c, first)
    long = _seed(SHADOW_LONG, o, h, low, c, first)
    very_short = _seed(SHADOW_VERY_SHORT, o, h, low, c, first)
    for i in range(first, n):
        white = c[i] >= o[i]
        lower = (o[i] if white else c[i]) - low[i]
        upper = h[i] - (c[i] if white else o[i])
        found = (min(o[i], c[i]) > max(o[i - 1], c[i - 1])
                 and abs(c[i] - o[i]) < _yardstick(BODY_SHORT, body, o, h, low, c, i)
                 and upper > _yardstick(SHADOW_LONG, long, o, h, low, c, i)
                 and lower < _yardstick(SHADOW_VERY_SHORT, very_short, o, h, low, c, i))
        out[i] = -100.0 if found else 0.0
        body = _roll(BODY_SHORT, body, o, h, low, c, i)
        long = _roll(SHADOW_LONG, long, o, h, low, c, i)
        very_short = _roll(SHADOW_VERY_SHORT, very_short, o, h, low, c, i)
    return out


@njit(cache=True)
def engulfing(o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray) -> np.ndarray:
    n = o.shape[0]
    out = np.full(n, np.nan)
    for i in range(ENGULFING_LOOKBACK, n):
        po = o[i - 1]
        pc = c[i - 1]
        color = _color(o[i], c[i])
        prev_color = _color(po, pc)
        bullish = color == 1 and prev_color == -1 and (
            (c[i] >= po and o[i] < pc) or (c[i] > po and o[i] <= pc))
        bearish = color == -1 and prev_color == 1 and (
            (o[i] >= pc and c[i] < po) or (o[i] > pc and c[i] <= po))
        if bullish or bearish:
            out[i] = color * (100.0 if (o[i] != pc and c[i] != po) else 80.0)
        else:
            out[i] = 0.0
    return out


_touched = njit(cache=True, inline="always")(touched)

Columns = tuple[np.ndarray, ...]


@njit(cache=True)
def fvg(high: np.ndarray, low: np.ndarray, close: np.ndarray, min_size: float) -> Columns:
    """bullish, bearish, size, top, bottom, mitigated (see `batch.fvg`)."""
    n = high.shape[0]
    bullish = np.full(n, np.nan)
    bearish = np.full(n, np.nan)
    size = np.full(n, np.nan)
    top = np.full(n, np.nan)
    bottom = np.full(n, np.nan)
    mitigated = np.full(n, np.nan)
    direction = NO_ZONE
    zone_top = 0.0
    zone_bottom = 0.0
    for t in range(2, n):
        mitigated[t] = 0.0
        if direction != NO_ZONE:
            top[t] = zone_top
            bottom[t] = zone_bottom
            if _touched(direction, zone_top, zone_bottom, high[t], low[t]):
                mitigated[t] = 1.0
                direction = NO_ZONE
        floor = min_size * abs(close[t])
        bullish[t] = 0.0
        bearish[t] = 0.0
        size[t] = 0.0
        if low[t] > high[t - 2] and low[t] - high[t - 2] >= floor:
            bullish[t] = 1.0
            size[t] = low[t] - high[t - 2]
            direction, zone_top, zone_bottom = BULLISH, low[t], high[t - 2]
            top[t] = zone_top
            bottom[t] = zone_bottom
        elif high[t] < low[t - 2] and low[t - 2] - high[t] >= floor:
            bearish[t] = 1.0
            size[t] = low[t - 2] - high[t]
            direction, zone_top, zone_bottom = BEARISH, low[t - 2], high[t]
            top[t] = zone_top
            bottom[t] = zone_bottom
    return bullish, bearish, size, top, bottom, mitigated


@njit(cache=True)
def order_block(o: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                period: int, multiplier: float) -> Columns:
    """bullish, bearish, top, bottom, mitigated (see `batch.order_block`)."""
    n = high.shape[0]
    bullish = np.full(n, np.nan)
    bearish = np.full(n, np.nan)
    top = np.full(n, np.nan)
    bottom = np.full(n, np.nan)
    mitigated = np.full(n, np.nan)
    lookback = period + 1
    # TA-Lib's ATR, through the previous bar while a bar is judged
    atr = np.nan
    atr_total = 0.0
    # the last down (bull) and up (bear) candle not yet broken: high, low, bar
    bull_bar = -1
    bull_high = 0.0
    bull_low = 0.0
    bear_bar = -1
    bear_high = 0.0
    bear_low = 0.0
    direction = NO_ZONE
    zone_top = 0.0
    zone_bottom = 0.0
    for t in range(n):
        was_mitigated = 0.0
        shown_top = np.nan
        shown_bottom = np.nan
        if direction != NO_ZONE:
            shown_top = zone_top
            shown_bottom = zone_bottom
            if _touched(direction, zone_top, zone_bottom, high[t], low[t]):
                was_mitigated = 1.0
                direction = NO_ZONE
        is_bull = 0.0
        is_bear = 0.0
        made = NO_ZONE
        made_bar = -1
        made_top = 0.0
        made_bottom = 0.0
        if bull_bar >= 0 and close[t] > bull_high:
            if atr == atr and close[t] - bull_low >= multiplier * atr:
                is_bull = 1.0
                made, made_bar, made_top, made_bottom = BULLISH, bull_bar, bull_high, bull_low
            bull_bar = -1
        if bear_bar >= 0 and close[t] < bear_low:
            if atr == atr and bear_high - close[t] >= multiplier * atr:
                is_bear = 1.0
                if made == NO_ZONE or bear_bar > made_bar:
                    made, made_bar, made_top, made_bottom = (BEARISH, bear_bar, bear_high,
                                                             bear_low)
            bear_bar = -1
        if made != NO_ZONE:
            direction, zone_top, zone_bottom = made, made_top, made_bottom
            shown_top = zone_top
            shown_bottom = zone_bottom
        if close[t] < o[t]:
            bull_bar, bull_high, bull_low = t, high[t], low[t]
        elif close[t] > o[t]:
            bear_bar, bear_high, bear_low = t, high[t], low[t]
        if t >= 1:
            prev = close[t - 1]
            tr = max(high[t], prev) - min(low[t], prev)
            if atr == atr:
                atr = (atr * (period - 1) + tr) / period
            else:
                atr_total += tr
                if t == period:
                    atr = atr_total / period
        if t >= lookback:
            bullish[t] = is_bull
            bearish[t] = is_bear
            top[t] = shown_top
            bottom[t] = shown_bottom
            mitigated[t] = was_mitigated
    return bullish, bearish, top, bottom, mitigated


@njit(cache=True, inline="always")
def _band_width(close: np.ndarray, end: int, period: int, k: float) -> float:
    """2 k sigma of the `period` closes ending at `end`, sigma the population
    deviation from a fresh two-pass sum (see `batch.wae` for why not running sums)."""
    total = 0.0
    for j in range(end - period + 1, end + 1):
        total += close[j]
    mean = total / period
    squares = 0.0
    for j in range(end - period + 1, end + 1):
        d = close[j] - mean
        squares += d * d
    return 2.0 * k * math.sqrt(squares / period)


@njit(cache=True)
def wae(high: np.ndarray, low: np.ndarray, close: np.ndarray, fast: int, slow: int,
        sensitivity: float, bb_period: int, bb_stddev: float, dead_zone_period: int,
        dead_zone_multiplier: float) -> Columns:
    """up, down, explosion, dead_zone (see `batch.wae`) in one pass. The EMA and ATR
    steps are core's (`SeededEwm`): a seed summed in order, then v += a * (x - v)."""
    n = close.shape[0]
    up = np.full(n, np.nan)
    down = np.full(n, np.nan)
    explosion = np.full(n, np.nan)
    dead_zone = np.full(n, np.nan)
    start = max(slow, bb_period - 1, dead_zone_period)
    fast_alpha = 2.0 / (fast + 1)
    slow_alpha = 2.0 / (slow + 1)
    atr_alpha = 1.0 / dead_zone_period
    fast_ema = 0.0
    slow_ema = 0.0
    atr = 0.0
    prev_line = 0.0
    for t in range(n):
        x = close[t]
        if t < fast:
            fast_ema += x
            if t == fast - 1:
                fast_ema = fast_ema / fast
        else:
            fast_ema += fast_alpha * (x - fast_ema)
        if t < slow:
            slow_ema += x
            if t == slow - 1:
                slow_ema = slow_ema / slow
        else:
            slow_ema += slow_alpha * (x - slow_ema)
        if t >= 1:
            prev = close[t - 1]
            tr = max(high[t], prev) - min(low[t], prev)
            if dead_zone_period == 1:
                atr = tr
            elif t <= dead_zone_period:
                atr += tr
                if t == dead_zone_period:
                    atr = atr / dead_zone_period
            else:
                atr += atr_alpha * (tr - atr)
        line = fast_ema - slow_ema
        if t >= start:
            trend = (line - prev_line) * sensitivity
            up[t] = trend if trend > 0.0 else 0.0
            down[t] = -trend if trend < 0.0 else 0.0
            explosion[t] = _band_width(close, t, bb_period, bb_stddev)
            dead_zone[t] = atr * dead_zone_multiplier
        prev_line = line
    return up, down, explosion, dead_zone
