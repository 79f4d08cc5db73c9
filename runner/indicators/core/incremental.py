"""Incremental forms: O(1) state updated once per closed bar, for paper and live.

Each kernel mirrors its batch form's arithmetic (same seeds, same recursions, same
zero tests), which is what lets a property test hold the two equal and paper mode
trade the backtest's strategy. `update(*inputs)` takes the input values in the order
of the definition's `inputs` and returns one value per output (None while warming
up). Pure Python with `__slots__`: no polars import on the live path.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from runner.indicators.statistic.incremental import RollingVariance

TA_EPSILON = 1e-14
Out = tuple[float | None, ...]


class RollingMean:
    """Mean of the last `n` values; None until `n` have been seen.

    TA-Lib's order: add the new value, read the sum, then subtract the trailing one,
    so the running total holds `n - 1` values between bars and rounds like TA-Lib's.
    """

    __slots__ = ("n", "total", "window")

    def __init__(self, n: int) -> None:
        self.n = n
        self.window: deque[float] = deque()
        self.total = 0.0

    def push(self, x: float) -> float | None:
        self.window.append(x)
        self.total += x
        if len(self.window) < self.n:
            return None
        mean = self.total / self.n
        self.total -= self.window.popleft()
        return mean


class SeededEwm:
    """TA-Lib's EMA recursion, seeded with the mean of its first `n` values."""

    __slots__ = ("alpha", "n", "seed", "seen", "value")

    def __init__(self, n: int, alpha: float) -> None:
        self.n = n
        self.alpha = alpha
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
        self.value += self.alpha * (x - self.value)  # TA-Lib's (and polars') form
        return self.value


class Sma:
    __slots__ = ("mean",)

    def __init__(self, p: Any) -> None:
        self.mean = RollingMean(p.period)

    def update(self, close: float) -> Out:
        return (self.mean.push(close),)


class Ema:
    __slots__ = ("ewm",)

    def __init__(self, p: Any) -> None:
        self.ewm = SeededEwm(p.period, 2.0 / (p.period + 1))

    def update(self, close: float) -> Out:
        return (self.ewm.push(close),)


class Wma:
    """Weights 1..n, stepped in O(1) like the batch kernel: add n·x, read, then
    subtract the plain window sum."""

    __slots__ = ("denominator", "n", "plain", "seen", "trailing", "weighted", "window")

    def __init__(self, p: Any) -> None:
        self.n = p.period
        self.window: deque[float] = deque()
        self.denominator = p.period * (p.period + 1) / 2.0
        self.weighted = 0.0
        self.plain = 0.0
        self.trailing = 0.0
        self.seen = 0

    def update(self, close: float) -> Out:
        self.seen += 1
        self.window.append(close)
        if self.seen < self.n:
            self.plain += close
            self.weighted += close * self.seen
            return (None,)
        self.plain += close
        self.plain -= self.trailing
        self.weighted += close * self.n
        self.trailing = self.window.popleft()
        value = self.weighted / self.denominator
        self.weighted -= self.plain
        return (value,)


class _PrevClose:
    __slots__ = ("prev",)

    def __init__(self) -> None:
        self.prev: float | None = None


class Atr(_PrevClose):
    __slots__ = ("avg", "n")

    def __init__(self, p: Any) -> None:
        super().__init__()
        self.n = p.period
        self.avg = SeededEwm(p.period, 1.0 / p.period)

    def update(self, high: float, low: float, close: float) -> Out:
        prev, self.prev = self.prev, close
        if prev is None:
            return (None,)
        tr = max(high, prev) - min(low, prev)
        return (tr if self.n == 1 else self.avg.push(tr),)


class Rsi(_PrevClose):
    __slots__ = ("gain", "loss")

    def __init__(self, p: Any) -> None:
        super().__init__()
        self.gain = SeededEwm(p.period, 1.0 / p.period)
        self.loss = SeededEwm(p.period, 1.0 / p.period)

    def update(self, close: float) -> Out:
        prev, self.prev = self.prev, close
        if prev is None:
            return (None,)
        diff = close - prev
        gain = self.gain.push(diff if diff > 0 else 0.0)
        loss = self.loss.push(-diff if diff < 0 else 0.0)
        if gain is None or loss is None:
            return (None,)
        total = gain + loss
        return (0.0 if abs(total) < TA_EPSILON else 100.0 * gain / total,)


class Macd:
    """Fast EMA seeded on the `fast` closes ending where the slow EMA starts."""

    __slots__ = ("closes", "fast", "fast_n", "signal", "slow", "slow_n")

    def __init__(self, p: Any) -> None:
        self.fast_n, self.slow_n = p.fast, p.slow
        self.fast = SeededEwm(p.fast, 2.0 / (p.fast + 1))
        self.slow = SeededEwm(p.slow, 2.0 / (p.slow + 1))
        self.signal = SeededEwm(p.signal, 2.0 / (p.signal + 1))
        self.closes = 0

    def update(self, close: float) -> Out:
        self.closes += 1
        slow = self.slow.push(close)
        fast = self.fast.push(close) if self.closes > self.slow_n - self.fast_n else None
        if slow is None or fast is None:
            return (None, None, None)
        line = fast - slow
        signal = self.signal.push(line)
        if signal is None:
            return (None, None, None)
        return (line, signal, line - signal)


class Bbands:
    """SMA ± k · deviation, the deviation from the wheel's re-anchored sums."""

    __slots__ = ("k", "mean", "var")

    def __init__(self, p: Any) -> None:
        self.mean = RollingMean(p.period)
        self.var = RollingVariance(p.period)
        self.k = p.stddev

    def update(self, close: float) -> Out:
        middle = self.mean.push(close)
        stats = self.var.push(close)
        if middle is None or stats is None:
            return (None, None, None)
        sd = math.sqrt(stats[0]) if stats[0] > 0.0 else 0.0
        return (middle + self.k * sd, middle, middle - self.k * sd)


class Stoch:
    __slots__ = ("d", "highs", "k", "lows", "n")

    def __init__(self, p: Any) -> None:
        self.n = p.k_period
        self.highs: deque[float] = deque(maxlen=p.k_period)
        self.lows: deque[float] = deque(maxlen=p.k_period)
        self.k = RollingMean(p.k_smooth)
        self.d = RollingMean(p.d_period)

    def update(self, high: float, low: float, close: float) -> Out:
        self.highs.append(high)
        self.lows.append(low)
        if len(self.highs) < self.n:
            return (None, None)
        hh, ll = max(self.highs), min(self.lows)
        span = hh - ll
        fast_k = 0.0 if abs(span) < TA_EPSILON else 100.0 * (close - ll) / span
        slow_k = self.k.push(fast_k)
        if slow_k is None:
            return (None, None)
        slow_d = self.d.push(slow_k)
        return (None, None) if slow_d is None else (slow_k, slow_d)


class _Lagged:
    """Keeps the last `n + 1` closes, for indicators of `close` against `close[n]`."""

    __slots__ = ("n", "window")

    def __init__(self, p: Any) -> None:
        self.n = p.period
        self.window: deque[float] = deque(maxlen=p.period + 1)

    def lag(self, close: float) -> float | None:
        self.window.append(close)
        return self.window[0] if len(self.window) > self.n else None


class Mom(_Lagged):
    __slots__ = ()

    def update(self, close: float) -> Out:
        prev = self.lag(close)
        return (None if prev is None else close - prev,)


class Roc(_Lagged):
    __slots__ = ()

    def update(self, close: float) -> Out:
        prev = self.lag(close)
        if prev is None:
            return (None,)
        return ((close / prev - 1.0) * 100.0 if prev != 0.0 else 0.0,)


class Rocp(_Lagged):
    __slots__ = ()

    def update(self, close: float) -> Out:
        prev = self.lag(close)
        if prev is None:
            return (None,)
        return ((close - prev) / prev if prev != 0.0 else 0.0,)


class Rocr(_Lagged):
    __slots__ = ()

    def update(self, close: float) -> Out:
        prev = self.lag(close)
        if prev is None:
            return (None,)
        return (close / prev if prev != 0.0 else 0.0,)


class Rocr100(_Lagged):
    __slots__ = ()

    def update(self, close: float) -> Out:
        prev = self.lag(close)
        if prev is None:
            return (None,)
        return (close / prev * 100.0 if prev != 0.0 else 0.0,)


class _Window:
    __slots__ = ("n", "values")

    def __init__(self, p: Any) -> None:
        self.n: int = p.period
        self.values: deque[float] = deque(maxlen=p.period)

    def full(self, x: float) -> bool:
        self.values.append(x)
        return len(self.values) == self.n


class Max(_Window):
    __slots__ = ()

    def update(self, close: float) -> Out:
        return (max(self.values) if self.full(close) else None,)


class Min(_Window):
    __slots__ = ()

    def update(self, close: float) -> Out:
        return (min(self.values) if self.full(close) else None,)


class Sum:
    """The running total in TA-Lib's order, like `RollingMean` without the division."""

    __slots__ = ("n", "total", "window")

    def __init__(self, p: Any) -> None:
        self.n = p.period
        self.window: deque[float] = deque()
        self.total = 0.0

    def update(self, close: float) -> Out:
        self.window.append(close)
        self.total += close
        if len(self.window) < self.n:
            return (None,)
        value = self.total
        self.total -= self.window.popleft()
        return (value,)


class Midpoint(_Window):
    __slots__ = ()

    def update(self, close: float) -> Out:
        return ((max(self.values) + min(self.values)) / 2.0 if self.full(close) else None,)


class _HighLowWindow:
    __slots__ = ("highs", "lows", "n")

    def __init__(self, p: Any) -> None:
        self.n: int = p.period
        self.highs: deque[float] = deque(maxlen=p.period)
        self.lows: deque[float] = deque(maxlen=p.period)

    def extremes(self, high: float, low: float) -> tuple[float, float] | None:
        self.highs.append(high)
        self.lows.append(low)
        return (max(self.highs), min(self.lows)) if len(self.highs) == self.n else None


class Midprice(_HighLowWindow):
    __slots__ = ()

    def update(self, high: float, low: float) -> Out:
        ext = self.extremes(high, low)
        return (None if ext is None else (ext[0] + ext[1]) / 2.0,)


class Willr(_HighLowWindow):
    __slots__ = ()

    def update(self, high: float, low: float, close: float) -> Out:
        ext = self.extremes(high, low)
        if ext is None:
            return (None,)
        scaled = (ext[0] - ext[1]) / -100.0
        return ((ext[0] - close) / scaled if scaled != 0.0 else 0.0,)


class _Stateless:
    """Price transforms: the output depends on the current bar only."""

    __slots__ = ()

    def __init__(self, p: Any) -> None:
        pass


class Medprice(_Stateless):
    __slots__ = ()

    def update(self, high: float, low: float) -> Out:
        return ((high + low) / 2.0,)


class Typprice(_Stateless):
    __slots__ = ()

    def update(self, high: float, low: float, close: float) -> Out:
        return ((high + low + close) / 3.0,)


class Avgprice(_Stateless):
    __slots__ = ()

    def update(self, open_: float, high: float, low: float, close: float) -> Out:
        return ((open_ + high + low + close) / 4.0,)


class Wclprice(_Stateless):
    __slots__ = ()

    def update(self, high: float, low: float, close: float) -> Out:
        return ((high + low + close * 2.0) / 4.0,)


class Trange(_PrevClose):
    __slots__ = ()

    def __init__(self, p: Any) -> None:
        super().__init__()

    def update(self, high: float, low: float, close: float) -> Out:
        prev, self.prev = self.prev, close
        return (None if prev is None else max(high, prev) - min(low, prev),)


class Natr(Atr):
    __slots__ = ()

    def update(self, high: float, low: float, close: float) -> Out:
        (value,) = super().update(high, low, close)
        if value is None:
            return (None,)
        return (value / close * 100.0 if close != 0.0 else 0.0,)


class Obv(_PrevClose):
    __slots__ = ("total",)

    def __init__(self, p: Any) -> None:
        super().__init__()
        self.total = 0.0

    def update(self, close: float, volume: float) -> Out:
        prev, self.prev = self.prev, close
        if prev is None:
            self.total = volume
        elif close > prev:
            self.total += volume
        elif close < prev:
            self.total -= volume
        return (self.total,)


class Ad:
    __slots__ = ("total",)

    def __init__(self, p: Any) -> None:
        self.total = 0.0

    def update(self, high: float, low: float, close: float, volume: float) -> Out:
        span = high - low
        if span > 0.0:
            self.total += ((close - low) - (high - close)) / span * volume
        return (self.total,)
