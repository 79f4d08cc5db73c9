"""The Choppiness Index, as a third party would ship an indicator: a params model,
a batch form (polars, imported only when a backtest runs) and an incremental form
(plain Python, for paper and live) that agree bar for bar."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from runner import IndicatorDef


class ChopParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    period: Annotated[int, Field(ge=2, le=10_000, description="bars in the window")] = 14


def chop_batch(inputs: Mapping[str, Any], p: ChopParams) -> dict[str, Any]:
    """chop = 100 * log10(sum(TR, n) / (max(high, n) - min(low, n))) / log10(n)

    TR is the true range (the first bar, which has no previous close, uses
    high - low). Null until `n` bars have been seen; 0 when the window's range is
    zero (a market that did not move is not choppy)."""
    import polars as pl

    high, low, close = inputs["high"], inputs["low"], inputs["close"]
    prev = close.shift(1)
    tr = pl.max_horizontal(high, prev.fill_null(high)) - pl.min_horizontal(low,
                                                                            prev.fill_null(low))
    span = high.rolling_max(p.period) - low.rolling_min(p.period)
    ratio = tr.rolling_sum(p.period) / span
    value = pl.when(span > 0).then(100.0 * ratio.log10() / math.log10(p.period))
    return {"value": value.otherwise(pl.when(span.is_not_null()).then(0.0))}


class ChopIncremental:
    """The same sums, one bar at a time (O(n) per bar for the window extremes)."""

    __slots__ = ("highs", "lows", "n", "prev", "ranges")

    def __init__(self, p: ChopParams) -> None:
        self.n = p.period
        self.prev: float | None = None
        self.ranges: deque[float] = deque(maxlen=p.period)
        self.highs: deque[float] = deque(maxlen=p.period)
        self.lows: deque[float] = deque(maxlen=p.period)

    def update(self, high: float, low: float, close: float) -> tuple[float | None]:
        prev, self.prev = self.prev, close
        self.ranges.append(high - low if prev is None else max(high, prev) - min(low, prev))
        self.highs.append(high)
        self.lows.append(low)
        if len(self.ranges) < self.n:
            return (None,)
        span = max(self.highs) - min(self.lows)
        if span <= 0:
            return (0.0,)
        return (100.0 * math.log10(sum(self.ranges) / span) / math.log10(self.n),)


CHOP = IndicatorDef(
    "chop", ChopParams, lambda p: p.period - 1, inputs=("high", "low", "close"),
    group="volatility", description="Choppiness Index: 100 sideways, 0 trending",
    reference="E. W. Dreiss, Choppiness Index", batch=chop_batch, incremental=ChopIncremental)
