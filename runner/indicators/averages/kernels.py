"""Numba kernels of the averages family: every MA type, and the composites built on
them, each as one kernel call whose only full-length arrays are one block for its
outputs (and a scratch row where one is unavoidable: APO's slow average, MAVP's).

Why: at 1M bars a kernel's own loop runs at TA-Lib's speed, but every extra
full-length array costs about as much again (fresh pages fault in as they are first
written), and splitting a composite into several kernels or polars expressions runs
each part separately. So TRIMA and HMA keep their inner stage in a ring of `period`
values, ZLEMA de-lags on the fly, a composite writes its intermediate series into
one of its own output rows (KDJ's raw %K lives in the `j` row until J is known), and
chained EMAs run as scalars in registers.

Rounding follows TA-Lib's order where it decides a result, and the incremental
classes mirror every kernel's order: running sums add the new value, are read, then
drop the trailing one (a flat window then sums to an exact 0, as TA-Lib's does);
KAMA's zero test on its noise sum only agrees with TA-Lib's when the sum is kept the
same way. EMAs start from the mean of their first `period` inputs as TA-Lib's do,
but step as `v * (1 - alpha) + alpha * x` rather than TA-Lib's `v + alpha * (x - v)`:
the recursion is the loop's critical path, and two dependent operations instead of
three make DEMA/TEMA/T3 about 25% faster. The two forms differ by an ulp per step,
which the EMA's decay keeps from adding up (a few 1e-15 relative), and no zero test
of this family looks at an EMA value but PPO/PVO's |slow| < 1e-14, where both forms
give an exact 0 for an all-zero input.

An average starts at the first non-NaN value of its input, the way TA-Lib starts a
moving average at the first bar of its input range (an average of a derived series
is seeded on that series' first values). `*_into` kernels write every row of `out`
(NaN before the first value); `out` must not be the input array.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from runner.indicators.core.kernels import rsi_into

Array = np.ndarray

TA_EPSILON = 1e-14
KAMA_FAST = 2.0 / (2.0 + 1.0)
KAMA_SLOW = 2.0 / (30.0 + 1.0)
T3_VFACTOR = 0.7

KIND_CODES = {"sma": 0, "ema": 1, "wma": 2, "dema": 3, "tema": 4, "trima": 5, "kama": 6,
              "t3": 8, "hma": 9, "zlema": 12, "rma": 13}
"""TA-Lib's MA_Type numbers, which the kernels take in place of the kind's name."""


@njit(cache=True)
def first_valid(x: Array) -> int:
    n: int = x.shape[0]
    for i in range(n):
        if not np.isnan(x[i]):
            return i
    return n


@njit(cache=True)
def _nan_before(out: Array, stop: int) -> None:
    for i in range(min(stop, out.shape[0])):
        out[i] = np.nan


@njit(cache=True)
def _rows(count: int, n: int) -> Array:
    """`count` rows of length n in one allocation. Fresh memory costs a page fault
    per 4 KiB on first write, which at 1M bars can take longer than the kernel; glibc
    keeps a freed block for reuse rather than handing it back to the OS when it is
    no larger than the largest block freed before, and one block for all of a
    kernel's arrays raises that mark (measured: MACDFIX 17 ms with three arrays,
    5.5 ms with one block of three rows)."""
    return np.empty((count, n))


@njit(cache=True)
def isqrt(n: int) -> int:
    root = int(math.sqrt(n))
    while root * root > n:
        root -= 1
    while (root + 1) * (root + 1) <= n:
        root += 1
    return root


@njit(cache=True)
def lookback(code: int, period: int) -> int:
    """`incremental.ma_lookback` by MA_Type number."""
    if period <= 1:
        return 0
    if code == 3:
        return 2 * (period - 1)
    if code == 4:
        return 3 * (period - 1)
    if code == 8:
        return 6 * (period - 1)
    if code == 6:
        return period
    if code == 9:
        return period - 1 + isqrt(period) - 1
    if code == 12:
        return (period - 1) // 2 + period - 1
    return period - 1


# ---- the MA types --------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def sma_into(x: Array, start: int, period: int, out: Array) -> None:
    n = x.shape[0]
    first = start + period - 1
    _nan_before(out, first)
    if first >= n:
        return
    total = 0.0
    for i in range(start, first):
        total += x[i]
    for t in range(first, n):
        total += x[t]
        out[t] = total / period
        total -= x[t - period + 1]


@njit(cache=True, error_model="numpy")
def ewm_into(x: Array, start: int, period: int, alpha: float, out: Array) -> None:
    """An EMA seeded with the mean of the first `period` values (TA-Lib's seed),
    stepping as `v * (1 - alpha) + alpha * x` (see the module docstring)."""
    n = x.shape[0]
    first = start + period - 1
    _nan_before(out, first)
    if first >= n:
        return
    total = 0.0
    for i in range(start, first + 1):
        total += x[i]
    value = total / period
    out[first] = value
    keep = 1.0 - alpha
    for t in range(first + 1, n):
        value = value * keep + alpha * x[t]
        out[t] = value


@njit(cache=True, error_model="numpy")
def wma_into(x: Array, start: int, period: int, out: Array) -> None:
    """Linearly weighted mean from running sums, in TA-Lib's order: the plain sum
    drops the trailing value one bar late, and the weighted sum drops the plain sum
    after each read (every weight falls by one)."""
    n = x.shape[0]
    first = start + period - 1
    _nan_before(out, first)
    if first >= n:
        return
    divider = period * (period + 1) / 2.0
    plain = 0.0
    weighted = 0.0
    for w in range(1, period):
        plain += x[start + w - 1]
        weighted += x[start + w - 1] * w
    trailing_value = 0.0
    trailing = start
    for t in range(first, n):
        plain += x[t]
        plain -= trailing_value
        weighted += x[t] * period
        trailing_value = x[trailing]
        trailing += 1
        out[t] = weighted / divider
        weighted -= plain


@njit(cache=True, error_model="numpy")
def trima_into(x: Array, start: int, period: int, out: Array) -> None:
    """The SMA of an SMA (windows (n+1)/2 twice when n is odd, n/2 then n/2+1 when
    even); the inner means wait in a ring for the outer sum to drop them."""
    n = x.shape[0]
    inner = (period + 1) // 2 if period % 2 else period // 2
    outer = period + 1 - inner
    first = start + period - 1
    _nan_before(out, first)
    if first >= n:
        return
    ring = np.empty(outer)
    total = 0.0
    for i in range(start, start + inner - 1):
        total += x[i]
    outer_total = 0.0
    slot = 0  # where this bar's mean goes; the next slot holds the oldest mean
    for t in range(start + inner - 1, n):
        total += x[t]
        mean = total / inner
        total -= x[t - inner + 1]
        ring[slot] = mean
        slot = slot + 1 if slot + 1 < outer else 0
        outer_total += mean
        if t >= first:
            out[t] = outer_total / outer
            outer_total -= ring[slot]


@njit(cache=True, error_model="numpy")
def kama_into(x: Array, start: int, period: int, out: Array) -> None:
    n = x.shape[0]
    first = start + period
    _nan_before(out, first)
    if first >= n:
        return
    diff = KAMA_FAST - KAMA_SLOW
    noise = 0.0
    for i in range(start, start + period):
        noise += abs(x[i] - x[i + 1])
    value = x[start + period - 1]
    previous_trailing = x[start]
    for t in range(first, n):
        trailing = x[t - period]
        now = x[t]
        change = now - trailing
        if t > first:  # the window's changes: drop the oldest, add the newest
            noise -= abs(previous_trailing - trailing)
            noise += abs(now - x[t - 1])
        previous_trailing = trailing
        ratio = 1.0 if noise <= change or abs(noise) < TA_EPSILON else abs(change / noise)
        sc = ratio * diff + KAMA_SLOW
        sc *= sc
        value = (now - value) * sc + value
        out[t] = value


@njit(cache=True)
def _combined(values: Array, weights: Array) -> float:
    """sum(weights[k] * ema_k) in `incremental`'s order; a chain 6 deep is T3, whose
    first two weights are 0 and left out."""
    first = 2 if values.shape[0] == 6 else 0
    acc: float = weights[first] * values[first]
    for k in range(first + 1, values.shape[0]):
        acc += weights[k] * values[k]
    return acc


@njit(cache=True, error_model="numpy")
def chain_into(x: Array, start: int, period: int, weights: Array, out: Array) -> None:
    """EMAs chained `len(weights)` deep (2: DEMA, 3: TEMA, 6: T3), each seeded with the
    mean of the first `period` values of the one before, combined by `_combined`.
    The warm-up runs generically; once every stage is seeded the stages run as
    scalars, which lets the CPU overlap their recursions."""
    n = x.shape[0]
    depth = weights.shape[0]
    first = start + depth * (period - 1)
    _nan_before(out, first)
    if first >= n:
        return
    alpha = 2.0 / (period + 1)
    keep = 1.0 - alpha
    values = np.zeros(depth)
    counts = np.zeros(depth, dtype=np.int64)
    for t in range(start, first + 1):
        v = x[t]
        for k in range(depth):
            if counts[k] < period:
                values[k] += v
                counts[k] += 1
                if counts[k] < period:
                    break
                values[k] = values[k] / period
            else:
                values[k] = values[k] * keep + alpha * v
            v = values[k]
    out[first] = _combined(values, weights)
    if depth == 2:
        e0, e1 = values[0], values[1]
        w0, w1 = weights[0], weights[1]
        for t in range(first + 1, n):
            e0 = e0 * keep + alpha * x[t]
            e1 = e1 * keep + alpha * e0
            out[t] = w0 * e0 + w1 * e1
    elif depth == 3:
        e0, e1, e2 = values[0], values[1], values[2]
        w0, w1, w2 = weights[0], weights[1], weights[2]
        for t in range(first + 1, n):
            e0 = e0 * keep + alpha * x[t]
            e1 = e1 * keep + alpha * e0
            e2 = e2 * keep + alpha * e1
            out[t] = w0 * e0 + w1 * e1 + w2 * e2
    else:
        e0, e1, e2, e3, e4, e5 = values[0], values[1], values[2], values[3], values[4], values[5]
        w2, w3, w4, w5 = weights[2], weights[3], weights[4], weights[5]
        for t in range(first + 1, n):
            e0 = e0 * keep + alpha * x[t]
            e1 = e1 * keep + alpha * e0
            e2 = e2 * keep + alpha * e1
            e3 = e3 * keep + alpha * e2
            e4 = e4 * keep + alpha * e3
            e5 = e5 * keep + alpha * e4
            out[t] = w2 * e2 + w3 * e3 + w4 * e4 + w5 * e5


@njit(cache=True)
def t3_weights(vfactor: float) -> Array:
    """Weights of EMA 1-6 in Tillson's T3, in TA-Lib's rounding order."""
    squared = vfactor * vfactor
    c1 = -squared * vfactor
    c2 = 3.0 * (squared - c1)
    c3 = -6.0 * squared - 3.0 * (vfactor - c1)
    c4 = 1.0 + 3.0 * vfactor - c1 + 3.0 * squared
    return np.array([0.0, 0.0, c4, c3, c2, c1])


@njit(cache=True, error_model="numpy")
def hma_into(x: Array, start: int, period: int, out: Array) -> None:
    """Hull: the WMA over isqrt(n) of 2 WMA(n // 2) - WMA(n), the three running WMAs
    of `wma_into` side by side. TA-Lib primes the half-window WMA only on the bars its
    first value needs (starting it earlier rounds its sums differently), so both inner
    WMAs give their first value at the same bar."""
    n = x.shape[0]
    first = start + period - 1  # first value of both inner WMAs
    if period < 4:  # half and outer windows of 1: 2 x - WMA(n)
        wma_into(x, start, period, out)
        for t in range(first, n):
            out[t] = 2.0 * x[t] - out[t]
        return
    half = period // 2
    span = isqrt(period)
    _nan_before(out, first + span - 1)
    if first >= n:
        return
    half_start = start + period - half
    full_div = period * (period + 1) / 2.0
    half_div = half * (half + 1) / 2.0
    span_div = span * (span + 1) / 2.0
    full_plain = full_weighted = 0.0
    for w in range(1, period):
        full_plain += x[start + w - 1]
        full_weighted += x[start + w - 1] * w
    half_plain = half_weighted = 0.0
    for w in range(1, half):
        half_plain += x[half_start + w - 1]
        half_weighted += x[half_start + w - 1] * w
    full_tv = half_tv = span_tv = 0.0
    span_plain = span_weighted = 0.0
    ring = np.empty(span)
    slot = 0
    for t in range(first, n):
        v = x[t]
        full_plain += v
        full_plain -= full_tv
        full_weighted += v * period
        full_tv = x[start + t - first]
        full = full_weighted / full_div
        full_weighted -= full_plain
        half_plain += v
        half_plain -= half_tv
        half_weighted += v * half
        half_tv = x[half_start + t - first]
        half_value = half_weighted / half_div
        half_weighted -= half_plain
        c = 2.0 * half_value - full
        k = t - first  # index of c in the combined series
        ring[slot] = c
        slot = slot + 1 if slot + 1 < span else 0
        if k < span - 1:
            span_plain += c
            span_weighted += c * (k + 1)
            continue
        span_plain += c
        span_plain -= span_tv
        span_weighted += c * span
        span_tv = ring[slot]  # the oldest of the last `span`
        out[t] = span_weighted / span_div
        span_weighted -= span_plain


@njit(cache=True, error_model="numpy")
def zlema_into(x: Array, start: int, period: int, out: Array) -> None:
    """EMA of the de-lagged series 2 x[t] - x[t - (n-1)//2], seeded with the mean of
    its first n values, the de-lagged values made on the fly."""
    n = x.shape[0]
    lag = (period - 1) // 2
    begin = start + lag
    first = begin + period - 1
    _nan_before(out, first)
    if first >= n:
        return
    alpha = 2.0 / (period + 1)
    keep = 1.0 - alpha
    total = 0.0
    for i in range(begin, first + 1):
        total += 2.0 * x[i] - x[i - lag]
    value = total / period
    out[first] = value
    for t in range(first + 1, n):
        value = value * keep + alpha * (2.0 * x[t] - x[t - lag])
        out[t] = value


@njit(cache=True, error_model="numpy")
def average_into(x: Array, code: int, period: int, out: Array) -> None:
    """TA-Lib's MA of type `code` over `period` into `out`, from the first non-NaN
    of `x`. Period 1 is the input itself whatever the kind (TA-Lib's MA rule); T3
    runs with volume factor 0.7, as TA-Lib's MA does."""
    start = first_valid(x)
    if period == 1:
        for i in range(x.shape[0]):
            out[i] = x[i]
    elif code == 0:
        sma_into(x, start, period, out)
    elif code == 1:
        ewm_into(x, start, period, 2.0 / (period + 1), out)
    elif code == 13:
        ewm_into(x, start, period, 1.0 / period, out)
    elif code == 2:
        wma_into(x, start, period, out)
    elif code == 3:
        chain_into(x, start, period, np.array([2.0, -1.0]), out)
    elif code == 4:
        chain_into(x, start, period, np.array([3.0, -3.0, 1.0]), out)
    elif code == 5:
        trima_into(x, start, period, out)
    elif code == 6:
        kama_into(x, start, period, out)
    elif code == 8:
        chain_into(x, start, period, t3_weights(T3_VFACTOR), out)
    elif code == 9:
        hma_into(x, start, period, out)
    elif code == 12:
        zlema_into(x, start, period, out)
    else:
        out[:] = np.nan


@njit(cache=True)
def average(x: Array, code: int, period: int) -> Array:
    out = np.empty(x.shape[0])
    average_into(x, code, period, out)
    return out


@njit(cache=True)
def t3(x: Array, period: int, vfactor: float) -> Array:
    out = np.empty(x.shape[0])
    if period == 1:
        out[:] = x
    else:
        chain_into(x, first_valid(x), period, t3_weights(vfactor), out)
    return out


# ---- oscillators of two averages -------------------------------------------------------


@njit(cache=True, error_model="numpy")
def fast_slow(x: Array, code: int, fast: int, slow: int, percent: bool) -> Array:
    """APO (fast - slow) or PPO/PVO ((fast - slow) / slow in percent, 0 where TA-Lib
    finds the slow average zero); both averages seeded from the first bar."""
    block = _rows(2, x.shape[0])
    out: Array = block[0]
    slow_avg = block[1]
    average_into(x, code, fast, out)
    average_into(x, code, slow, slow_avg)
    for t in range(x.shape[0]):
        s = slow_avg[t]
        if percent:
            out[t] = 0.0 if abs(s) < TA_EPSILON else (out[t] - s) / s * 100.0
        else:
            out[t] = out[t] - s
    return out


@njit(cache=True, error_model="numpy")
def macdfix(x: Array, signal: int) -> tuple[Array, Array, Array]:
    """MACD 12/26 with TA-Lib's fixed smoothing constants 0.15 and 0.075 (not 2/13 and
    2/27); the fast EMA is seeded on the 12 closes ending where the slow one starts,
    and the signal EMA on the first `signal` MACD values."""
    n = x.shape[0]
    block = _rows(3, n)
    line_out, signal_out, hist_out = block[0], block[1], block[2]
    ready = 25 + signal - 1
    _nan_before(line_out, ready)
    _nan_before(signal_out, ready)
    _nan_before(hist_out, ready)
    if ready >= n:
        return line_out, signal_out, hist_out
    fast = 0.0
    for i in range(14, 26):
        fast += x[i]
    fast = fast / 12
    slow = 0.0
    for i in range(26):
        slow += x[i]
    slow = slow / 26
    alpha = 2.0 / (signal + 1)
    keep = 1.0 - alpha
    sig = 0.0
    for t in range(25, n):
        if t > 25:
            fast = fast * (1.0 - 0.15) + 0.15 * x[t]
            slow = slow * (1.0 - 0.075) + 0.075 * x[t]
        line = fast - slow
        if t < ready:
            sig += line
            continue
        sig = (sig + line) / signal if t == ready else sig * keep + alpha * line
        line_out[t] = line
        signal_out[t] = sig
        hist_out[t] = line - sig
    return line_out, signal_out, hist_out


@njit(cache=True, error_model="numpy")
def macdext(x: Array, fast: int, fast_code: int, slow: int, slow_code: int, signal: int,
            signal_code: int) -> tuple[Array, Array, Array]:
    """Both averages start where the later-starting one does (TA-Lib's MACDEXT), so an
    EMA-type fast average is seeded on the bars just before that row; the slow
    average is kept in the `hist` column until the histogram replaces it."""
    n = x.shape[0]
    block = _rows(3, n)
    line, sig, hist = block[0], block[1], block[2]
    fast_lb = lookback(fast_code, fast)
    slow_lb = lookback(slow_code, slow)
    start = max(fast_lb, slow_lb)
    fast_from = min(start - fast_lb, n)
    slow_from = min(start - slow_lb, n)
    _nan_before(line, fast_from)
    _nan_before(hist, slow_from)
    average_into(x[fast_from:], fast_code, fast, line[fast_from:])
    average_into(x[slow_from:], slow_code, slow, hist[slow_from:])
    for t in range(n):
        line[t] = line[t] - hist[t]
    average_into(line, signal_code, signal, sig)
    ready = start + lookback(signal_code, signal)
    _nan_before(line, ready)
    for t in range(n):
        hist[t] = line[t] - sig[t]
    return line, sig, hist


# ---- stochastics ------------------------------------------------------------------------


SHORT_WINDOW = 10
"""Up to this many bars, %K's extremes are found by reading the whole window every
bar: branch-free min/max beats rescanning only when the extreme leaves the window
(whose branches a random walk mispredicts), 5 ms against 10 ms at 1M bars for 5."""


@njit(cache=True, error_model="numpy")
def fast_k_into(high: Array, low: Array, close: Array, start: int, period: int,
                flat: float, out: Array) -> None:
    """TA-Lib's raw %K from `start`: (close - lowest) / ((highest - lowest) / 100), 0
    where that divisor is 0 (its `!= 0` test) or the range is within `flat` of the
    extremes (see `RSI_FLAT`). Longer windows rescan only when the current extreme
    leaves them."""
    n = close.shape[0]
    first = start + period - 1
    _nan_before(out, first)
    low_at = high_at = -1
    lowest = highest = 0.0
    for t in range(first, n):
        trailing = t - period + 1
        if period <= SHORT_WINDOW:
            lowest = low[t]
            highest = high[t]
            for i in range(trailing, t):
                v = low[i]
                lowest = v if v < lowest else lowest
                w = high[i]
                highest = w if w > highest else highest
        else:
            if low_at < trailing:
                low_at = trailing
                lowest = low[trailing]
                for i in range(trailing + 1, t + 1):
                    if low[i] <= lowest:
                        lowest = low[i]
                        low_at = i
            elif low[t] <= lowest:
                lowest = low[t]
                low_at = t
            if high_at < trailing:
                high_at = trailing
                highest = high[trailing]
                for i in range(trailing + 1, t + 1):
                    if high[i] >= highest:
                        highest = high[i]
                        high_at = i
            elif high[t] >= highest:
                highest = high[t]
                high_at = t
        diff = (highest - lowest) / 100.0
        if diff == 0.0 or abs(highest - lowest) <= flat * (abs(highest) + abs(lowest)):
            out[t] = 0.0
        else:
            out[t] = (close[t] - lowest) / diff


@njit(cache=True)
def stochf(high: Array, low: Array, close: Array, k_period: int, d_period: int,
           d_code: int) -> tuple[Array, Array]:
    n = close.shape[0]
    block = _rows(2, n)
    k, d = block[0], block[1]
    fast_k_into(high, low, close, 0, k_period, 0.0, k)
    average_into(k, d_code, d_period, d)
    _nan_before(k, k_period - 1 + lookback(d_code, d_period))
    return k, d


RSI_FLAT = 1e-12
"""%K of the RSI is 0 where the window's range is within this fraction of its
extremes. The RSI on a flat stretch is constant up to rounding, and the wheel's RSI
rounds differently from core's `rsi` kernel (whose arithmetic this one shares, so
STOCHRSI's RSI is the RSI indicator's): TA-Lib gets an exact 0 range there, we a
last-bits wobble that would make %K jump between 0 and 100."""


@njit(cache=True, error_model="numpy")
def stochrsi(close: Array, period: int, k_period: int, d_period: int,
             d_code: int) -> tuple[Array, Array]:
    """STOCHF with the RSI as high, low and close; the RSI is kept in the `d` column
    until %D replaces it."""
    n = close.shape[0]
    block = _rows(2, n)
    k, d = block[0], block[1]
    rsi = d
    _nan_before(rsi, period)
    rsi_into(close, period, rsi)
    fast_k_into(rsi, rsi, rsi, period, k_period, RSI_FLAT, k)
    average_into(k, d_code, d_period, d)
    _nan_before(k, period + k_period - 1 + lookback(d_code, d_period))
    return k, d


@njit(cache=True, error_model="numpy")
def kdj(high: Array, low: Array, close: Array, k_period: int, k_smooth: int, k_code: int,
        d_period: int, d_code: int) -> tuple[Array, Array, Array]:
    """TA-Lib's STOCH with any averages, and J = 3 K - 2 D; the raw %K waits in the
    `j` column."""
    n = close.shape[0]
    block = _rows(3, n)
    k, d, j = block[0], block[1], block[2]
    fast_k_into(high, low, close, 0, k_period, 0.0, j)
    average_into(j, k_code, k_smooth, k)
    average_into(k, d_code, d_period, d)
    _nan_before(k, k_period - 1 + lookback(k_code, k_smooth) + lookback(d_code, d_period))
    for t in range(n):
        j[t] = 3.0 * k[t] - 2.0 * d[t]
    return k, d, j


# ---- variable period ---------------------------------------------------------------------


@njit(cache=True)
def clamp_period(value: float, low: int, high: int) -> int:
    """TA-Lib's (int) truncation of a period, clamped to [low, high]; NaN gives low."""
    if value >= high:
        return high
    if not value >= low:
        return low
    return int(value)


@njit(cache=True, error_model="numpy")
def mavp(x: Array, periods: Array, low: int, high: int, code: int) -> Array:
    """Each bar's MA over its own clamped period. As in TA-Lib, the MA of period p is
    computed as if the input began `lookback(p)` bars before the first output (the
    lookback at `high`), so an EMA-type average of a short period is seeded there,
    not on the first bar. One pass per period that occurs, up to its last bar; the
    bars are grouped by period first (a counting sort) so each pass only writes its
    own bars."""
    n = x.shape[0]
    block = _rows(2, n)
    out: Array = block[0]
    scratch = block[1]
    begin = lookback(code, high)
    _nan_before(out, begin)
    if begin >= n:
        return out
    count = np.zeros(high + 2, dtype=np.int64)
    clamped = np.empty(n - begin, dtype=np.int32)
    for t in range(begin, n):
        p = clamp_period(periods[t], low, high)
        clamped[t - begin] = p
        count[p + 1] += 1
    for p in range(low, high + 1):  # count[p] becomes where period p's bars start
        count[p + 1] += count[p]
    bars = np.empty(n - begin, dtype=np.int32)
    fill = count.copy()
    for t in range(begin, n):
        p = clamped[t - begin]
        bars[fill[p]] = t
        fill[p] += 1
    for p in range(low, high + 1):
        if count[p + 1] == count[p]:
            continue
        offset = begin - lookback(code, p)
        last = bars[count[p + 1] - 1]
        average_into(x[offset:last + 1], code, p, scratch[offset:last + 1])
        for i in range(count[p], count[p + 1]):
            t = bars[i]
            out[t] = scratch[t]
    return out
