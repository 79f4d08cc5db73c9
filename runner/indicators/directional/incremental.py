"""Incremental forms of the directional family: O(1) state per closed bar.

Each class mirrors its batch kernel's arithmetic (`kernels.py`) step for step (same
seeds, same zero tests, same hold rules), so the property test can hold the two equal.
Pure Python with `__slots__`: no polars or numpy import on the live path.
"""

from __future__ import annotations

from collections import deque
from itertools import pairwise
from typing import Any

TA_EPSILON = 1e-14
Out = tuple[float | None, ...]


class WilderDM:
    """Wilder's smoothed +DM, -DM and true range, updated once per bar.

    `push` returns the number of one-bar values folded in so far (0 on the first
    bar, which has no previous bar): the sums are plain sums for the first
    `period - 1` of them and `s - s / period + x` afterwards.
    """

    __slots__ = ("bars", "minus", "period", "plus", "prev", "tr")

    def __init__(self, period: int) -> None:
        self.period = period
        self.prev: tuple[float, float, float] | None = None
        self.bars = 0
        self.plus = 0.0
        self.minus = 0.0
        self.tr = 0.0

    def push(self, high: float, low: float, close: float) -> int:
        prev, self.prev = self.prev, (high, low, close)
        if prev is None:
            return 0
        prev_high, prev_low, prev_close = prev
        up = high - prev_high
        down = prev_low - low
        plus = up if (up > 0.0 and up > down) else 0.0
        minus = down if (down > 0.0 and up < down) else 0.0
        tr = max(high - low, abs(high - prev_close), abs(low - prev_close))
        self.bars += 1
        n = self.period
        if self.bars < n:
            self.plus += plus
            self.minus += minus
            self.tr += tr
        else:
            self.plus = self.plus - self.plus / n + plus
            self.minus = self.minus - self.minus / n + minus
            self.tr = self.tr - self.tr / n + tr
        return self.bars

    def dx(self) -> float | None:
        """DX now, or None where TA-Lib finds it undefined (a ~0 range or DI sum)."""
        if abs(self.tr) < TA_EPSILON:
            return None
        minus_di = 100.0 * (self.minus / self.tr)
        plus_di = 100.0 * (self.plus / self.tr)
        total = minus_di + plus_di
        if abs(total) < TA_EPSILON:
            return None
        return 100.0 * (abs(minus_di - plus_di) / total)


class _DM:
    __slots__ = ("dm",)

    def __init__(self, p: Any) -> None:
        self.dm = WilderDM(p.period)


class PlusDm(_DM):
    __slots__ = ()

    def update(self, high: float, low: float) -> Out:
        bars = self.dm.push(high, low, low)
        return (self.dm.plus if bars >= max(self.dm.period - 1, 1) else None,)


class MinusDm(_DM):
    __slots__ = ()

    def update(self, high: float, low: float) -> Out:
        bars = self.dm.push(high, low, low)
        return (self.dm.minus if bars >= max(self.dm.period - 1, 1) else None,)


class _Di(_DM):
    __slots__ = ()

    def di(self, high: float, low: float, close: float, plus: bool) -> Out:
        dm = self.dm
        if dm.push(high, low, close) < dm.period:
            return (None,)
        if abs(dm.tr) < TA_EPSILON:
            return (0.0,)
        # TA-Lib's period-1 DI is the bare ratio, not a percentage
        scale = 1.0 if dm.period == 1 else 100.0
        return (scale * ((dm.plus if plus else dm.minus) / dm.tr),)


class PlusDi(_Di):
    __slots__ = ()

    def update(self, high: float, low: float, close: float) -> Out:
        return self.di(high, low, close, True)


class MinusDi(_Di):
    __slots__ = ()

    def update(self, high: float, low: float, close: float) -> Out:
        return self.di(high, low, close, False)


class Dx(_DM):
    __slots__ = ("last",)

    def __init__(self, p: Any) -> None:
        super().__init__(p)
        self.last = 0.0

    def update(self, high: float, low: float, close: float) -> Out:
        if self.dm.push(high, low, close) < self.dm.period:
            return (None,)
        dx = self.dm.dx()
        if dx is not None:
            self.last = dx
        return (self.last,)


class Adx(_DM):
    """ADX seeded with the mean of the first `period` DX (undefined ones count 0),
    holding its value on bars where DX is undefined."""

    __slots__ = ("adx", "total")

    def __init__(self, p: Any) -> None:
        super().__init__(p)
        self.total = 0.0
        self.adx: float | None = None

    def update(self, high: float, low: float, close: float) -> Out:
        n = self.dm.period
        bars = self.dm.push(high, low, close)
        if bars < n:
            return (None,)
        dx = self.dm.dx()
        if self.adx is None:
            if dx is not None:
                self.total += dx
            if bars < 2 * n - 1:
                return (None,)
            self.adx = self.total / n
        elif dx is not None:
            self.adx = (self.adx * (n - 1) + dx) / n
        return (self.adx,)


class Adxr:
    __slots__ = ("adx", "history", "n")

    def __init__(self, p: Any) -> None:
        self.adx = Adx(p)
        self.n: int = p.period
        self.history: deque[float] = deque(maxlen=p.period)

    def update(self, high: float, low: float, close: float) -> Out:
        (adx,) = self.adx.update(high, low, close)
        if adx is None:
            return (None,)
        self.history.append(adx)
        if len(self.history) < self.n:
            return (None,)
        return ((adx + self.history[0]) / 2.0,)


class _AroonWindow:
    """The last `period + 1` highs and lows, and how many bars ago each extreme was
    made (ties: the latest bar, as in TA-Lib). O(period) per bar."""

    __slots__ = ("factor", "highs", "lows", "n")

    def __init__(self, p: Any) -> None:
        self.n: int = p.period
        self.factor = 100.0 / p.period
        self.highs: deque[float] = deque(maxlen=p.period + 1)
        self.lows: deque[float] = deque(maxlen=p.period + 1)

    def ages(self, high: float, low: float) -> tuple[int, int] | None:
        self.highs.append(high)
        self.lows.append(low)
        if len(self.highs) <= self.n:
            return None
        hi = max(range(self.n + 1), key=lambda j: (self.highs[j], j))
        lo = min(range(self.n + 1), key=lambda j: (self.lows[j], -j))
        return self.n - hi, self.n - lo


class Aroon(_AroonWindow):
    __slots__ = ()

    def update(self, high: float, low: float) -> Out:
        ages = self.ages(high, low)
        if ages is None:
            return (None, None)
        return (self.factor * (self.n - ages[0]), self.factor * (self.n - ages[1]))


class Aroonosc(_AroonWindow):
    __slots__ = ()

    def update(self, high: float, low: float) -> Out:
        ages = self.ages(high, low)
        if ages is None:
            return (None,)
        return (self.factor * (ages[1] - ages[0]),)


class ParabolicState:
    """The stop-and-reverse state machine of `kernels.sarext`, one bar at a time.

    `step` returns the SAR for the bar and whether the trade is long on it (None on
    the first bar, which only seeds the state)."""

    __slots__ = ("af_long", "af_short", "ep", "init_long", "init_short", "is_long",
                 "max_long", "max_short", "offset", "prev", "sar", "start_value",
                 "step_long", "step_short")

    def __init__(self, start_value: float, offset: float, init_long: float,
                 step_long: float, max_long: float, init_short: float, step_short: float,
                 max_short: float) -> None:
        self.start_value = start_value
        self.offset = offset
        self.init_long = min(init_long, max_long)
        self.step_long = min(step_long, max_long)
        self.max_long = max_long
        self.init_short = min(init_short, max_short)
        self.step_short = min(step_short, max_short)
        self.max_short = max_short
        self.af_long = self.init_long
        self.af_short = self.init_short
        self.prev: tuple[float, float] | None = None
        self.is_long: bool | None = None
        self.sar = 0.0
        self.ep = 0.0

    def _seed(self, high: float, low: float) -> None:
        assert self.prev is not None
        first_high, first_low = self.prev
        if self.start_value == 0.0:
            up = high - first_high
            down = first_low - low
            self.is_long = not (down > 0.0 and up < down)
            self.sar = first_low if self.is_long else first_high
        else:
            self.is_long = self.start_value > 0.0
            self.sar = abs(self.start_value)
        self.ep = high if self.is_long else low
        self.prev = (high, low)  # bar 2 is its own previous bar, as in TA-Lib

    def step(self, high: float, low: float) -> tuple[float, bool] | None:
        if self.prev is None:
            self.prev = (high, low)
            return None
        if self.is_long is None:
            self._seed(high, low)
        prev_high, prev_low = self.prev
        self.prev = (high, low)
        sar, ep = self.sar, self.ep
        if self.is_long:
            if low <= sar:
                sar = max(ep, prev_high, high)
                if self.offset != 0.0:
                    sar += sar * self.offset
                out = (sar, False)
                self.af_short = self.init_short
                ep = low
                sar = max(sar + self.af_short * (ep - sar), prev_high, high)
            else:
                out = (sar, True)
                if high > ep:
                    ep = high
                    self.af_long = min(self.af_long + self.step_long, self.max_long)
                sar = min(sar + self.af_long * (ep - sar), prev_low, low)
        elif high >= sar:
            sar = min(ep, prev_low, low)
            if self.offset != 0.0:
                sar -= sar * self.offset
            out = (sar, True)
            self.af_long = self.init_long
            ep = high
            sar = min(sar + self.af_long * (ep - sar), prev_low, low)
        else:
            out = (sar, False)
            if low < ep:
                ep = low
                self.af_short = min(self.af_short + self.step_short, self.max_short)
            sar = max(sar + self.af_short * (ep - sar), prev_high, high)
        self.is_long = out[1]
        self.sar, self.ep = sar, ep
        return out


class Sar:
    __slots__ = ("state",)

    def __init__(self, p: Any) -> None:
        a, m = p.acceleration, p.maximum
        self.state = ParabolicState(0.0, 0.0, a, a, m, a, a, m)

    def update(self, high: float, low: float) -> Out:
        out = self.state.step(high, low)
        return (None if out is None else out[0],)


class Sarext:
    __slots__ = ("state",)

    def __init__(self, p: Any) -> None:
        self.state = ParabolicState(
            p.start_value, p.offset_on_reverse, p.acceleration_init_long,
            p.acceleration_long, p.acceleration_max_long, p.acceleration_init_short,
            p.acceleration_short, p.acceleration_max_short)

    def update(self, high: float, low: float) -> Out:
        out = self.state.step(high, low)
        if out is None:
            return (None,)
        return (out[0] if out[1] else -out[0],)


class Supertrend:
    """`batch.supertrend`'s definition one bar at a time."""

    __slots__ = ("atr", "bars", "lower", "m", "n", "prev_close", "up", "upper")

    def __init__(self, p: Any) -> None:
        self.n: int = p.period
        self.m: float = p.multiplier
        self.bars = 0
        self.prev_close: float | None = None
        self.atr = 0.0
        self.upper = 0.0
        self.lower = 0.0
        self.up = True

    def update(self, high: float, low: float, close: float) -> Out:
        prev_close, self.prev_close = self.prev_close, close
        if prev_close is None:
            return (None, None)
        tr = max(high - low, abs(prev_close - high), abs(prev_close - low))
        self.bars += 1
        n = self.n
        if self.bars < n:
            self.atr += tr
            return (None, None)
        if self.bars == n:
            self.atr = (self.atr + tr) / n
        else:
            self.atr = (self.atr * (n - 1) + tr) / n
        mid = (high + low) / 2.0
        band = self.m * self.atr
        basic_upper = mid + band
        basic_lower = mid - band
        if self.bars == n:
            self.upper, self.lower = basic_upper, basic_lower
        else:
            if basic_upper < self.upper or prev_close > self.upper:
                self.upper = basic_upper
            if basic_lower > self.lower or prev_close < self.lower:
                self.lower = basic_lower
            self.up = close >= self.lower if self.up else close > self.upper
        if self.up:
            return (self.lower, 1.0)
        return (self.upper, -1.0)


class Vortex:
    """`kernels.vortex` one bar at a time: the window's terms in a deque, the sums
    rounded in the kernel's order (add, read, drop the trailing term)."""

    __slots__ = ("flat", "n", "prev", "s_tr", "s_vmm", "s_vmp", "terms")

    def __init__(self, p: Any) -> None:
        self.n: int = p.period
        self.prev: tuple[float, float, float] | None = None
        self.terms: deque[tuple[float, float, float]] = deque()
        self.s_tr = 0.0
        self.s_vmp = 0.0
        self.s_vmm = 0.0
        self.flat = 0

    def update(self, high: float, low: float, close: float) -> Out:
        prev, self.prev = self.prev, (high, low, close)
        if prev is None:
            return (None, None)
        prev_high, prev_low, prev_close = prev
        tr = max(high - low, abs(prev_close - high), abs(prev_close - low))
        vmp = abs(high - prev_low)
        vmm = abs(low - prev_high)
        self.terms.append((tr, vmp, vmm))
        self.s_tr += tr
        self.s_vmp += vmp
        self.s_vmm += vmm
        self.flat = self.flat + 1 if tr == 0.0 else 0
        if len(self.terms) < self.n:
            return (None, None)
        if self.flat >= self.n:
            self.flat = self.n
            self.s_tr = 0.0
        if self.s_tr > 0.0:
            out: Out = (self.s_vmp / self.s_tr, self.s_vmm / self.s_tr)
        else:
            out = (0.0, 0.0)
        old_tr, old_vmp, old_vmm = self.terms.popleft()
        self.s_tr -= old_tr
        self.s_vmp -= old_vmp
        self.s_vmm -= old_vmm
        return out


class Vhf:
    """`kernels.vhf` one bar at a time: the last `period + 1` values, summed afresh
    each bar (O(period)) so the rounding is the kernel's."""

    __slots__ = ("n", "values")

    def __init__(self, p: Any) -> None:
        self.n: int = p.period
        self.values: deque[float] = deque(maxlen=p.period + 1)

    def update(self, close: float) -> Out:
        self.values.append(close)
        if len(self.values) <= self.n:
            return (None,)
        values = list(self.values)
        total = 0.0
        for prev, v in pairwise(values):
            total += abs(v - prev)
        window = values[1:]
        span = max(window) - min(window)
        return (span / total if total > 0.0 else 0.0,)
