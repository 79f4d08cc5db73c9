"""Bars for the backtest engine: resampling, higher-timeframe alignment, a common clock.

See `resample.resample`, `align.align` and `align.common_clock` for the decisions
(epoch-aligned windows, Monday weeks, incomplete windows dropped, stale rows flagged).
"""

from runner.bars.align import FRESH, align, common_clock
from runner.bars.resample import CLOSE_TIME, OHLCV, TIME, resample, timeframe_ms

__all__ = ["CLOSE_TIME", "FRESH", "OHLCV", "TIME", "align", "common_clock", "resample",
           "timeframe_ms"]
