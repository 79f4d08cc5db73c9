"""Sequential kernels (numba, cached) for the volume family.

Windowed volume ratios (CMF, VWMA, RVOL, rolling VWAP) divide by a running volume
total. TA-Lib keeps those totals with add/subtract in a fixed order, and a window
that has just emptied of volume is where the order shows: add-then-subtract leaves
a rounding residue of either sign, which turns an exact 0/0 into a huge ratio. So
the windows run here as the same loop the incremental forms run, bar for bar, and
the volume indices (NVI, PVI) are running products that polars cannot express
with the same rounding.

Every kernel returns NaN where the value is undefined; the batch wrapper turns NaN
into null.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
def cmf(high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
        period: int) -> np.ndarray:
    n = close.shape[0]
    out = np.full(n, np.nan)
    flows = np.zeros(period)
    vols = np.zeros(period)
    sum_flow = 0.0
    sum_vol = 0.0
    slot = 0
    for i in range(n):
        if i >= period:
            sum_flow -= flows[slot]
            sum_vol -= vols[slot]
        span = high[i] - low[i]
        flow = 0.0
        if span > 0.0:
            flow = ((close[i] - low[i]) - (high[i] - close[i])) / span * volume[i]
        flows[slot] = flow
        vols[slot] = volume[i]
        sum_flow += flow
        sum_vol += volume[i]
        slot += 1
        if slot == period:
            slot = 0
        if i >= period - 1:
            out[i] = sum_flow / sum_vol if sum_vol > 0.0 else 0.0
    return out


@njit(cache=True, error_model="numpy")
def volume_index(close: np.ndarray, volume: np.ndarray, falling: bool) -> np.ndarray:
    """NVI (`falling`) or PVI: compounds the close's change on the bars whose
    volume fell (rose) from the previous bar; starts at 1000."""
    n = close.shape[0]
    out = np.empty(n)
    if n == 0:
        return out
    index = 1000.0
    prev_close = close[0]
    prev_vol = volume[0]
    for i in range(n):
        moved = volume[i] < prev_vol if falling else volume[i] > prev_vol
        if moved and prev_close != 0.0:
            candidate = index
            candidate += (close[i] - prev_close) / prev_close * candidate
            if np.isfinite(candidate):
                index = candidate
        out[i] = index
        prev_close = close[i]
        prev_vol = volume[i]
    return out


@njit(cache=True, error_model="numpy")
def rvol(volume: np.ndarray, period: int) -> np.ndarray:
    n = volume.shape[0]
    out = np.full(n, np.nan)
    total = 0.0
    zero_run = 0
    for i in range(min(period, n)):
        total += volume[i]
        zero_run = zero_run + 1 if volume[i] == 0.0 else 0
    for i in range(period, n):
        baseline = total / period
        total -= volume[i - period]
        today = volume[i]
        total += today
        zero_run = zero_run + 1 if today == 0.0 else 0
        if zero_run >= period:
            zero_run = period
            total = 0.0
        out[i] = today / baseline  # IEEE: x/0 is +-inf, 0/0 is NaN (TA-Lib's)
    return out


@njit(cache=True, error_model="numpy")
def vwma(price: np.ndarray, volume: np.ndarray, period: int) -> np.ndarray:
    n = price.shape[0]
    out = np.full(n, np.nan)
    if period == 1:
        out[:] = price
        return out
    sum_pv = 0.0
    sum_v = 0.0
    for i in range(n):
        sum_pv += price[i] * volume[i]
        sum_v += volume[i]
        if i >= period - 1:
            out[i] = sum_pv / period / (sum_v / period)
            j = i - period + 1
            sum_pv -= price[j] * volume[j]
            sum_v -= volume[j]
    return out


@njit(cache=True, error_model="numpy")
def anchored_vwap(high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
                  time: np.ndarray, anchor: float) -> np.ndarray:
    """TA-Lib's VWAP from the first bar with `time >= anchor`: 0.0 until the
    cumulative volume is > 0, then the last ratio computed."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    started = False
    sum_pv = 0.0
    sum_v = 0.0
    value = 0.0
    for i in range(n):
        if not started:
            if time[i] < anchor:
                continue
            started = True
        sum_pv += (high[i] + low[i] + close[i]) / 3.0 * volume[i]
        sum_v += volume[i]
        if sum_v > 0.0:
            value = sum_pv / sum_v
        out[i] = value
    return out


@njit(cache=True, error_model="numpy")
def session_keys(time: np.ndarray, starts: np.ndarray, offsets: np.ndarray,
                 day_start: float) -> np.ndarray:
    """Day number of each bar's wall clock (UTC + the zone's offset in force, from
    the piecewise-constant table `starts`/`offsets`) less `day_start` ms."""
    n = time.shape[0]
    keys = np.empty(n)
    last = starts.shape[0] - 1
    j = 0
    for i in range(n):
        t = np.trunc(time[i])
        while j < last and t >= starts[j + 1]:  # bars in time order: a forward walk
            j += 1
        while j > 0 and t < starts[j]:
            j -= 1
        keys[i] = np.floor((t + offsets[j] - day_start) / 86_400_000.0)
    return keys


@njit(cache=True, error_model="numpy")
def session_vwap(high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
                 session: np.ndarray) -> np.ndarray:
    """Sums restart where the session key changes; NaN until the session trades."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    sum_pv = 0.0
    sum_v = 0.0
    value = np.nan
    for i in range(n):
        if i == 0 or session[i] != session[i - 1]:
            sum_pv = 0.0
            sum_v = 0.0
            value = np.nan
        sum_pv += (high[i] + low[i] + close[i]) / 3.0 * volume[i]
        sum_v += volume[i]
        if sum_v > 0.0:
            value = sum_pv / sum_v
        out[i] = value
    return out


@njit(cache=True, error_model="numpy")
def rolling_vwap(high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
                 period: int) -> np.ndarray:
    """Running sums over the last `period` bars (add, read, subtract the trailing
    bar); a window of only zero volume resets both sums to an exact zero."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    sum_pv = 0.0
    sum_v = 0.0
    zero_run = 0
    for i in range(n):
        sum_pv += (high[i] + low[i] + close[i]) / 3.0 * volume[i]
        sum_v += volume[i]
        zero_run = zero_run + 1 if volume[i] == 0.0 else 0
        if zero_run >= period:
            zero_run = period
            sum_pv = 0.0
            sum_v = 0.0
        if i >= period - 1:
            if sum_v > 0.0:
                out[i] = sum_pv / sum_v
            j = i - period + 1
            sum_pv -= (high[j] + low[j] + close[j]) / 3.0 * volume[j]
            sum_v -= volume[j]
    return out


@njit(cache=True, error_model="numpy")
def adosc(high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
          fast: int, slow: int) -> np.ndarray:
    """Both EMAs of the A/D line start at its first value and run from the first bar
    (TA-Lib's seeding for ADOSC, unlike its EMA's SMA seed)."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    k_fast = 2.0 / (fast + 1.0)
    k_slow = 2.0 / (slow + 1.0)
    ad = 0.0
    ema_fast = 0.0
    ema_slow = 0.0
    for i in range(n):
        span = high[i] - low[i]
        if span > 0.0:
            ad += ((close[i] - low[i]) - (high[i] - close[i])) / span * volume[i]
        if i == 0:
            ema_fast = ad
            ema_slow = ad
        else:
            ema_fast = k_fast * ad + (1.0 - k_fast) * ema_fast
            ema_slow = k_slow * ad + (1.0 - k_slow) * ema_slow
        if i >= slow - 1:
            out[i] = ema_fast - ema_slow
    return out


@njit(cache=True, error_model="numpy")
def wad(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    n = close.shape[0]
    out = np.empty(n)
    total = 0.0
    for i in range(n):
        if i > 0:
            prev = close[i - 1]
            if close[i] > prev:
                total += close[i] - min(low[i], prev)
            elif close[i] < prev:
                total += close[i] - max(high[i], prev)
        out[i] = total
    return out


@njit(cache=True, error_model="numpy")
def efi(close: np.ndarray, volume: np.ndarray, period: int) -> np.ndarray:
    """EMA of the force (close - previous close) x volume, seeded with the mean of
    the first `period` forces."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    alpha = 2.0 / (period + 1)
    seed = 0.0
    value = 0.0
    for i in range(1, n):
        force = (close[i] - close[i - 1]) * volume[i]
        if i < period:
            seed += force
        elif i == period:
            seed += force
            value = seed / period
            out[i] = value
        else:
            value += alpha * (force - value)
            out[i] = value
    return out


@njit(cache=True, error_model="numpy")
def pvt(close: np.ndarray, volume: np.ndarray) -> np.ndarray:
    n = close.shape[0]
    out = np.empty(n)
    total = 0.0
    for i in range(n):
        if i > 0 and close[i - 1] != 0.0:
            total += (close[i] - close[i - 1]) / close[i - 1] * volume[i]
        out[i] = total
    return out
