"""`FakeVenue`: an exchange's state in memory, venue-neutral, for tests and the `sim`
venue.

A venue's protocol fake (`runner.testing.fake_server.FakeExchange`) translates its
wire format to and from this object; the `sim` venue calls it in process. It speaks
the contract's types (`OrderRequest`, `OrderState`, `VenueFill`, ...) and keeps:

- a **tape** per symbol: every `trade(symbol, price, amount)` print, which moves the
  last price, matches resting orders and goes to market-data subscribers;
- **orders** by client id, **fills**, **positions** and **balances**;
- **subscriptions**: `subscribe_trades()` and `subscribe_user()` return unbounded
  `asyncio.Queue`s; user events pass through `user_faults` (seeded duplicates and
  reordering) on their way to subscribers, while `user_log` keeps the truth.

Matching rules (simple and deterministic, documented because tests depend on them):

- Submit validates, in order: a known symbol; a positive quantity on the lot (market
  orders on `market_lot_size` when set) within min/max quantity; prices present for
  the type and on the tick; the notional (`price or last price` * quantity *
  multiplier) at least `min_notional`; `post_only` only on a limit that would not
  cross the last price; `reduce_only` only against an opposite position; in spot
  mode (`shorting=False`) free balance for the order. A failure raises
  `OrderRejected(reason, code=...)` with a kebab-case code, and the order is not kept.
  `reject_next(reason, code)` makes the next submit fail that way instead.
- A client id already used raises `DuplicateOrder` (an `OrderRejected`, code
  `duplicate-client-id`): a venue never holds two orders with one id, and the
  original order is untouched. `submitted` lists accepted requests in order,
  `attempts` every submit call (so a test can assert "sent once").
- A market order fills at once at the last price (`set_price` or the last print);
  with no price yet it is rejected (`no-price`). A limit that crosses the last price
  fills at once at the last price (taker); otherwise it rests. Stops rest until a
  print reaches the stop price (buy: at or above; sell: at or below) — a stop then
  fills as a market order, a stop-limit becomes a limit.
- A print fills resting orders in submission order, at the limit price for a resting
  limit (maker) and at the print's price for a triggered stop or a market remainder
  (taker). Fills of one print share its amount, so a small print fills partly.
- `partial_fill_next(fraction)`: the next fill of any order is only `fraction` of
  what it would have been (floored to the lot, at least one lot).
- `ioc`: what does not fill at once expires; `fok`: fills whole at once or expires.
- `reduce_only` is clipped at fill time to the position; with nothing left to reduce
  the order expires.
- Fees: `taker_fee` / `maker_fee` rates on notional, charged in the quote asset.
- Accounting: the quote asset pays for buys and receives sells; the base asset goes
  up and down by the quantity (below zero only when `shorting`). `positions()` is the
  net of fills per symbol. In spot mode open orders lock what they may spend.

User events: accepting an order emits its `new` state; a fill emits the `VenueFill`
then the order's new state; a cancel or an expiry emits the final state.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from runner.market import BarEvent, Trade, TradeEvent
from runner.venue.contract import (
    Balance,
    InstrumentMeta,
    OrderRejected,
    OrderRequest,
    OrderState,
    OrderStatus,
    Position,
    UserEvent,
    VenueFill,
)

EPS = 1e-9


class DuplicateOrder(OrderRejected):
    """A submit reused the client id of an order the venue already has."""


class UnknownOrder(OrderRejected):
    """A cancel named a client id the venue never had."""


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class ManualClock:
    """A clock a test moves by hand: `clock()` reads it, `advance(ms)` / `set(ms)` move
    it. Pass it as `clock_ms=` wherever a `Callable[[], int]` clock is taken."""

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self.now = start_ms

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> int:
        self.now += ms
        return self.now

    def set(self, ms: int) -> None:
        self.now = ms


@dataclass
class UserFaults:
    """Faults of the user-event stream, seeded so a failing test repeats:
    each event is sent twice with probability `duplicate_rate`, and the events of one
    change (a fill and its order update) are swapped pairwise with probability
    `reorder_rate`. `reorder=True` is `reorder_rate=1`."""

    duplicate_rate: float = 0.0
    reorder_rate: float = 0.0
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def set(self, *, duplicate_rate: float | None = None, reorder: bool | None = None,
            reorder_rate: float | None = None, seed: int | None = None) -> None:
        if duplicate_rate is not None:
            self.duplicate_rate = duplicate_rate
        if reorder is not None:
            self.reorder_rate = 1.0 if reorder else 0.0
        if reorder_rate is not None:
            self.reorder_rate = reorder_rate
        if seed is not None:
            self.seed = seed
            self._rng = random.Random(seed)

    def apply(self, events: Sequence[UserEvent]) -> list[UserEvent]:
        out = list(events)
        if self.reorder_rate > 0:
            for k in range(0, len(out) - 1, 2):
                if self._rng.random() < self.reorder_rate:
                    out[k], out[k + 1] = out[k + 1], out[k]
        if self.duplicate_rate > 0:
            doubled: list[UserEvent] = []
            for event in out:
                doubled.append(event)
                if self._rng.random() < self.duplicate_rate:
                    doubled.append(event)
            out = doubled
        return out


@dataclass
class _Order:
    req: OrderRequest
    venue_order_id: str
    time_ms: int
    status: OrderStatus = "new"
    filled: float = 0.0
    triggered: bool = False
    """A stop whose trigger was reached (it now works as a market or limit order)."""
    reason: str = ""

    @property
    def remaining(self) -> float:
        return max(0.0, self.req.quantity - self.filled)

    @property
    def final(self) -> bool:
        return self.status in ("filled", "canceled", "rejected", "expired")

    def state(self) -> OrderState:
        r = self.req
        return OrderState(r.client_id, self.venue_order_id, r.symbol, r.side, r.type,
                          self.status, r.quantity, _clean(self.filled), r.price,
                          r.stop_price, self.time_ms, self.reason)


@dataclass
class _Position:
    quantity: float = 0.0
    entry_price: float = 0.0


def _clean(x: float) -> float:
    return round(x, 12)


def on_step(value: float, step: float) -> bool:
    """Whether `value` is a whole number of `step`s (up to float noise)."""
    if step <= 0:
        return True
    n = value / step
    return abs(n - round(n)) <= EPS * max(1.0, abs(n))


def floor_to(value: float, step: float) -> float:
    if step <= 0:
        return value
    return _clean(math.floor(value / step + EPS) * step)


def split_symbol(meta: InstrumentMeta) -> tuple[str, str]:
    """(base, quote) assets of an instrument: its own fields, else `BASE/QUOTE`."""
    if meta.base_asset and meta.quote_asset:
        return meta.base_asset, meta.quote_asset
    if "/" in meta.symbol:
        base, quote = meta.symbol.split("/", 1)
        return meta.base_asset or base, meta.quote_asset or quote.split(":")[0]
    return meta.base_asset or meta.symbol, meta.quote_asset or "QUOTE"


def walk_trades(symbol: str, *, seed: int = 0, start_price: float = 100.0,
                volatility: float = 0.03, trades_per_second: float = 5.0,
                start_ms: int = 0) -> Iterator[Trade]:
    """Endless trades of a seeded geometric random walk in simulated time from
    `start_ms`: the same law as `runner.runtime.feeds.random_walk` (exponential gaps
    at `trades_per_second`, `volatility` per square root of a day, lognormal sizes),
    with times counted instead of slept."""
    rng = random.Random(f"{seed}:{symbol}")
    per_trade = volatility / math.sqrt(86_400 * trades_per_second)
    price = start_price
    t = float(start_ms)
    while True:
        t += rng.expovariate(trades_per_second) * 1000
        price *= math.exp(rng.gauss(-per_trade * per_trade / 2, per_trade))
        yield Trade(int(t), round(price, 8), round(rng.lognormvariate(0.0, 1.0), 6))


def make_instruments(symbols: Sequence[str], *, tick_size: float = 0.01,
                     lot_size: float = 1e-6, min_notional: float = 0.0,
                     multiplier: float = 1.0) -> dict[str, InstrumentMeta]:
    """Instrument metadata for `symbols` (`BASE/QUOTE` names), one grid for all: the
    defaults are the `sim` venue's (tick 0.01, lot 1e-6, no minimum notional)."""
    out = {}
    for symbol in symbols:
        meta = InstrumentMeta(symbol, symbol.replace("/", ""), tick_size, lot_size,
                              min_notional=min_notional, multiplier=multiplier)
        base, quote = split_symbol(meta)
        out[symbol] = InstrumentMeta(symbol, meta.venue_symbol, tick_size, lot_size,
                                     min_notional=min_notional, multiplier=multiplier,
                                     base_asset=base, quote_asset=quote)
    return out


class FakeVenue:
    """An exchange's books, accounts and streams in memory (module docstring)."""

    def __init__(self, instruments: Mapping[str, InstrumentMeta], *,
                 balances: Mapping[str, float], clock_ms: Callable[[], int] | None = None,
                 shorting: bool = True, taker_fee: float = 0.0,
                 maker_fee: float = 0.0) -> None:
        self.instruments: dict[str, InstrumentMeta] = dict(instruments)
        self.clock_ms: Callable[[], int] = clock_ms or wall_ms
        self.shorting = shorting
        self.taker_fee = taker_fee
        self.maker_fee = maker_fee
        self.user_faults = UserFaults()
        self.submitted: list[OrderRequest] = []
        """Every accepted submit, in order."""
        self.attempts: list[OrderRequest] = []
        """Every submit call, accepted or not, in order."""
        self.user_log: list[UserEvent] = []
        """Every user event as it happened, before `user_faults`."""
        self._assets = {s: split_symbol(m) for s, m in self.instruments.items()}
        self._total: dict[str, float] = dict(balances)
        for base, quote in self._assets.values():
            self._total.setdefault(base, 0.0)
            self._total.setdefault(quote, 0.0)
        self._orders: dict[str, _Order] = {}
        self._fills: list[VenueFill] = []
        self._positions: dict[str, _Position] = {}
        self._tape: dict[str, list[Trade]] = {s: [] for s in self.instruments}
        self._last: dict[str, float] = {}
        self._order_seq = 0
        self._trade_seq = 0
        self._reject_next: list[tuple[str, int | str | None]] = []
        self._partial_next: list[float] = []
        self._trade_subs: list[tuple[asyncio.Queue[TradeEvent], frozenset[str] | None]] = []
        self._user_subs: list[asyncio.Queue[UserEvent]] = []
        self._trade_hooks: list[Callable[[TradeEvent], None]] = []

    # -- controls ------------------------------------------------------------------
    def add_instrument(self, meta: InstrumentMeta, *, balance: float = 0.0) -> None:
        """Trade one more instrument; its quote asset is given `balance` when the
        venue holds none of it yet."""
        self.instruments[meta.symbol] = meta
        base, quote = self._assets[meta.symbol] = split_symbol(meta)
        self._total.setdefault(base, 0.0)
        if balance and not self._total.get(quote):
            self._total[quote] = balance
        self._tape.setdefault(meta.symbol, [])

    def now_ms(self) -> int:
        return self.clock_ms()

    def reject_next(self, reason: str, code: int | str | None = None) -> None:
        """The next submit is rejected with `reason` (and `code`), whatever it is."""
        self._reject_next.append((reason, code))

    def partial_fill_next(self, fraction: float) -> None:
        """The next fill of any order is only `fraction` of what it would have been."""
        if not 0 < fraction < 1:
            raise ValueError(f"fraction must be between 0 and 1 (exclusive), got {fraction}")
        self._partial_next.append(fraction)

    def set_price(self, symbol: str, price: float) -> None:
        """Set the last price (what market orders fill at) without a print."""
        self._meta(symbol)
        self._last[symbol] = price

    def last_price(self, symbol: str) -> float | None:
        return self._last.get(symbol)

    # -- market data ----------------------------------------------------------------
    def trade(self, symbol: str, price: float, amount: float,
              time_ms: int | None = None) -> Trade:
        """A market trade print (module docstring): tape, matching, subscribers."""
        self._meta(symbol)
        if price <= 0 or amount <= 0:
            raise ValueError(f"a trade needs a positive price and amount, got {price} x "
                             f"{amount}")
        print_ = Trade(self.clock_ms() if time_ms is None else time_ms, price, amount)
        self._tape[symbol].append(print_)
        self._last[symbol] = price
        self._match(symbol, print_)
        event = TradeEvent(symbol, print_)
        for queue, symbols in self._trade_subs:
            if symbols is None or symbol in symbols:
                queue.put_nowait(event)
        for hook in self._trade_hooks:
            hook(event)
        return print_

    def tape(self, symbol: str, start_ms: int | None = None,
             end_ms: int | None = None) -> list[Trade]:
        """The prints of `symbol` with time in [start_ms, end_ms), in print order."""
        return [t for t in self._tape[symbol]
                if (start_ms is None or t.time_ms >= start_ms)
                and (end_ms is None or t.time_ms < end_ms)]

    def bars(self, symbol: str, timeframe: str, start_ms: int, end_ms: int, *,
             closed_only: bool = True) -> list[BarEvent]:
        """Bars of the tape opening in [start_ms, end_ms), oldest first; with
        `closed_only`, only bars whose window ended by the clock's now (or before the
        last print of the symbol, whichever is later)."""
        from runner.bars.ticks import BarBuilder

        builder = BarBuilder([timeframe], grace_ms=0)
        builder.add_all(self._tape[symbol])
        tape = self._tape[symbol]
        horizon = max(self.clock_ms(), max((t.time_ms for t in tape), default=0) + 1)
        out: list[BarEvent] = []
        for b in builder.flush():
            if not start_ms <= b.open_ms < end_ms:
                continue
            if closed_only and b.close_ms > horizon:
                continue
            out.append(BarEvent(symbol, b.open_ms, (b.open, b.high, b.low, b.close,
                                                    b.volume)))
        return out

    def walk(self, symbol: str, *, start_ms: int, end_ms: int, seed: int = 0,
             start_price: float | None = None, volatility: float = 0.03,
             trades_per_second: float = 5.0) -> list[Trade]:
        """Print a seeded random walk (`walk_trades`) over simulated time [start_ms,
        end_ms), starting from `start_price` (default: the last price, else 100)."""
        first = start_price or self._last.get(symbol) or 100.0
        printed = []
        for t in walk_trades(symbol, seed=seed, start_price=first, volatility=volatility,
                             trades_per_second=trades_per_second, start_ms=start_ms):
            if t.time_ms >= end_ms:
                break
            printed.append(self.trade(symbol, t.price, t.amount, t.time_ms))
        return printed

    async def run_tape(self, symbol: str, *, seed: int = 0, start_price: float | None = None,
                       volatility: float = 0.03, trades_per_second: float = 5.0,
                       count: int | None = None) -> int:
        """Print a seeded random walk at wall-clock pace (`runner.runtime.feeds.
        random_walk`), stamped with this venue's clock, until cancelled or `count`
        prints; returns the number printed."""
        from runner.runtime.feeds import random_walk

        printed = 0
        stream = random_walk(symbol, seed=seed,
                             start_price=start_price or self._last.get(symbol) or 100.0,
                             volatility=volatility, trades_per_second=trades_per_second,
                             clock_ms=self.clock_ms)
        try:
            async for event in stream:
                assert isinstance(event, TradeEvent)
                self.trade(symbol, event.trade.price, event.trade.amount,
                           event.trade.time_ms)
                printed += 1
                if count is not None and printed >= count:
                    break
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
        return printed

    # -- subscriptions ----------------------------------------------------------------
    def subscribe_trades(self, symbols: Sequence[str] | None = None,
                         ) -> asyncio.Queue[TradeEvent]:
        """A queue of every later print (of `symbols`, or all)."""
        queue: asyncio.Queue[TradeEvent] = asyncio.Queue()
        self._trade_subs.append((queue, None if symbols is None else frozenset(symbols)))
        return queue

    def subscribe_user(self) -> asyncio.Queue[UserEvent]:
        """A queue of every later user event, through `user_faults`."""
        queue: asyncio.Queue[UserEvent] = asyncio.Queue()
        self._user_subs.append(queue)
        return queue

    def on_trade(self, hook: Callable[[TradeEvent], None]) -> None:
        """Call `hook` for every later print (a protocol fake pushing to its sockets)."""
        self._trade_hooks.append(hook)

    def unsubscribe(self, queue: asyncio.Queue[TradeEvent] | asyncio.Queue[UserEvent],
                    ) -> None:
        self._trade_subs = [(q, s) for q, s in self._trade_subs if q is not queue]
        self._user_subs = [q for q in self._user_subs if q is not queue]

    # -- broker -------------------------------------------------------------------------
    def submit(self, req: OrderRequest) -> OrderState:
        """Accept and maybe fill `req` at once, or raise `OrderRejected` (module
        docstring); returns the order's state after any immediate fill."""
        self.attempts.append(req)
        if req.client_id in self._orders:
            raise DuplicateOrder(f"duplicate client order id {req.client_id!r}",
                                 code="duplicate-client-id")
        if self._reject_next:
            reason, code = self._reject_next.pop(0)
            raise OrderRejected(reason, code=code if code is not None else "rejected")
        self._validate(req)
        self._order_seq += 1
        order = _Order(req, str(self._order_seq), self.clock_ms())
        self._orders[req.client_id] = order
        self.submitted.append(req)
        self._emit([order.state()])
        self._on_placed(order)
        return order.state()

    def cancel(self, client_id: str) -> OrderState:
        """Cancel a working order; a final one is returned as it is."""
        order = self._orders.get(client_id)
        if order is None:
            raise UnknownOrder(f"unknown order {client_id!r}", code="unknown-order")
        if not order.final:
            order.status = "canceled"
            order.time_ms = self.clock_ms()
            self._emit([order.state()])
        return order.state()

    def order(self, client_id: str) -> OrderState | None:
        order = self._orders.get(client_id)
        return None if order is None else order.state()

    def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        return [o.state() for o in self._orders.values()
                if not o.final and (symbol is None or o.req.symbol == symbol)]

    def orders(self) -> list[OrderState]:
        """Every order the venue holds, open or final, in submission order."""
        return [o.state() for o in self._orders.values()]

    def fills(self, symbol: str | None = None, since_ms: int = 0) -> list[VenueFill]:
        return [f for f in self._fills
                if (symbol is None or f.symbol == symbol) and f.time_ms >= since_ms]

    def positions(self) -> list[Position]:
        return [Position(s, _clean(p.quantity), p.entry_price)
                for s, p in sorted(self._positions.items()) if abs(p.quantity) > EPS]

    def position(self, symbol: str) -> float:
        pos = self._positions.get(symbol)
        return 0.0 if pos is None else _clean(pos.quantity)

    def balances(self) -> list[Balance]:
        locked = self._locked()
        return [Balance(a, _clean(t - locked.get(a, 0.0)), _clean(locked.get(a, 0.0)))
                for a, t in sorted(self._total.items())]

    # -- internals ----------------------------------------------------------------------
    def _meta(self, symbol: str) -> InstrumentMeta:
        try:
            return self.instruments[symbol]
        except KeyError:
            raise OrderRejected(f"unknown symbol {symbol!r}", code="unknown-symbol") from None

    def _validate(self, req: OrderRequest) -> None:
        meta = self._meta(req.symbol)
        lot = (meta.market_lot_size or meta.lot_size) if req.type == "market" \
            else meta.lot_size
        if not req.quantity > 0 or not math.isfinite(req.quantity):
            raise OrderRejected(f"quantity must be positive, got {req.quantity}",
                                code="lot-size")
        if not on_step(req.quantity, lot):
            raise OrderRejected(f"quantity {req.quantity} is not a multiple of the lot "
                                f"{lot}", code="lot-size")
        if req.quantity < meta.min_quantity - EPS or (
                meta.max_quantity is not None and req.quantity > meta.max_quantity + EPS):
            raise OrderRejected(f"quantity {req.quantity} outside [{meta.min_quantity}, "
                                f"{meta.max_quantity}]", code="lot-size")
        needs_price = req.type in ("limit", "stop_limit")
        needs_stop = req.type in ("stop", "stop_limit")
        if needs_price != (req.price is not None) or needs_stop != (req.stop_price is not None):
            raise OrderRejected(f"a {req.type} order takes "
                                f"{'a price' if needs_price else 'no price'} and "
                                f"{'a stop price' if needs_stop else 'no stop price'}",
                                code="invalid-order")
        for name, p in (("price", req.price), ("stop price", req.stop_price)):
            if p is not None and (not p > 0 or not on_step(p, meta.tick_size)):
                raise OrderRejected(f"{name} {p} is not a positive multiple of the tick "
                                    f"{meta.tick_size}", code="tick-size")
        last = self._last.get(req.symbol)
        ref = req.price or req.stop_price or last
        if req.type == "market" and last is None:
            raise OrderRejected(f"no price for {req.symbol} yet", code="no-price")
        if ref is not None and ref * req.quantity * meta.multiplier < meta.min_notional - EPS:
            raise OrderRejected(f"notional {ref * req.quantity * meta.multiplier:g} below "
                                f"the minimum {meta.min_notional:g}", code="min-notional")
        if req.post_only:
            if req.type != "limit":
                raise OrderRejected("post-only is only for limit orders", code="post-only")
            if last is not None and self._crosses(req.side, req.price, last):
                raise OrderRejected(f"post-only {req.side} at {req.price} would cross the "
                                    f"last price {last}", code="post-only")
        if req.reduce_only:
            pos = self.position(req.symbol)
            if (pos >= 0 if req.side == "buy" else pos <= 0) or abs(pos) < EPS:
                raise OrderRejected(f"reduce-only {req.side} with position {pos}",
                                    code="reduce-only")
        if not self.shorting and not req.reduce_only:
            base, quote = self._assets[req.symbol]
            free = {b.asset: b.free for b in self.balances()}
            if req.side == "sell" and free.get(base, 0.0) < req.quantity - EPS:
                raise OrderRejected(f"insufficient {base}: {free.get(base, 0.0):g} free, "
                                    f"{req.quantity:g} needed", code="insufficient-balance")
            if req.side == "buy" and ref is not None:
                cost = ref * req.quantity * meta.multiplier * (1 + self.taker_fee)
                if free.get(quote, 0.0) < cost - EPS:
                    raise OrderRejected(f"insufficient {quote}: {free.get(quote, 0.0):g} "
                                        f"free, {cost:g} needed",
                                        code="insufficient-balance")

    @staticmethod
    def _crosses(side: str, limit: float | None, price: float) -> bool:
        assert limit is not None
        return price <= limit + EPS if side == "buy" else price >= limit - EPS

    @staticmethod
    def _stop_reached(side: str, stop: float | None, price: float) -> bool:
        assert stop is not None
        return price >= stop - EPS if side == "buy" else price <= stop + EPS

    def _on_placed(self, order: _Order) -> None:
        req = order.req
        last = self._last.get(req.symbol)
        marketable = req.type == "market" or (
            req.type == "limit" and last is not None and self._crosses(req.side, req.price,
                                                                      last))
        if req.time_in_force == "fok" and marketable and self._partial_next:
            self._partial_next.pop(0)  # the venue could only fill part: all or nothing
            marketable = False
        if marketable and last is not None:
            self._fill(order, order.remaining, last, maker=False)
        if not order.final and req.time_in_force in ("ioc", "fok"):
            self._expire(order, f"{req.time_in_force}: not filled at once")

    def _match(self, symbol: str, print_: Trade) -> None:
        left = print_.amount
        for order in [o for o in self._orders.values()
                      if o.req.symbol == symbol and not o.final]:
            if left <= EPS:
                break
            req = order.req
            if req.type in ("stop", "stop_limit") and not order.triggered:
                if not self._stop_reached(req.side, req.stop_price, print_.price):
                    continue
                order.triggered = True
                taker = True
            else:
                taker = req.type in ("market", "stop")
            if req.type in ("market", "stop"):
                price = print_.price
            elif self._crosses(req.side, req.price, print_.price):
                assert req.price is not None
                price = print_.price if taker else req.price
            else:
                continue
            left -= self._fill(order, min(order.remaining, left), price, maker=not taker)

    def _fill(self, order: _Order, quantity: float, price: float, *, maker: bool) -> float:
        """Fill up to `quantity` of `order` at `price`; returns what filled."""
        req = order.req
        meta = self.instruments[req.symbol]
        lot = meta.lot_size
        if req.reduce_only:
            quantity = min(quantity, abs(self.position(req.symbol)))
            if quantity <= EPS:
                self._expire(order, "reduce-only: no position left to reduce")
                return 0.0
        if self._partial_next:
            quantity = max(lot, floor_to(quantity * self._partial_next.pop(0), lot))
            quantity = min(quantity, order.remaining)
        quantity = floor_to(quantity, lot) if quantity < order.remaining - EPS \
            else order.remaining
        if quantity <= EPS:
            return 0.0
        now = self.clock_ms()
        self._trade_seq += 1
        base, quote = self._assets[req.symbol]
        notional = quantity * price * meta.multiplier
        fee = notional * (self.maker_fee if maker else self.taker_fee)
        fill = VenueFill(str(self._trade_seq), req.client_id, order.venue_order_id,
                         req.symbol, req.side, _clean(quantity), price, _clean(fee), quote,
                         now, maker)
        sign = 1.0 if req.side == "buy" else -1.0
        self._total[base] = _clean(self._total.get(base, 0.0) + sign * quantity)
        self._total[quote] = _clean(self._total.get(quote, 0.0) - sign * notional - fee)
        self._book_position(req.symbol, sign * quantity, price)
        order.filled = _clean(order.filled + quantity)
        order.status = "filled" if order.remaining <= EPS else "partially_filled"
        order.time_ms = now
        self._fills.append(fill)
        self._emit([fill, order.state()])
        self._expire_reduce_only(req.symbol)
        return quantity

    def _expire_reduce_only(self, symbol: str) -> None:
        """Working reduce-only orders with nothing left to reduce expire."""
        pos = self.position(symbol)
        for order in self._orders.values():
            if order.final or not order.req.reduce_only or order.req.symbol != symbol:
                continue
            if pos >= -EPS if order.req.side == "buy" else pos <= EPS:
                self._expire(order, "reduce-only: no position left to reduce")

    def _book_position(self, symbol: str, delta: float, price: float) -> None:
        pos = self._positions.setdefault(symbol, _Position())
        new = pos.quantity + delta
        if abs(new) <= EPS:
            pos.quantity, pos.entry_price = 0.0, 0.0
        elif pos.quantity == 0 or (pos.quantity > 0) != (new > 0):
            pos.quantity, pos.entry_price = new, price  # opened, or flipped through zero
        elif abs(new) > abs(pos.quantity):  # added to: average the entry
            pos.entry_price = (pos.entry_price * abs(pos.quantity) + price * abs(delta)) \
                / abs(new)
            pos.quantity = new
        else:
            pos.quantity = new

    def _expire(self, order: _Order, reason: str) -> None:
        order.status = "expired"
        order.reason = reason
        order.time_ms = self.clock_ms()
        self._emit([order.state()])

    def _locked(self) -> dict[str, float]:
        locked: dict[str, float] = {}
        if self.shorting:
            return locked
        for o in self._orders.values():
            if o.final or o.req.reduce_only:
                continue
            base, quote = self._assets[o.req.symbol]
            if o.req.side == "sell":
                locked[base] = locked.get(base, 0.0) + o.remaining
            else:
                ref = o.req.price or o.req.stop_price or self._last.get(o.req.symbol, 0.0)
                mult = self.instruments[o.req.symbol].multiplier
                locked[quote] = locked.get(quote, 0.0) + o.remaining * ref * mult
        return locked

    def _emit(self, events: Sequence[UserEvent]) -> None:
        self.user_log.extend(events)
        for queue in self._user_subs:
            for event in self.user_faults.apply(events):
                queue.put_nowait(event)


__all__ = ["DuplicateOrder", "FakeVenue", "ManualClock", "UnknownOrder", "UserFaults",
           "floor_to", "make_instruments", "on_step", "split_symbol", "walk_trades", "wall_ms"]
