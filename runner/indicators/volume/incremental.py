"""Incremental forms of the volume family: O(1) state per bar, pure Python.

Each class runs the same arithmetic, in the same order, as its batch form (the
numba kernels in `kernels`), so the two agree to the last bits and both agree with
TA-Lib. Python raises on a division by zero where C and numpy give inf or NaN, so
the unguarded TA-Lib divisions go through `_ieee_div`. The time helpers at the top
are shared with `definitions` and `batch`, so all three read `anchor` and
`day_start` alike.
"""

from __future__ import annotations

import math
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from runner.indicators.core.incremental import Out, SeededEwm

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_anchor(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def anchor_ms(anchor: str | None) -> float | None:
    """The anchor as epoch milliseconds (a naive anchor is UTC), or None."""
    if anchor is None:
        return None
    return float((parse_anchor(anchor) - _EPOCH) // timedelta(milliseconds=1))


def session_offset_minutes(day_start: str) -> int:
    """"HH:MM" as minutes after midnight."""
    hours, minutes = day_start.split(":")
    return int(hours) * 60 + int(minutes)


def _ieee_div(num: float, den: float) -> float | None:
    """num / den as IEEE doubles divide (x/0 = +-inf); None for 0/0 (NaN in TA-Lib)."""
    if den != 0.0:
        return num / den
    if num == 0.0 or math.isnan(num):
        return None
    return math.copysign(math.inf, num) * math.copysign(1.0, den)


def _flow(high: float, low: float, close: float, volume: float) -> float:
    """The bar's Chaikin money flow volume: 0 for a bar without range."""
    span = high - low
    return ((close - low) - (high - close)) / span * volume if span > 0.0 else 0.0


class _Ewm:
    """TA-Lib ADOSC's EMA recursion (k x + (1 - k) ema), started at the first value."""

    __slots__ = ("alpha", "value")

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha
        self.value: float | None = None

    def push(self, x: float) -> float:
        if self.value is None:
            self.value = x
        else:
            self.value = self.alpha * x + (1.0 - self.alpha) * self.value
        return self.value


class Adosc:
    __slots__ = ("ad", "bars", "fast", "slow", "slow_n")

    def __init__(self, p: Any) -> None:
        self.ad = 0.0
        self.bars = 0
        self.slow_n = p.slow
        self.fast = _Ewm(2.0 / (p.fast + 1.0))
        self.slow = _Ewm(2.0 / (p.slow + 1.0))

    def update(self, high: float, low: float, close: float, volume: float) -> Out:
        span = high - low
        if span > 0.0:
            self.ad += ((close - low) - (high - close)) / span * volume
        self.bars += 1
        fast = self.fast.push(self.ad)
        slow = self.slow.push(self.ad)
        return (fast - slow if self.bars >= self.slow_n else None,)


class Wad:
    __slots__ = ("prev", "total")

    def __init__(self, p: Any) -> None:
        self.prev: float | None = None
        self.total = 0.0

    def update(self, high: float, low: float, close: float) -> Out:
        prev, self.prev = self.prev, close
        if prev is not None:
            if close > prev:
                self.total += close - min(low, prev)
            elif close < prev:
                self.total += close - max(high, prev)
        return (self.total,)


class Cmf:
    __slots__ = ("flows", "n", "sum_flow", "sum_vol", "vols")

    def __init__(self, p: Any) -> None:
        self.n = p.period
        self.flows: deque[float] = deque()
        self.vols: deque[float] = deque()
        self.sum_flow = 0.0
        self.sum_vol = 0.0

    def update(self, high: float, low: float, close: float, volume: float) -> Out:
        if len(self.flows) == self.n:
            self.sum_flow -= self.flows.popleft()
            self.sum_vol -= self.vols.popleft()
        flow = _flow(high, low, close, volume)
        self.flows.append(flow)
        self.vols.append(volume)
        self.sum_flow += flow
        self.sum_vol += volume
        if len(self.flows) < self.n:
            return (None,)
        return (self.sum_flow / self.sum_vol if self.sum_vol > 0.0 else 0.0,)


class Efi:
    __slots__ = ("ewm", "prev")

    def __init__(self, p: Any) -> None:
        self.prev: float | None = None
        self.ewm = SeededEwm(p.period, 2.0 / (p.period + 1))

    def update(self, close: float, volume: float) -> Out:
        prev, self.prev = self.prev, close
        if prev is None:
            return (None,)
        return (self.ewm.push((close - prev) * volume),)


class Marketfi:
    __slots__ = ()

    def __init__(self, p: Any) -> None:
        pass

    def update(self, high: float, low: float, volume: float) -> Out:
        return ((high - low) / volume if volume != 0.0 else 0.0,)


class _VolumeIndex:
    __slots__ = ("index", "prev_close", "prev_volume")
    falling = True

    def __init__(self, p: Any) -> None:
        self.index = 1000.0
        self.prev_close: float | None = None
        self.prev_volume = 0.0

    def update(self, close: float, volume: float) -> Out:
        if self.prev_close is None:
            self.prev_close, self.prev_volume = close, volume
        prev_close, prev_volume = self.prev_close, self.prev_volume
        moved = volume < prev_volume if self.falling else volume > prev_volume
        if moved and prev_close != 0.0:
            candidate = self.index
            candidate += (close - prev_close) / prev_close * candidate
            if math.isfinite(candidate):
                self.index = candidate
        self.prev_close, self.prev_volume = close, volume
        return (self.index,)


class Nvi(_VolumeIndex):
    __slots__ = ()
    falling = True


class Pvi(_VolumeIndex):
    __slots__ = ()
    falling = False


class Pvt:
    __slots__ = ("prev", "total")

    def __init__(self, p: Any) -> None:
        self.prev: float | None = None
        self.total = 0.0

    def update(self, close: float, volume: float) -> Out:
        prev, self.prev = self.prev, close
        if prev is not None and prev != 0.0:
            self.total += (close - prev) / prev * volume
        return (self.total,)


class Rvol:
    __slots__ = ("n", "total", "window", "zero_run")

    def __init__(self, p: Any) -> None:
        self.n = p.period
        self.window: deque[float] = deque()
        self.total = 0.0
        self.zero_run = 0

    def update(self, volume: float) -> Out:
        if len(self.window) < self.n:
            self.window.append(volume)
            self.total += volume
            self.zero_run = self.zero_run + 1 if volume == 0.0 else 0
            return (None,)
        baseline = self.total / self.n
        self.total -= self.window.popleft()
        self.window.append(volume)
        self.total += volume
        self.zero_run = self.zero_run + 1 if volume == 0.0 else 0
        if self.zero_run >= self.n:
            self.zero_run = self.n
            self.total = 0.0
        return (_ieee_div(volume, baseline),)


class Vwma:
    __slots__ = ("n", "sum_pv", "sum_v", "window")

    def __init__(self, p: Any) -> None:
        self.n = p.period
        self.window: deque[tuple[float, float]] = deque()
        self.sum_pv = 0.0
        self.sum_v = 0.0

    def update(self, close: float, volume: float) -> Out:
        if self.n == 1:
            return (close,)
        self.window.append((close, volume))
        self.sum_pv += close * volume
        self.sum_v += volume
        if len(self.window) < self.n:
            return (None,)
        value = _ieee_div(self.sum_pv / self.n, self.sum_v / self.n)
        old_close, old_volume = self.window.popleft()
        self.sum_pv -= old_close * old_volume
        self.sum_v -= old_volume
        return (value,)


class AnchoredVwap:
    __slots__ = ("anchor", "started", "sum_pv", "sum_v", "value")

    def __init__(self, p: Any) -> None:
        self.anchor = anchor_ms(p.anchor)
        self.started = self.anchor is None
        self.sum_pv = 0.0
        self.sum_v = 0.0
        self.value = 0.0

    def update(self, high: float, low: float, close: float, volume: float,
               time: float) -> Out:
        if not self.started:
            if self.anchor is None or time < self.anchor:
                return (None,)
            self.started = True
        self.sum_pv += (high + low + close) / 3.0 * volume
        self.sum_v += volume
        if self.sum_v > 0.0:
            self.value = self.sum_pv / self.sum_v
        return (self.value,)


class Vwap:
    """Session VWAP (sums restart at each session start) or rolling VWAP."""

    __slots__ = ("n", "offset", "session", "sum_pv", "sum_v", "value", "window", "zero_run",
                 "zone")

    def __init__(self, p: Any) -> None:
        self.n: int | None = p.period
        self.zone = ZoneInfo(p.tz)
        self.offset = timedelta(minutes=session_offset_minutes(p.day_start))
        self.session: int | None = None
        self.sum_pv = 0.0
        self.sum_v = 0.0
        self.value: float | None = None
        self.window: deque[float] = deque()
        self.zero_run = 0

    def _session_of(self, time: float) -> int:
        at = _EPOCH + timedelta(milliseconds=int(time))
        wall = at.astimezone(self.zone).replace(tzinfo=None)
        return (wall - self.offset).toordinal()

    def update(self, high: float, low: float, close: float, volume: float,
               time: float) -> Out:
        typical = (high + low + close) / 3.0
        if self.n is not None:
            return self._rolling(typical, volume)
        session = self._session_of(time)
        if session != self.session:
            self.session = session
            self.sum_pv = 0.0
            self.sum_v = 0.0
            self.value = None
        self.sum_pv += typical * volume
        self.sum_v += volume
        if self.sum_v > 0.0:
            self.value = self.sum_pv / self.sum_v
        return (self.value,)

    def _rolling(self, typical: float, volume: float) -> Out:
        n = self.n
        assert n is not None
        pv = typical * volume
        self.window.append(pv)
        self.window.append(volume)
        self.sum_pv += pv
        self.sum_v += volume
        self.zero_run = self.zero_run + 1 if volume == 0.0 else 0
        if self.zero_run >= n:
            self.zero_run = n
            self.sum_pv = 0.0
            self.sum_v = 0.0
        if len(self.window) < 2 * n:
            return (None,)
        value = self.sum_pv / self.sum_v if self.sum_v > 0.0 else None
        self.sum_pv -= self.window.popleft()
        self.sum_v -= self.window.popleft()
        return (value,)
