"""Incremental forms of the Hilbert-transform family: one bar at a time, pure Python.

All seven indicators run the same machine, `HilbertCore`: a 4-bar WMA of the price,
Ehlers' detrender and the in-phase/quadrature FIR transforms, the homodyne
discriminator and TA-Lib's clamped period smoothing. TA-Lib writes that machine out
in every function with odd/even three-slot circular buffers; those are delay lines of
lags 2, 4 and 6 started at zero, so here one class keeps each transform's input in
an eight-slot ring indexed by bar number, which reads the same values.

TA-Lib does not start the transform at the first bar. It spends a fixed number of
bars on the WMA alone and only then starts the Hilbert recurrences from zero state:
bar 12 for the 32-bar-lookback functions (HT_DCPERIOD, HT_PHASOR, MAMA) and bar 37
for the 63-bar ones (HT_TRENDLINE, HT_DCPHASE, HT_SINE, HT_TRENDMODE). The start is
part of the result (the recurrences never forget their first state exactly), so each
indicator passes its own start. The batch kernels in `kernels.py` follow the same
steps in the same float order; the shared constants live here, import-light.

The `ta-lib` wheel computes the period recurrences, the FIR gain and MAMA's EMAs
with fused multiply-adds (one rounding; its disassembly calls `fma`), so `fma` below
reproduces those exactly and both forms equal TA-Lib bit for bit, not just to 1e-9.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

Out = tuple[float | None, ...]

A = 0.0962
B = 0.5769
RAD2DEG = 45.0 / math.atan(1.0)
DEG2RAD = 1.0 / RAD2DEG
TWO_PI = math.atan(1.0) * 8.0
MAX_CYCLE = 50
"""The smoothed period is clamped to [6, 50], so no window reaches further back."""

SHORT_START, SHORT_LOOKBACK = 12, 32
LONG_START, LONG_LOOKBACK = 37, 63


def _dft_tables() -> tuple[tuple[tuple[float, ...], ...], tuple[tuple[float, ...], ...]]:
    """sin and cos of i * 2pi / n for every window n <= 50, as TA-Lib evaluates the
    angle (`i * 2pi / n`, left to right); tabulated once instead of per bar."""
    sines: list[tuple[float, ...]] = [()]
    cosines: list[tuple[float, ...]] = [()]
    for n in range(1, MAX_CYCLE + 1):
        angles = [float(i) * TWO_PI / float(n) for i in range(n)]
        sines.append(tuple(math.sin(x) for x in angles))
        cosines.append(tuple(math.cos(x) for x in angles))
    return tuple(sines), tuple(cosines)


DFT_SIN, DFT_COS = _dft_tables()


def fma(x: float, y: float, z: float) -> float:
    """x * y + z rounded once, as C's `fma` (`math.fma` only arrives in Python 3.13).

    Exact: finite doubles are dyadic rationals, and CPython's int / int true division
    is correctly rounded, so the one rounding happens in the final division.
    """
    try:
        xn, xd = x.as_integer_ratio()
        yn, yd = y.as_integer_ratio()
        zn, zd = z.as_integer_ratio()
    except (OverflowError, ValueError):  # inf or nan: no rounding question left
        return x * y + z
    den = xd * yd
    if den >= zd:
        return (xn * yn + zn * (den // zd)) / den
    return (xn * yn * (zd // den) + zn) / zd


def _fir(ring: list[float], t: int, x: float, gain: float) -> float:
    """Ehlers' Hilbert FIR a*x + b*x[-2] - b*x[-4] - a*x[-6], in TA-Lib's order, times
    the period-dependent gain. `ring` holds x's last values by bar number (8 slots, so
    `& 7` finds them); x is stored at bar t."""
    out = 0.0 - A * ring[(t - 6) & 7]
    out += A * x
    out -= B * ring[(t - 4) & 7]
    out += B * ring[(t - 2) & 7]
    ring[t & 7] = x
    return out * gain


class HilbertCore:
    """Price smoother, Hilbert transforms and dominant-cycle period, per bar.

    After `push`, `smoothed`, `i1` (the detrender delayed 3 bars), `q1`, `period` and
    `smooth_period` describe the bar; `push` returns False while only the WMA runs.
    `prices` keeps the last 50 raw prices (newest last) for the trendline average.
    """

    __slots__ = ("bars", "d_ring", "i1", "i1_ring", "i2", "im", "period", "prices",
                 "q1", "q1_ring", "q2", "re", "s_ring", "smooth_period", "smoothed",
                 "start", "wma_sub", "wma_sum")

    def __init__(self, start: int) -> None:
        self.start = start
        self.bars = 0
        self.prices: deque[float] = deque(maxlen=MAX_CYCLE)
        self.wma_sum = self.wma_sub = 0.0
        self.smoothed = 0.0
        self.s_ring = [0.0] * 8
        self.d_ring = [0.0] * 8
        self.i1_ring = [0.0] * 8
        self.q1_ring = [0.0] * 8
        self.i1 = self.q1 = 0.0
        self.i2 = self.q2 = self.re = self.im = 0.0
        self.period = self.smooth_period = 0.0

    def _smooth(self, x: float) -> bool:
        """TA-Lib's running 4-3-2-1 WMA: add the new price to both sums, read, then take
        the plain sum out of the weighted one. False until the first full window."""
        t = self.bars
        prices = self.prices
        if t < 3:
            self.wma_sub += x
            self.wma_sum += x * float(t + 1)
            prices.append(x)
            return False
        self.wma_sub += x
        self.wma_sub -= prices[-4] if t >= 4 else 0.0
        self.wma_sum += x * 4.0
        self.smoothed = self.wma_sum * 0.1
        self.wma_sum -= self.wma_sub
        prices.append(x)
        return True

    def push(self, x: float) -> bool:
        smoothed = self._smooth(x)
        t = self.bars
        self.bars += 1
        if not smoothed or t < self.start:
            return False
        gain = fma(0.075, self.period, 0.54)
        detrender = _fir(self.s_ring, t, self.smoothed, gain)
        q1 = _fir(self.d_ring, t, detrender, gain)
        i1 = self.d_ring[(t - 3) & 7]
        ji = _fir(self.i1_ring, t, i1, gain)
        jq = _fir(self.q1_ring, t, q1, gain)
        self.i1, self.q1 = i1, q1
        prev_i2, prev_q2 = self.i2, self.q2
        q2 = fma(0.2, q1 + ji, 0.8 * prev_q2)
        i2 = fma(0.2, i1 - jq, 0.8 * prev_i2)
        self.re = fma(0.8, self.re, 0.2 * fma(i2, prev_i2, q2 * prev_q2))
        self.im = fma(0.8, self.im, 0.2 * (i2 * prev_q2 - q2 * prev_i2))
        self.i2, self.q2 = i2, q2
        prev = self.period
        period = prev
        if self.im != 0.0 and self.re != 0.0:
            period = 360.0 / (math.atan(self.im / self.re) * RAD2DEG)
        period = min(period, 1.5 * prev)
        period = max(period, 0.67 * prev)
        period = min(max(period, 6.0), 50.0)
        self.period = fma(0.2, period, 0.8 * prev)
        self.smooth_period = fma(0.67, self.smooth_period, 0.33 * self.period)
        return True

    def cycle(self) -> int:
        """The dominant cycle in whole bars (the smoothed period, rounded)."""
        return int(self.smooth_period + 0.5)


class _Trendline:
    """Ehlers' instantaneous trendline: the raw-price mean over the dominant cycle,
    then a 4-3-2-1 FIR over the last four such means."""

    __slots__ = ("it1", "it2", "it3")

    def __init__(self) -> None:
        self.it1 = self.it2 = self.it3 = 0.0

    def push(self, core: HilbertCore) -> float:
        n = core.cycle()
        total = 0.0
        prices = core.prices
        for back in range(1, n + 1):  # newest first, TA-Lib's summation order
            total += prices[-back]
        mean = total / float(n) if n > 0 else total
        value = (4.0 * mean + 3.0 * self.it1 + 2.0 * self.it2 + self.it3) / 10.0
        self.it3, self.it2, self.it1 = self.it2, self.it1, mean
        return value


class _Phase:
    """Dominant-cycle phase in degrees: a one-cycle DFT of the smoothed price.

    With a zero imaginary part TA-Lib keeps the previous bar's phase and moves it by
    +-90 degrees, so the phase is state, not a pure function of the window.
    """

    __slots__ = ("phase", "window")

    def __init__(self) -> None:
        self.window: deque[float] = deque([0.0] * MAX_CYCLE, maxlen=MAX_CYCLE)
        self.phase = 0.0

    def push(self, core: HilbertCore) -> float:
        self.window.append(core.smoothed)
        n = core.cycle()
        real = imag = 0.0
        sines, cosines = DFT_SIN[n], DFT_COS[n]
        for i, value in zip(range(n), reversed(self.window), strict=False):
            real += sines[i] * value
            imag += cosines[i] * value
        phase = self.phase
        if imag != 0.0:
            phase = math.atan(real / imag) * RAD2DEG
        elif real < 0.0:
            phase -= 90.0
        elif real > 0.0:
            phase += 90.0
        phase += 90.0
        phase += 360.0 / core.smooth_period  # the WMA's one-bar lag
        if imag < 0.0:
            phase += 180.0
        if phase > 315.0:
            phase -= 360.0
        self.phase = phase
        return phase


def sine_pair(phase: float) -> tuple[float, float]:
    return math.sin(phase * DEG2RAD), math.sin((phase + 45) * DEG2RAD)


class _Cycle:
    """A Hilbert core and the bar count, for indicators with no other state."""

    __slots__ = ("core", "lookback")

    START = SHORT_START
    LOOKBACK = SHORT_LOOKBACK

    def __init__(self, p: Any) -> None:
        self.core = HilbertCore(self.START)
        self.lookback = self.LOOKBACK

    def ready(self, close: float) -> bool:
        """Runs the core on `close`; True when this bar has an output."""
        self.core.push(close)
        return self.core.bars > self.lookback


class HtDcperiod(_Cycle):
    __slots__ = ()

    def update(self, close: float) -> Out:
        return (self.core.smooth_period if self.ready(close) else None,)


class HtPhasor(_Cycle):
    __slots__ = ()

    def update(self, close: float) -> Out:
        if not self.ready(close):
            return (None, None)
        return (self.core.i1, self.core.q1)


class HtTrendline(_Cycle):
    __slots__ = ("trend",)

    START = LONG_START
    LOOKBACK = LONG_LOOKBACK

    def __init__(self, p: Any) -> None:
        super().__init__(p)
        self.trend = _Trendline()

    def update(self, close: float) -> Out:
        if not self.core.push(close):
            return (None,)
        value = self.trend.push(self.core)
        return (value if self.core.bars > self.lookback else None,)


class HtDcphase(_Cycle):
    __slots__ = ("phase",)

    START = LONG_START
    LOOKBACK = LONG_LOOKBACK

    def __init__(self, p: Any) -> None:
        super().__init__(p)
        self.phase = _Phase()

    def update(self, close: float) -> Out:
        if not self.core.push(close):
            return (None,)
        phase = self.phase.push(self.core)
        return (phase if self.core.bars > self.lookback else None,)


class HtSine(HtDcphase):
    __slots__ = ()

    def update(self, close: float) -> Out:
        (phase,) = super().update(close)
        return (None, None) if phase is None else sine_pair(phase)


class HtTrendmode(_Cycle):
    """Cycle mode (0.0) when the sine and lead sine crossed less than half a cycle
    ago, or when the phase advanced by 0.67 to 1.5 times the cycle's rate; trend (1.0)
    otherwise, and always when the smoothed price is 1.5% or more away from the
    trendline. The overrides apply in TA-Lib's order."""

    __slots__ = ("days", "lead", "phase", "sine", "trend")

    START = LONG_START
    LOOKBACK = LONG_LOOKBACK

    def __init__(self, p: Any) -> None:
        super().__init__(p)
        self.phase = _Phase()
        self.trend = _Trendline()
        self.sine = self.lead = 0.0
        self.days = 0

    def update(self, close: float) -> Out:
        core = self.core
        if not core.push(close):
            return (None,)
        prev_phase = self.phase.phase
        phase = self.phase.push(core)
        prev_sine, prev_lead = self.sine, self.lead
        sine, lead = self.sine, self.lead = sine_pair(phase)
        trendline = self.trend.push(core)
        trend = 1.0
        if (sine > lead and prev_sine <= prev_lead) or (sine < lead and prev_sine >= prev_lead):
            self.days = 0
            trend = 0.0
        self.days += 1
        period = core.smooth_period
        if self.days < 0.5 * period:
            trend = 0.0
        advance = phase - prev_phase
        if period != 0.0 and 0.67 * 360.0 / period < advance < 1.5 * 360.0 / period:
            trend = 0.0
        if trendline != 0.0 and abs((core.smoothed - trendline) / trendline) >= 0.015:
            trend = 1.0
        return (trend if core.bars > self.lookback else None,)


class Mama(_Cycle):
    """MESA adaptive MA: the EMA factor is fast_limit / (phase change in degrees),
    floored at slow_limit; FAMA follows MAMA with half that factor. Both start at 0
    on the core's first bar, as in TA-Lib."""

    __slots__ = ("fama", "fast", "mama", "prev_phase", "slow")

    def __init__(self, p: Any) -> None:
        super().__init__(p)
        self.fast = float(p.fast_limit)
        self.slow = float(p.slow_limit)
        self.mama = self.fama = self.prev_phase = 0.0

    def update(self, close: float) -> Out:
        core = self.core
        if not core.push(close):
            return (None, None)
        phase = math.atan(core.q1 / core.i1) * RAD2DEG if core.i1 != 0.0 else 0.0
        delta = self.prev_phase - phase
        self.prev_phase = phase
        alpha = max(self.fast / delta, self.slow) if delta > 1.0 else self.fast
        self.mama = fma(1.0 - alpha, self.mama, alpha * close)
        alpha *= 0.5
        self.fama = fma(1.0 - alpha, self.fama, alpha * self.mama)
        if core.bars <= self.lookback:
            return (None, None)
        return (self.mama, self.fama)
