"""Incremental forms of the oscillators: O(1) (or O(period)) state per closed bar.

Each class repeats its batch kernel's arithmetic in the same order (same seeds, same
running sums added and subtracted at the same bars, same zero tests), so that the
live value equals the backtest's to the last bit, not merely to a tolerance.
`update(*inputs)` takes the inputs in the definition's order and returns one value
per output, None while warming up. Pure Python: no numpy or polars import.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from runner.indicators.core.incremental import Out, RollingMean

TA_EPSILON = 1e-14


def _is_zero(x: float) -> bool:
    return -TA_EPSILON < x < TA_EPSILON


class Bop:
    __slots__ = ()

    def __init__(self, p: Any) -> None:
        pass

    def update(self, open_: float, high: float, low: float, close: float) -> Out:
        span = high - low
        return (0.0 if span < TA_EPSILON else (close - open_) / span,)


class Cci:
    """A ring of typical prices, re-summed in slot order each bar (TA-Lib's order)."""

    __slots__ = ("n", "ring", "seen", "slot")

    def __init__(self, p: Any) -> None:
        self.n: int = p.period
        self.ring = [0.0] * p.period
        self.slot = 0
        self.seen = 0

    def update(self, high: float, low: float, close: float) -> Out:
        last = (high + low + close) / 3.0
        self.ring[self.slot] = last
        self.slot = (self.slot + 1) % self.n
        self.seen += 1
        if self.seen < self.n:
            return (None,)
        avg = 0.0
        for x in self.ring:
            avg += x
        avg /= self.n
        dev = 0.0
        for x in self.ring:
            dev += abs(x - avg)
        diff = last - avg
        if _is_zero(diff) or _is_zero(dev):
            return (0.0,)
        return (diff / (0.015 * (dev / self.n)),)


class _Changes:
    """The previous close, for indicators of bar-to-bar changes."""

    __slots__ = ("prev",)

    def __init__(self) -> None:
        self.prev: float | None = None

    def change(self, close: float) -> float | None:
        prev, self.prev = self.prev, close
        return None if prev is None else close - prev


class Cmo(_Changes):
    __slots__ = ("count", "gain", "loss", "n")

    def __init__(self, p: Any) -> None:
        super().__init__()
        self.n: int = p.period
        self.count = 0
        self.gain = 0.0
        self.loss = 0.0

    def update(self, close: float) -> Out:
        d = self.change(close)
        if d is None:
            return (None,)
        self.count += 1
        n = self.n
        if self.count <= n:
            if d < 0:
                self.loss -= d
            else:
                self.gain += d
            if self.count < n:
                return (None,)
            self.gain /= n
            self.loss /= n
        else:
            self.loss *= n - 1
            self.gain *= n - 1
            if d < 0:
                self.loss -= d
            else:
                self.gain += d
            self.loss /= n
            self.gain /= n
        total = self.gain + self.loss
        return (0.0 if _is_zero(total) else 100.0 * ((self.gain - self.loss) / total),)


class Cmou(_Changes):
    __slots__ = ("down", "moves", "n", "up")

    def __init__(self, p: Any) -> None:
        super().__init__()
        self.n: int = p.period
        self.moves: deque[float] = deque()
        self.up = 0.0
        self.down = 0.0

    def update(self, close: float) -> Out:
        d = self.change(close)
        if d is None:
            return (None,)
        if len(self.moves) == self.n:
            old = self.moves.popleft()
            if old > 0.0:
                self.up -= old
            elif old < 0.0:
                self.down += old
        self.moves.append(d)
        if d > 0.0:
            self.up += d
        elif d < 0.0:
            self.down -= d
        if len(self.moves) < self.n:
            return (None,)
        total = self.up + self.down
        return (0.0 if _is_zero(total) else 100.0 * (self.up - self.down) / total,)


class Mfi:
    __slots__ = ("flows", "n", "neg", "null_run", "pos", "prev")

    def __init__(self, p: Any) -> None:
        self.n: int = p.period
        self.prev: float | None = None
        self.flows: deque[tuple[float, float]] = deque()
        self.pos = 0.0
        self.neg = 0.0
        self.null_run = 0

    def update(self, high: float, low: float, close: float, volume: float) -> Out:
        tp = (high + low + close) / 3.0
        prev, self.prev = self.prev, tp
        if prev is None:
            return (None,)
        if len(self.flows) == self.n:
            old_pos, old_neg = self.flows.popleft()
            self.pos -= old_pos
            self.neg -= old_neg
        d = tp - prev
        flow = 0.0 if abs(d) <= TA_EPSILON * (abs(tp) + abs(prev)) else tp * volume
        pos_flow, neg_flow = (0.0, flow) if d < 0.0 else (flow, 0.0)
        self.flows.append((pos_flow, neg_flow))
        self.pos += pos_flow
        self.neg += neg_flow
        self.null_run = self.null_run + 1 if flow == 0.0 else 0
        if self.null_run >= self.n:
            self.null_run = self.n
            self.pos = 0.0
            self.neg = 0.0
        if len(self.flows) < self.n:
            return (None,)
        total = self.pos + self.neg
        clamped = 0.0 if self.pos < 0.0 else min(self.pos, total)
        return (0.0 if total <= 0.0 else 100.0 * (clamped / total),)


def _fma(a: float, b: float, c: float) -> float:
    """a * b + c rounded once, as the kernels' LLVM fma (Python 3.11 has no
    math.fma): exact rationals, then CPython's correctly rounded int division."""
    an, ad = a.as_integer_ratio()
    bn, bd = b.as_integer_ratio()
    cn, cd = c.as_integer_ratio()
    return (an * bn * cd + cn * ad * bd) / (ad * bd * cd)


class TaEma:
    """TA-Lib's EMA seeded with the mean of the first `n` values summed from 0.0, then
    `(x - prev) * k + prev` rounded once, as the wheel's compiler contracts it into an
    fma in TRIX, ERI, SMI and TSI (the core `SeededEwm` uses polars' form)."""

    __slots__ = ("k", "n", "seed", "seen", "value")

    def __init__(self, n: int, k: float | None = None) -> None:
        self.n = n
        self.k = 2.0 / (n + 1) if k is None else k
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
        self.value = _fma(x - self.value, self.k, self.value)
        return self.value


class Trix:
    __slots__ = ("e1", "e2", "e3", "prev")

    def __init__(self, p: Any) -> None:
        self.e1 = TaEma(p.period)
        self.e2 = TaEma(p.period)
        self.e3 = TaEma(p.period)
        self.prev: float | None = None

    def update(self, close: float) -> Out:
        e1 = self.e1.push(close)
        e2 = None if e1 is None else self.e2.push(e1)
        e3 = None if e2 is None else self.e3.push(e2)
        prev, self.prev = self.prev, e3
        if prev is None or e3 is None:
            return (None,)
        return ((e3 / prev - 1.0) * 100.0 if prev != 0.0 else 0.0,)


class RunningSum:
    """A moving sum in TA-Lib's order: add the new value, read, drop the oldest."""

    __slots__ = ("n", "total", "window")

    def __init__(self, n: int) -> None:
        self.n = n
        self.window: deque[float] = deque()
        self.total = 0.0

    def add(self, x: float) -> bool:
        """Add `x`; true once the window is full (read `total`, then `drop`)."""
        self.window.append(x)
        self.total += x
        return len(self.window) == self.n

    def drop(self) -> None:
        self.total -= self.window.popleft()


class Ultosc(_Changes):
    """Each window's sums start at the first bar of that window before the first
    output (bar `long - n + 1`), not at bar 1, as in TA-Lib."""

    __slots__ = ("bars", "long", "sums")

    def __init__(self, p: Any) -> None:
        super().__init__()
        self.long: int = p.long
        self.bars = 0
        self.sums = tuple((RunningSum(n), RunningSum(n)) for n in (p.short, p.medium, p.long))

    def update(self, high: float, low: float, close: float) -> Out:
        prev, self.prev = self.prev, close
        if prev is None:
            return (None,)
        self.bars += 1
        bp = close - min(low, prev)
        tr = max(high - low, abs(prev - high), abs(prev - low))
        value = 0.0
        ready = False
        for weight, (a, b) in zip((4.0, 2.0, 1.0), self.sums, strict=True):
            if self.bars < self.long - a.n + 1:
                continue
            a.add(bp)
            ready = b.add(tr)
            if not ready:
                continue
            if not _is_zero(b.total):
                value += weight * (a.total / b.total)
            a.drop()
            b.drop()
        return (100.0 * (value / 7.0),) if ready else (None,)


class Imi:
    """Re-sums the window each bar in time order, as the batch kernel (O(period))."""

    __slots__ = ("bodies", "n")

    def __init__(self, p: Any) -> None:
        self.n: int = p.period
        self.bodies: deque[tuple[float, float]] = deque(maxlen=p.period)

    def update(self, open_: float, close: float) -> Out:
        self.bodies.append((open_, close))
        if len(self.bodies) < self.n:
            return (None,)
        up = 0.0
        down = 0.0
        for o, c in self.bodies:
            if c > o:
                up += c - o
            else:
                down += o - c
        total = up + down
        return (50.0 if total == 0.0 else 100.0 * (up / total),)


class Qstick:
    __slots__ = ("mean",)

    def __init__(self, p: Any) -> None:
        self.mean = RollingMean(p.period)

    def update(self, open_: float, close: float) -> Out:
        return (self.mean.push(close - open_),)


class Ao:
    """The fast sum starts at bar `slow - fast`, with the first bar of its own window
    before the first output, not at bar 0: TA-Lib primes both sums that way."""

    __slots__ = ("bars", "fast", "slow")

    def __init__(self, p: Any) -> None:
        self.fast = RunningSum(p.fast)
        self.slow = RunningSum(p.slow)
        self.bars = 0

    def value(self, high: float, low: float) -> float | None:
        median = (high + low) / 2.0
        self.bars += 1
        if self.bars > self.slow.n - self.fast.n:
            self.fast.add(median)
        if not self.slow.add(median):
            return None
        osc = self.fast.total / self.fast.n - self.slow.total / self.slow.n
        self.fast.drop()
        self.slow.drop()
        return osc

    def update(self, high: float, low: float) -> Out:
        return (self.value(high, low),)


class Ac(Ao):
    __slots__ = ("signal",)

    def __init__(self, p: Any) -> None:
        super().__init__(p)
        self.signal = RunningSum(p.signal)

    def update(self, high: float, low: float) -> Out:
        osc = self.value(high, low)
        if osc is None or not self.signal.add(osc):
            return (None,)
        value = osc - self.signal.total / self.signal.n
        self.signal.drop()
        return (value,)


class Coppock:
    """TA-Lib's WMA recurrence over ROC(short) + ROC(long), as `kernels.coppock`."""

    __slots__ = ("closes", "countdown", "divider", "long", "n", "plain", "ring", "short",
                 "slot", "sums", "trailing", "weighted")

    def __init__(self, p: Any) -> None:
        self.n: int = p.period
        self.short: int = p.short_roc
        self.long: int = p.long_roc
        self.closes: deque[float] = deque(maxlen=p.long_roc + 1)
        self.divider = float(p.period) * (p.period + 1) / 2.0
        self.ring = [0.0] * max(p.period - 1, 1)
        self.slot = 0
        self.sums = 0  # ROC sums seen
        self.weighted = 0.0
        self.plain = 0.0
        self.trailing = 0.0
        self.countdown = 8 * p.period

    @staticmethod
    def _roc(close: float, base: float) -> float:
        return (close / base - 1.0) * 100.0 if base != 0.0 else 0.0

    def _store(self, s: float) -> None:
        self.ring[self.slot] = s
        self.slot = (self.slot + 1) % len(self.ring)

    def update(self, close: float) -> Out:
        self.closes.append(close)
        if len(self.closes) <= self.long:
            return (None,)
        s = self._roc(close, self.closes[-1 - self.short]) + self._roc(close, self.closes[0])
        self.sums += 1
        w = self.n
        if self.sums < w:
            self.plain += s
            self.weighted += s * self.sums
            self._store(s)
            return (None,)
        self.plain += s
        self.plain -= self.trailing
        self.weighted += s * w
        self.countdown -= 1
        if self.countdown <= 0:
            self.countdown = 8 * w
            self.plain = 0.0
            self.weighted = 0.0
            size = len(self.ring)
            for k in range(size):
                v = self.ring[(self.slot + k) % size]
                self.plain += v
                self.weighted += v * (k + 1)
            self.plain += s
            self.weighted += s * w
        self.trailing = self.ring[self.slot]
        self._store(s)
        value = s if w == 1 else self.weighted / self.divider
        self.weighted -= self.plain
        return (value,)


class Dpo:
    """The SMA's sum starts at bar `max(period - 1, lag) - period + 1`, as in TA-Lib
    (bar 1, not 0, when period is 2)."""

    __slots__ = ("bars", "closes", "first", "lag", "total")

    def __init__(self, p: Any) -> None:
        self.lag: int = p.period // 2 + 1
        self.first = max(p.period - 1, self.lag) - p.period + 1
        self.closes: deque[float] = deque(maxlen=max(p.period, self.lag + 1))
        self.total = RunningSum(p.period)
        self.bars = 0

    def update(self, close: float) -> Out:
        self.closes.append(close)
        self.bars += 1
        if self.bars <= self.first or not self.total.add(close):
            return (None,)
        value = self.closes[-1 - self.lag] - self.total.total / self.total.n
        self.total.drop()
        return (value,)


class Er:
    __slots__ = ("closes", "n", "null_run", "path")

    def __init__(self, p: Any) -> None:
        self.n: int = p.period
        self.closes: deque[float] = deque(maxlen=p.period + 2)
        self.path = 0.0
        self.null_run = 0

    def update(self, close: float) -> Out:
        closes = self.closes
        closes.append(close)
        seen = len(closes)
        if seen == 1:
            return (None,)
        d = close - closes[-2]
        if seen <= self.n + 1:
            # priming: the path grows by the new change, no trailing change leaves
            self.path += abs(d)
            self.null_run = self.null_run + 1 if d == 0.0 else 0
            if seen <= self.n:
                return (None,)
        else:
            self.path -= abs(closes[0] - closes[1])
            self.path += abs(d)
            self.null_run = self.null_run + 1 if d == 0.0 else 0
            if self.null_run >= self.n:
                self.null_run = self.n
                self.path = 0.0
        net = close - closes[-1 - self.n]
        path = self.path
        return (1.0 if (path <= 0.0 or path <= net) else abs(net / path),)


class _Ema(TaEma):
    """`TaEma` that reports readiness, for chained stages."""

    __slots__ = ()

    def __init__(self, n: int) -> None:
        super().__init__(n)

    def ready(self, x: float) -> bool:
        return self.push(x) is not None

    @property
    def current(self) -> float:
        assert self.value is not None
        return self.value


class Eri:
    __slots__ = ("ema", "n")

    def __init__(self, p: Any) -> None:
        self.n: int = p.period
        self.ema = _Ema(p.period)

    def update(self, high: float, low: float, close: float) -> Out:
        if self.n == 1:
            return (high - close, low - close)
        if not self.ema.ready(close):
            return (None, None)
        return (high - self.ema.current, low - self.ema.current)


class Smi:
    __slots__ = ("fast_den", "fast_num", "highs", "lows", "n", "signal", "slow_den",
                 "slow_num")

    def __init__(self, p: Any) -> None:
        self.n: int = p.period
        self.highs: deque[float] = deque(maxlen=p.period)
        self.lows: deque[float] = deque(maxlen=p.period)
        self.slow_num = _Ema(p.slow)
        self.slow_den = _Ema(p.slow)
        self.fast_num = _Ema(p.fast)
        self.fast_den = _Ema(p.fast)
        self.signal = _Ema(p.signal)

    def update(self, high: float, low: float, close: float) -> Out:
        self.highs.append(high)
        self.lows.append(low)
        if len(self.highs) < self.n:
            return (None, None)
        hh = max(self.highs)
        ll = min(self.lows)
        den = hh - ll
        num = close - (hh + ll) * 0.5
        self.slow_num.ready(num)
        if not self.slow_den.ready(den):
            return (None, None)
        self.fast_num.ready(self.slow_num.current)
        if not self.fast_den.ready(self.slow_den.current):
            return (None, None)
        half = 0.5 * self.fast_den.current
        value = 100.0 * self.fast_num.current / half if half > 0.0 else 0.0
        if not self.signal.ready(value):
            return (None, None)
        return (value, self.signal.current)


class Tsi(_Changes):
    __slots__ = ("den1", "den2", "num1", "num2")

    def __init__(self, p: Any) -> None:
        super().__init__()
        self.num1 = _Ema(p.long)
        self.den1 = _Ema(p.long)
        self.num2 = _Ema(p.short)
        self.den2 = _Ema(p.short)

    def update(self, close: float) -> Out:
        mom = self.change(close)
        if mom is None:
            return (None,)
        self.num1.ready(mom)
        if not self.den1.ready(abs(mom)):
            return (None,)
        self.num2.ready(self.num1.current)
        if not self.den2.ready(self.den1.current):
            return (None,)
        den = self.den2.current
        return (100.0 * self.num2.current / den if den > 0.0 else 0.0,)


class Fractal:
    """Reports on the confirming bar: the centre is `right` bars back."""

    __slots__ = ("bars", "right")

    def __init__(self, p: Any) -> None:
        self.right: int = p.right
        self.bars: deque[tuple[float, float]] = deque(maxlen=p.left + p.right + 1)

    def update(self, high: float, low: float) -> Out:
        bars = self.bars
        bars.append((high, low))
        if len(bars) < bars.maxlen:  # type: ignore[operator]
            return (None, None)
        centre = len(bars) - 1 - self.right
        others = [b for i, b in enumerate(bars) if i != centre]
        pivot_high, pivot_low = bars[centre]
        swing_high = 100.0 if pivot_high > max(h for h, _ in others) else 0.0
        swing_low = 100.0 if pivot_low < min(lo for _, lo in others) else 0.0
        return (swing_high, swing_low)
