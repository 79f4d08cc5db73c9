"""Incremental forms of the channel family: O(1)-ish state per closed bar.

Each class mirrors its batch form (`batch.py` / `kernels.py`) operation for
operation: the same seeds at the same bars, the same recursions and the same
zero tests, so the two agree to rounding. Pure Python, no polars or numpy.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from runner.indicators.core.incremental import TA_EPSILON, Out, RollingMean


class Keltner:
    """EMA of the typical price and Wilder ATR, both seeded at bar
    max(period - 1, atr_period) from the values that end there."""

    __slots__ = ("alpha", "atr", "atr_n", "atr_seed", "bar", "ema", "ema_seed", "k", "n",
                 "prev", "start")

    def __init__(self, p: Any) -> None:
        self.n: int = p.period
        self.atr_n: int = p.atr_period
        self.k = float(p.multiplier)
        self.alpha = 2.0 / (p.period + 1)
        self.start = max(p.period - 1, p.atr_period)
        self.bar = -1
        self.prev: float | None = None
        self.ema_seed = 0.0
        self.atr_seed = 0.0
        self.ema: float | None = None
        self.atr: float | None = None

    def update(self, high: float, low: float, close: float) -> Out:
        self.bar += 1
        prev, self.prev = self.prev, close
        tp = (high + low + close) / 3.0
        tr = 0.0 if prev is None else max(high, prev) - min(low, prev)
        if self.bar < self.start:
            if self.bar > self.start - self.n:
                self.ema_seed += tp
            if self.bar > self.start - self.atr_n:
                self.atr_seed += tr
            return (None, None, None)
        if self.ema is None or self.atr is None:
            self.ema = (self.ema_seed + tp) / self.n
            self.atr = (self.atr_seed + tr) / self.atr_n
        else:
            self.ema += self.alpha * (tp - self.ema)
            self.atr = (self.atr * (self.atr_n - 1) + tr) / self.atr_n
        width = self.atr * self.k
        return (self.ema + width, self.ema, self.ema - width)


class Donchian:
    __slots__ = ("highs", "lows", "n")

    def __init__(self, p: Any) -> None:
        self.n: int = p.period
        self.highs: deque[float] = deque(maxlen=p.period)
        self.lows: deque[float] = deque(maxlen=p.period)

    def update(self, high: float, low: float) -> Out:
        self.highs.append(high)
        self.lows.append(low)
        if len(self.highs) < self.n:
            return (None, None, None)
        upper, lower = max(self.highs), min(self.lows)
        return (upper, (upper + lower) / 2.0, lower)


class Accbands:
    __slots__ = ("lower", "middle", "upper")

    def __init__(self, p: Any) -> None:
        self.upper = RollingMean(p.period)
        self.middle = RollingMean(p.period)
        self.lower = RollingMean(p.period)

    def update(self, high: float, low: float, close: float) -> Out:
        total = high + low
        if abs(total) < TA_EPSILON:
            up, down = high, low
        else:
            width = 4.0 * (high - low) / total
            up, down = high * (1.0 + width), low * (1.0 - width)
        return (self.upper.push(up), self.middle.push(close), self.lower.push(down))


class HeikinAshi:
    __slots__ = ("close", "open")

    def __init__(self, p: Any) -> None:
        self.open: float | None = None
        self.close = 0.0

    def update(self, open_: float, high: float, low: float, close: float) -> Out:
        o = (open_ + close) / 2.0 if self.open is None else (self.open + self.close) / 2.0
        c = (open_ + high + low + close) / 4.0
        self.open, self.close = o, c
        h = high
        if o > h:
            h = o
        if c > h:
            h = c
        lo = low
        if o < lo:
            lo = o
        if c < lo:
            lo = c
        return (o, h, lo, c)


class Adr:
    __slots__ = ("mean",)

    def __init__(self, p: Any) -> None:
        self.mean = RollingMean(p.period)

    def update(self, high: float, low: float) -> Out:
        return (self.mean.push(high - low),)


class _TalibEma:
    """TA-Lib's EMA written as beta x prev + k x value, seeded with the mean of the
    first `n` values (the form CVI and MASSI use)."""

    __slots__ = ("beta", "k", "n", "seed", "seen", "value")

    def __init__(self, n: int) -> None:
        beta = (n - 1) / (n + 1)
        self.k = 1.0 - beta
        self.beta = 1.0 - self.k
        self.n = n
        self.seen = 0
        self.seed = 0.0
        self.value: float | None = None

    def push(self, x: float) -> float | None:
        if self.value is None:
            self.seed += x
            self.seen += 1
            if self.seen == self.n:
                self.value = self.seed / self.n
            return self.value
        self.value = self.beta * self.value + self.k * x
        return self.value


class Cvi:
    __slots__ = ("ema", "emas")

    def __init__(self, p: Any) -> None:
        self.ema = _TalibEma(p.period)
        self.emas: deque[float] = deque(maxlen=p.roc_period + 1)

    def update(self, high: float, low: float) -> Out:
        value = self.ema.push(high - low)
        if value is None:
            return (None,)
        self.emas.append(value)
        if len(self.emas) < self.emas.maxlen:  # type: ignore[operator]
            return (None,)
        lagged = self.emas[0]
        return (100.0 * ((value - lagged) / lagged) if lagged != 0.0 else 0.0,)


class Massi:
    __slots__ = ("ema1", "ema2", "n", "ratios", "total")

    def __init__(self, p: Any) -> None:
        self.ema1 = _TalibEma(p.fast)
        self.ema2 = _TalibEma(p.fast)
        self.n: int = p.slow
        self.ratios: deque[float] = deque()
        self.total = 0.0

    def update(self, high: float, low: float) -> Out:
        ema1 = self.ema1.push(high - low)
        if ema1 is None:
            return (None,)
        ema2 = self.ema2.push(ema1)
        if ema2 is None:
            return (None,)
        ratio = 1.0 if ema2 == 0.0 else ema1 / ema2
        self.total += ratio
        self.ratios.append(ratio)
        if len(self.ratios) < self.n:
            return (None,)
        value = self.total
        self.total -= self.ratios.popleft()
        return (value,)


class Rvi:
    """Mirrors `kernels.rvi`: the shifted running variance with its re-anchoring,
    then two Wilder-smoothed legs."""

    __slots__ = ("countdown", "dn", "inv", "m", "n", "peak", "prev", "s1", "s2", "shift",
                 "steps", "up", "w_alpha", "w_beta", "window")

    def __init__(self, p: Any) -> None:
        self.n: int = p.period
        self.m: int = p.stddev_period
        self.inv = 1.0 / p.stddev_period
        self.w_beta = (p.period - 1) / p.period
        self.w_alpha = 1.0 - self.w_beta
        self.window: deque[float] = deque()
        self.shift = 0.0
        self.s1 = 0.0
        self.s2 = 0.0
        self.peak = 0.0
        self.countdown = 32 * p.stddev_period
        self.up = 0.0
        self.dn = 0.0
        self.steps = 0
        self.prev = 0.0

    def _sums(self, shift: float) -> None:
        self.s1 = 0.0
        self.s2 = 0.0
        for x in self.window:
            d = x - shift
            self.s1 += d
            self.s2 += d * d

    def _sigma(self, x: float) -> float:
        """Adds `x` (the window already holds it), returns the deviation and drops
        the window's oldest value from the sums."""
        inv = self.inv
        d = x - self.shift
        self.s1 += d
        self.s2 += d * d
        if self.s2 > self.peak:
            self.peak = self.s2
        mean = self.s1 * inv
        var = self.s2 * inv - mean * mean
        d = self.window[0] - self.shift
        self.s1 -= d
        self.s2 -= d * d
        self.countdown -= 1
        if var < 0.000001 * (self.peak * inv) or self.countdown <= 0:
            self.countdown = 32 * self.m
            total = 0.0
            for v in self.window:
                total += v
            self.shift = total * inv
            self._sums(self.shift)
            mean = self.s1 * inv
            var = self.s2 * inv - mean * mean
            if var < 0.000001 * (self.s2 * inv):
                self.shift = x
                self._sums(x)
                mean = self.s1 * inv
                var = self.s2 * inv - mean * mean
            self.peak = self.s2
            if var < 0.000000000001 * (self.s2 * inv):
                var = 0.0
            d = self.window[0] - self.shift
            self.s1 -= d
            self.s2 -= d * d
        return math.sqrt(var)

    def update(self, close: float) -> Out:
        window = self.window
        window.append(close)
        if len(window) == 1:
            self.shift = close
        if len(window) < self.m:
            d = close - self.shift
            self.s1 += d
            self.s2 += d * d
            self.peak = self.s2
            self.prev = close
            return (None,)
        sigma = self._sigma(close)
        window.popleft()
        delta = close - self.prev
        self.prev = close
        step = self.steps
        self.steps += 1
        if step < self.n:
            if delta > 0.0:
                self.up += sigma
            elif delta < 0.0:
                self.dn += sigma
            if step < self.n - 1:
                return (None,)
            self.up = self.up / self.n
            self.dn = self.dn / self.n
        else:
            self.up = self.w_beta * self.up + self.w_alpha * (sigma if delta > 0.0 else 0.0)
            self.dn = self.w_beta * self.dn + self.w_alpha * (sigma if delta < 0.0 else 0.0)
        both = self.up + self.dn
        return (50.0 if both == 0.0 else 100.0 * (self.up / both),)


class Ichimoku:
    """Mirrors `kernels.ichimoku`: window extremes over the last bars, and the
    raw spans and closes kept `displacement` bars for the shifted outputs."""

    __slots__ = ("base_n", "closes", "conv_n", "highs", "lows", "raw_a", "raw_b", "span_n")

    def __init__(self, p: Any) -> None:
        self.conv_n: int = p.conversion
        self.base_n: int = p.base
        self.span_n: int = p.span_b
        longest = max(p.conversion, p.base, p.span_b)
        self.highs: deque[float] = deque(maxlen=longest)
        self.lows: deque[float] = deque(maxlen=longest)
        keep = p.displacement + 1
        self.raw_a: deque[float | None] = deque(maxlen=keep)
        self.raw_b: deque[float | None] = deque(maxlen=keep)
        self.closes: deque[float] = deque(maxlen=keep)

    def _mid(self, n: int) -> float | None:
        if len(self.highs) < n:
            return None
        hh = max(itertools.islice(reversed(self.highs), n))
        ll = min(itertools.islice(reversed(self.lows), n))
        return (hh + ll) / 2.0

    def update(self, high: float, low: float, close: float) -> Out:
        self.highs.append(high)
        self.lows.append(low)
        conv, base, span_b = self._mid(self.conv_n), self._mid(self.base_n), \
            self._mid(self.span_n)
        self.raw_a.append(None if conv is None or base is None else (conv + base) / 2.0)
        self.raw_b.append(span_b)
        self.closes.append(close)
        if len(self.closes) < self.closes.maxlen:  # type: ignore[operator]
            return (conv, base, None, None, None)
        return (conv, base, self.raw_a[0], self.raw_b[0], self.closes[0])


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def session_day(time_ms: float, zone: ZoneInfo, offset: timedelta) -> int:
    """`batch.session_label` for one bar: the local wall-clock date of the bar's
    time minus the session start, as a proleptic ordinal."""
    local = (_EPOCH + timedelta(milliseconds=int(time_ms))).astimezone(zone)
    return (local.replace(tzinfo=None) - offset).date().toordinal()


def pivot_levels(kind: str, h: float, lo: float, c: float) -> Out:
    """The same arithmetic as `kernels._pivot_levels`: pp, r1, r2, r3, s1, s2, s3."""
    pp = (h + lo + c) / 3.0
    r = h - lo
    if kind == "classic":
        return (pp, 2.0 * pp - lo, pp + r, h + 2.0 * (pp - lo),
                2.0 * pp - h, pp - r, lo - 2.0 * (h - pp))
    if kind == "fibonacci":
        return (pp, pp + 0.382 * r, pp + 0.618 * r, pp + r,
                pp - 0.382 * r, pp - 0.618 * r, pp - r)
    return (pp, c + r * 1.1 / 12.0, c + r * 1.1 / 6.0, c + r * 1.1 / 4.0,
            c - r * 1.1 / 12.0, c - r * 1.1 / 6.0, c - r * 1.1 / 4.0)


class Pivots:
    __slots__ = ("close", "high", "kind", "levels", "low", "offset", "session", "zone")

    def __init__(self, p: Any) -> None:
        self.kind: str = p.kind
        self.zone = ZoneInfo(p.tz)
        hours, minutes = (int(v) for v in p.day_start.split(":"))
        self.offset = timedelta(hours=hours, minutes=minutes)
        self.session: int | None = None
        self.levels: Out = (None,) * 7
        self.high = 0.0
        self.low = 0.0
        self.close = 0.0

    def update(self, high: float, low: float, close: float, time: float) -> Out:
        session = session_day(time, self.zone, self.offset)
        if session != self.session:
            if self.session is not None:
                self.levels = pivot_levels(self.kind, self.high, self.low, self.close)
            self.session = session
            self.high, self.low = high, low
        else:
            if high > self.high:
                self.high = high
            if low < self.low:
                self.low = low
        self.close = close
        return self.levels
