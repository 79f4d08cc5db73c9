"""Sequential kernels (numba, cached) for the rolling statistics.

The `ta-lib` wheel keeps its window sums in O(1) per bar but re-anchors them: the
variance and correlation sums hold deviations from a shift near the window and are
rebuilt by a fresh two-pass over the window every `32 * period` bars or as soon as
the extracted sum of squares collapses below 1e-6 of the largest one held since the
last rebuild; the regression sums are rebuilt every `32 * period` bars or when the
departing value outweighs the rest of the window. Matching the wheel to 1e-9 on
flat stretches and on 2.5e6 / 3e-5 price levels means running the same schedule,
so these are loops rather than polars expressions. The incremental forms run the
same steps on a deque.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

REBUILD_EVERY = 32
COLLAPSE = 1e-6
VARIANCE_FLOOR = 1e-12
TA_EPSILON = 1e-14


@njit(cache=True)
def two_pass_sums(x: np.ndarray, start: int, stop: int, shift: float) -> tuple[float, float]:
    t1 = 0.0
    t2 = 0.0
    for j in range(start, stop + 1):
        d = x[j] - shift
        t1 += d
        t2 += d * d
    return t1, t2


@njit(cache=True)
def variance(x: np.ndarray, period: int) -> tuple[np.ndarray, np.ndarray]:
    """Population variance and mean of the `period` values ending at each bar."""
    n = x.shape[0]
    var = np.full(n, np.nan)
    mean = np.full(n, np.nan)
    if n < period:
        return var, mean
    lb = period - 1
    inv = 1.0 / period
    shift = x[0]
    t1, t2 = two_pass_sums(x, 0, lb - 1, shift)
    peak = t2
    since = REBUILD_EVERY * period
    for i in range(lb, n):
        d = x[i] - shift
        t1 += d
        t2 += d * d
        if t2 > peak:
            peak = t2
        m = t1 * inv
        v = t2 * inv - m * m
        d = x[i - lb] - shift
        t1 -= d
        t2 -= d * d
        since -= 1
        if v < COLLAPSE * (peak * inv) or since <= 0:
            since = REBUILD_EVERY * period
            ws = i - lb
            s = 0.0
            for j in range(ws, i + 1):
                s += x[j]
            shift = s * inv
            t1, t2 = two_pass_sums(x, ws, i, shift)
            m = t1 * inv
            v = t2 * inv - m * m
            if v < COLLAPSE * (t2 * inv):
                # flat to the rounding of its own mean: anchor on a window value
                shift = x[i]
                t1, t2 = two_pass_sums(x, ws, i, shift)
                m = t1 * inv
                v = t2 * inv - m * m
            peak = t2
            if v < VARIANCE_FLOOR * (t2 * inv):
                v = 0.0
            d = x[ws] - shift
            t1 -= d
            t2 -= d * d
        var[i] = v
        mean[i] = shift + m
    return var, mean


@njit(cache=True)
def stddev(x: np.ndarray, period: int, k: float) -> np.ndarray:
    var, _ = variance(x, period)
    out = np.full(x.shape[0], np.nan)
    for i in range(period - 1, x.shape[0]):
        out[i] = math.sqrt(var[i]) * k if var[i] > 0.0 else 0.0
    return out


@njit(cache=True)
def zscore(x: np.ndarray, period: int) -> np.ndarray:
    var, mean = variance(x, period)
    out = np.full(x.shape[0], np.nan)
    for i in range(period - 1, x.shape[0]):
        out[i] = (x[i] - mean[i]) / math.sqrt(var[i]) if var[i] > 0.0 else 0.0
    return out


@njit(cache=True)
def avgdev(x: np.ndarray, period: int) -> np.ndarray:
    """Mean absolute deviation from the window mean, summed newest first."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    for t in range(period - 1, n):
        total = 0.0
        for i in range(period):
            total += x[t - i]
        mean = total / period
        dev = 0.0
        for i in range(period):
            dev += abs(x[t - i] - mean)
        out[t] = dev / period
    return out


@njit(cache=True)
def linreg(x: np.ndarray, period: int) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares slope `m` and intercept `b` (at the oldest bar) of each window.

    The sums weight each value by its age in bars (newest 0); sliding the window
    adds the window sum to the weighted sum and drops the departing value at full
    weight. Rebuilt as described in the module docstring."""
    n = x.shape[0]
    slope = np.full(n, np.nan)
    icept = np.full(n, np.nan)
    if n < period:
        return slope, icept
    lb = period - 1
    sum_x = float(period) * (period - 1) * 0.5
    sum_xx = float(period) * (period - 1) * (2 * period - 1) / 6.0
    divisor = sum_x * sum_x - period * sum_xx
    sum_xy = 0.0
    sum_y = 0.0
    sum_abs = 0.0
    for i in range(lb, -1, -1):
        v = x[lb - i]
        sum_y += v
        sum_xy += float(i) * v
        sum_abs += abs(v)
    since = REBUILD_EVERY * period
    for t in range(lb, n):
        if t > lb:
            trailing = x[t - period]
            weighted = float(period) * trailing
            sum_xy = sum_xy + sum_y - weighted
            sum_y = sum_y - trailing + x[t]
            sum_abs = sum_abs - abs(trailing) + abs(x[t])
            since -= 1
            if since <= 0 or abs(weighted) > 100.0 * sum_abs:
                since = REBUILD_EVERY * period
                sum_y = 0.0
                sum_xy = 0.0
                sum_abs = 0.0
                w = float(lb)
                for j in range(t - lb, t + 1):
                    v = x[j]
                    sum_y += v
                    sum_xy += w * v
                    sum_abs += abs(v)
                    w -= 1.0
        m = (period * sum_xy - sum_x * sum_y) / divisor
        slope[t] = m
        icept[t] = (sum_y - m * sum_x) / period
    return slope, icept


@njit(cache=True)
def correl(x: np.ndarray, y: np.ndarray, period: int) -> np.ndarray:
    """Pearson correlation over shifted running sums, rebuilt per side."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    if n < period:
        return out
    lb = period - 1
    inv = 1.0 / period
    shx = x[0]
    shy = y[0]
    sx = 0.0
    sy = 0.0
    sxx = 0.0
    syy = 0.0
    sxy = 0.0
    for j in range(0, lb):
        a = x[j] - shx
        b = y[j] - shy
        sx += a
        sxx += a * a
        sxy += a * b
        sy += b
        syy += b * b
    peak_x = sxx
    peak_y = syy
    since = REBUILD_EVERY * period
    for t in range(lb, n):
        a = x[t] - shx
        b = y[t] - shy
        sx += a
        sxx += a * a
        sxy += a * b
        sy += b
        syy += b * b
        if sxx > peak_x:
            peak_x = sxx
        if syy > peak_y:
            peak_y = syy
        ssx = sxx - sx * sx * inv
        ssy = syy - sy * sy * inv
        spxy = sxy - sx * sy * inv
        since -= 1
        if ssx < COLLAPSE * peak_x or ssy < COLLAPSE * peak_y or since <= 0:
            since = REBUILD_EVERY * period
            ws = t - lb
            tx = 0.0
            ty = 0.0
            for j in range(ws, t + 1):
                tx += x[j]
                ty += y[j]
            shx = tx * inv
            shy = ty * inv
            for attempt in range(2):
                sx = 0.0
                sy = 0.0
                sxx = 0.0
                syy = 0.0
                sxy = 0.0
                for j in range(ws, t + 1):
                    a = x[j] - shx
                    b = y[j] - shy
                    sx += a
                    sxx += a * a
                    sxy += a * b
                    sy += b
                    syy += b * b
                ssx = sxx - sx * sx * inv
                ssy = syy - sy * sy * inv
                spxy = sxy - sx * sy * inv
                flat_x = ssx < COLLAPSE * sxx
                flat_y = ssy < COLLAPSE * syy
                if attempt == 1 or not (flat_x or flat_y):
                    break
                if flat_x:
                    shx = x[t]
                if flat_y:
                    shy = y[t]
            peak_x = sxx
            peak_y = syy
            if ssx < 0.0:
                ssx = 0.0
            if ssy < 0.0:
                ssy = 0.0
        a = x[t - lb] - shx
        b = y[t - lb] - shy
        if ssx > TA_EPSILON * sxx and ssy > TA_EPSILON * syy and ssx * ssy > 0.0:
            r = spxy / math.sqrt(ssx * ssy)
            out[t] = min(1.0, max(-1.0, r))
        else:
            out[t] = 0.0
        sx -= a
        sxx -= a * a
        sxy -= a * b
        sy -= b
        syy -= b * b
    return out


@njit(cache=True)
def _change(now: float, before: float) -> float:
    return (now - before) / before if abs(before) >= TA_EPSILON else 0.0


@njit(cache=True)
def beta(x: np.ndarray, y: np.ndarray, period: int) -> np.ndarray:
    """Slope of y's one-bar returns regressed on x's, over `period` returns.

    The return sums are shifted and re-anchored like `correl`'s, watching the
    regressor's sum of squares only (the one the slope divides by)."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    if n <= period:
        return out
    rx = np.zeros(n)
    ry = np.zeros(n)
    for i in range(1, n):
        rx[i] = _change(x[i], x[i - 1])
        ry[i] = _change(y[i], y[i - 1])
    inv = 1.0 / period
    nf = float(period)
    shx = rx[1]
    shy = ry[1]
    sx = 0.0
    sy = 0.0
    sxx = 0.0
    sxy = 0.0
    for j in range(1, period):
        a = rx[j] - shx
        b = ry[j] - shy
        sx += a
        sxx += a * a
        sxy += a * b
        sy += b
    peak = sxx
    since = REBUILD_EVERY * period
    for t in range(period, n):
        a = rx[t] - shx
        b = ry[t] - shy
        sx += a
        sxx += a * a
        sxy += a * b
        sy += b
        if sxx > peak:
            peak = sxx
        since -= 1
        if sxx - sx * sx * inv < COLLAPSE * peak or since <= 0:
            since = REBUILD_EVERY * period
            ws = t - period + 1
            tx = 0.0
            ty = 0.0
            for j in range(ws, t + 1):
                tx += rx[j]
                ty += ry[j]
            shx = tx * inv
            shy = ty * inv
            for attempt in range(2):
                sx = 0.0
                sy = 0.0
                sxx = 0.0
                sxy = 0.0
                syy = 0.0
                for j in range(ws, t + 1):
                    a = rx[j] - shx
                    b = ry[j] - shy
                    sx += a
                    sxx += a * a
                    sxy += a * b
                    sy += b
                    syy += b * b
                flat_x = sxx - sx * sx * inv < COLLAPSE * sxx
                flat_y = syy - sy * sy * inv < COLLAPSE * syy
                if attempt == 1 or not (flat_x or flat_y):
                    break
                if flat_x:
                    shx = rx[t]
                if flat_y:
                    shy = ry[t]
            peak = sxx
        a = rx[t - period + 1] - shx
        b = ry[t - period + 1] - shy
        den = nf * sxx - sx * sx
        out[t] = (nf * sxy - sx * sy) / den if abs(den) >= TA_EPSILON else 0.0
        sx -= a
        sxx -= a * a
        sxy -= a * b
        sy -= b
    return out


@njit(cache=True)
def _highest(x: np.ndarray, period: int, idx_out: np.ndarray, val_out: np.ndarray) -> None:
    n = x.shape[0]
    best_idx = -1
    best = 0.0
    for t in range(period - 1, n):
        trailing = t - period + 1
        v = x[t]
        if best_idx < trailing:
            best_idx = trailing
            best = x[trailing]
            for i in range(trailing + 1, t + 1):
                if x[i] > best:
                    best_idx = i
                    best = x[i]
        elif v >= best:
            best_idx = t
            best = v
        idx_out[t] = best_idx
        val_out[t] = best


@njit(cache=True)
def extreme_index(x: np.ndarray, period: int, highest: bool) -> tuple[np.ndarray, np.ndarray]:
    """Position and value of the window's maximum (or minimum).

    A new value equal to the held extreme takes its place; when the held extreme
    leaves the window the rescan keeps the first (oldest) of equal values. The
    minimum is the maximum of the negated series (negation is exact)."""
    n = x.shape[0]
    idx_out = np.full(n, np.nan)
    val_out = np.full(n, np.nan)
    if highest:
        _highest(x, period, idx_out, val_out)
    else:
        _highest(-x, period, idx_out, val_out)
        val_out = -val_out
    return idx_out, val_out


@njit(cache=True)
def minmax(x: np.ndarray, period: int) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                  np.ndarray]:
    """Minimum position, maximum position, minimum and maximum of each window."""
    lo_idx, lo = extreme_index(x, period, False)
    hi_idx, hi = extreme_index(x, period, True)
    return lo_idx, hi_idx, lo, hi


@njit(cache=True)
def percentile(x: np.ndarray, period: int, rank: int) -> np.ndarray:
    """The `rank`-th smallest (1-based) of each window, from a sorted copy kept by
    insertion and deletion."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    if n < period:
        return out
    window = np.sort(x[:period - 1].copy())
    size = period - 1
    buf = np.empty(period)
    buf[:size] = window
    for t in range(period - 1, n):
        v = x[t]
        j = size
        while j > 0 and buf[j - 1] > v:
            buf[j] = buf[j - 1]
            j -= 1
        buf[j] = v
        out[t] = buf[rank - 1]
        old = x[t - period + 1]
        lo = 0
        hi = period
        while lo < hi:
            mid = (lo + hi) // 2
            if buf[mid] < old:
                lo = mid + 1
            else:
                hi = mid
        for k in range(lo, period - 1):
            buf[k] = buf[k + 1]
    return out


@njit(cache=True)
def percent_rank(x: np.ndarray, period: int) -> np.ndarray:
    """Percent of the previous `period` values strictly below the current one.

    A branch-free count over the window: the compiler vectorises it, which beats
    keeping a sorted copy (binary search plus an O(period) shift per bar)."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    for t in range(period, n):
        cur = x[t]
        below = 0
        for j in range(t - period, t):
            below += 1 if x[j] < cur else 0
        out[t] = float(below) / float(period) * 100.0
    return out
