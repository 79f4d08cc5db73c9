"""Incremental forms of the rolling statistics: one closed bar at a time, for live.

Each class runs the step of its `kernels.py` loop on a deque holding the window,
in the same order and with the same re-anchoring schedule, so the two forms agree
bit for bit. A rebuild reads the whole window (O(period)) but happens at most once
every `32 * period` bars on ordinary data. Pure Python: no numpy/polars import.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort_right
from collections import deque
from collections.abc import Iterable
from typing import Any

Out = tuple[float | None, ...]
REBUILD_EVERY = 32
COLLAPSE = 1e-6
VARIANCE_FLOOR = 1e-12
TA_EPSILON = 1e-14


def two_pass_sums(values: Iterable[float], shift: float) -> tuple[float, float]:
    t1 = 0.0
    t2 = 0.0
    for v in values:
        d = v - shift
        t1 += d
        t2 += d * d
    return t1, t2


class RollingVariance:
    """Population variance and mean of the last `n` values (see `kernels.variance`)."""

    __slots__ = ("inv", "n", "peak", "shift", "since", "t1", "t2", "window")

    def __init__(self, n: int) -> None:
        self.n = n
        self.inv = 1.0 / n
        self.window: deque[float] = deque()
        self.shift: float | None = None
        self.t1 = 0.0
        self.t2 = 0.0
        self.peak = 0.0
        self.since = REBUILD_EVERY * n

    def push(self, x: float) -> tuple[float, float] | None:
        w = self.window
        w.append(x)
        if self.shift is None:
            self.shift = x
        shift = self.shift
        d = x - shift
        self.t1 += d
        self.t2 += d * d
        if len(w) < self.n:
            self.peak = self.t2
            return None
        inv = self.inv
        if self.t2 > self.peak:
            self.peak = self.t2
        m = self.t1 * inv
        v = self.t2 * inv - m * m
        old = w[0]
        d = old - shift
        self.t1 -= d
        self.t2 -= d * d
        self.since -= 1
        if v < COLLAPSE * (self.peak * inv) or self.since <= 0:
            self.since = REBUILD_EVERY * self.n
            total = 0.0
            for val in w:
                total += val
            shift = total * inv
            t1, t2 = two_pass_sums(w, shift)
            m = t1 * inv
            v = t2 * inv - m * m
            if v < COLLAPSE * (t2 * inv):
                shift = x
                t1, t2 = two_pass_sums(w, shift)
                m = t1 * inv
                v = t2 * inv - m * m
            self.peak = t2
            if v < VARIANCE_FLOOR * (t2 * inv):
                v = 0.0
            d = old - shift
            self.t1 = t1 - d
            self.t2 = t2 - d * d
            self.shift = shift
        w.popleft()
        return v, shift + m


class Var:
    __slots__ = ("var",)

    def __init__(self, p: Any) -> None:
        self.var = RollingVariance(p.period)

    def update(self, close: float) -> Out:
        r = self.var.push(close)
        return (None if r is None else r[0],)


class Stddev:
    __slots__ = ("k", "var")

    def __init__(self, p: Any) -> None:
        self.var = RollingVariance(p.period)
        self.k = float(p.deviations)

    def update(self, close: float) -> Out:
        r = self.var.push(close)
        if r is None:
            return (None,)
        return (math.sqrt(r[0]) * self.k if r[0] > 0.0 else 0.0,)


class Zscore:
    __slots__ = ("var",)

    def __init__(self, p: Any) -> None:
        self.var = RollingVariance(p.period)

    def update(self, close: float) -> Out:
        r = self.var.push(close)
        if r is None:
            return (None,)
        v, mean = r
        return ((close - mean) / math.sqrt(v) if v > 0.0 else 0.0,)


class _Window:
    __slots__ = ("n", "window")

    def __init__(self, p: Any) -> None:
        self.n: int = p.period
        self.window: deque[float] = deque(maxlen=p.period)

    def full(self, x: float) -> bool:
        self.window.append(x)
        return len(self.window) == self.n


class Avgdev(_Window):
    """O(period) per bar, like TA-Lib's: the mean absolute deviation has no
    exact running form."""

    __slots__ = ()

    def update(self, close: float) -> Out:
        if not self.full(close):
            return (None,)
        newest_first = list(reversed(self.window))
        total = 0.0
        for v in newest_first:
            total += v
        mean = total / self.n
        dev = 0.0
        for v in newest_first:
            dev += abs(v - mean)
        return (dev / self.n,)


class RollingLine:
    """Slope and intercept (at the oldest bar) of the least-squares line through the
    last `n` values (see `kernels.linreg`)."""

    __slots__ = ("divisor", "n", "since", "sum_abs", "sum_x", "sum_xy", "sum_y", "window")

    def __init__(self, n: int) -> None:
        self.n = n
        self.window: deque[float] = deque()
        self.sum_x = float(n) * (n - 1) * 0.5
        sum_xx = float(n) * (n - 1) * (2 * n - 1) / 6.0
        self.divisor = self.sum_x * self.sum_x - n * sum_xx
        self.sum_xy = 0.0
        self.sum_y = 0.0
        self.sum_abs = 0.0
        self.since = REBUILD_EVERY * n

    def _rebuild(self) -> None:
        self.sum_y = 0.0
        self.sum_xy = 0.0
        self.sum_abs = 0.0
        w = float(self.n - 1)
        for v in self.window:
            self.sum_y += v
            self.sum_xy += w * v
            self.sum_abs += abs(v)
            w -= 1.0

    def push(self, x: float) -> tuple[float, float] | None:
        n = self.n
        self.window.append(x)
        if len(self.window) < n:
            return None
        if len(self.window) == n and self.since == REBUILD_EVERY * n:
            self._rebuild()
        else:
            trailing = self.window.popleft()
            weighted = float(n) * trailing
            self.sum_xy = self.sum_xy + self.sum_y - weighted
            self.sum_y = self.sum_y - trailing + x
            self.sum_abs = self.sum_abs - abs(trailing) + abs(x)
            self.since -= 1
            if self.since <= 0 or abs(weighted) > 100.0 * self.sum_abs:
                self.since = REBUILD_EVERY * n
                self._rebuild()
        m = (n * self.sum_xy - self.sum_x * self.sum_y) / self.divisor
        return m, (self.sum_y - m * self.sum_x) / n


class _Line:
    __slots__ = ("line", "n")

    def __init__(self, p: Any) -> None:
        self.n: int = p.period
        self.line = RollingLine(p.period)


class Linearreg(_Line):
    __slots__ = ()

    def update(self, close: float) -> Out:
        r = self.line.push(close)
        return (None if r is None else r[1] + r[0] * float(self.n - 1),)


class LinearregSlope(_Line):
    __slots__ = ()

    def update(self, close: float) -> Out:
        r = self.line.push(close)
        return (None if r is None else r[0],)


class LinearregAngle(_Line):
    __slots__ = ()

    def update(self, close: float) -> Out:
        r = self.line.push(close)
        return (None if r is None else math.atan(r[0]) * (180.0 / math.pi),)


class LinearregIntercept(_Line):
    __slots__ = ()

    def update(self, close: float) -> Out:
        r = self.line.push(close)
        return (None if r is None else r[1],)


class Tsf(_Line):
    __slots__ = ()

    def update(self, close: float) -> Out:
        r = self.line.push(close)
        return (None if r is None else r[1] + r[0] * float(self.n),)


class Fosc(_Line):
    __slots__ = ("forecast",)

    def __init__(self, p: Any) -> None:
        super().__init__(p)
        self.forecast: float | None = None

    def update(self, close: float) -> Out:
        forecast = self.forecast
        r = self.line.push(close)
        self.forecast = None if r is None else r[1] + r[0] * float(self.n)
        if forecast is None:
            return (None,)
        return (100.0 * (close - forecast) / close if close != 0.0 else 0.0,)


class Correl:
    """Pearson correlation over shifted running sums (see `kernels.correl`)."""

    __slots__ = ("inv", "n", "peak_x", "peak_y", "shx", "shy", "since", "sx", "sxx", "sxy",
                 "sy", "syy", "xs", "ys")

    def __init__(self, p: Any) -> None:
        self.n: int = p.period
        self.inv = 1.0 / p.period
        self.xs: deque[float] = deque()
        self.ys: deque[float] = deque()
        self.shx: float | None = None
        self.shy = 0.0
        self.sx = self.sy = self.sxx = self.syy = self.sxy = 0.0
        self.peak_x = self.peak_y = 0.0
        self.since = REBUILD_EVERY * p.period

    def _sums(self) -> None:
        shx = self.shx
        assert shx is not None
        shy = self.shy
        self.sx = self.sy = self.sxx = self.syy = self.sxy = 0.0
        for xv, yv in zip(self.xs, self.ys, strict=True):
            a = xv - shx
            b = yv - shy
            self.sx += a
            self.sxx += a * a
            self.sxy += a * b
            self.sy += b
            self.syy += b * b

    def _extract(self) -> tuple[float, float, float]:
        inv = self.inv
        return (self.sxx - self.sx * self.sx * inv, self.syy - self.sy * self.sy * inv,
                self.sxy - self.sx * self.sy * inv)

    def update(self, close: float, other: float) -> Out:
        self.xs.append(close)
        self.ys.append(other)
        if self.shx is None:
            self.shx, self.shy = close, other
        a = close - self.shx
        b = other - self.shy
        self.sx += a
        self.sxx += a * a
        self.sxy += a * b
        self.sy += b
        self.syy += b * b
        if len(self.xs) < self.n:
            self.peak_x, self.peak_y = self.sxx, self.syy
            return (None,)
        self.peak_x = max(self.sxx, self.peak_x)
        self.peak_y = max(self.syy, self.peak_y)
        ssx, ssy, spxy = self._extract()
        self.since -= 1
        if ssx < COLLAPSE * self.peak_x or ssy < COLLAPSE * self.peak_y or self.since <= 0:
            self.since = REBUILD_EVERY * self.n
            tx = 0.0
            ty = 0.0
            for xv, yv in zip(self.xs, self.ys, strict=True):
                tx += xv
                ty += yv
            self.shx = tx * self.inv
            self.shy = ty * self.inv
            self._sums()
            ssx, ssy, spxy = self._extract()
            flat_x = ssx < COLLAPSE * self.sxx
            flat_y = ssy < COLLAPSE * self.syy
            if flat_x or flat_y:
                if flat_x:
                    self.shx = close
                if flat_y:
                    self.shy = other
                self._sums()
                ssx, ssy, spxy = self._extract()
            self.peak_x, self.peak_y = self.sxx, self.syy
            ssx = max(ssx, 0.0)
            ssy = max(ssy, 0.0)
        a = self.xs.popleft() - self.shx
        b = self.ys.popleft() - self.shy
        if ssx > TA_EPSILON * self.sxx and ssy > TA_EPSILON * self.syy and ssx * ssy > 0.0:
            value = min(1.0, max(-1.0, spxy / math.sqrt(ssx * ssy)))
        else:
            value = 0.0
        self.sx -= a
        self.sxx -= a * a
        self.sxy -= a * b
        self.sy -= b
        self.syy -= b * b
        return (value,)


def _change(now: float, before: float) -> float:
    return (now - before) / before if abs(before) >= TA_EPSILON else 0.0


class Beta:
    """Slope of the close's one-bar returns regressed on the benchmark's (see
    `kernels.beta`)."""

    __slots__ = ("inv", "n", "peak", "prev", "returns", "shx", "shy", "since", "sx", "sxx",
                 "sxy", "sy")

    def __init__(self, p: Any) -> None:
        self.n: int = p.period
        self.inv = 1.0 / p.period
        self.prev: tuple[float, float] | None = None
        self.returns: deque[tuple[float, float]] = deque()
        self.shx: float | None = None
        self.shy = 0.0
        self.sx = self.sy = self.sxx = self.sxy = 0.0
        self.peak = 0.0
        self.since = REBUILD_EVERY * p.period

    def _sums(self) -> float:
        shx = self.shx
        assert shx is not None
        self.sx = self.sy = self.sxx = self.sxy = 0.0
        syy = 0.0
        for ra, rb in self.returns:
            a = ra - shx
            b = rb - self.shy
            self.sx += a
            self.sxx += a * a
            self.sxy += a * b
            self.sy += b
            syy += b * b
        return syy

    def update(self, close: float, benchmark: float) -> Out:
        prev, self.prev = self.prev, (benchmark, close)
        if prev is None:
            return (None,)
        ra = _change(benchmark, prev[0])
        rb = _change(close, prev[1])
        self.returns.append((ra, rb))
        if self.shx is None:
            self.shx, self.shy = ra, rb
        a = ra - self.shx
        b = rb - self.shy
        self.sx += a
        self.sxx += a * a
        self.sxy += a * b
        self.sy += b
        if len(self.returns) < self.n:
            self.peak = self.sxx
            return (None,)
        inv = self.inv
        self.peak = max(self.sxx, self.peak)
        self.since -= 1
        if self.sxx - self.sx * self.sx * inv < COLLAPSE * self.peak or self.since <= 0:
            self.since = REBUILD_EVERY * self.n
            tx = 0.0
            ty = 0.0
            for ra_, rb_ in self.returns:
                tx += ra_
                ty += rb_
            self.shx = tx * inv
            self.shy = ty * inv
            syy = self._sums()
            flat_x = self.sxx - self.sx * self.sx * inv < COLLAPSE * self.sxx
            flat_y = syy - self.sy * self.sy * inv < COLLAPSE * syy
            if flat_x or flat_y:
                if flat_x:
                    self.shx = ra
                if flat_y:
                    self.shy = rb
                self._sums()
            self.peak = self.sxx
        old_a, old_b = self.returns.popleft()
        a = old_a - self.shx
        b = old_b - self.shy
        nf = float(self.n)
        den = nf * self.sxx - self.sx * self.sx
        value = (nf * self.sxy - self.sx * self.sy) / den if abs(den) >= TA_EPSILON else 0.0
        self.sx -= a
        self.sxx -= a * a
        self.sxy -= a * b
        self.sy -= b
        return (value,)


class Extreme:
    """Position (bars since the first one seen) and value of the window's maximum
    or minimum, with TA-Lib's tie rules (see `kernels.extreme_index`)."""

    __slots__ = ("best", "best_idx", "highest", "n", "t", "window")

    def __init__(self, n: int, highest: bool) -> None:
        self.n = n
        self.highest = highest
        self.window: deque[float] = deque(maxlen=n)
        self.t = -1
        self.best_idx = -1
        self.best = 0.0

    def push(self, x: float) -> tuple[float, float] | None:
        self.t += 1
        self.window.append(x)
        if len(self.window) < self.n:
            return None
        trailing = self.t - self.n + 1
        if self.best_idx < trailing:
            self.best_idx = trailing
            self.best = self.window[0]
            for k, v in enumerate(self.window):
                if (v > self.best) if self.highest else (v < self.best):
                    self.best_idx = trailing + k
                    self.best = v
        elif (x >= self.best) if self.highest else (x <= self.best):
            self.best_idx = self.t
            self.best = x
        return float(self.best_idx), self.best


class Maxindex:
    __slots__ = ("hi",)

    def __init__(self, p: Any) -> None:
        self.hi = Extreme(p.period, True)

    def update(self, close: float) -> Out:
        r = self.hi.push(close)
        return (None if r is None else r[0],)


class Minindex:
    __slots__ = ("lo",)

    def __init__(self, p: Any) -> None:
        self.lo = Extreme(p.period, False)

    def update(self, close: float) -> Out:
        r = self.lo.push(close)
        return (None if r is None else r[0],)


class Minmax:
    __slots__ = ("hi", "lo")

    def __init__(self, p: Any) -> None:
        self.lo = Extreme(p.period, False)
        self.hi = Extreme(p.period, True)

    def update(self, close: float) -> Out:
        lo, hi = self.lo.push(close), self.hi.push(close)
        return (None, None) if lo is None or hi is None else (lo[1], hi[1])


class Minmaxindex(Minmax):
    __slots__ = ()

    def update(self, close: float) -> Out:
        lo, hi = self.lo.push(close), self.hi.push(close)
        return (None, None) if lo is None or hi is None else (lo[0], hi[0])


class Percentile:
    """The nearest-rank percentile of the window, from a sorted copy of it."""

    __slots__ = ("n", "rank", "sorted", "window")

    def __init__(self, p: Any) -> None:
        self.n: int = p.period
        rank = math.ceil(p.percentile * float(p.period) / 100.0)
        self.rank = min(max(rank, 1), p.period)
        self.window: deque[float] = deque()
        self.sorted: list[float] = []

    def update(self, close: float) -> Out:
        self.window.append(close)
        insort_right(self.sorted, close)
        if len(self.window) < self.n:
            return (None,)
        value = self.sorted[self.rank - 1]
        del self.sorted[bisect_left(self.sorted, self.window.popleft())]
        return (value,)


class PercentRank:
    """Percent of the previous `period` closes strictly below this one."""

    __slots__ = ("n", "sorted", "window")

    def __init__(self, p: Any) -> None:
        self.n: int = p.period
        self.window: deque[float] = deque()
        self.sorted: list[float] = []

    def update(self, close: float) -> Out:
        value = None
        if len(self.window) == self.n:
            value = float(bisect_left(self.sorted, close)) / float(self.n) * 100.0
            del self.sorted[bisect_left(self.sorted, self.window.popleft())]
        self.window.append(close)
        insort_right(self.sorted, close)
        return (value,)
