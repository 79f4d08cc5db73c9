"""Incremental forms of the pattern family: O(1) state per closed bar, pure Python.

The candle patterns share TA-Lib's candle settings (below) with the numba kernels of
the batch form, and `CandleAverage` keeps the same running total the kernels keep,
started at the same bar, so a threshold that TA-Lib's rounding puts on one side of a
comparison lands on the same side here.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, NamedTuple

from runner.indicators.core.incremental import SeededEwm

Out = tuple[float | None, ...]

# What a candle setting measures on each bar.
REAL_BODY, HIGH_LOW, SHADOWS = 0, 1, 2


class CandleSetting(NamedTuple):
    """TA-Lib's yardstick for "long", "short", "near": `factor` times the mean of
    `kind` over the `period` candles before this one (this candle's own `kind` when
    `period` is 0). A SHADOWS yardstick is halved, because it sums two shadows."""

    kind: int
    period: int
    factor: float


# TA-Lib's default candle settings (ta_global.c), the ones these patterns read.
BODY_SHORT = CandleSetting(REAL_BODY, 10, 1.0)
BODY_DOJI = CandleSetting(HIGH_LOW, 10, 0.1)
SHADOW_LONG = CandleSetting(REAL_BODY, 0, 1.0)
SHADOW_VERY_SHORT = CandleSetting(HIGH_LOW, 10, 0.1)
NEAR = CandleSetting(HIGH_LOW, 5, 0.2)

DOJI_LOOKBACK = BODY_DOJI.period
HAMMER_LOOKBACK = max(BODY_SHORT.period, SHADOW_LONG.period, SHADOW_VERY_SHORT.period,
                      NEAR.period) + 1
SHOOTING_STAR_LOOKBACK = max(BODY_SHORT.period, SHADOW_LONG.period,
                             SHADOW_VERY_SHORT.period) + 1
ENGULFING_LOOKBACK = 2  # TA-Lib's, though the pattern reads one bar back only


def candle_range(kind: int, o: float, h: float, low: float, c: float) -> float:
    """The bar's measure for a setting, in TA-Lib's arithmetic order."""
    if kind == REAL_BODY:
        return abs(c - o)
    if kind == HIGH_LOW:
        return h - low
    if c >= o:
        return (h - c) + (o - low)
    return (h - o) + (c - low)


def candle_color(o: float, c: float) -> int:
    """TA-Lib's colour: a bar closing at its open counts as white (+1)."""
    return 1 if c >= o else -1


class CandleAverage:
    """TA-Lib's yardstick for one setting, bar by bar.

    TA-Lib sums the `period` ranges before its first output bar `first` in order,
    then after each bar adds (newest - leaving) to the total. Both the start bar and
    that update order decide the rounding, so they are kept as they are.
    """

    __slots__ = ("div", "factor", "first", "kind", "period", "ranges", "seen", "total")

    def __init__(self, setting: CandleSetting, first: int) -> None:
        self.kind, self.period, self.factor = setting
        self.div = 2.0 if self.kind == SHADOWS else 1.0
        self.first = first
        self.ranges: deque[float] = deque(maxlen=max(self.period, 1))
        self.seen = 0
        self.total = 0.0

    def push(self, o: float, h: float, low: float, c: float) -> float | None:
        """The yardstick for this bar (from the bars before it), then takes it in."""
        r = candle_range(self.kind, o, h, low, c)
        j = self.seen
        self.seen += 1
        if self.period == 0:
            return None if j < self.first else self.factor * r / self.div
        if j < self.first:
            self.ranges.append(r)
            return None
        if j == self.first:
            for x in self.ranges:
                self.total += x
        avg = self.factor * (self.total / self.period) / self.div
        self.total += r - self.ranges[0]
        self.ranges.append(r)
        return avg


class Doji:
    __slots__ = ("body",)

    def __init__(self, p: Any) -> None:
        self.body = CandleAverage(BODY_DOJI, DOJI_LOOKBACK)

    def update(self, o: float, h: float, low: float, c: float) -> Out:
        avg = self.body.push(o, h, low, c)
        if avg is None:
            return (None,)
        return (100.0 if abs(c - o) <= avg else 0.0,)


class _ShortBodyLongShadow:
    """Hammer and shooting star: a short body, one long and one very short shadow."""

    __slots__ = ("body", "long", "prev", "very_short")

    def __init__(self, first: int) -> None:
        self.body = CandleAverage(BODY_SHORT, first)
        self.long = CandleAverage(SHADOW_LONG, first)
        self.very_short = CandleAverage(SHADOW_VERY_SHORT, first)
        self.prev: tuple[float, float, float, float] | None = None

    def yardsticks(self, o: float, h: float, low: float,
                   c: float) -> tuple[float, float, float] | None:
        body = self.body.push(o, h, low, c)
        long = self.long.push(o, h, low, c)
        very_short = self.very_short.push(o, h, low, c)
        if body is None or long is None or very_short is None:
            return None
        return body, long, very_short


class Hammer(_ShortBodyLongShadow):
    __slots__ = ("near", "prev_near")

    def __init__(self, p: Any) -> None:
        super().__init__(HAMMER_LOOKBACK)
        # TA-Lib reads "near the prior low" with the previous bar's yardstick
        self.near = CandleAverage(NEAR, HAMMER_LOOKBACK - 1)
        self.prev_near: float | None = None

    def update(self, o: float, h: float, low: float, c: float) -> Out:
        near, self.prev_near = self.prev_near, self.near.push(o, h, low, c)
        prev, self.prev = self.prev, (o, h, low, c)
        sticks = self.yardsticks(o, h, low, c)
        if sticks is None or near is None or prev is None:
            return (None,)
        body, long, very_short = sticks
        white = c >= o
        lower = (o if white else c) - low
        upper = h - (c if white else o)
        found = (abs(c - o) < body and lower > long and upper < very_short
                 and min(c, o) <= prev[2] + near)
        return (100.0 if found else 0.0,)


class ShootingStar(_ShortBodyLongShadow):
    __slots__ = ()

    def __init__(self, p: Any) -> None:
        super().__init__(SHOOTING_STAR_LOOKBACK)

    def update(self, o: float, h: float, low: float, c: float) -> Out:
        prev, self.prev = self.prev, (o, h, low, c)
        sticks = self.yardsticks(o, h, low, c)
        if sticks is None or prev is None:
            return (None,)
        body, long, very_short = sticks
        white = c >= o
        lower = (o if white else c) - low
        upper = h - (c if white else o)
        found = (min(o, c) > max(prev[0], prev[3]) and abs(c - o) < body
                 and upper > long and lower < very_short)
        return (-100.0 if found else 0.0,)


class Engulfing:
    __slots__ = ("prev", "seen")

    def __init__(self, p: Any) -> None:
        self.prev: tuple[float, float] | None = None
        self.seen = 0

    def update(self, o: float, h: float, low: float, c: float) -> Out:
        prev, self.prev = self.prev, (o, c)
        self.seen += 1
        if prev is None or self.seen <= ENGULFING_LOOKBACK:
            return (None,)
        po, pc = prev
        color, prev_color = candle_color(o, c), candle_color(po, pc)
        bullish = color == 1 and prev_color == -1 and (
            (c >= po and o < pc) or (c > po and o <= pc))
        bearish = color == -1 and prev_color == 1 and (
            (o >= pc and c < po) or (o > pc and c <= po))
        if not (bullish or bearish):
            return (0.0,)
        # a body matching the prior one at either end is TA-Lib's weaker 80
        return (float(color * (100 if o != pc and c != po else 80)),)


# -- zones: fair value gaps and order blocks ------------------------------------------

BULLISH, NO_ZONE, BEARISH = 1, 0, -1


def touched(direction: int, top: float, bottom: float, high: float, low: float) -> bool:
    """Whether a bar trades back into a zone: a bullish zone (below price) is reached
    when the low comes down to its top, a bearish one when the high comes up to its
    bottom. Touching the edge counts: a limit order resting there would fill."""
    if direction == BULLISH:
        return low <= top
    if direction == BEARISH:
        return high >= bottom
    return False


class Zone:
    """The one zone a zone indicator tracks: the most recent one still open."""

    __slots__ = ("bottom", "direction", "top")

    def __init__(self) -> None:
        self.direction = NO_ZONE
        self.top = 0.0
        self.bottom = 0.0

    def mitigate(self, high: float, low: float) -> tuple[float, float | None, float | None]:
        """(mitigated, top, bottom) for this bar before any new zone: on the bar that
        reaches it the zone is still reported, and it is closed afterwards."""
        if self.direction == NO_ZONE:
            return 0.0, None, None
        top, bottom = self.top, self.bottom
        if touched(self.direction, top, bottom, high, low):
            self.direction = NO_ZONE
            return 1.0, top, bottom
        return 0.0, top, bottom

    def open(self, direction: int, top: float, bottom: float) -> None:
        self.direction, self.top, self.bottom = direction, top, bottom


class Fvg:
    __slots__ = ("min_size", "one_back", "two_back", "zone")

    def __init__(self, p: Any) -> None:
        self.min_size = float(p.min_size)
        self.one_back: tuple[float, float] | None = None
        self.two_back: tuple[float, float] | None = None
        self.zone = Zone()

    def update(self, high: float, low: float, close: float) -> Out:
        two_back, self.two_back, self.one_back = self.two_back, self.one_back, (high, low)
        if two_back is None:
            return (None, None, None, None, None, None)
        high2, low2 = two_back
        mitigated, top, bottom = self.zone.mitigate(high, low)
        floor = self.min_size * abs(close)
        bullish = bearish = size = 0.0
        if low > high2 and low - high2 >= floor:
            bullish, size, top, bottom = 1.0, low - high2, low, high2
            self.zone.open(BULLISH, top, bottom)
        elif high < low2 and low2 - high >= floor:
            bearish, size, top, bottom = 1.0, low2 - high, low2, high
            self.zone.open(BEARISH, top, bottom)
        return (bullish, bearish, size, top, bottom, mitigated)


class WilderAtr:
    """TA-Lib's ATR: the mean of the first `period` true ranges (from the second bar),
    then (atr * (period - 1) + tr) / period; None until then."""

    __slots__ = ("count", "period", "prev_close", "total", "value")

    def __init__(self, period: int) -> None:
        self.period = period
        self.prev_close: float | None = None
        self.count = 0
        self.total = 0.0
        self.value: float | None = None

    def push(self, high: float, low: float, close: float) -> float | None:
        prev, self.prev_close = self.prev_close, close
        if prev is None:
            return None
        tr = max(high, prev) - min(low, prev)
        if self.value is not None:
            self.value = (self.value * (self.period - 1) + tr) / self.period
        else:
            self.count += 1
            self.total += tr
            if self.count == self.period:
                self.value = self.total / self.period
        return self.value


class OrderBlock:
    __slots__ = ("atr", "bear", "bull", "lookback", "multiplier", "seen", "zone")

    def __init__(self, p: Any) -> None:
        self.atr = WilderAtr(p.period)
        self.multiplier = float(p.multiplier)
        self.lookback = p.period + 1
        # candidates as (high, low, bar): the last down / up candle not yet broken
        self.bull: tuple[float, float, int] | None = None
        self.bear: tuple[float, float, int] | None = None
        self.zone = Zone()
        self.seen = 0

    def update(self, o: float, high: float, low: float, close: float) -> Out:
        t = self.seen
        self.seen += 1
        atr = self.atr.value  # through the previous bar
        mitigated, top, bottom = self.zone.mitigate(high, low)
        bullish = bearish = 0.0
        made: tuple[int, float, float, int] | None = None
        bull, bear = self.bull, self.bear
        if bull is not None and close > bull[0]:
            self.bull = None
            if atr is not None and close - bull[1] >= self.multiplier * atr:
                bullish = 1.0
                made = (BULLISH, bull[0], bull[1], bull[2])
        if bear is not None and close < bear[1]:
            self.bear = None
            if atr is not None and bear[0] - close >= self.multiplier * atr:
                bearish = 1.0
                if made is None or bear[2] > made[3]:
                    made = (BEARISH, bear[0], bear[1], bear[2])
        if made is not None:
            self.zone.open(made[0], made[1], made[2])
            top, bottom = made[1], made[2]
        if close < o:
            self.bull = (high, low, t)
        elif close > o:
            self.bear = (high, low, t)
        self.atr.push(high, low, close)
        if t < self.lookback:
            return (None, None, None, None, None)
        return (bullish, bearish, top, bottom, mitigated)


# -- Waddah Attar explosion ------------------------------------------------------------


def wae_lookback(p: Any) -> int:
    """All four outputs start together, where the last of them is ready."""
    return max(int(p.slow), int(p.bb_period) - 1, int(p.dead_zone_period))


def band_width(window: deque[float], k: float) -> float:
    """2 k sigma of the window, sigma from a fresh two-pass sum (as the kernel)."""
    total = 0.0
    for x in window:
        total += x
    mean = total / len(window)
    squares = 0.0
    for x in window:
        d = x - mean
        squares += d * d
    return 2.0 * k * math.sqrt(squares / len(window))


class Wae:
    """Mirrors `kernels.wae`: core's TA-Lib EMA and ATR steps, a two-pass band width."""

    __slots__ = ("atr", "closes", "fast", "k", "lookback", "multiplier", "prev_close",
                 "prev_line", "seen", "sensitivity", "slow")

    def __init__(self, p: Any) -> None:
        self.fast = SeededEwm(p.fast, 2.0 / (p.fast + 1))
        self.slow = SeededEwm(p.slow, 2.0 / (p.slow + 1))
        self.sensitivity = float(p.sensitivity)
        self.closes: deque[float] = deque(maxlen=p.bb_period)
        self.k = float(p.bb_stddev)
        self.atr = SeededEwm(p.dead_zone_period, 1.0 / p.dead_zone_period)
        self.multiplier = float(p.dead_zone_multiplier)
        self.prev_close: float | None = None
        self.prev_line: float | None = None
        self.lookback = wae_lookback(p)
        self.seen = 0

    def update(self, high: float, low: float, close: float) -> Out:
        t = self.seen
        self.seen += 1
        fast = self.fast.push(close)
        slow = self.slow.push(close)
        line = None if fast is None or slow is None else fast - slow
        prev_line, self.prev_line = self.prev_line, line
        self.closes.append(close)
        prev, self.prev_close = self.prev_close, close
        atr = None
        if prev is not None:
            tr = max(high, prev) - min(low, prev)
            atr = tr if self.atr.n == 1 else self.atr.push(tr)
        if t < self.lookback or line is None or prev_line is None or atr is None:
            return (None, None, None, None)
        trend = (line - prev_line) * self.sensitivity
        return (trend if trend > 0.0 else 0.0, -trend if trend < 0.0 else 0.0,
                band_width(self.closes, self.k), atr * self.multiplier)
