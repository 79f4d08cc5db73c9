"""Sequential kernels (numba, cached) for the directional family.

Wilder's directional movement is a chain of running sums with TA-Lib's particular
zero tests and "hold the last value" rules; the parabolic SAR and SuperTrend carry a
regime from bar to bar. None of it is expressible as polars window expressions that
round like TA-Lib, so each runs as one loop over the bars here.
"""

from __future__ import annotations

import numpy as np
from numba import njit

TA_EPSILON = 1e-14

@njit(cache=True, inline="always")
def _true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray, i: int) -> float:
    """TA-Lib's true range at bar i >= 1, in its order: the bar's range, then the
    distances from the previous close to the high and to the low."""
    prev_close = close[i - 1]
    tr: float = high[i] - low[i]
    d = abs(prev_close - high[i])
    if d > tr:
        tr = d
    d = abs(prev_close - low[i])
    if d > tr:
        tr = d
    return tr


# what `directional` returns
PLUS_DM, MINUS_DM, PLUS_DI, MINUS_DI, DX, ADX, ADXR = range(7)


@njit(cache=True)
def directional(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int,
                what: int) -> np.ndarray:
    """One of Wilder's directional-movement series, as TA-Lib computes it.

    The smoothed sums start as the plain sum of the first `period - 1` one-bar
    values (the first bar has none) at row `period - 1`, then follow
    `s - s / period + x`. DI is undefined (TA-Lib: 0) when the smoothed true range is
    ~0; DX holds its last value when it is undefined; ADX is seeded with the mean of
    its first `period` DX values (undefined ones counting 0) and holds while DX is
    undefined; ADXR averages ADX with ADX `period - 1` bars back.
    """
    n = high.shape[0]
    out = np.full(n, np.nan)
    sp = 0.0
    sm = 0.0
    st = 0.0
    dx = 0.0
    adx = 0.0
    sum_dx = 0.0
    adx_all = np.full(n, np.nan) if what == ADXR else out
    for i in range(1, n):
        up = high[i] - high[i - 1]
        down = low[i - 1] - low[i]
        plus = up if (up > 0.0 and up > down) else 0.0
        minus = down if (down > 0.0 and up < down) else 0.0
        tr = _true_range(high, low, close, i)
        if i < period:
            sp += plus
            sm += minus
            st += tr
        else:
            sp = sp - sp / period + plus
            sm = sm - sm / period + minus
            st = st - st / period + tr
        if what in (PLUS_DM, MINUS_DM):
            if i >= period - 1:
                out[i] = sp if what == PLUS_DM else sm
            continue
        if what in (PLUS_DI, MINUS_DI):
            if i >= period:
                s = sp if what == PLUS_DI else sm
                # TA-Lib's period-1 DI is the bare ratio, not a percentage
                scale = 1.0 if period == 1 else 100.0
                out[i] = scale * (s / st) if abs(st) >= TA_EPSILON else 0.0
            continue
        if i < period:
            continue
        valid = False
        if abs(st) >= TA_EPSILON:
            minus_di = 100.0 * (sm / st)
            plus_di = 100.0 * (sp / st)
            total = minus_di + plus_di
            if abs(total) >= TA_EPSILON:
                dx = 100.0 * (abs(minus_di - plus_di) / total)
                valid = True
        if what == DX:
            out[i] = dx
            continue
        if i < 2 * period - 1:
            if valid:
                sum_dx += dx
            continue
        if i == 2 * period - 1:
            if valid:
                sum_dx += dx
            adx = sum_dx / period
        elif valid:
            adx = (adx * (period - 1) + dx) / period
        adx_all[i] = adx
        if what == ADXR and i >= 3 * period - 2:
            out[i] = (adx + adx_all[i - period + 1]) / 2.0
    return out


@njit(cache=True)
def aroon(high: np.ndarray, low: np.ndarray, period: int,
          oscillator: bool) -> tuple[np.ndarray, np.ndarray]:
    """Aroon (up, down), or with `oscillator` (oscillator, empty), over windows of
    `period + 1` bars.

    Up (down) is 100 / period x (period - bars since the window's high (low)); ties go
    to the latest bar, as in TA-Lib. The oscillator is formed as TA-Lib does, the
    factor times the gap between the two indices, not up - down. Each extreme's index
    is kept and only rescanned when it leaves the window: O(1) amortised on prices.
    """
    n = high.shape[0]
    first_out = np.full(n, np.nan)
    second_out = np.full(0 if oscillator else n, np.nan)
    factor = 100.0 / period
    hi = -1
    lo = -1
    hv = 0.0
    lv = 0.0
    for i in range(period, n):
        first = i - period
        if hi < first:
            hi = first
            hv = high[first]
            for j in range(first + 1, i + 1):
                if high[j] >= hv:
                    hi = j
                    hv = high[j]
        elif high[i] >= hv:
            hi = i
            hv = high[i]
        if lo < first:
            lo = first
            lv = low[first]
            for j in range(first + 1, i + 1):
                if low[j] <= lv:
                    lo = j
                    lv = low[j]
        elif low[i] <= lv:
            lo = i
            lv = low[i]
        if oscillator:
            first_out[i] = factor * (hi - lo)
        else:
            first_out[i] = factor * (period - (i - hi))
            second_out[i] = factor * (period - (i - lo))
    return first_out, second_out


@njit(cache=True)
def sarext(high: np.ndarray, low: np.ndarray, start_value: float, offset: float,
           init_long: float, step_long: float, max_long: float, init_short: float,
           step_short: float, max_short: float, signed: bool) -> np.ndarray:
    """Wilder's parabolic stop and reverse with TA-Lib's bootstrap (see
    `batch.sarext`); `signed` gives TA-Lib SAREXT's negative values while short."""
    n = high.shape[0]
    out = np.full(n, np.nan)
    if n < 2:
        return out
    if init_long > max_long:
        init_long = max_long
    step_long = min(step_long, max_long)
    if init_short > max_short:
        init_short = max_short
    step_short = min(step_short, max_short)
    af_long = init_long
    af_short = init_short
    if start_value == 0.0:
        up = high[1] - high[0]
        down = low[0] - low[1]
        is_long = not (down > 0.0 and up < down)
        sar = low[0] if is_long else high[0]
    else:
        is_long = start_value > 0.0
        sar = abs(start_value)
    ep = high[1] if is_long else low[1]
    new_high = high[1]
    new_low = low[1]
    for i in range(1, n):
        prev_high = new_high
        prev_low = new_low
        new_high = high[i]
        new_low = low[i]
        if is_long:
            if new_low <= sar:
                is_long = False
                sar = max(ep, prev_high, new_high)
                if offset != 0.0:
                    sar += sar * offset
                out[i] = -sar if signed else sar
                af_short = init_short
                ep = new_low
                sar = sar + af_short * (ep - sar)
                sar = max(sar, prev_high, new_high)
            else:
                out[i] = sar
                if new_high > ep:
                    ep = new_high
                    af_long = min(af_long + step_long, max_long)
                sar = sar + af_long * (ep - sar)
                sar = min(sar, prev_low, new_low)
        elif new_high >= sar:
            is_long = True
            sar = min(ep, prev_low, new_low)
            if offset != 0.0:
                sar -= sar * offset
            out[i] = sar
            af_long = init_long
            ep = new_high
            sar = sar + af_long * (ep - sar)
            sar = min(sar, prev_low, new_low)
        else:
            out[i] = -sar if signed else sar
            if new_low < ep:
                ep = new_low
                af_short = min(af_short + step_short, max_short)
            sar = sar + af_short * (ep - sar)
            sar = max(sar, prev_high, new_high)
    return out


@njit(cache=True)
def supertrend(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int,
               multiplier: float) -> tuple[np.ndarray, np.ndarray]:
    """SuperTrend line and direction (+1 / -1); the definition is in
    `batch.supertrend`."""
    n = high.shape[0]
    line = np.full(n, np.nan)
    direction = np.full(n, np.nan)
    if n <= period:
        return line, direction
    atr = 0.0
    upper = 0.0
    lower = 0.0
    up = True
    for i in range(1, n):
        prev_close = close[i - 1]
        tr = _true_range(high, low, close, i)
        if i < period:
            atr += tr
            continue
        # the seed is the plain mean; then TA-Lib's Wilder step, in its rounding order
        atr = (atr + tr) / period if i == period else (atr * (period - 1) + tr) / period
        mid = (high[i] + low[i]) / 2.0
        band = multiplier * atr
        basic_upper = mid + band
        basic_lower = mid - band
        if i == period:
            upper = basic_upper
            lower = basic_lower
        else:
            if basic_upper < upper or prev_close > upper:
                upper = basic_upper
            if basic_lower > lower or prev_close < lower:
                lower = basic_lower
            up = close[i] >= lower if up else close[i] > upper
        line[i] = lower if up else upper
        direction[i] = 1.0 if up else -1.0
    return line, direction


@njit(cache=True)
def vortex(high: np.ndarray, low: np.ndarray, close: np.ndarray,
           period: int) -> tuple[np.ndarray, np.ndarray]:
    """Vortex +VI and -VI: window sums of |high - previous low| and |low - previous
    high| over the window sum of true range, as TA-Lib runs them: each sum adds the
    new term, is read, then drops the trailing one (recomputed from the inputs);
    once `period` true ranges in a row are exactly 0 the range sum is reset to 0
    (shedding its rounding residue), and a range sum that is not > 0 gives 0 for
    both lines."""
    n = high.shape[0]
    plus = np.full(n, np.nan)
    minus = np.full(n, np.nan)
    s_tr = 0.0
    s_vmp = 0.0
    s_vmm = 0.0
    flat = 0
    for i in range(1, n):
        t = _true_range(high, low, close, i)
        s_tr += t
        s_vmp += abs(high[i] - low[i - 1])
        s_vmm += abs(low[i] - high[i - 1])
        flat = flat + 1 if t == 0.0 else 0
        if i < period:
            continue
        if flat >= period:
            flat = period
            s_tr = 0.0
        if s_tr > 0.0:
            plus[i] = s_vmp / s_tr
            minus[i] = s_vmm / s_tr
        else:
            plus[i] = 0.0
            minus[i] = 0.0
        j = i - period + 1
        s_tr -= _true_range(high, low, close, j)
        s_vmp -= abs(high[j] - low[j - 1])
        s_vmm -= abs(low[j] - high[j - 1])
    return plus, minus


@njit(cache=True)
def vhf(x: np.ndarray, period: int) -> np.ndarray:
    """Vertical horizontal filter: (highest - lowest) of the last `period` values over
    the sum of the last `period` absolute changes (which reach one bar further back),
    0 when that sum is not > 0. The sum is taken afresh per bar, oldest change first,
    as TA-Lib does: a running sum would leave rounding residue on flat windows."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    for t in range(period, n):
        highest = x[t]
        lowest = x[t]
        total = 0.0
        for j in range(t - period + 1, t + 1):
            v = x[j]
            total += abs(v - x[j - 1])
            if v > highest:
                highest = v
            if v < lowest:
                lowest = v
        out[t] = (highest - lowest) / total if total > 0.0 else 0.0
    return out
