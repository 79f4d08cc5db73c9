"""Sequential kernels (numba, cached) for the averages whose recursion polars cannot
express: KAMA's smoothing constant depends on a running sum of absolute changes, and
TA-Lib's zero test on that sum is only reproduced by running the same loop in the same
order (a flat stretch leaves either an exact 0 or a residual, and the two give
different smoothing constants).

Every kernel takes a float array whose leading values may be NaN (a derived series
that has not started yet) and starts at the first non-NaN value, the way TA-Lib
starts a moving average at the first bar of its input range.
"""

from __future__ import annotations

import numpy as np
from numba import njit

TA_EPSILON = 1e-14
KAMA_FAST = 2.0 / (2.0 + 1.0)
KAMA_SLOW = 2.0 / (30.0 + 1.0)


@njit(cache=True)
def first_valid(x: np.ndarray) -> int:
    n: int = x.shape[0]
    for i in range(n):
        if not np.isnan(x[i]):
            return i
    return n


@njit(cache=True)
def kama(x: np.ndarray, period: int) -> np.ndarray:
    n = x.shape[0]
    out = np.full(n, np.nan)
    start = first_valid(x)
    if start + period >= n:
        return out
    diff = KAMA_FAST - KAMA_SLOW
    noise = 0.0
    for i in range(start, start + period):
        noise += abs(x[i] - x[i + 1])
    value = x[start + period - 1]
    for t in range(start + period, n):
        trailing = x[t - period]
        change = x[t] - trailing
        if t > start + period:
            noise -= abs(x[t - period - 1] - trailing)
            noise += abs(x[t] - x[t - 1])
        ratio = 1.0 if noise <= change or abs(noise) < TA_EPSILON else abs(change / noise)
        sc = ratio * diff + KAMA_SLOW
        sc *= sc
        value = (x[t] - value) * sc + value
        out[t] = value
    return out


@njit(cache=True)
def wma(x: np.ndarray, period: int) -> np.ndarray:
    """Linearly weighted mean from running sums, in TA-Lib's order: the plain sum
    drops the trailing value one bar late, and the weighted sum drops the plain sum
    after each read (every weight falls by one)."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    start = first_valid(x)
    if start + period > n:
        return out
    divider = period * (period + 1) / 2.0
    plain = 0.0
    weighted = 0.0
    for w in range(1, period):
        plain += x[start + w - 1]
        weighted += x[start + w - 1] * w
    trailing_value = 0.0
    trailing = start
    for t in range(start + period - 1, n):
        plain += x[t]
        plain -= trailing_value
        weighted += x[t] * period
        trailing_value = x[trailing]
        trailing += 1
        out[t] = weighted / divider
        weighted -= plain
    return out


@njit(cache=True)
def sma(x: np.ndarray, period: int) -> np.ndarray:
    """Running-sum mean in TA-Lib's order: add the new value, read, drop the oldest."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    start = first_valid(x)
    if start + period > n:
        return out
    total = 0.0
    for i in range(start, start + period - 1):
        total += x[i]
    for t in range(start + period - 1, n):
        total += x[t]
        out[t] = total / period
        total -= x[t - period + 1]
    return out


@njit(cache=True)
def ewm(x: np.ndarray, period: int, alpha: float) -> np.ndarray:
    """TA-Lib's EMA recursion, seeded with the mean of the first `period` values."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    start = first_valid(x)
    if start + period > n:
        return out
    total = 0.0
    for i in range(start, start + period):
        total += x[i]
    value = total / period
    out[start + period - 1] = value
    for t in range(start + period, n):
        value += alpha * (x[t] - value)
        out[t] = value
    return out


KIND_CODES = {"sma": 0, "ema": 1, "wma": 2, "dema": 3, "tema": 4, "trima": 5, "kama": 6,
              "t3": 8, "hma": 9, "zlema": 12, "rma": 13}
"""TA-Lib's MA_Type numbers, which the kernels take in place of the kind's name."""


@njit(cache=True)
def ewm_chain(x: np.ndarray, period: int, weights: np.ndarray) -> np.ndarray:
    """EMAs chained `len(weights)` deep in one pass (each seeded with the mean of the
    first `period` values of the one before), combined as sum(weights[k] * ema_k)."""
    n = x.shape[0]
    depth = weights.shape[0]
    out = np.full(n, np.nan)
    alpha = 2.0 / (period + 1)
    values = np.zeros(depth)
    counts = np.zeros(depth, dtype=np.int64)
    for t in range(first_valid(x), n):
        v = x[t]
        ready = True
        for k in range(depth):
            if counts[k] < period:
                values[k] += v
                counts[k] += 1
                if counts[k] < period:
                    ready = False
                    break
                values[k] = values[k] / period
            else:
                values[k] += alpha * (v - values[k])
            v = values[k]
        if ready:
            acc = 0.0
            for k in range(depth):
                acc += weights[k] * values[k]
            out[t] = acc
    return out


@njit(cache=True)
def t3(x: np.ndarray, period: int, vfactor: float) -> np.ndarray:
    squared = vfactor * vfactor
    c1 = -squared * vfactor
    c2 = 3.0 * (squared - c1)
    c3 = -6.0 * squared - 3.0 * (vfactor - c1)
    c4 = 1.0 + 3.0 * vfactor - c1 + 3.0 * squared
    return ewm_chain(x, period, np.array([0.0, 0.0, c4, c3, c2, c1]))


@njit(cache=True)
def average(x: np.ndarray, code: int, period: int) -> np.ndarray:
    """TA-Lib's MA of type `code` over `period`, from the first non-NaN of `x`."""
    if period == 1:
        return x.copy()
    if code == 0:
        return sma(x, period)
    if code == 1:
        return ewm(x, period, 2.0 / (period + 1))
    if code == 13:
        return ewm(x, period, 1.0 / period)
    if code == 2:
        return wma(x, period)
    if code == 3:
        return ewm_chain(x, period, np.array([2.0, -1.0]))
    if code == 4:
        return ewm_chain(x, period, np.array([3.0, -3.0, 1.0]))
    if code == 5:
        first = (period + 1) // 2 if period % 2 else period // 2
        return sma(sma(x, first), period + 1 - first)
    if code == 6:
        return kama(x, period)
    if code == 8:
        return t3(x, period, 0.7)
    if code == 9:
        full = wma(x, period)
        if period < 4:
            hma_short: np.ndarray = 2.0 * x - full
            return hma_short
        # TA-Lib primes the half-window WMA only on the bars its first value needs;
        # starting it earlier rounds its running sums differently
        half = period // 2
        late = x.copy()
        late[:first_valid(x) + period - half] = np.nan
        return wma(2.0 * wma(late, half) - full, int(np.sqrt(period)))
    if code == 12:
        lag = (period - 1) // 2
        delagged = np.full(x.shape[0], np.nan)
        delagged[lag:] = 2.0 * x[lag:] - x[:x.shape[0] - lag]
        return ewm(delagged, period, 2.0 / (period + 1))
    return np.full(x.shape[0], np.nan)
