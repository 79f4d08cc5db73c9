"""Numba kernels of the Hilbert-transform family (batch forms).

`_hilbert` is the one copy of the machine every indicator here runs (the pure-Python
twin is `incremental.HilbertCore`; see its module docstring for the algorithm and
TA-Lib's start bars). Each indicator kernel hands it the columns it needs (smoothed
price, I1 and Q1, smoothed period, trendline) and post-processes them; the rest are
not written, which keeps the cheap indicators as fast as TA-Lib's.

Float order is TA-Lib's, including where the wheel's build rounds a multiply-add
once (`fma`): the period recurrences, the FIR gain and MAMA's EMAs. `_fma` is LLVM's
fma intrinsic, correctly rounded on every CPU (a hardware instruction where there is
one, libm's `fma` otherwise), so the result does not depend on the machine.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from llvmlite import ir  # type: ignore[import-untyped]
from numba import njit, types
from numba.extending import intrinsic

from runner.indicators.cycle.incremental import DEG2RAD, RAD2DEG, A, B

Pair = tuple[np.ndarray, np.ndarray]


def _fma_typing(typingctx: Any, x: Any, y: Any, z: Any) -> Any:
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        double = ir.DoubleType()
        fnty = ir.FunctionType(double, [double, double, double])
        fn = builder.module.declare_intrinsic("llvm.fma", [double], fnty)
        return builder.call(fn, args)

    return sig, codegen


_fma: Any = intrinsic(_fma_typing)


@njit(cache=True)
def fma_check(x: float, y: float, z: float) -> float:
    """`_fma` from Python, for tests against the pure-Python twin."""
    result: float = _fma(x, y, z)
    return result


@njit(cache=True)
def _fir(ring: np.ndarray, t: int, x: float, gain: float) -> float:
    """The Hilbert FIR over x's last values, kept in an 8-slot ring by bar number
    (zero before the start bar, like TA-Lib's buffers); stores x at bar t."""
    out: float = 0.0 - A * ring[(t - 6) & 7]
    out += A * x
    out -= B * ring[(t - 4) & 7]
    out += B * ring[(t - 2) & 7]
    ring[t & 7] = x
    return out * gain


@njit(cache=True)
def _trendline(x: np.ndarray, t: int, cycle: int, state: np.ndarray) -> float:
    """One trendline bar; `state` holds the last three cycle means, newest first."""
    total = 0.0
    for back in range(cycle):
        total += x[t - back]
    mean = total / float(cycle) if cycle > 0 else total
    value: float = (4.0 * mean + 3.0 * state[0] + 2.0 * state[1] + state[2]) / 10.0
    state[2] = state[1]
    state[1] = state[0]
    state[0] = mean
    return value


@njit(cache=True)
def _hilbert(x: np.ndarray, start: int, smoothed: np.ndarray, i1: np.ndarray,
             q1: np.ndarray, period: np.ndarray, trend: np.ndarray) -> None:
    """Runs the machine over x and fills, from bar `start` on, each output that has
    x's length (pass an empty array to skip one; unneeded columns cost as much as
    the recurrence): the smoothed price, I1, Q1, the smoothed period and the
    instantaneous trendline. Bars before `start` are left unwritten.

    TA-Lib's odd/even three-slot buffers are delay lines of lags 2, 4 and 6; one
    8-slot ring per transform indexed by bar number gives the same lags.
    """
    n = x.shape[0]
    keep_smoothed = smoothed.shape[0] == n
    keep_components = i1.shape[0] == n and q1.shape[0] == n
    keep_period = period.shape[0] == n
    keep_trend = trend.shape[0] == n
    s_ring = np.zeros(8)
    d_ring = np.zeros(8)
    i1_ring = np.zeros(8)
    q1_ring = np.zeros(8)
    means = np.zeros(3)
    wma_sub = 0.0
    wma_sum = 0.0
    i2 = q2 = re = im = 0.0
    dc = smooth = 0.0
    for t in range(min(n, 3)):
        wma_sub += x[t]
        wma_sum += x[t] * float(t + 1)
    for t in range(3, n):
        wma_sub += x[t]
        wma_sub -= x[t - 4] if t >= 4 else 0.0
        wma_sum += x[t] * 4.0
        s = wma_sum * 0.1
        wma_sum -= wma_sub
        if t < start:
            continue
        gain = _fma(0.075, dc, 0.54)
        d = _fir(s_ring, t, s, gain)
        q = _fir(d_ring, t, d, gain)
        i = d_ring[(t - 3) & 7]
        ji = _fir(i1_ring, t, i, gain)
        jq = _fir(q1_ring, t, q, gain)
        prev_i2, prev_q2 = i2, q2
        q2 = _fma(0.2, q + ji, 0.8 * prev_q2)
        i2 = _fma(0.2, i - jq, 0.8 * prev_i2)
        re = _fma(0.8, re, 0.2 * _fma(i2, prev_i2, q2 * prev_q2))
        im = _fma(0.8, im, 0.2 * (i2 * prev_q2 - q2 * prev_i2))
        prev = dc
        if im != 0.0 and re != 0.0:
            dc = 360.0 / (math.atan(im / re) * RAD2DEG)
        dc = min(dc, 1.5 * prev)
        dc = max(dc, 0.67 * prev)
        dc = min(max(dc, 6.0), 50.0)
        dc = _fma(0.2, dc, 0.8 * prev)
        smooth = _fma(0.67, smooth, 0.33 * dc)
        if keep_smoothed:
            smoothed[t] = s
        if keep_components:
            i1[t] = i
            q1[t] = q
        if keep_period:
            period[t] = smooth
        if keep_trend:
            trend[t] = _trendline(x, t, int(smooth + 0.5), means)


@njit(cache=True)
def _phase(smoothed: np.ndarray, t: int, start: int, sp: float, prev: float,
           sines: np.ndarray, cosines: np.ndarray) -> float:
    """Dominant-cycle phase at bar t (degrees); `prev` is the previous bar's phase,
    which TA-Lib moves by +-90 when the DFT's imaginary part is exactly zero."""
    cycle = int(sp + 0.5)
    real = imag = 0.0
    for i in range(cycle):
        j = t - i
        value = smoothed[j] if j >= start else 0.0
        real += sines[cycle, i] * value
        imag += cosines[cycle, i] * value
    phase = prev
    if imag != 0.0:
        phase = math.atan(real / imag) * RAD2DEG
    elif real < 0.0:
        phase -= 90.0
    elif real > 0.0:
        phase += 90.0
    phase += 90.0
    phase += 360.0 / sp
    if imag < 0.0:
        phase += 180.0
    if phase > 315.0:
        phase -= 360.0
    return phase


@njit(cache=True)
def _blank_head(column: np.ndarray, lookback: int) -> np.ndarray:
    column[:min(lookback, column.shape[0])] = np.nan
    return column


@njit(cache=True)
def ht_dcperiod(x: np.ndarray, start: int, lookback: int) -> np.ndarray:
    out = np.empty(x.shape[0])
    skip = np.empty(0)
    _hilbert(x, start, skip, skip, skip, out, skip)
    return _blank_head(out, lookback)


@njit(cache=True)
def ht_phasor(x: np.ndarray, start: int, lookback: int) -> Pair:
    i1 = np.empty(x.shape[0])
    q1 = np.empty(x.shape[0])
    skip = np.empty(0)
    _hilbert(x, start, skip, i1, q1, skip, skip)
    return _blank_head(i1, lookback), _blank_head(q1, lookback)


@njit(cache=True)
def ht_trendline(x: np.ndarray, start: int, lookback: int) -> np.ndarray:
    out = np.empty(x.shape[0])
    skip = np.empty(0)
    _hilbert(x, start, skip, skip, skip, skip, out)
    return _blank_head(out, lookback)


@njit(cache=True)
def ht_dcphase(x: np.ndarray, start: int, lookback: int, sines: np.ndarray,
               cosines: np.ndarray) -> np.ndarray:
    n = x.shape[0]
    smoothed = np.empty(n)
    sp = np.empty(n)
    skip = np.empty(0)
    _hilbert(x, start, smoothed, skip, skip, sp, skip)
    out = np.full(n, np.nan)
    phase = 0.0
    for t in range(start, n):
        phase = _phase(smoothed, t, start, sp[t], phase, sines, cosines)
        if t >= lookback:
            out[t] = phase
    return out


@njit(cache=True)
def ht_sine(x: np.ndarray, start: int, lookback: int, sines: np.ndarray,
            cosines: np.ndarray) -> Pair:
    phase = ht_dcphase(x, start, lookback, sines, cosines)
    return np.sin(phase * DEG2RAD), np.sin((phase + 45.0) * DEG2RAD)


@njit(cache=True)
def ht_trendmode(x: np.ndarray, start: int, lookback: int, sines: np.ndarray,
                 cosines: np.ndarray) -> np.ndarray:
    n = x.shape[0]
    smoothed = np.empty(n)
    sp = np.empty(n)
    trend_line = np.empty(n)
    skip = np.empty(0)
    _hilbert(x, start, smoothed, skip, skip, sp, trend_line)
    out = np.full(n, np.nan)
    phase = sine = lead = 0.0
    days = 0
    for t in range(start, n):
        prev_phase, prev_sine, prev_lead = phase, sine, lead
        period = sp[t]
        phase = _phase(smoothed, t, start, period, phase, sines, cosines)
        sine = math.sin(phase * DEG2RAD)
        lead = math.sin((phase + 45.0) * DEG2RAD)
        trendline = trend_line[t]
        trend = 1.0
        if (sine > lead and prev_sine <= prev_lead) or (sine < lead and prev_sine >= prev_lead):
            days = 0
            trend = 0.0
        days += 1
        if days < 0.5 * period:
            trend = 0.0
        advance = phase - prev_phase
        if period != 0.0 and 0.67 * 360.0 / period < advance < 1.5 * 360.0 / period:
            trend = 0.0
        if trendline != 0.0 and abs((smoothed[t] - trendline) / trendline) >= 0.015:
            trend = 1.0
        if t >= lookback:
            out[t] = trend
    return out


@njit(cache=True)
def mama(x: np.ndarray, start: int, lookback: int, fast: float, slow: float) -> Pair:
    n = x.shape[0]
    i1 = np.empty(n)
    q1 = np.empty(n)
    skip = np.empty(0)
    _hilbert(x, start, skip, i1, q1, skip, skip)
    out_mama = np.full(n, np.nan)
    out_fama = np.full(n, np.nan)
    m = f = prev_phase = 0.0
    for t in range(start, n):
        phase = math.atan(q1[t] / i1[t]) * RAD2DEG if i1[t] != 0.0 else 0.0
        delta = prev_phase - phase
        prev_phase = phase
        alpha = max(fast / delta, slow) if delta > 1.0 else fast
        m = _fma(1.0 - alpha, m, alpha * x[t])
        alpha *= 0.5
        f = _fma(1.0 - alpha, f, alpha * m)
        if t >= lookback:
            out_mama[t] = m
            out_fama[t] = f
    return out_mama, out_fama
