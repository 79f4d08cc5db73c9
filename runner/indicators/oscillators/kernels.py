"""Sequential kernels (numba, cached) for the oscillators.

Most of these oscillators are ratios of running sums or of recursive averages, and
their zero tests (`|den| < 1e-14`) decide between a value and 0.0. On flat stretches
the running sums hold rounding residue instead of zero, so whether a bar reads 0 or
±100 depends on the exact order in which values were added and subtracted. Matching
TA-Lib to 1e-9 there means running the same loop in the same order, which polars'
rolling kernels do not. Each kernel returns NaN for the lookback rows and nowhere
else; the incremental classes in `incremental.py` repeat the same arithmetic bar by
bar.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

TA_EPSILON = 1e-14


def _fma_intrinsic(typingctx: Any, a: Any, b: Any, c: Any) -> Any:
    """a * b + c rounded once (LLVM's fma). The TA-Lib wheel is built with FMA code
    paths for its newer functions, and its compiler contracts their EMA step
    `(x - prev) * k + prev` into one fma; matching it bit for bit needs the same."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.fma(*args)

    return sig, codegen


_fma: Any = intrinsic(_fma_intrinsic)


@njit(cache=True)
def leading_nans(x: np.ndarray) -> int:
    i = 0
    while i < x.shape[0] and np.isnan(x[i]):
        i += 1
    return i


@njit(cache=True, error_model="numpy")
def bop(open_: np.ndarray, high: np.ndarray, low: np.ndarray,
        close: np.ndarray) -> np.ndarray:
    n = close.shape[0]
    out = np.empty(n)
    for i in range(n):
        span = high[i] - low[i]
        out[i] = 0.0 if span < TA_EPSILON else (close[i] - open_[i]) / span
    return out


@njit(cache=True, error_model="numpy")
def cci(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int) -> np.ndarray:
    """Mean and mean deviation re-summed over a ring buffer in slot order, as TA-Lib."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    ring = np.zeros(period)
    slot = 0
    for i in range(n):
        last = (high[i] + low[i] + close[i]) / 3.0
        ring[slot] = last
        slot += 1
        if slot == period:
            slot = 0
        if i < period - 1:
            continue
        avg = 0.0
        for j in range(period):
            avg += ring[j]
        avg /= period
        dev = 0.0
        for j in range(period):
            dev += abs(ring[j] - avg)
        diff = last - avg
        if abs(diff) < TA_EPSILON or abs(dev) < TA_EPSILON:
            out[i] = 0.0
        else:
            out[i] = diff / (0.015 * (dev / period))
    return out


@njit(cache=True, error_model="numpy")
def cmo(close: np.ndarray, period: int) -> np.ndarray:
    """Wilder-smoothed gains and losses in TA-Lib's `(prev * (n - 1) + x) / n` form."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    if n <= period:
        return out
    gain = 0.0
    loss = 0.0
    for i in range(1, period + 1):
        d = close[i] - close[i - 1]
        if d < 0:
            loss -= d
        else:
            gain += d
    gain /= period
    loss /= period
    for i in range(period, n):
        if i > period:
            d = close[i] - close[i - 1]
            loss *= period - 1
            gain *= period - 1
            if d < 0:
                loss -= d
            else:
                gain += d
            loss /= period
            gain /= period
        total = gain + loss
        out[i] = 0.0 if abs(total) < TA_EPSILON else 100.0 * ((gain - loss) / total)
    return out


@njit(cache=True, error_model="numpy")
def cmou(close: np.ndarray, period: int) -> np.ndarray:
    """Moving sums of up and down moves; the oldest move leaves after the newest
    arrives, and the ratio is scaled before dividing (TA-Lib's order)."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    if n <= period:
        return out
    up = 0.0
    down = 0.0
    for i in range(1, period + 1):
        d = close[i] - close[i - 1]
        if d > 0.0:
            up += d
        elif d < 0.0:
            down -= d
    for i in range(period, n):
        if i > period:
            old = close[i - period] - close[i - period - 1]
            if old > 0.0:
                up -= old
            elif old < 0.0:
                down += old
            d = close[i] - close[i - 1]
            if d > 0.0:
                up += d
            elif d < 0.0:
                down -= d
        total = up + down
        out[i] = 0.0 if abs(total) < TA_EPSILON else 100.0 * (up - down) / total
    return out


@njit(cache=True, error_model="numpy")
def mfi(high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
        period: int) -> np.ndarray:
    """Money flow split by the typical price's direction with a scaled dead-zone;
    a run of `period` flow-less bars resets the sums to exact zeros (TA-Lib 0.8)."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    if n <= period:
        return out
    pos_ring = np.zeros(period)
    neg_ring = np.zeros(period)
    slot = 0
    pos = 0.0
    neg = 0.0
    null_run = 0
    prev = (high[0] + low[0] + close[0]) / 3.0
    for i in range(1, n):
        if i > period:
            pos -= pos_ring[slot]
            neg -= neg_ring[slot]
        tp = (high[i] + low[i] + close[i]) / 3.0
        d = tp - prev
        scale = abs(tp) + abs(prev)
        prev = tp
        flow = 0.0 if abs(d) <= TA_EPSILON * scale else tp * volume[i]
        pos_flow = 0.0 if d < 0.0 else flow
        neg_flow = flow if d < 0.0 else 0.0
        pos_ring[slot] = pos_flow
        neg_ring[slot] = neg_flow
        pos += pos_flow
        neg += neg_flow
        null_run = null_run + 1 if flow == 0.0 else 0
        if null_run >= period:
            null_run = period
            pos = 0.0
            neg = 0.0
        slot += 1
        if slot == period:
            slot = 0
        if i >= period:
            total = pos + neg
            clamped = 0.0 if pos < 0.0 else (total if pos > total else pos)
            out[i] = 0.0 if total <= 0.0 else 100.0 * (clamped / total)
    return out


@njit(cache=True, error_model="numpy")
def trix(close: np.ndarray, period: int) -> np.ndarray:
    """Three chained EMAs, each seeded with the mean of the first `period` values of
    the one before and stepped as the wheel does (see `_fma`), then the one-bar
    percent change of the third."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    lookback = 3 * (period - 1) + 1
    if n <= lookback:
        return out
    k = 2.0 / (period + 1)
    e1 = 0.0
    e2 = 0.0
    e3 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    for i in range(n):
        x = close[i]
        if i < period:
            s1 += x
            if i < period - 1:
                continue
            e1 = s1 / period
        else:
            e1 = _fma(x - e1, k, e1)
        # e1 is defined from row period - 1
        j = i - (period - 1)
        if j < period:
            s2 += e1
            if j < period - 1:
                continue
            e2 = s2 / period
        else:
            e2 = _fma(e1 - e2, k, e2)
        j2 = j - (period - 1)
        prev3 = e3
        if j2 < period:
            s3 += e2
            if j2 < period - 1:
                continue
            e3 = s3 / period
        else:
            e3 = _fma(e2 - e3, k, e3)
        if i >= lookback:
            out[i] = (e3 / prev3 - 1.0) * 100.0 if prev3 != 0.0 else 0.0
    return out


@njit(cache=True, error_model="numpy")
def ultosc(high: np.ndarray, low: np.ndarray, close: np.ndarray, short: int, medium: int,
           long: int) -> np.ndarray:
    """Three moving sums of buying pressure and true range. Each sum starts at the
    first bar of its own window before the first output (not at bar 1), adds the new
    bar, is read, then drops its trailing bar: TA-Lib's rounding order."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    if n <= long:
        return out
    bp = np.empty(long)
    tr = np.empty(long)
    a1 = 0.0
    b1 = 0.0
    a2 = 0.0
    b2 = 0.0
    a3 = 0.0
    b3 = 0.0
    # slot of bar i is (i - 1) % long; the three trailing cursors follow the writer
    slot = 0
    for i in range(1, n):
        prev = close[i - 1]
        lo = low[i]
        hi = high[i]
        p = close[i] - (lo if lo < prev else prev)
        r = hi - lo
        t = abs(prev - hi)
        r = t if t > r else r
        t = abs(prev - lo)
        r = t if t > r else r
        bp[slot] = p
        tr[slot] = r
        slot += 1
        if slot == long:
            slot = 0
        if i < long:
            if i >= long - short + 1:
                a1 += p
                b1 += r
            if i >= long - medium + 1:
                a2 += p
                b2 += r
            a3 += p
            b3 += r
            continue
        a1 += p
        a2 += p
        a3 += p
        b1 += r
        b2 += r
        b3 += r
        value = 0.0
        if not abs(b1) < TA_EPSILON:
            value += 4.0 * (a1 / b1)
        if not abs(b2) < TA_EPSILON:
            value += 2.0 * (a2 / b2)
        if not abs(b3) < TA_EPSILON:
            value += a3 / b3
        out[i] = 100.0 * (value / 7.0)
        # bar i - w + 1 sits w - 1 slots behind the one just written
        old = slot - short
        old = old + long if old < 0 else old
        a1 -= bp[old]
        b1 -= tr[old]
        old = slot - medium
        old = old + long if old < 0 else old
        a2 -= bp[old]
        b2 -= tr[old]
        # the longest window's trailing bar is the slot the next bar overwrites
        a3 -= bp[slot]
        b3 -= tr[slot]
    return out


@njit(cache=True, error_model="numpy")
def imi(open_: np.ndarray, close: np.ndarray, period: int) -> np.ndarray:
    """Each window re-summed from scratch in time order (TA-Lib 0.8 does, so a flat
    window reads exactly 0 + 0 and reports 50, with no running-sum residue)."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    for t in range(period - 1, n):
        up = 0.0
        down = 0.0
        for i in range(t - period + 1, t + 1):
            c = close[i]
            o = open_[i]
            if c > o:
                up += c - o
            else:
                down += o - c
        total = up + down
        out[t] = 50.0 if total == 0.0 else 100.0 * (up / total)
    return out


@njit(cache=True, error_model="numpy")
def er(close: np.ndarray, period: int) -> np.ndarray:
    """Kaufman's efficiency ratio with TA-Lib's guards: the path sum is updated
    subtract-then-add, a run of `period` zero changes resets it to an exact 0, and
    a non-positive path or one not above the signed net move reads 1.0."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    if n <= period:
        return out
    path = 0.0
    null_run = 0
    for i in range(period):
        d = close[i] - close[i + 1]
        path += abs(d)
        null_run = null_run + 1 if d == 0.0 else 0
    for t in range(period, n):
        net = close[t] - close[t - period]
        if t > period:
            path -= abs(close[t - period - 1] - close[t - period])
            d = close[t] - close[t - 1]
            path += abs(d)
            null_run = null_run + 1 if d == 0.0 else 0
            if null_run >= period:
                null_run = period
                path = 0.0
        out[t] = 1.0 if (path <= 0.0 or path <= net) else abs(net / path)
    return out


@njit(cache=True, error_model="numpy")
def qstick(open_: np.ndarray, close: np.ndarray, period: int) -> np.ndarray:
    """SMA of the candle body: add the new body, read, drop the trailing one."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    total = 0.0
    for i in range(n):
        total += close[i] - open_[i]
        if i >= period - 1:
            out[i] = total / period
            j = i - period + 1
            total -= close[j] - open_[j]
    return out


@njit(cache=True, error_model="numpy")
def ao(high: np.ndarray, low: np.ndarray, fast: int, slow: int) -> np.ndarray:
    """Both SMAs of the median price. Each running sum begins with the first bar of
    its own window before the first output (the fast one does not carry the bars
    before it), as TA-Lib primes both in one pass."""
    return ac(high, low, fast, slow, 1)


@njit(cache=True, error_model="numpy")
def ac(high: np.ndarray, low: np.ndarray, fast: int, slow: int, signal: int) -> np.ndarray:
    """AO minus its `signal`-bar SMA (`signal` 1 gives the AO itself); the signal
    sum starts at the first AO value and follows the same add/read/drop order."""
    n = high.shape[0]
    out = np.full(n, np.nan)
    start = slow - 1
    if n <= start + signal - 1:
        return out
    ring = np.empty(signal)
    slot = 0
    sum_fast = 0.0
    sum_slow = 0.0
    sum_signal = 0.0
    for i in range(start):
        m = (high[i] + low[i]) / 2.0
        if i >= start - fast + 1:
            sum_fast += m
        sum_slow += m
    for i in range(start, n):
        m = (high[i] + low[i]) / 2.0
        sum_fast += m
        sum_slow += m
        osc = sum_fast / fast - sum_slow / slow
        j = i - fast + 1
        sum_fast -= (high[j] + low[j]) / 2.0
        j = i - slow + 1
        sum_slow -= (high[j] + low[j]) / 2.0
        if signal == 1:
            out[i] = osc
            continue
        ring[slot] = osc
        sum_signal += osc
        slot += 1
        if slot == signal:
            slot = 0
        if i >= start + signal - 1:
            out[i] = osc - sum_signal / signal
            sum_signal -= ring[slot]
    return out


@njit(cache=True, error_model="numpy")
def dpo(close: np.ndarray, period: int) -> np.ndarray:
    n = close.shape[0]
    out = np.full(n, np.nan)
    lag = period // 2 + 1
    start = max(period - 1, lag)
    total = 0.0
    for i in range(start - period + 1, n):
        total += close[i]
        if i >= start:
            out[i] = close[i - lag] - total / period
            total -= close[i - period + 1]
    return out


@njit(cache=True, error_model="numpy")
def coppock(close: np.ndarray, period: int, short_roc: int, long_roc: int) -> np.ndarray:
    """WMA(period) of ROC(short) + ROC(long) in TA-Lib's WMA recurrence: a weighted
    and a plain running sum over a ring of the last `period - 1` values, both
    rebuilt from the ring every `8 * period` outputs to shed accumulated rounding."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    w = period
    start = long_roc + w - 1
    if n <= start:
        return out
    divider = float(w) * (w + 1) / 2.0
    ring_size = max(w - 1, 1)
    ring = np.zeros(ring_size)
    slot = 0
    weighted = 0.0
    plain = 0.0
    weight = 1
    for i in range(start - w + 1, start):
        s = _roc_sum(close, i, short_roc, long_roc)
        plain += s
        weighted += s * weight
        weight += 1
        ring[slot] = s
        slot += 1
        if slot == ring_size:
            slot = 0
    countdown = 8 * w
    trailing = 0.0
    for i in range(start, n):
        x = close[i]
        b1 = close[i - short_roc]
        b2 = close[i - long_roc]
        s = ((x / b1 - 1.0) * 100.0 if b1 != 0.0 else 0.0) + (
            (x / b2 - 1.0) * 100.0 if b2 != 0.0 else 0.0)
        plain += s
        plain -= trailing
        weighted += s * w
        countdown -= 1
        if countdown <= 0:
            countdown = 8 * w
            plain = 0.0
            weighted = 0.0
            walk = slot
            for k in range(ring_size):
                v = ring[walk]
                plain += v
                weighted += v * (k + 1)
                walk += 1
                if walk == ring_size:
                    walk = 0
            plain += s
            weighted += s * w
        trailing = ring[slot]
        ring[slot] = s
        slot += 1
        if slot == ring_size:
            slot = 0
        out[i] = s if w == 1 else weighted / divider
        weighted -= plain
    return out


@njit(cache=True, error_model="numpy")
def _roc_sum(close: np.ndarray, i: int, short_roc: int, long_roc: int) -> float:
    b1 = close[i - short_roc]
    b2 = close[i - long_roc]
    r1 = (close[i] / b1 - 1.0) * 100.0 if b1 != 0.0 else 0.0
    r2 = (close[i] / b2 - 1.0) * 100.0 if b2 != 0.0 else 0.0
    return r1 + r2


@njit(cache=True, error_model="numpy")
def eri(high: np.ndarray, low: np.ndarray, close: np.ndarray,
        period: int) -> tuple[np.ndarray, np.ndarray]:
    """Elder ray: high and low against an EMA of close seeded with the SMA, stepped
    as fma(x - prev, k, prev) like the wheel (see `_fma`)."""
    n = close.shape[0]
    bull = np.full(n, np.nan)
    bear = np.full(n, np.nan)
    if period == 1:
        for i in range(n):
            bull[i] = high[i] - close[i]
            bear[i] = low[i] - close[i]
        return bull, bear
    k = 2.0 / (period + 1)
    seed = 0.0
    ema = 0.0
    for i in range(n):
        if i < period:
            seed += close[i]
            if i < period - 1:
                continue
            ema = seed / period
        else:
            ema = _fma(close[i] - ema, k, ema)
        bull[i] = high[i] - ema
        bear[i] = low[i] - ema
    return bull, bear


@njit(cache=True, error_model="numpy")
def smi(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int, fast: int,
        slow: int, signal: int) -> tuple[np.ndarray, np.ndarray]:
    """Blau's stochastic momentum index: the close against the window's mid-range
    (numerator) and the range (denominator), each smoothed by a slow then a fast
    EMA, their ratio x 200, then a signal EMA; every EMA seeded with the SMA of its
    first inputs. A range smoothed to exactly zero reads 0."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    sig_out = np.full(n, np.nan)
    k_slow = 2.0 / (slow + 1)
    k_fast = 2.0 / (fast + 1)
    k_sig = 2.0 / (signal + 1)
    slow_num = 0.0
    slow_den = 0.0
    fast_num = 0.0
    fast_den = 0.0
    sig = 0.0
    hh = 0.0
    ll = 0.0
    hh_at = -1
    ll_at = -1
    for t in range(period - 1, n):
        # the extremes are rescanned only when the one held leaves the window
        first = t - period + 1
        if ll_at < first:
            ll_at = first
            ll = low[first]
            for i in range(first + 1, t + 1):
                if low[i] < ll:
                    ll_at = i
                    ll = low[i]
        elif low[t] <= ll:
            ll_at = t
            ll = low[t]
        if hh_at < first:
            hh_at = first
            hh = high[first]
            for i in range(first + 1, t + 1):
                if high[i] > hh:
                    hh_at = i
                    hh = high[i]
        elif high[t] >= hh:
            hh_at = t
            hh = high[t]
        den = hh - ll
        num = close[t] - (hh + ll) * 0.5
        j = t - (period - 1)
        if j < slow:
            slow_num += num
            slow_den += den
            if j < slow - 1:
                continue
            slow_num /= slow
            slow_den /= slow
        else:
            slow_num = _fma(num - slow_num, k_slow, slow_num)
            slow_den = _fma(den - slow_den, k_slow, slow_den)
        j -= slow - 1
        if j < fast:
            fast_num += slow_num
            fast_den += slow_den
            if j < fast - 1:
                continue
            fast_num /= fast
            fast_den /= fast
        else:
            fast_num = _fma(slow_num - fast_num, k_fast, fast_num)
            fast_den = _fma(slow_den - fast_den, k_fast, fast_den)
        half = 0.5 * fast_den
        value = 100.0 * fast_num / half if half > 0.0 else 0.0
        j -= fast - 1
        if j < signal:
            sig += value
            if j < signal - 1:
                continue
            sig /= signal
        else:
            sig = _fma(value - sig, k_sig, sig)
        out[t] = value
        sig_out[t] = sig
    return out, sig_out


@njit(cache=True, error_model="numpy")
def tsi(close: np.ndarray, long: int, short: int) -> np.ndarray:
    """Blau's true strength index: the one-bar change and its magnitude, each
    smoothed by a long then a short SMA-seeded EMA, ratio x 100 (0 when the
    smoothed magnitude is exactly zero)."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    k1 = 2.0 / (long + 1)
    k2 = 2.0 / (short + 1)
    num1 = 0.0
    den1 = 0.0
    num2 = 0.0
    den2 = 0.0
    for t in range(1, n):
        mom = close[t] - close[t - 1]
        mag = abs(mom)
        j = t - 1
        if j < long:
            num1 += mom
            den1 += mag
            if j < long - 1:
                continue
            num1 /= long
            den1 /= long
        else:
            num1 = _fma(mom - num1, k1, num1)
            den1 = _fma(mag - den1, k1, den1)
        j -= long - 1
        if j < short:
            num2 += num1
            den2 += den1
            if j < short - 1:
                continue
            num2 /= short
            den2 /= short
        else:
            num2 = _fma(num1 - num2, k2, num2)
            den2 = _fma(den1 - den2, k2, den2)
        out[t] = 100.0 * num2 / den2 if den2 > 0.0 else 0.0
    return out


@njit(cache=True, error_model="numpy")
def fractal(high: np.ndarray, low: np.ndarray, left: int,
            right: int) -> tuple[np.ndarray, np.ndarray]:
    """Williams' fractal, reported on the bar that confirms it: at bar t the centre
    is bar t - right, compared with the `left` bars before it and the `right` bars
    after it (all <= t). 100 where its high is strictly above (low strictly below)
    every other bar of the window, else 0."""
    n = high.shape[0]
    swing_high = np.full(n, np.nan)
    swing_low = np.full(n, np.nan)
    span = left + right
    for t in range(span, n):
        c = t - right
        hh = high[t - span]
        ll = low[t - span]
        for i in range(t - span + 1, c):
            hh = max(hh, high[i])
            ll = min(ll, low[i])
        for i in range(c + 1, t + 1):
            hh = max(hh, high[i])
            ll = min(ll, low[i])
        # branch-free: a fractal is a coin flip to the branch predictor
        swing_high[t] = 100.0 * (high[c] > hh)
        swing_low[t] = 100.0 * (low[c] < ll)
    return swing_high, swing_low
