"""Incremental forms of the averages family, and the moving-average machinery that
every `ma`-typed indicator (here and in other families) builds on.

`make_average(kind, period)` returns an averager whose `push(x)` takes one value per
bar and returns the average, or None while warming up. An averager starts at the
first value it is given, the way TA-Lib starts a moving average at the first bar of
its input range; a composite indicator delays pushing into an averager to reproduce
TA-Lib's start (MACDEXT seeds its fast average where the slow one starts).
Each averager mirrors the batch form's arithmetic (same seeds, same recursions, same
zero tests), so the two stay equal to 1e-9. Pure Python: no polars or numpy import.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, ClassVar, Protocol

from runner.indicators.core.incremental import TA_EPSILON, Out, RollingMean

KAMA_FAST = 2.0 / (2.0 + 1.0)
KAMA_SLOW = 2.0 / (30.0 + 1.0)
T3_VFACTOR = 0.7
"""TA-Lib's MA (and so every `ma`-typed param) runs T3 with this volume factor."""


class Averager(Protocol):
    def push(self, x: float) -> float | None: ...


def ma_lookback(kind: str, period: int) -> int:
    """Bars before the first value of `kind` over `period` (TA-Lib's MA lookback)."""
    if period <= 1:
        return 0
    if kind in ("sma", "ema", "wma", "trima", "rma"):
        return period - 1
    if kind == "dema":
        return 2 * (period - 1)
    if kind == "tema":
        return 3 * (period - 1)
    if kind == "t3":
        return 6 * (period - 1)
    if kind == "kama":
        return period
    if kind == "hma":
        return period - 1 + math.isqrt(period) - 1
    if kind == "zlema":
        return (period - 1) // 2 + period - 1
    raise ValueError(f"unknown moving average kind {kind!r}")


def t3_coefficients(vfactor: float) -> tuple[float, float, float, float]:
    """Weights of EMA 6, 5, 4 and 3 in Tillson's T3, in TA-Lib's rounding order."""
    squared = vfactor * vfactor
    c1 = -squared * vfactor
    c2 = 3.0 * (squared - c1)
    c3 = -6.0 * squared - 3.0 * (vfactor - c1)
    c4 = 1.0 + 3.0 * vfactor - c1 + 3.0 * squared
    return c1, c2, c3, c4


class Identity:
    """TA-Lib's MA of period 1, whatever the kind: the input itself."""

    __slots__ = ()

    def push(self, x: float) -> float | None:
        return x


class WeightedMean:
    """Linearly weighted mean (newest weight `n`), O(1) per bar from running sums in
    `kernels.wma`'s order (TA-Lib's)."""

    __slots__ = ("denominator", "n", "plain", "trailing", "weighted", "window")

    def __init__(self, n: int) -> None:
        self.n = n
        self.window: deque[float] = deque()
        self.plain = 0.0
        self.weighted = 0.0
        self.trailing = 0.0
        self.denominator = n * (n + 1) / 2.0

    def push(self, x: float) -> float | None:
        window = self.window
        window.append(x)
        if len(window) < self.n:
            self.plain += x
            self.weighted += x * len(window)
            return None
        self.plain += x
        self.plain -= self.trailing
        self.weighted += x * self.n
        self.trailing = window.popleft()
        mean = self.weighted / self.denominator
        self.weighted -= self.plain
        return mean


class Ewm:
    """An EMA-like recursion with the seed of TA-Lib (the mean of the first `n`),
    stepping as `kernels.ewm_into` does: v (1 - alpha) + alpha x."""

    __slots__ = ("alpha", "keep", "n", "seed", "seen", "value")

    def __init__(self, n: int, alpha: float) -> None:
        self.n = n
        self.alpha = alpha
        self.keep = 1.0 - alpha
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
        self.value = self.value * self.keep + self.alpha * x
        return self.value


class ChainedEwm:
    """`depth` EMAs, each fed the previous one's values from its first; returns them
    all once the deepest has a value (DEMA, TEMA, T3). Combined in the order of
    `kernels.chain_into`, shallowest first."""

    __slots__ = ("stages",)

    def __init__(self, n: int, depth: int) -> None:
        self.stages = [Ewm(n, 2.0 / (n + 1)) for _ in range(depth)]

    def push_all(self, x: float) -> list[float] | None:
        values: list[float] = []
        value: float | None = x
        for stage in self.stages:
            value = stage.push(value) if value is not None else None
            if value is None:
                return None
            values.append(value)
        return values


class Dema(ChainedEwm):
    __slots__ = ()

    def __init__(self, n: int) -> None:
        super().__init__(n, 2)

    def push(self, x: float) -> float | None:
        e = self.push_all(x)
        return None if e is None else 2.0 * e[0] + -1.0 * e[1]


class Tema(ChainedEwm):
    __slots__ = ()

    def __init__(self, n: int) -> None:
        super().__init__(n, 3)

    def push(self, x: float) -> float | None:
        e = self.push_all(x)
        return None if e is None else 3.0 * e[0] + -3.0 * e[1] + 1.0 * e[2]


class T3(ChainedEwm):
    __slots__ = ("c",)

    def __init__(self, n: int, vfactor: float = T3_VFACTOR) -> None:
        super().__init__(n, 6)
        self.c = t3_coefficients(vfactor)

    def push(self, x: float) -> float | None:
        e = self.push_all(x)
        if e is None:
            return None
        c1, c2, c3, c4 = self.c
        return c4 * e[2] + c3 * e[3] + c2 * e[4] + c1 * e[5]


class Trima:
    """The SMA of an SMA: windows (n+1)/2 twice when n is odd, n/2 then n/2+1 when
    even, which weighs the window triangularly."""

    __slots__ = ("inner", "outer")

    def __init__(self, n: int) -> None:
        first = (n + 1) // 2 if n % 2 else n // 2
        self.inner = RollingMean(first)
        self.outer = RollingMean(n + 1 - first)

    def push(self, x: float) -> float | None:
        inner = self.inner.push(x)
        return None if inner is None else self.outer.push(inner)


class Kama:
    """Kaufman's adaptive average; see `kernels.kama` (same loop, one bar at a time)."""

    __slots__ = ("n", "noise", "trailing", "value", "window")

    def __init__(self, n: int) -> None:
        self.n = n
        self.window: deque[float] = deque(maxlen=n + 1)
        self.noise = 0.0
        self.trailing = 0.0
        self.value: float | None = None

    def push(self, x: float) -> float | None:
        window = self.window
        window.append(x)
        if len(window) <= self.n:
            return None
        trailing = window[0]
        if self.value is None:
            for i in range(self.n):
                self.noise += abs(window[i] - window[i + 1])
            self.value = window[self.n - 1]
        else:
            self.noise -= abs(self.trailing - trailing)
            self.noise += abs(x - window[-2])
        self.trailing = trailing
        change = x - trailing
        noise = self.noise
        ratio = 1.0 if noise <= change or abs(noise) < TA_EPSILON else abs(change / noise)
        sc = ratio * (KAMA_FAST - KAMA_SLOW) + KAMA_SLOW
        sc *= sc
        self.value = (x - self.value) * sc + self.value
        return self.value


class Hma:
    """Hull: the WMA over isqrt(n) of 2 WMA(n // 2) - WMA(n)."""

    __slots__ = ("bars", "full", "half", "half_from", "outer")

    def __init__(self, n: int) -> None:
        self.full = WeightedMean(n)
        self.half: Averager = WeightedMean(n // 2) if n >= 4 else Identity()
        self.outer: Averager = WeightedMean(math.isqrt(n)) if n >= 4 else Identity()
        self.half_from = n - n // 2 if n >= 4 else 0  # as `kernels.average` primes it
        self.bars = 0

    def push(self, x: float) -> float | None:
        self.bars += 1
        half = self.half.push(x) if self.bars > self.half_from else None
        full = self.full.push(x)
        if half is None or full is None:
            return None
        return self.outer.push(2.0 * half - full)


class Zlema:
    """EMA of the de-lagged series 2 x[t] - x[t - (n-1)//2], seeded with the mean of
    its first n values."""

    __slots__ = ("ewm", "window")

    def __init__(self, n: int) -> None:
        self.window: deque[float] = deque(maxlen=(n - 1) // 2 + 1)
        self.ewm = Ewm(n, 2.0 / (n + 1))

    def push(self, x: float) -> float | None:
        self.window.append(x)
        if len(self.window) < self.window.maxlen:  # type: ignore[operator]
            return None
        return self.ewm.push(2.0 * x - self.window[0])


def make_average(kind: str, period: int) -> Averager:
    """An averager of `kind` over `period` (TA-Lib's MA with that MA type)."""
    if period == 1:
        return Identity()
    if kind == "sma":
        return RollingMean(period)
    if kind == "ema":
        return Ewm(period, 2.0 / (period + 1))
    if kind == "rma":
        return Ewm(period, 1.0 / period)
    if kind == "wma":
        return WeightedMean(period)
    if kind == "dema":
        return Dema(period)
    if kind == "tema":
        return Tema(period)
    if kind == "t3":
        return T3(period)
    if kind == "trima":
        return Trima(period)
    if kind == "kama":
        return Kama(period)
    if kind == "hma":
        return Hma(period)
    if kind == "zlema":
        return Zlema(period)
    raise ValueError(f"unknown moving average kind {kind!r}")


# ---- single-series averages -------------------------------------------------------


class _Average:
    """An indicator that is one averager over the close."""

    __slots__ = ("avg",)
    kind: ClassVar[str] = ""

    def __init__(self, p: Any) -> None:
        self.avg = make_average(self.kind, p.period)

    def update(self, close: float) -> Out:
        return (self.avg.push(close),)


class DemaIndicator(_Average):
    __slots__ = ()
    kind = "dema"


class TemaIndicator(_Average):
    __slots__ = ()
    kind = "tema"


class TrimaIndicator(_Average):
    __slots__ = ()
    kind = "trima"


class KamaIndicator(_Average):
    __slots__ = ()
    kind = "kama"


class RmaIndicator(_Average):
    __slots__ = ()
    kind = "rma"


class HmaIndicator(_Average):
    __slots__ = ()
    kind = "hma"


class ZlemaIndicator(_Average):
    __slots__ = ()
    kind = "zlema"


class T3Indicator:
    __slots__ = ("avg",)

    def __init__(self, p: Any) -> None:
        self.avg: Averager = Identity() if p.period == 1 else T3(p.period, p.vfactor)

    def update(self, close: float) -> Out:
        return (self.avg.push(close),)


class Ma:
    __slots__ = ("avg",)

    def __init__(self, p: Any) -> None:
        self.avg = make_average(p.ma, p.period)

    def update(self, close: float) -> Out:
        return (self.avg.push(close),)


# ---- oscillators of two averages ------------------------------------------------


class _FastSlow:
    __slots__ = ("fast", "slow")

    def __init__(self, p: Any) -> None:
        self.fast = make_average(p.ma, p.fast)
        self.slow = make_average(p.ma, p.slow)

    def pair(self, x: float) -> tuple[float, float] | None:
        fast = self.fast.push(x)
        slow = self.slow.push(x)
        return None if fast is None or slow is None else (fast, slow)


def _percent_of(fast: float, slow: float) -> float:
    return 0.0 if abs(slow) < TA_EPSILON else (fast - slow) / slow * 100.0


class Apo(_FastSlow):
    __slots__ = ()

    def update(self, close: float) -> Out:
        pair = self.pair(close)
        return (None if pair is None else pair[0] - pair[1],)


class Ppo(_FastSlow):
    __slots__ = ()

    def update(self, close: float) -> Out:
        pair = self.pair(close)
        return (None if pair is None else _percent_of(*pair),)


class Pvo(_FastSlow):
    __slots__ = ()

    def update(self, volume: float) -> Out:
        pair = self.pair(volume)
        return (None if pair is None else _percent_of(*pair),)


class _Macd:
    """A MACD whose fast average only sees the bars from `fast_from` on."""

    __slots__ = ("bars", "fast", "fast_from", "signal", "slow", "slow_from")

    def __init__(self, fast: Averager, fast_from: int, slow: Averager, slow_from: int,
                 signal: Averager) -> None:
        self.fast, self.slow, self.signal = fast, slow, signal
        self.fast_from, self.slow_from = fast_from, slow_from
        self.bars = 0

    def update(self, close: float) -> Out:
        bar = self.bars
        self.bars += 1
        fast = self.fast.push(close) if bar >= self.fast_from else None
        slow = self.slow.push(close) if bar >= self.slow_from else None
        if fast is None or slow is None:
            return (None, None, None)
        line = fast - slow
        signal = self.signal.push(line)
        if signal is None:
            return (None, None, None)
        return (line, signal, line - signal)


class Macdfix(_Macd):
    __slots__ = ()

    def __init__(self, p: Any) -> None:
        super().__init__(Ewm(12, 0.15), 26 - 12, Ewm(26, 0.075), 0,
                         Ewm(p.signal, 2.0 / (p.signal + 1)))


class Macdext(_Macd):
    __slots__ = ()

    def __init__(self, p: Any) -> None:
        fast_lb = ma_lookback(p.fast_ma, p.fast)
        slow_lb = ma_lookback(p.slow_ma, p.slow)
        start = max(fast_lb, slow_lb)
        super().__init__(make_average(p.fast_ma, p.fast), start - fast_lb,
                         make_average(p.slow_ma, p.slow), start - slow_lb,
                         make_average(p.signal_ma, p.signal))


# ---- stochastics ------------------------------------------------------------------


RSI_FLAT = 1e-12
"""See `kernels.RSI_FLAT`."""


class _FastK:
    """TA-Lib's raw %K over the last `n` bars, 0 where its divisor is 0 (its `!= 0`
    test) or the range is within `flat` of the extremes."""

    __slots__ = ("flat", "highs", "lows", "n")

    def __init__(self, n: int, flat: float = 0.0) -> None:
        self.n = n
        self.flat = flat
        self.highs: deque[float] = deque(maxlen=n)
        self.lows: deque[float] = deque(maxlen=n)

    def push(self, high: float, low: float, close: float) -> float | None:
        self.highs.append(high)
        self.lows.append(low)
        if len(self.highs) < self.n:
            return None
        lowest = min(self.lows)
        highest = max(self.highs)
        diff = (highest - lowest) / 100.0
        if diff == 0.0 or abs(highest - lowest) <= self.flat * (abs(highest) + abs(lowest)):
            return 0.0
        return (close - lowest) / diff


class Stochf:
    __slots__ = ("d", "fast_k")

    def __init__(self, p: Any) -> None:
        self.fast_k = _FastK(p.k_period)
        self.d = make_average(p.d_ma, p.d_period)

    def update(self, high: float, low: float, close: float) -> Out:
        k = self.fast_k.push(high, low, close)
        d = None if k is None else self.d.push(k)
        return (None, None) if d is None else (k, d)


class Stochrsi:
    __slots__ = ("d", "fast_k", "rsi")

    def __init__(self, p: Any) -> None:
        from runner.indicators.core.incremental import Rsi

        self.rsi = Rsi(p)
        self.fast_k = _FastK(p.k_period, RSI_FLAT)
        self.d = make_average(p.d_ma, p.d_period)

    def update(self, close: float) -> Out:
        (rsi,) = self.rsi.update(close)
        k = None if rsi is None else self.fast_k.push(rsi, rsi, rsi)
        d = None if k is None else self.d.push(k)
        return (None, None) if d is None else (k, d)


class Kdj:
    __slots__ = ("d", "fast_k", "k")

    def __init__(self, p: Any) -> None:
        self.fast_k = _FastK(p.k_period)
        self.k = make_average(p.k_ma, p.k_smooth)
        self.d = make_average(p.d_ma, p.d_period)

    def update(self, high: float, low: float, close: float) -> Out:
        fast_k = self.fast_k.push(high, low, close)
        k = None if fast_k is None else self.k.push(fast_k)
        d = None if k is None else self.d.push(k)
        if k is None or d is None:
            return (None, None, None)
        return (k, d, 3.0 * k - 2.0 * d)


# ---- variable period --------------------------------------------------------------


def clamp_period(value: float, low: int, high: int) -> int:
    """TA-Lib's (int) truncation of a period, clamped to [low, high]; NaN gives low."""
    if value >= high:
        return high
    if not value >= low:
        return low
    return int(value)


class Mavp:
    """An averager per period in [min_period, max_period], all fed every bar, so any
    bar can read the one its period asks for: O(max_period) per bar. As in TA-Lib,
    the averager of period p starts `ma_lookback(p)` bars before the first output,
    not at the first bar (see `kernels.mavp`)."""

    __slots__ = ("bars", "begin", "high", "kind", "low", "pending", "running", "values")

    def __init__(self, p: Any) -> None:
        self.kind: str = p.ma
        self.low, self.high = p.min_period, p.max_period
        self.begin = ma_lookback(p.ma, self.high)
        # (first bar, period), latest start first, so starting ones pop off the end
        self.pending = sorted(((self.begin - ma_lookback(p.ma, q), q)
                               for q in range(self.low, self.high + 1)), reverse=True)
        self.running: list[tuple[int, Averager]] = []
        self.values: dict[int, float | None] = {}
        self.bars = 0

    def update(self, close: float, periods: float) -> Out:
        bar = self.bars
        self.bars += 1
        pending = self.pending
        while pending and pending[-1][0] <= bar:
            _, q = pending.pop()
            self.running.append((q, make_average(self.kind, q)))
        values = self.values
        for q, avg in self.running:
            values[q] = avg.push(close)
        if bar < self.begin:
            return (None,)
        return (values[clamp_period(periods, self.low, self.high)],)
