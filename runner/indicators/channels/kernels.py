"""Sequential kernels (numba, cached) for the channel family.

Each kernel is a recursion TA-Lib runs bar by bar (EMA/Wilder seeds that start at a
bar chosen by the composite's lookback, a Heikin-Ashi open that feeds on itself, a
re-anchored running variance); a single loop is both the exact way to reproduce
them and much faster than an expression chain. Kernels write into output arrays
the caller allocates NaN-filled (numpy's allocator maps large arrays on huge pages,
numba's does not, and the page faults cost more than the loop); NaN marks "no value
yet" and the batch wrappers turn it into null. The incremental classes mirror these loops step for
step, so the two forms round alike.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from runner.indicators.statistic.kernels import two_pass_sums

TA_EPSILON = 1e-14

@njit(cache=True)
def _true_range(high: float, low: float, prev: float) -> float:
    top = high if high > prev else prev
    bottom = low if low < prev else prev
    return top - bottom


@njit(cache=True)
def keltner(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int,
            atr_period: int, k: float, upper: np.ndarray, middle: np.ndarray,
            lower: np.ndarray) -> None:
    """EMA of the typical price +/- k ATR. Both legs are seeded at the first output
    bar `start` (TA-Lib enters each at its own lookback from there): the EMA with
    the mean of the `period` typical prices ending at `start`, the ATR with the
    mean of the `atr_period` true ranges ending there."""
    n = high.shape[0]
    start = max(period - 1, atr_period)
    if n <= start:
        return
    alpha = 2.0 / (period + 1)
    seed = 0.0
    for i in range(start - period + 1, start + 1):
        seed += (high[i] + low[i] + close[i]) / 3.0
    ema = seed / period
    seed = 0.0
    for i in range(start - atr_period + 1, start + 1):
        seed += _true_range(high[i], low[i], close[i - 1])
    atr = seed / atr_period
    width = atr * k
    middle[start] = ema
    upper[start] = ema + width
    lower[start] = ema - width
    for i in range(start + 1, n):
        ema += alpha * ((high[i] + low[i] + close[i]) / 3.0 - ema)
        atr = (atr * (atr_period - 1) + _true_range(high[i], low[i], close[i - 1])) / atr_period
        width = atr * k
        middle[i] = ema
        upper[i] = ema + width
        lower[i] = ema - width


@njit(cache=True)
def heikin_ashi(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                ha_open: np.ndarray, ha_high: np.ndarray, ha_low: np.ndarray,
                ha_close: np.ndarray) -> None:
    """The first bar's open is (open + close) / 2; every later open is the midpoint
    of the previous Heikin-Ashi open and close (TA-Lib's seed, lookback 0)."""
    n = open_.shape[0]
    if n == 0:
        return
    o = (open_[0] + close[0]) / 2.0
    c = 0.0
    for i in range(n):
        if i > 0:
            o = (o + c) / 2.0
        c = (open_[i] + high[i] + low[i] + close[i]) / 4.0
        h = high[i]
        h = o if o > h else h
        h = c if c > h else h
        lo = low[i]
        lo = o if o < lo else lo
        lo = c if c < lo else lo
        ha_open[i] = o
        ha_high[i] = h
        ha_low[i] = lo
        ha_close[i] = c


@njit(cache=True)
def _ema_betas(period: int) -> tuple[float, float]:
    beta = (period - 1) / (period + 1)
    k = 1.0 - beta
    return 1.0 - k, k


@njit(cache=True)
def cvi(high: np.ndarray, low: np.ndarray, period: int, roc_period: int,
        out: np.ndarray) -> None:
    """Percent change over `roc_period` bars of an SMA-seeded EMA of high - low."""
    n = high.shape[0]
    first = period - 1 + roc_period
    if n < period:
        return
    beta, k = _ema_betas(period)
    ring = np.empty(roc_period)
    total = 0.0
    for i in range(period):
        total += high[i] - low[i]
    ema = total / period
    ring[0] = ema
    slot = 1 % roc_period
    for i in range(period, n):
        ema = beta * ema + k * (high[i] - low[i])
        if i >= first:
            lagged = ring[slot]
            out[i] = 100.0 * ((ema - lagged) / lagged) if lagged != 0.0 else 0.0
        ring[slot] = ema
        slot += 1
        if slot == roc_period:
            slot = 0


@njit(cache=True)
def massi(high: np.ndarray, low: np.ndarray, fast: int, slow: int, out: np.ndarray) -> None:
    """Sum over `slow` bars of EMA(range) / EMA(EMA(range)); each EMA is seeded with
    the mean of its own first `fast` inputs, and a zero denominator gives 1."""
    n = high.shape[0]
    beta, k = _ema_betas(fast)
    ratios = np.zeros(slow)
    sum1 = 0.0
    sum2 = 0.0
    ema1 = 0.0
    ema2 = 0.0
    total = 0.0
    warm = fast - 1
    for i in range(n):
        hl = high[i] - low[i]
        if i < fast:
            sum1 += hl
            if i == warm:
                ema1 = sum1 / fast
        else:
            ema1 = beta * ema1 + k * hl
        if i < warm:
            continue
        j = i - warm
        if j < fast:
            sum2 += ema1
            if j == warm:
                ema2 = sum2 / fast
        else:
            ema2 = beta * ema2 + k * ema1
        if j < warm:
            continue
        ratio = 1.0 if ema2 == 0.0 else ema1 / ema2
        slot = (j - warm) % slow
        total += ratio
        ratios[slot] = ratio
        if j - warm >= slow - 1:
            out[i] = total
            total -= ratios[(slot + 1) % slow]


@njit(cache=True)
def rvi(x: np.ndarray, period: int, sd_period: int, out: np.ndarray) -> None:
    """Relative volatility index; see `batch.rvi` for the definition. The
    deviation is TA-Lib's: running sums of x - shift, with the shift re-anchored
    on the window mean when the variance falls under 1e-6 of its peak (or every
    32 windows), so flat stretches give an exact zero instead of rounding noise."""
    n = x.shape[0]
    m = sd_period
    if n < m - 1 + period:
        return
    inv = 1.0 / m
    w_beta = (period - 1) / period
    w_alpha = 1.0 - w_beta
    shift = x[0]
    s1, s2 = two_pass_sums(x, 0, m - 2, shift)
    peak = s2
    countdown = 32 * m
    up = 0.0
    dn = 0.0
    for today in range(m - 1, n):
        d = x[today] - shift
        s1 += d
        s2 += d * d
        if s2 > peak:
            peak = s2
        mean = s1 * inv
        var = s2 * inv - mean * mean
        d = x[today - m + 1] - shift
        s1 -= d
        s2 -= d * d
        countdown -= 1
        if var < 0.000001 * (peak * inv) or countdown <= 0:
            countdown = 32 * m
            first = today - m + 1
            total = 0.0
            for j in range(first, today + 1):
                total += x[j]
            shift = total * inv
            s1, s2 = two_pass_sums(x, first, today, shift)
            mean = s1 * inv
            var = s2 * inv - mean * mean
            if var < 0.000001 * (s2 * inv):
                shift = x[today]
                s1, s2 = two_pass_sums(x, first, today, shift)
                mean = s1 * inv
                var = s2 * inv - mean * mean
            peak = s2
            if var < 0.000000000001 * (s2 * inv):
                var = 0.0
            d = x[first] - shift
            s1 -= d
            s2 -= d * d
        sigma = np.sqrt(var)
        delta = x[today] - x[today - 1]
        step = today - (m - 1)
        if step < period:
            if delta > 0.0:
                up += sigma
            elif delta < 0.0:
                dn += sigma
            if step < period - 1:
                continue
            up = up / period
            dn = dn / period
        else:
            up = w_beta * up + w_alpha * (sigma if delta > 0.0 else 0.0)
            dn = w_beta * dn + w_alpha * (sigma if delta < 0.0 else 0.0)
        both = up + dn
        out[today] = 50.0 if both == 0.0 else 100.0 * (up / both)


@njit(cache=True)
def _extremes(high: np.ndarray, low: np.ndarray, period: int, upper: np.ndarray,
              lower: np.ndarray) -> None:
    """Highest high and lowest low of the window ending at each bar (from bar
    period - 1 on). The extremes are kept with their positions and the window is
    rescanned only when one of them drops out: amortised O(1) on market data."""
    n = high.shape[0]
    hi_at = -1
    lo_at = -1
    hi = 0.0
    lo = 0.0
    for i in range(period - 1, n):
        first = i - period + 1
        if hi_at < first:
            hi_at = first
            hi = high[first]
            for j in range(first + 1, i + 1):
                if high[j] > hi:
                    hi = high[j]
                    hi_at = j
        elif high[i] >= hi:
            hi = high[i]
            hi_at = i
        if lo_at < first:
            lo_at = first
            lo = low[first]
            for j in range(first + 1, i + 1):
                if low[j] < lo:
                    lo = low[j]
                    lo_at = j
        elif low[i] <= lo:
            lo = low[i]
            lo_at = i
        upper[i] = hi
        lower[i] = lo


@njit(cache=True)
def donchian(high: np.ndarray, low: np.ndarray, period: int, upper: np.ndarray,
             middle: np.ndarray, lower: np.ndarray) -> None:
    _extremes(high, low, period, upper, lower)
    for i in range(period - 1, high.shape[0]):
        middle[i] = (upper[i] + lower[i]) / 2.0


@njit(cache=True)
def _midpoints(high: np.ndarray, low: np.ndarray, period: int, shift: int,
               out: np.ndarray) -> None:
    """(highest high + lowest low) / 2 of the window ending at bar i, written at
    i + shift (the same scan as `_extremes`, without temporary arrays)."""
    n = high.shape[0]
    hi_at = -1
    lo_at = -1
    hi = 0.0
    lo = 0.0
    for i in range(period - 1, n - shift):
        first = i - period + 1
        if hi_at < first:
            hi_at = first
            hi = high[first]
            for j in range(first + 1, i + 1):
                if high[j] > hi:
                    hi = high[j]
                    hi_at = j
        elif high[i] >= hi:
            hi = high[i]
            hi_at = i
        if lo_at < first:
            lo_at = first
            lo = low[first]
            for j in range(first + 1, i + 1):
                if low[j] < lo:
                    lo = low[j]
                    lo_at = j
        elif low[i] <= lo:
            lo = low[i]
            lo_at = i
        out[i + shift] = (hi + lo) / 2.0


@njit(cache=True)
def ichimoku(high: np.ndarray, low: np.ndarray, close: np.ndarray, conversion: int,
             base: int, span_b: int, displacement: int, conv_out: np.ndarray,
             base_out: np.ndarray, span_a_out: np.ndarray, span_b_out: np.ndarray,
             lagging_out: np.ndarray) -> None:
    """See `batch.ichimoku`; NaN (the outputs' fill) carries the warm-up into the
    shifted lines."""
    n = high.shape[0]
    _midpoints(high, low, conversion, 0, conv_out)
    _midpoints(high, low, base, 0, base_out)
    _midpoints(high, low, span_b, displacement, span_b_out)
    for i in range(displacement, n):
        j = i - displacement
        span_a_out[i] = (conv_out[j] + base_out[j]) / 2.0
        lagging_out[i] = close[j]


@njit(cache=True)
def _running_mean(x: np.ndarray, period: int, out: np.ndarray) -> None:
    """TA-Lib's SMA order: add the new value, read the total, subtract the oldest."""
    n = x.shape[0]
    total = 0.0
    for i in range(min(period - 1, n)):
        total += x[i]
    for i in range(period - 1, n):
        total += x[i]
        out[i] = total / period
        total -= x[i - period + 1]


@njit(cache=True)
def adr(high: np.ndarray, low: np.ndarray, period: int, out: np.ndarray) -> None:
    """`_running_mean` of high - low, the range taken as it is read."""
    n = high.shape[0]
    total = 0.0
    for i in range(min(period - 1, n)):
        total += high[i] - low[i]
    for i in range(period - 1, n):
        total += high[i] - low[i]
        out[i] = total / period
        total -= high[i - period + 1] - low[i - period + 1]


@njit(cache=True)
def accbands(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int,
             upper: np.ndarray, middle: np.ndarray, lower: np.ndarray) -> None:
    n = high.shape[0]
    up = np.empty(n)
    down = np.empty(n)
    for i in range(n):
        total = high[i] + low[i]
        if abs(total) < TA_EPSILON:
            up[i] = high[i]
            down[i] = low[i]
        else:
            width = 4.0 * (high[i] - low[i]) / total
            up[i] = high[i] * (1.0 + width)
            down[i] = low[i] * (1.0 - width)
    _running_mean(up, period, upper)
    _running_mean(close, period, middle)
    _running_mean(down, period, lower)


@njit(cache=True)
def _pivot_levels(kind: int, h: float, lo: float, c: float, levels: np.ndarray) -> None:
    """pp, r1, r2, r3, s1, s2, s3 from a session's high, low and close (formulas in
    `batch.pivots`; `incremental.pivot_levels` is the same arithmetic)."""
    pp = (h + lo + c) / 3.0
    r = h - lo
    levels[0] = pp
    if kind == 0:
        levels[1] = 2.0 * pp - lo
        levels[2] = pp + r
        levels[3] = h + 2.0 * (pp - lo)
        levels[4] = 2.0 * pp - h
        levels[5] = pp - r
        levels[6] = lo - 2.0 * (h - pp)
    elif kind == 1:
        levels[1] = pp + 0.382 * r
        levels[2] = pp + 0.618 * r
        levels[3] = pp + r
        levels[4] = pp - 0.382 * r
        levels[5] = pp - 0.618 * r
        levels[6] = pp - r
    else:
        levels[1] = c + r * 1.1 / 12.0
        levels[2] = c + r * 1.1 / 6.0
        levels[3] = c + r * 1.1 / 4.0
        levels[4] = c - r * 1.1 / 12.0
        levels[5] = c - r * 1.1 / 6.0
        levels[6] = c - r * 1.1 / 4.0


@njit(cache=True)
def pivots(session: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
           kind: int, pp: np.ndarray, r1: np.ndarray, r2: np.ndarray, r3: np.ndarray,
           s1: np.ndarray, s2: np.ndarray, s3: np.ndarray) -> None:
    """Levels of the previous session, on every bar of the current one. A session
    ends when the label changes; the first one only feeds the second."""
    n = high.shape[0]
    levels = np.full(7, np.nan)
    h = 0.0
    lo = 0.0
    c = 0.0
    for i in range(n):
        if i == 0 or session[i] != session[i - 1]:
            if i > 0:
                _pivot_levels(kind, h, lo, c, levels)
            h = high[i]
            lo = low[i]
        else:
            if high[i] > h:
                h = high[i]
            if low[i] < lo:
                lo = low[i]
        c = close[i]
        pp[i] = levels[0]
        r1[i] = levels[1]
        r2[i] = levels[2]
        r3[i] = levels[3]
        s1[i] = levels[4]
        s2[i] = levels[5]
        s3[i] = levels[6]
