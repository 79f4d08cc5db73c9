"""The asyncio wiring of a streaming run: feeds → bars → one clock → the session.

Per instrument, two tasks:

- **read** takes the feed's events into the instrument's market-data queue. A live
  feed's queue is bounded and *drops its oldest event* when full, so a slow consumer
  never makes the feed fall behind the socket (drops are counted and reported); a
  replay's queue applies backpressure instead, because a replay must not lose a bar
  (parity with the backtest).
- **build** turns the queue into closed base bars: bars pass through, trades go into a
  `BarBuilder` (DESIGN §3 rules; a bar is final at its end plus `bars.grace`). A
  replay's clock is the exchange time of its trades; a live feed's is the wall
  clock, ticked even when no trade comes.

One **clock** task merges the instruments' bars in timestamp order into rows (one per
base-bar time) and hands each to the `Session` — the only place strategy state
changes, so decisions, orders and fills are never reordered or dropped. It takes the
earliest bar of all instruments, so a busy instrument cannot starve a quiet one
(each waits in its own bounded queue). A replay waits for every instrument; a live
run waits for a silent one only until the row's end plus the grace, then goes on
without it (its `fresh` is false on that row, as in a backtest's gap).

An error in one instrument's read or build is logged as an `error` event (journal,
counters) and ends that instrument's stream; the others go on. An error in the
session ends the run (it is the strategy itself that failed).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from runner.bars.ticks import BarBuilder, BuiltBar
from runner.engine.rows import Bar
from runner.runtime.feeds import BarEvent, MarketEvent, TradeEvent
from runner.runtime.session import Session

_END = None
"""Ends an instrument's queue."""


class DropOldestQueue:
    """A bounded queue whose producer never waits: when it is full the oldest item is
    dropped and counted (live market data, where the newest price is what matters)."""

    def __init__(self, maxsize: int) -> None:
        self._queue: asyncio.Queue[MarketEvent | None] = asyncio.Queue(maxsize)
        self.dropped = 0

    def put_nowait(self, item: MarketEvent | None) -> None:
        while self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(item)

    async def put(self, item: MarketEvent | None) -> None:
        self.put_nowait(item)

    async def get(self) -> MarketEvent | None:
        return await self._queue.get()

    def qsize(self) -> int:
        return self._queue.qsize()


@dataclass(slots=True)
class RunStats:
    """Counters of a streaming run, reported at its end and on the status line."""

    events: int = 0
    """Market-data events received (a batch of trades is one)."""
    trades: int = 0
    """Trades taken into bars."""
    bars: int = 0
    """Base bars built or received."""
    rows: int = 0
    """Rows handed to the session."""
    dropped: int = 0
    """Market-data events dropped by full live queues."""
    late: int = 0
    """Trades that came after their bar was final (counted, never applied)."""
    max_depth: int = 0
    """The deepest any market-data queue got."""
    errors: list[str] = field(default_factory=list)
    """One line per failed instrument stream."""
    last_row_wall: float = 0.0
    """`time.time()` when the last row was handed to the session."""


class Executor:
    """Runs feeds into a session (module docstring)."""

    def __init__(self, session: Session, *, base_tf: str, closed: Literal["left", "right"],
                 grace_ms: int, lossless: bool, stop: asyncio.Event,
                 queue_size: int = 1024, halt_stops: bool = False,
                 end_ms: int | None = None,
                 on_error: Callable[[str, str], None] | None = None) -> None:
        self.session = session
        self.base_tf = base_tf
        self.closed: Literal["left", "right"] = closed
        self.grace_ms = grace_ms
        self.lossless = lossless
        self.stop = stop
        self.queue_size = queue_size
        self.halt_stops = halt_stops
        self.end_ms = end_ms
        self.on_error = on_error
        self.stats = RunStats()
        self._drop_queues: list[DropOldestQueue] = []
        self._arrived = asyncio.Event()
        """Set when a bar (or a feed's end) is queued for the clock, which waits on it
        instead of polling when every queue is empty: a live bar is stepped as soon
        as it is built, not up to a poll interval later."""

    async def run(self, feeds: Mapping[str, AsyncIterator[MarketEvent]]) -> RunStats:
        """Until every feed ends (a replay), `stop` is set, or the session halts with
        `halt_stops`; then every task is stopped and the counters returned."""
        bar_queues: dict[str, asyncio.Queue[tuple[int, Bar] | None]] = {
            s: asyncio.Queue(self.queue_size) for s in feeds}
        # Everything made before the stream (indicators, compiled expressions, a restored
        # history) lives for the whole run: frozen, the collector never walks it again,
        # which keeps its pauses (latency tails) short.
        gc.freeze()
        async with asyncio.TaskGroup() as group:
            helpers: list[asyncio.Task[None]] = []
            for symbol, feed in feeds.items():
                md: asyncio.Queue[MarketEvent | None] | DropOldestQueue
                if self.lossless:  # events may be batches: fewer of them
                    md = asyncio.Queue(max(1, self.queue_size // 64))
                else:
                    md = DropOldestQueue(self.queue_size)
                    self._drop_queues.append(md)
                helpers.append(group.create_task(self._read(symbol, feed, md)))
                helpers.append(group.create_task(self._build(symbol, md, bar_queues[symbol])))
            clock = group.create_task(self._clock(bar_queues))
            stopper = group.create_task(self._stop_on_signal(clock))
            await asyncio.wait({clock})
            for task in (*helpers, stopper):
                task.cancel()
        gc.unfreeze()
        self.stats.dropped = sum(q.dropped for q in self._drop_queues)
        return self.stats

    async def _stop_on_signal(self, clock: asyncio.Task[None]) -> None:
        await self.stop.wait()
        clock.cancel()  # only ever between rows: the session is synchronous

    def _failed(self, symbol: str, stage: str, exc: BaseException) -> None:
        line = f"{symbol}: {stage}: {type(exc).__name__}: {exc}"
        self.stats.errors.append(line)
        if self.on_error is not None:
            self.on_error(symbol, line)

    async def _read(self, symbol: str, feed: AsyncIterator[MarketEvent],
                    queue: asyncio.Queue[MarketEvent | None] | DropOldestQueue) -> None:
        stats = self.stats
        try:
            async for event in feed:
                stats.events += 1
                await queue.put(event)
                depth = queue.qsize()
                if depth > stats.max_depth:
                    stats.max_depth = depth
                if depth > 1:  # the builder is behind: let it run before reading more
                    await asyncio.sleep(0)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one instrument's feed failing ends only its stream
            self._failed(symbol, "feed", exc)
        await queue.put(_END)

    async def _build(self, symbol: str,
                     queue: asyncio.Queue[MarketEvent | None] | DropOldestQueue,
                     out: asyncio.Queue[tuple[int, Bar] | None]) -> None:
        builder = BarBuilder([self.base_tf], closed=self.closed, grace_ms=self.grace_ms)
        live = not self.lossless
        try:
            while True:
                if live:
                    # Sleep until the next trade or the open bar's end + grace, whichever
                    # comes first, so a bar is emitted on time even if no trade follows it.
                    due = builder.next_final_ms()
                    delay = None if due is None else max(0.0, (due - _wall_ms()) / 1000)
                    try:  # not wait_for: on 3.11 it can swallow a cancel (a hang at stop)
                        async with asyncio.timeout(delay):
                            event = await queue.get()
                    except TimeoutError:
                        await self._emit(builder.advance(_wall_ms()), out)
                        continue
                else:
                    event = await queue.get()
                if event is None:
                    await self._emit(builder.flush(), out)
                    break
                if isinstance(event, BarEvent):
                    self.stats.bars += 1
                    await out.put((event.open_ms, event.bar))
                    self._arrived.set()
                elif isinstance(event, TradeEvent):
                    self.stats.trades += 1
                    late = builder.late
                    builder.add(event.trade)
                    self.stats.late += builder.late - late
                    now = _wall_ms() if live else event.trade.time_ms
                    await self._emit(builder.advance(now), out)
                elif live:  # a batch: every trade of it, then the clock
                    self.stats.trades += len(event.trades)
                    late = builder.late
                    builder.add_all(event.trades)
                    self.stats.late += builder.late - late
                    await self._emit(builder.advance(_wall_ms()), out)
                else:  # a replay's chunk: the clock follows each trade, as unchunked
                    self.stats.trades += len(event.trades)
                    late = builder.late
                    for trade in event.trades:
                        builder.add(trade)
                        done = builder.advance(trade.time_ms)
                        if done:
                            await self._emit(done, out)
                    self.stats.late += builder.late - late
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._failed(symbol, "bars", exc)
        await out.put(_END)
        self._arrived.set()

    async def _emit(self, bars: list[BuiltBar],
                    out: asyncio.Queue[tuple[int, Bar] | None]) -> None:
        for bar in bars:
            self.stats.bars += 1
            await out.put((bar.open_ms, (bar.open, bar.high, bar.low, bar.close, bar.volume)))
            self._arrived.set()

    async def _clock(self, queues: Mapping[str, asyncio.Queue[tuple[int, Bar] | None]]
                     ) -> None:
        heads: dict[str, tuple[int, Bar]] = {}
        ended: set[str] = set()
        session = self.session
        base_ms = session.base_ms
        grace_s = self.grace_ms / 1000
        yielded = time.monotonic()
        while True:
            for symbol, queue in queues.items():
                if symbol in heads or symbol in ended:
                    continue
                if not self.lossless and queue.empty():
                    continue  # live: nothing yet from this one
                item = await queue.get()
                if item is None:
                    ended.add(symbol)
                else:
                    heads[symbol] = item
            if not heads:
                if len(ended) == len(queues):
                    return
                self._arrived.clear()  # no await since the queues were found empty
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.05):
                        await self._arrived.wait()
                continue
            t = min(open_ms for open_ms, _ in heads.values())
            if not self.lossless and len(heads) + len(ended) < len(queues):
                # a live instrument is silent: wait for it until this row's end + grace
                due = (t + base_ms) / 1000 + grace_s
                if time.time() < due:
                    await asyncio.sleep(min(0.05, due - time.time()))
                    continue
            if self.end_ms is not None and t >= self.end_ms:
                return
            row = {s: bar for s, (open_ms, bar) in heads.items() if open_ms == t}
            for s in row:
                del heads[s]
            session.on_bars(t, row)
            self.stats.rows += 1
            self.stats.last_row_wall = time.time()
            if self.halt_stops and session.halted:
                return
            now = time.monotonic()
            if now - yielded > 0.005:  # let the feeds and the status line run
                yielded = now
                await asyncio.sleep(0)

def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


__all__ = ["DropOldestQueue", "Executor", "RunStats"]
