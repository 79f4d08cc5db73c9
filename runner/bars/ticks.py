"""Bars built from a stream of trades, for paper and live mode (DESIGN §3).

    builder = BarBuilder(["1m", "1h"], closed="left", grace_ms=1000)
    for trade in batch:                      # every trade of a batch, in any order
        builder.add(trade)
    for bar in builder.advance(now_ms):      # the clock moved: bars whose end + grace
        ...                                  # has passed are final, oldest first

Rules, the same as the backtest's resampling (`runner.bars.resample`):

- Trades only, stamped with the exchange's time (`Trade.time_ms`), never arrival time.
- A bar of timeframe `tf` covers one epoch-aligned window (`1d` from 00:00 UTC, `1w`
  from Monday 00:00 UTC): `[start, end)` with `closed: left`, `(start, end]` with
  `closed: right` (a trade exactly on a boundary then belongs to the bar it ends).
  A bar is labelled by its window (`open_ms`, `close_ms`) and known at `close_ms`.
- open is the first trade by time (ties in arrival order), close the last, high and
  low the extremes, volume the sum of amounts. A window with no trade has no bar.
- A bar is final once the clock passes its end plus `grace_ms`; `advance` emits it
  then, never earlier, and never twice. A trade for a window already emitted is *late*:
  it is counted (`late`) and changes nothing. Trades may otherwise arrive in any
  order: a bar still open takes them all.
- Every timeframe is built from the trades directly, so a 4h bar's high is the
  highest trade of those four hours — the max of its 1h bars' highs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from runner.bars.resample import timeframe_ms, window_anchor_ms
from runner.market import Trade


@dataclass(frozen=True, slots=True)
class BuiltBar:
    """A final bar of one timeframe; `trades` counts the trades it was built from."""

    timeframe: str
    open_ms: int
    close_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int


@dataclass(slots=True)
class _Open:
    """A bar still taking trades: first and last trade by (time, arrival)."""

    first_key: tuple[int, int]
    last_key: tuple[int, int]
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int


class BarBuilder:
    """Trades in, final bars out, for several timeframes at once (module docstring)."""

    def __init__(self, timeframes: Sequence[str], *, closed: Literal["left", "right"] = "left",
                 grace_ms: int = 1000) -> None:
        if not timeframes:
            raise ValueError("at least one timeframe is needed")
        if grace_ms < 0:
            raise ValueError(f"grace must not be negative, got {grace_ms} ms")
        self.timeframes = tuple(timeframes)
        self.closed = closed
        self.grace_ms = grace_ms
        self._spec = {tf: (timeframe_ms(tf), window_anchor_ms(tf)) for tf in self.timeframes}
        self._open: dict[str, dict[int, _Open]] = {tf: {} for tf in self.timeframes}
        self._emitted_until: dict[str, int] = {tf: -(2**62) for tf in self.timeframes}
        """Per timeframe: windows starting before this are final (emitted or empty)."""
        self._arrival = 0
        self.late = 0
        """Trades that arrived for a bar already final (counted once per timeframe)."""
        self.clock_ms = -(2**62)

    def window_start(self, tf: str, time_ms: int) -> int:
        """Start of the window of `tf` that a trade at `time_ms` belongs to."""
        length, anchor = self._spec[tf]
        t = time_ms - anchor - (1 if self.closed == "right" else 0)
        return (t // length) * length + anchor

    def add(self, trade: Trade) -> None:
        """Take one trade into every timeframe's bar of its window (or count it late)."""
        self._arrival += 1
        key = (trade.time_ms, self._arrival)
        for tf in self.timeframes:
            start = self.window_start(tf, trade.time_ms)
            if start < self._emitted_until[tf]:
                self.late += 1
                continue
            bars = self._open[tf]
            bar = bars.get(start)
            if bar is None:
                bars[start] = _Open(key, key, trade.price, trade.price, trade.price,
                                    trade.price, trade.amount, 1)
                continue
            if key < bar.first_key:
                bar.first_key, bar.open = key, trade.price
            if key > bar.last_key:
                bar.last_key, bar.close = key, trade.price
            bar.high = max(bar.high, trade.price)
            bar.low = min(bar.low, trade.price)
            bar.volume += trade.amount
            bar.trades += 1

    def add_all(self, trades: Iterable[Trade]) -> None:
        for trade in trades:
            self.add(trade)

    def advance(self, now_ms: int) -> list[BuiltBar]:
        """The clock is at `now_ms`: emit every bar whose end + grace has passed, by
        close time then timeframe order. The clock never goes back."""
        self.clock_ms = max(self.clock_ms, now_ms)
        out: list[BuiltBar] = []
        for tf in self.timeframes:
            length, _ = self._spec[tf]
            # a window is final once now >= its end + grace: starts <= now - grace - length
            out.extend(self._emit(tf, self.clock_ms - self.grace_ms - length + 1))
        out.sort(key=lambda b: (b.close_ms, self.timeframes.index(b.timeframe)))
        return out

    def next_final_ms(self) -> int | None:
        """The clock time at which `advance` will next emit a bar, or None when no bar is
        taking trades (an empty window emits nothing, so there is nothing to wait for).
        A live feed sleeps until then instead of polling."""
        due: int | None = None
        for tf in self.timeframes:
            bars = self._open[tf]
            if bars:
                length, _ = self._spec[tf]
                at = min(bars) + length + self.grace_ms
                due = at if due is None else min(due, at)
        return due

    def flush(self) -> list[BuiltBar]:
        """End of the stream: every bar still open is final."""
        out: list[BuiltBar] = []
        for tf in self.timeframes:
            out.extend(self._emit(tf, 2**62))
        out.sort(key=lambda b: (b.close_ms, self.timeframes.index(b.timeframe)))
        return out

    def _emit(self, tf: str, final_before: int) -> list[BuiltBar]:
        if final_before <= self._emitted_until[tf]:
            return []
        length, _ = self._spec[tf]
        bars = self._open[tf]
        done = sorted(start for start in bars if start < final_before)
        self._emitted_until[tf] = final_before
        out = []
        for start in done:
            b = bars.pop(start)
            out.append(BuiltBar(tf, start, start + length, b.open, b.high, b.low, b.close,
                                b.volume, b.trades))
        return out


__all__ = ["BarBuilder", "BuiltBar", "Trade"]
