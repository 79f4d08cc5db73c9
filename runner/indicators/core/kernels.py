"""Numba kernels for the core set's batch forms (see `runner.indicators.columns`
for why loops beat polars expressions here).

Each kernel performs the same float operations in the same order as the matching
incremental class, and both follow TA-Lib's order where it matters for rounding:
running window sums add the new value, are read, then lose the trailing one; EMAs
start from the mean of their first `n` inputs and step as `v += k * (x - v)`.

Bollinger bands show why the order matters: see `bbands`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from runner.indicators.statistic.kernels import variance

TA_EPSILON = 1e-14

Array = np.ndarray


@njit(cache=True)
def rolling_mean(x: Array, n: int) -> Array:
    out = np.full(x.shape[0], np.nan)
    total = 0.0
    for i in range(min(n - 1, x.shape[0])):
        total += x[i]
    for i in range(n - 1, x.shape[0]):
        total += x[i]
        out[i] = total / n
        total -= x[i - n + 1]
    return out


@njit(cache=True)
def rolling_sum(x: Array, n: int) -> Array:
    out = np.full(x.shape[0], np.nan)
    total = 0.0
    for i in range(min(n - 1, x.shape[0])):
        total += x[i]
    for i in range(n - 1, x.shape[0]):
        total += x[i]
        out[i] = total
        total -= x[i - n + 1]
    return out


@njit(cache=True)
def seeded_ewm(x: Array, n: int, k: float, start: int) -> Array:
    """EMA over x[start:], first value at start + n - 1 (the mean of its first n)."""
    out = np.full(x.shape[0], np.nan)
    first = start + n - 1
    if first >= x.shape[0]:
        return out
    seed = 0.0
    for i in range(start, first + 1):
        seed += x[i]
    v = seed / n
    out[first] = v
    for i in range(first + 1, x.shape[0]):
        v += k * (x[i] - v)
        out[i] = v
    return out


@njit(cache=True)
def rolling_max(x: Array, n: int) -> Array:
    """Highest of the last n values in O(1) per bar whatever n (van Herk/Gil-Werman):
    cut the series into blocks of n; a window then spans the tail of the previous
    block and the head of the current one, so the answer is the larger of the
    previous block's maximum from an offset onwards (kept in an n-slot buffer) and
    the current block's running maximum. Rescanning a window whenever its maximum
    leaves is O(n) per bar in a downtrend."""
    size = x.shape[0]
    out = np.full(size, np.nan)
    if n > size:
        return out
    tail = np.empty(n)
    for start in range(0, size, n):
        end = min(start + n, size)
        m = x[start]
        for i in range(start, end):
            v = x[i]
            m = v if v > m else m
            o = i - start
            if o == n - 1:
                out[i] = m
            elif i >= n - 1:
                a = tail[o + 1]
                out[i] = a if a > m else m
        m = x[end - 1]
        for i in range(end - 1, start - 1, -1):
            v = x[i]
            m = v if v > m else m
            tail[i - start] = m
    return out


@njit(cache=True)
def rolling_min(x: Array, n: int) -> Array:
    """Lowest of the last n values; see `rolling_max`."""
    size = x.shape[0]
    out = np.full(size, np.nan)
    if n > size:
        return out
    tail = np.empty(n)
    for start in range(0, size, n):
        end = min(start + n, size)
        m = x[start]
        for i in range(start, end):
            v = x[i]
            m = v if v < m else m
            o = i - start
            if o == n - 1:
                out[i] = m
            elif i >= n - 1:
                a = tail[o + 1]
                out[i] = a if a < m else m
        m = x[end - 1]
        for i in range(end - 1, start - 1, -1):
            v = x[i]
            m = v if v < m else m
            tail[i - start] = m
    return out


@njit(cache=True)
def midpoint(x: Array, n: int) -> Array:
    out = rolling_max(x, n)
    low = rolling_min(x, n)
    for i in range(n - 1, x.shape[0]):
        out[i] = (out[i] + low[i]) / 2.0
    return out


@njit(cache=True)
def midprice(high: Array, low: Array, n: int) -> Array:
    out = rolling_max(high, n)
    lowest = rolling_min(low, n)
    for i in range(n - 1, high.shape[0]):
        out[i] = (out[i] + lowest[i]) / 2.0
    return out


@njit(cache=True)
def wma(x: Array, n: int) -> Array:
    """Weights 1..n. The weighted sum steps in O(1): add n·x_new, then subtract the
    plain window sum, which also steps by adding the new and dropping the oldest."""
    out = np.full(x.shape[0], np.nan)
    if n - 1 >= x.shape[0]:
        return out
    denominator = n * (n + 1) / 2.0
    weighted = 0.0
    plain = 0.0
    for i in range(n - 1):
        plain += x[i]
        weighted += x[i] * (i + 1)
    trailing = 0.0
    for i in range(n - 1, x.shape[0]):
        plain += x[i]
        plain -= trailing
        weighted += x[i] * n
        trailing = x[i - n + 1]
        out[i] = weighted / denominator
        weighted -= plain
    return out


@njit(cache=True)
def trange(high: Array, low: Array, close: Array) -> Array:
    out = np.full(high.shape[0], np.nan)
    for i in range(1, high.shape[0]):
        prev = close[i - 1]
        out[i] = max(high[i], prev) - min(low[i], prev)
    return out


@njit(cache=True)
def atr(high: Array, low: Array, close: Array, n: int) -> Array:
    """Wilder's average of the true range, in one pass (composing the trange and EMA
    kernels measured several times slower than fusing them)."""
    size = high.shape[0]
    out = np.full(size, np.nan)
    k = 1.0 / n
    seed = 0.0
    v = 0.0
    for i in range(1, size):
        prev = close[i - 1]
        tr = max(high[i], prev) - min(low[i], prev)
        if n == 1:
            out[i] = tr
        elif i < n:
            seed += tr
        elif i == n:
            seed += tr
            v = seed / n
            out[i] = v
        else:
            v += k * (tr - v)
            out[i] = v
    return out


@njit(cache=True)
def natr(high: Array, low: Array, close: Array, n: int) -> Array:
    out = atr(high, low, close, n)
    for i in range(n, out.shape[0]):
        out[i] = out[i] / close[i] * 100.0 if close[i] != 0.0 else 0.0
    return out


@njit(cache=True)
def rsi_into(close: Array, n: int, out: Array) -> None:
    """Wilder's averages of gains and losses, seeded with their first means, written
    into `out` from row n on (the rows before are the caller's: STOCHRSI reuses a
    column it already holds)."""
    k = 1.0 / n
    gain = 0.0
    loss = 0.0
    for i in range(1, close.shape[0]):
        diff = close[i] - close[i - 1]
        up = diff if diff > 0 else 0.0
        down = -diff if diff < 0 else 0.0
        if i < n:
            gain += up
            loss += down
            continue
        if i == n:
            gain = (gain + up) / n
            loss = (loss + down) / n
        else:
            gain += k * (up - gain)
            loss += k * (down - loss)
        total = gain + loss
        out[i] = 0.0 if abs(total) < TA_EPSILON else 100.0 * gain / total


@njit(cache=True)
def rsi(close: Array, n: int) -> Array:
    out = np.full(close.shape[0], np.nan)
    rsi_into(close, n, out)
    return out


@njit(cache=True)
def macd(close: Array, fast: int, slow: int, signal: int) -> tuple[Array, Array, Array]:
    """Both EMAs start where the slow one does: the fast one is seeded with the mean
    of the `fast` closes ending there, not at its own start (TA-Lib's rule). One
    pass, the three EMAs stepping together: the same operations as `seeded_ewm`
    three times, without the intermediate columns."""
    size = close.shape[0]
    line_out = np.full(size, np.nan)
    sig_out = np.full(size, np.nan)
    hist = np.full(size, np.nan)
    start = slow - 1
    if start >= size:
        return line_out, sig_out, hist
    kf = 2.0 / (fast + 1)
    ks = 2.0 / (slow + 1)
    kg = 2.0 / (signal + 1)
    seed = 0.0
    for i in range(start - fast + 1, start + 1):
        seed += close[i]
    f = seed / fast
    seed = 0.0
    for i in range(0, start + 1):
        seed += close[i]
    s = seed / slow
    ready = start + signal - 1
    g = 0.0
    for i in range(start, size):
        if i > start:
            x = close[i]
            f += kf * (x - f)
            s += ks * (x - s)
        line = f - s
        if i < ready:
            g += line
            continue
        if i == ready:
            g = (g + line) / signal
        else:
            g += kg * (line - g)
        line_out[i] = line
        sig_out[i] = g
        hist[i] = line - g
    return line_out, sig_out, hist


@njit(cache=True)
def bbands(x: Array, period: int, k: float) -> tuple[Array, Array, Array]:
    """SMA ± k · the population deviation, which the wheel computes with re-anchored
    running sums (`statistic.kernels.variance`): plain running sums of x and x² leave
    rounding noise that the square root turns into ~1e-5 of band width on flat
    stretches."""
    middle = rolling_mean(x, period)
    var, _ = variance(x, period)
    upper = np.full(x.shape[0], np.nan)
    lower = np.full(x.shape[0], np.nan)
    for i in range(period - 1, x.shape[0]):
        sd = math.sqrt(var[i]) if var[i] > 0.0 else 0.0
        upper[i] = middle[i] + k * sd
        lower[i] = middle[i] - k * sd
    return upper, middle, lower


@njit(cache=True)
def stoch(high: Array, low: Array, close: Array, k_period: int, k_smooth: int,
          d_period: int) -> tuple[Array, Array]:
    size = close.shape[0]
    hh = rolling_max(high, k_period)
    ll = rolling_min(low, k_period)
    fast_k = np.full(size, np.nan)
    for i in range(k_period - 1, size):
        span = hh[i] - ll[i]
        fast_k[i] = 0.0 if abs(span) < TA_EPSILON else 100.0 * (close[i] - ll[i]) / span
    slow_k = np.full(size, np.nan)
    slow_d = np.full(size, np.nan)
    if k_period - 1 < size:
        slow_k[k_period - 1:] = rolling_mean(fast_k[k_period - 1:], k_smooth)
    first_k = k_period - 1 + k_smooth - 1
    if first_k < size:
        slow_d[first_k:] = rolling_mean(slow_k[first_k:], d_period)
    ready = first_k + d_period - 1
    k_out = np.full(size, np.nan)
    for i in range(ready, size):
        k_out[i] = slow_k[i]
    return k_out, slow_d


@njit(cache=True)
def willr(high: Array, low: Array, close: Array, n: int) -> Array:
    hh = rolling_max(high, n)
    ll = rolling_min(low, n)
    out = np.full(close.shape[0], np.nan)
    for i in range(n - 1, close.shape[0]):
        scaled = (hh[i] - ll[i]) / -100.0
        out[i] = (hh[i] - close[i]) / scaled if scaled != 0.0 else 0.0
    return out


@njit(cache=True)
def obv(close: Array, volume: Array) -> Array:
    out = np.empty(close.shape[0])
    total = 0.0
    for i in range(close.shape[0]):
        if i == 0:
            total = volume[0]
        elif close[i] > close[i - 1]:
            total += volume[i]
        elif close[i] < close[i - 1]:
            total -= volume[i]
        out[i] = total
    return out


@njit(cache=True)
def ad(high: Array, low: Array, close: Array, volume: Array) -> Array:
    out = np.empty(close.shape[0])
    total = 0.0
    for i in range(close.shape[0]):
        span = high[i] - low[i]
        if span > 0.0:
            total += ((close[i] - low[i]) - (high[i] - close[i])) / span * volume[i]
        out[i] = total
    return out
