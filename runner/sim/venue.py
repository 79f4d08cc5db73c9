"""`SimVenue`: the built-in `sim` exchange as a real `Venue`, in process, no network.

Live mode can be dry-run against `sim` (`venue: {exchange: sim}`): the same live
binding, router and journal as a real venue, with the exchange replaced by a
`runner.testing.fake_venue.FakeVenue` in memory:

- **market data** — each instrument's tape is the seeded random walk of `SimParams`
  (`runner.runtime.feeds.random_walk`, the walk paper mode trades on), started when
  an instrument is first named and printed on the wall clock. `trades` streams the
  prints, `bars` builds closed bars from them (`BarBuilder`, no grace: the venue's
  own clock closes a bar), `quotes` is a synthetic best bid/ask one tick either side
  of each print, and `klines` reads bars back from the tape (so warm-up finds only
  what this venue printed since it opened). No depth stream.
- **broker** — orders go to the `FakeVenue`'s matching (see its docstring): market
  orders fill at the last print, limit and stop orders against later prints, partial
  fills when a print is smaller than the order. A market order before the first
  print fills at the walk's start price.
- **instruments** — any symbol trades; metadata is `DEFAULT_TICK` / `DEFAULT_LOT` with
  no minimum notional (the strategy's `instruments:` overrides win in the live
  binding). Each quote asset starts with `DEFAULT_BALANCE`; shorting is allowed, as in
  the backtest.

State lives as long as the `SimVenue` (one run): a restart starts a fresh exchange.
Tests share one `FakeVenue` between connections (`fake=`) to test restarts, and turn
the walk off (`walk=False`) to print trades by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence

from runner.market import BarEvent, MarketEvent, TradeEvent
from runner.sim import SimParams
from runner.testing.fake_venue import FakeVenue, make_instruments
from runner.venue.contract import (
    Balance,
    InstrumentMeta,
    OrderRequest,
    OrderState,
    Position,
    Quote,
    UserEvent,
    Venue,
    VenueFill,
)

DEFAULT_TICK = 0.01
DEFAULT_LOT = 1e-6
DEFAULT_BALANCE = 100_000.0
"""What each quote asset holds when the sim venue first trades it."""


class SimVenue(Venue):
    """The `sim` exchange in process (module docstring)."""

    name = "sim"

    def __init__(self, params: SimParams | None = None, *, fake: FakeVenue | None = None,
                 walk: bool = True, clock_ms: Callable[[], int] | None = None,
                 tick_size: float = DEFAULT_TICK, lot_size: float = DEFAULT_LOT) -> None:
        self.params = params or SimParams()
        self.fake = fake or FakeVenue({}, balances={}, clock_ms=clock_ms)
        self.walk = walk
        self.tick_size = tick_size
        self.lot_size = lot_size
        self._walkers: dict[str, asyncio.Task[int]] = {}
        self._opened = False

    async def open(self) -> None:
        self._opened = True

    async def close(self) -> None:
        walkers, self._walkers = list(self._walkers.values()), {}
        for task in walkers:
            task.cancel()
        for task in walkers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._opened = False

    # -- instruments and the walk ---------------------------------------------------------
    def _ensure(self, symbols: Sequence[str]) -> None:
        for symbol in symbols:
            if symbol not in self.fake.instruments:
                meta = make_instruments([symbol], tick_size=self.tick_size,
                                        lot_size=self.lot_size)[symbol]
                self.fake.add_instrument(meta, balance=DEFAULT_BALANCE)
            if self.walk and symbol not in self._walkers:
                if self.fake.last_price(symbol) is None:
                    self.fake.set_price(symbol, self.params.start_price)
                self._walkers[symbol] = asyncio.get_running_loop().create_task(
                    self.fake.run_tape(symbol, seed=self.params.seed,
                                       start_price=self.params.start_price,
                                       volatility=self.params.volatility,
                                       trades_per_second=self.params.trades_per_second))

    def now_ms(self) -> int:
        return self.fake.now_ms()

    async def instruments(self, symbols: Sequence[str]) -> dict[str, InstrumentMeta]:
        self._ensure(symbols)
        return {s: self.fake.instruments[s] for s in symbols}

    # -- market data ------------------------------------------------------------------------
    async def trades(self, symbols: Sequence[str]) -> AsyncIterator[MarketEvent]:
        self._ensure(symbols)
        queue = self.fake.subscribe_trades(symbols)
        try:
            while True:
                yield await queue.get()
        finally:
            self.fake.unsubscribe(queue)

    async def bars(self, symbols: Sequence[str], timeframe: str) -> AsyncIterator[BarEvent]:
        from runner.bars.ticks import BarBuilder

        self._ensure(symbols)
        builders = {s: BarBuilder([timeframe], grace_ms=0) for s in symbols}
        queue = self.fake.subscribe_trades(symbols)
        clock = self.fake.clock_ms
        try:
            while True:
                due = [d for b in builders.values() if (d := b.next_final_ms()) is not None]
                wait = None if not due else max(0.0, (min(due) - clock()) / 1000)
                event: TradeEvent | None = None
                # not wait_for: on 3.11 it can swallow a cancel (the stream never ends)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        event = await queue.get()
                for symbol, builder in builders.items():
                    now = clock()
                    if event is not None and event.symbol == symbol:
                        builder.add(event.trade)
                        now = max(now, event.trade.time_ms)
                    for b in builder.advance(now):
                        yield BarEvent(symbol, b.open_ms, (b.open, b.high, b.low, b.close,
                                                           b.volume))
        finally:
            self.fake.unsubscribe(queue)

    async def quotes(self, symbols: Sequence[str]) -> AsyncIterator[Quote]:
        self._ensure(symbols)
        queue = self.fake.subscribe_trades(symbols)
        try:
            while True:
                event = await queue.get()
                tick = self.fake.instruments[event.symbol].tick_size
                t = event.trade
                yield Quote(event.symbol, t.time_ms, round(t.price - tick, 10), t.amount,
                            round(t.price + tick, 10), t.amount)
        finally:
            self.fake.unsubscribe(queue)

    async def klines(self, symbol: str, timeframe: str, start_ms: int,
                     end_ms: int) -> list[BarEvent]:
        self._ensure([symbol])
        return self.fake.bars(symbol, timeframe, start_ms, end_ms)

    # -- broker ------------------------------------------------------------------------------
    async def submit(self, order: OrderRequest) -> OrderState:
        self._ensure([order.symbol])
        return self.fake.submit(order)

    async def cancel(self, symbol: str, client_id: str) -> OrderState:
        return self.fake.cancel(client_id)

    async def order(self, symbol: str, client_id: str) -> OrderState | None:
        return self.fake.order(client_id)

    async def open_orders(self, symbols: Sequence[str]) -> list[OrderState]:
        wanted = set(symbols)
        return [o for o in self.fake.open_orders() if not wanted or o.symbol in wanted]

    async def fills(self, symbol: str, since_ms: int) -> list[VenueFill]:
        return self.fake.fills(symbol, since_ms)

    async def positions(self, symbols: Sequence[str]) -> list[Position]:
        wanted = set(symbols)
        return [p for p in self.fake.positions() if not wanted or p.symbol in wanted]

    async def balances(self) -> list[Balance]:
        return self.fake.balances()

    async def user_events(self) -> AsyncIterator[UserEvent]:
        queue = self.fake.subscribe_user()
        try:
            while True:
                yield await queue.get()
        finally:
            self.fake.unsubscribe(queue)


def connect(params: SimParams | None, credentials: object = None) -> SimVenue:
    """The `connect` factory of the `sim` `ExchangeDef` (credentials are not needed)."""
    return SimVenue(params if isinstance(params, SimParams) else SimParams())


__all__ = ["DEFAULT_BALANCE", "DEFAULT_LOT", "DEFAULT_TICK", "SimVenue", "connect"]
