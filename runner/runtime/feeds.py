"""Market data for a streaming run: replays of stored bars or trades, and the `sim`
venue's random walk.

A feed is an async iterator of `MarketEvent`s for one instrument, in the order the
venue would send them: `BarEvent` (a closed base bar), `TradeEvent` (one trade,
stamped with the exchange's time) or `TradeBatch` (trades that came together). The
executor builds base bars from trades
(`runner.bars.ticks.BarBuilder`) and puts instruments on one clock.

Replays (`--replay PATH`, a `{symbol}` template like `data.path`):

- A file with `open`/`high`/`low`/`close` is read as bars through the strategy's own
  `data:` settings (source, column mapping, label, timeframe; resampled to the base
  timeframe), exactly as a backtest with `--data PATH` reads it: the same bars in,
  the same orders out.
- A file with `price` and an amount (`amount`, `quantity`, `qty` or `size`) and a time
  (`time`, `timestamp`, `ts` or `T`; epoch ms or datetimes) is read as trades; so is
  a freqtrade trades dump (`.json` / `.json.gz`: rows `[timestamp_ms, id, type, side,
  price, amount, cost]`).
- `--speed 0` replays as fast as the runtime takes it; `--speed N` paces events at N
  times real time (event time, from the first event replayed).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import math
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from runner.config.validate import Validated
from runner.engine.frames import base_bars
from runner.errors import UsageError
from runner.market import BarEvent, MarketEvent, Trade, TradeBatch, TradeEvent

if TYPE_CHECKING:
    from runner.venue.contract import Venue

REPLAY_BATCH = 512
"""Trades per event when a replay runs as fast as possible (`--speed 0`)."""

TIME_NAMES = ("time", "timestamp", "ts", "T")
AMOUNT_NAMES = ("amount", "quantity", "qty", "size")


class Pacer:
    """Holds events back so that event time runs `speed` times faster than wall time
    (from the first event paced); `speed` 0 never waits. One pacer is shared by every
    instrument's feed, so they stay in step."""

    def __init__(self, speed: float) -> None:
        if speed < 0 or not math.isfinite(speed):
            raise UsageError(f"--speed must be 0 (as fast as possible) or a positive "
                             f"factor, got {speed}")
        self.speed = speed
        self._anchor: tuple[int, float] | None = None
        self._since_yield = 0

    async def wait(self, event_ms: int) -> None:
        if self.speed == 0:
            self._since_yield += 1
            if self._since_yield >= 64:  # let the other instruments' tasks run
                self._since_yield = 0
                await asyncio.sleep(0)
            return
        if self._anchor is None:
            self._anchor = (event_ms, time.monotonic())
        due = self._anchor[1] + (event_ms - self._anchor[0]) / 1000 / self.speed
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


# -- replay sources --------------------------------------------------------------------

def _path_for(template: str, symbol: str) -> Path:
    return Path(template.replace("{symbol}", symbol))


def _columns_of(path: Path) -> list[str]:
    name = path.name.lower()
    if name.endswith((".json", ".json.gz")):
        return ["timestamp", "price", "amount"]
    try:
        if name.endswith(".parquet"):
            return list(pl.read_parquet_schema(path))
        if name.endswith((".csv", ".csv.gz", ".txt")):
            return list(pl.read_csv(path, n_rows=0).columns)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise UsageError(f"--replay {path}: cannot read it ({_first_line(exc)})") from None
    raise UsageError(f"--replay {path}: unknown format (parquet, csv or a freqtrade "
                     "trades .json/.json.gz)")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def is_trades(path: Path) -> bool:
    """Whether the replay file holds trades (not bars): see the module docstring."""
    names = set(_columns_of(path))
    return "close" not in names and "price" in names and bool(names & set(AMOUNT_NAMES))


def load_trades(path: Path, *, after_ms: int | None = None) -> pl.DataFrame:
    """The trades of `path` as `time_ms` (Int64), `price`, `amount`, in file order."""
    name = path.name.lower()
    if name.endswith((".json", ".json.gz")):
        opener = gzip.open if name.endswith(".gz") else open
        try:
            with opener(path, "rt") as fh:
                rows = json.load(fh)
            frame = pl.DataFrame({"time_ms": [int(r[0]) for r in rows],
                                  "price": [float(r[4]) for r in rows],
                                  "amount": [float(r[5]) for r in rows]})
        except (OSError, TypeError, ValueError, LookupError) as exc:
            raise UsageError(f"--replay {path}: not a freqtrade trades dump ({exc})") from None
    else:
        try:
            raw = pl.read_parquet(path) if name.endswith(".parquet") else pl.read_csv(path)
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise UsageError(f"--replay {path}: cannot read it ({_first_line(exc)})") from None
        time_col = next((c for c in TIME_NAMES if c in raw.columns), None)
        amount_col = next((c for c in AMOUNT_NAMES if c in raw.columns), None)
        if time_col is None or amount_col is None:
            raise UsageError(f"--replay {path}: a trades file needs a time column "
                             f"({', '.join(TIME_NAMES)}) and an amount column "
                             f"({', '.join(AMOUNT_NAMES)})")
        when = pl.col(time_col)
        dtype = raw.schema[time_col]
        if isinstance(dtype, pl.Datetime):
            when = (when.dt.replace_time_zone("UTC") if dtype.time_zone is None
                    else when).dt.epoch("ms")
        elif not dtype.is_integer():
            raise UsageError(f"--replay {path}: column {time_col} must hold epoch "
                             f"milliseconds or datetimes, not {dtype}")
        frame = raw.select(when.cast(pl.Int64).alias("time_ms"),
                           pl.col("price").cast(pl.Float64),
                           pl.col(amount_col).cast(pl.Float64).alias("amount"))
    if frame.null_count().sum_horizontal().item():
        raise UsageError(f"--replay {path}: trades with empty fields")
    if after_ms is not None:
        frame = frame.filter(pl.col("time_ms") > after_ms)
    return frame


async def replay_bars(validated: Validated, symbol: str, template: str, pacer: Pacer, *,
                      start: datetime | None, end: datetime | None,
                      after_ms: int | None, base_ms: int,
                      warnings: list[str]) -> AsyncIterator[MarketEvent]:
    """The stored bars of `symbol` (as the backtest reads them), after `after_ms`."""
    strategy = validated.strategy
    assert strategy is not None
    frame = base_bars(symbol, strategy, validated, start=start, end=end,
                      data_path=template, warnings=warnings)
    times = frame["time"].dt.epoch("ms").to_list()
    columns = [frame[c].to_list() for c in ("open", "high", "low", "close", "volume")]
    for k, open_ms in enumerate(times):
        if after_ms is not None and open_ms <= after_ms:
            continue
        await pacer.wait(open_ms + base_ms)
        yield BarEvent(symbol, open_ms, (columns[0][k], columns[1][k], columns[2][k],
                                         columns[3][k], columns[4][k]))


async def replay_trades(symbol: str, path: Path, pacer: Pacer, *,
                        after_ms: int | None) -> AsyncIterator[MarketEvent]:
    """The trades of `path`, those after `after_ms` (exchange time)."""
    frame = load_trades(path, after_ms=after_ms)
    trades = [Trade(t, p, a) for t, p, a in zip(frame["time_ms"].to_list(),
                                                frame["price"].to_list(),
                                                frame["amount"].to_list(), strict=True)]
    del frame
    if pacer.speed == 0:  # nothing to pace: hand them over in chunks
        for k in range(0, len(trades), REPLAY_BATCH):
            await pacer.wait(trades[k].time_ms)
            yield TradeBatch(symbol, tuple(trades[k:k + REPLAY_BATCH]))
        return
    for trade in trades:
        await pacer.wait(trade.time_ms)
        yield TradeEvent(symbol, trade)


# -- the sim venue's random walk -------------------------------------------------------

async def random_walk(symbol: str, *, seed: int, start_price: float, volatility: float,
                      trades_per_second: float,
                      clock_ms: Callable[[], int] | None = None,
                      ) -> AsyncIterator[MarketEvent]:
    """Endless trades of a geometric random walk at wall-clock time: the `sim`
    venue's market data, so paper mode runs with no network and no data.
    `volatility` is per square-root of a day."""
    rng = random.Random(f"{seed}:{symbol}")
    now = clock_ms or _wall_ms
    price = start_price
    per_trade = volatility / math.sqrt(86_400 * trades_per_second)
    while True:
        await asyncio.sleep(rng.expovariate(trades_per_second))
        price *= math.exp(rng.gauss(-per_trade * per_trade / 2, per_trade))
        yield TradeEvent(symbol, Trade(now(), round(price, 8),
                                       round(rng.lognormvariate(0.0, 1.0), 6)))


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


# -- a venue's stream, one feed per instrument ------------------------------------------

async def venue_trades(venue: Venue, symbols: Sequence[str]) -> AsyncIterator[MarketEvent]:
    """The venue's trade stream with the venue's lifetime: opened on the first event
    asked for, closed when the stream is closed (the run's end cancels it)."""
    async with venue:
        async for event in venue.trades(symbols):
            yield event


class Demultiplexer:
    """One venue stream for many instruments split into a feed per instrument, which
    is what the executor takes. The shared reader starts with the first feed read;
    a full per-instrument buffer drops its oldest event (counted in `dropped`), so a
    stalled instrument never blocks the others. When the stream ends or fails, every
    feed ends after what it holds; the failure is raised from each feed."""

    def __init__(self, stream: AsyncIterator[MarketEvent], symbols: Sequence[str],
                 buffer: int = 1024) -> None:
        self._stream = stream
        self._queues: dict[str, asyncio.Queue[MarketEvent | None]] = {
            s: asyncio.Queue(buffer) for s in symbols}
        self._reader: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self._users = len(self._queues)
        self._closed = False
        self.dropped = 0
        self.unknown = 0
        """Events for an instrument the run does not trade (ignored)."""

    def feeds(self) -> dict[str, AsyncIterator[MarketEvent]]:
        return {s: self._feed(s) for s in self._queues}

    def start(self) -> None:
        """Start reading now (before any feed is read): events are buffered."""
        if self._reader is None:
            self._reader = asyncio.create_task(self._read())

    async def aclose(self, timeout_s: float = 5.0) -> None:
        """Stop reading and close the stream (idempotent). A stream that ignores the
        cancel is left behind after `timeout_s` rather than hanging the caller."""
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await asyncio.shield(self._reader)
        if self._reader is None or self._reader.done():
            await self._close_stream()

    async def _read(self) -> None:
        try:
            async for event in self._stream:
                queue = self._queues.get(event.symbol)
                if queue is None:
                    self.unknown += 1
                    continue
                if queue.full():
                    queue.get_nowait()
                    self.dropped += 1
                queue.put_nowait(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._failure = exc
        finally:
            for queue in self._queues.values():
                if queue.full():
                    queue.get_nowait()
                    self.dropped += 1
                queue.put_nowait(None)

    async def _feed(self, symbol: str) -> AsyncIterator[MarketEvent]:
        self.start()
        queue = self._queues[symbol]
        try:
            while (event := await queue.get()) is not None:
                yield event
            if self._failure is not None:
                raise self._failure
        finally:
            self._users -= 1
            if self._users == 0:
                await self.aclose()

    async def _close_stream(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None and not self._closed:
            self._closed = True
            await close()


def demultiplex(stream: AsyncIterator[MarketEvent],
                symbols: Sequence[str]) -> dict[str, AsyncIterator[MarketEvent]]:
    """A feed per instrument out of one stream (`Demultiplexer`)."""
    return Demultiplexer(stream, symbols).feeds()


def replay_paths(template: str, symbols: Sequence[str]) -> dict[str, Path]:
    """Each instrument's replay file; a missing one is a usage error naming it."""
    paths = {s: _path_for(template, s) for s in symbols}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise UsageError(f"--replay: no such file: {', '.join(missing)}")
    return paths


__all__ = ["REPLAY_BATCH", "BarEvent", "Demultiplexer", "MarketEvent", "Pacer", "TradeBatch",
           "TradeEvent", "demultiplex", "is_trades", "load_trades", "random_walk",
           "replay_bars", "replay_paths", "replay_trades", "venue_trades"]
