"""The simulated matching engine of backtest and paper mode (DESIGN §3, "Fills").

Pure Python and deterministic: the same submissions and the same bars give the same
fills and events, in the same order, every time. The caller drives it per symbol:

    engine.on_bar(bar)          # bar t closes: resting orders are matched against it
    ... strategy evaluates at t's close ...
    engine.submit(order)        # placed at bar t; fills from bar t+1 on (or at t's
                                # close for a market order under `fill: close`)

Bar indices are per symbol: the first bar a symbol's `on_bar` sees is index 0, and an
order submitted after it is `placed_at` 0. Before any bar the index is -1.

Decisions (beyond the letter of DESIGN §3):

- Price rules. A market order fills at the next bar's open (stamped with its open
  time), or under `fill: close` immediately at the last bar's close (stamped with its
  close time); slippage is against the taker. A buy limit fills at the first later bar
  whose low reaches it, at `min(open, limit)`; a buy stop triggers when the high
  reaches it and fills at `max(open, trigger)` plus slippage. Sells mirror. Limit and
  stop orders only ever fill from the bar after the one they were placed at, in both
  fill modes. Fill prices are not rounded to tick (slippage is a cost model).
- Fees: taker (`market`, `stop`, a marketable triggered `stop_limit`), maker (`limit`,
  a resting triggered `stop_limit`) — as DESIGN says, a limit that fills at a gapped
  open is still a maker fill, without slippage.
- Fill times: a fill at the bar's open price because the open already reached the order
  is stamped with the bar's open time; every other intrabar fill with the bar's close
  time (when the simulation can know it).
- Order of fills inside a bar: fills at the open first, then the others, each in
  submission order. Positions (and so `reduce_only` clipping) update fill by fill.
- `stop_limit`: on the bar whose high (buy) / low (sell) reaches the trigger it is
  `triggered` (an event). If its limit is marketable at the trigger fill price
  `max(open, trigger)` (buy), it fills there at once as a taker, slippage capped at the
  limit; otherwise it rests as a plain limit from the next bar (maker).
- `time_in_force` in bar semantics: there is no book depth, so every fill is whole.
  `ioc` and `fok` orders live for exactly one bar — the bar after placement (a market
  order under `fill: close` fills at placement); unfilled after it they are cancelled
  (`expired`, reason names the tif). `fok` differs from `ioc` only under `reduce_only`:
  where `ioc` is clipped, `fok` is cancelled instead.
- `expire_after: n`: the order may fill on bars `placed_at+1 … placed_at+n` and expires
  after bar `placed_at+n`; `0` expires it at placement (unless it filled at placement).
- `post_only` is only valid on `limit` orders (a market or stop order is a taker by
  construction): otherwise it is rejected. A post-only limit that would cross at
  placement — a buy at or above the last close, a sell at or below it — is rejected
  with the reason. Before the symbol's first bar nothing can cross.
- `reduce_only` is decided at fill time against the engine's position: the quantity
  is clipped to what reduces the position to zero (never flips it); with no position
  to reduce (flat, or same side) the order is cancelled with the reason. `fok` is
  cancelled rather than clipped.
- Brackets: when an order with `stop_loss` / `take_profit` / `trailing_stop` fills, its
  exits are placed as one OCO group of reduce-only, gtc children for the filled
  quantity (ids `<id>:sl`, `<id>:tp`, `<id>:trail`; a `stop`, a `limit` and a trailing
  `stop`). They may fill on the entry's own bar when the entry filled at that bar's
  open (the whole bar lies after the fill), else from the next bar. When one member of
  an OCO group fills the others are cancelled; when several could fill inside one bar,
  a member that the open already reaches wins (the open is certainly first), else the
  `intrabar` rule picks the stop (`stop_first`) or the target (`target_first`); ties go
  to submission order. When a position is flat after a fill, the bracket children of
  that symbol are cancelled ("position closed").
- Trailing stop (`trail` on a `stop` order): the trigger is `best - trail` for a sell
  (best = highest high seen) and `best + trail` for a buy (lowest low), ratcheting
  only in the protective direction. A bar is matched against the trigger as it stood
  before that bar; the bar's extreme then moves it for the next bar (no intrabar
  lookahead). A bracket's trailing stop starts at the entry fill price ∓ distance; a
  standalone trailing stop without `trigger_price` starts from the last close.
- Cancellation, expiry and trigger events are collected and returned by
  `drain_events()`; `on_bar` returns fills only.
- A bracket priced at fill time (`Order.exits`) is rounded to tick in the passive
  direction of each child, as `conform` rounds attached exits; an exit priced at
  None, a non-finite or a non-positive value is left out of the bracket.
- Record: `placed` lists every submitted order (rejected ones too) and every bracket
  child with the time it was placed, and `outcome` the final status of those that
  reached one (`filled`, `rejected`, `cancelled`, `expired`) with its reason; the
  backtest writes them as `orders.csv`.
- Skipping bars: a caller may call `on_bar` only on bars it cares about, passing the
  symbol's true bar `index`, as long as the symbol has no working orders
  (`has_orders`) on the bars it skips — nothing can happen to an empty book.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from runner.sim.orders import (
    Bar,
    EventKind,
    Fill,
    FillModel,
    InstrumentSpec,
    Liquidity,
    Order,
    OrderEvent,
    Timestamp,
    opposite,
    round_price,
)

_DEFAULT_SPEC = InstrumentSpec()


@dataclass(slots=True)
class _Working:
    """A resting order and the engine's mutable state about it."""

    order: Order
    active_from: int
    """First bar index it may fill on."""
    last_bar: int | None
    """Last bar index it may fill on (expiry, ioc/fok); `None`: good till cancelled."""
    expiry_reason: str = ""
    trigger: float | None = None
    """The current trigger of a stop (trailing stops move it)."""
    best: float | None = None
    """Best price seen by a trailing stop."""
    triggered: bool = False
    """A stop_limit whose trigger was reached: it is now a limit."""


@dataclass(frozen=True, slots=True)
class _Hit:
    price: float
    liquidity: Liquidity
    at_open: bool
    stop_like: bool


@dataclass(slots=True)
class SubmitResult:
    """The outcome of `submit`: accepted or rejected with a reason, and any fills that
    happened at placement (a market order under `fill: close`)."""

    order_id: str
    accepted: bool
    reason: str = ""
    fills: list[Fill] = field(default_factory=list)


class MatchingEngine:
    """Resting orders matched against bars; see the module docstring for the rules."""

    def __init__(self, model: FillModel | None = None,
                 instruments: Mapping[str, InstrumentSpec] | None = None) -> None:
        self.model = model if model is not None else FillModel()
        self._specs = dict(instruments or {})
        self._book: dict[str, _Working] = {}
        self._ids: set[str] = set()
        self._positions: dict[str, float] = {}
        self._index: dict[str, int] = {}
        self._last: dict[str, Bar] = {}
        self._events: list[OrderEvent] = []
        self.placed: list[tuple[Timestamp | None, Order]] = []
        self.outcome: dict[str, tuple[str, str]] = {}

    # -- state --------------------------------------------------------------------------

    def bar_index(self, symbol: str) -> int:
        """Index of the last bar of `symbol` seen by `on_bar`, -1 before the first."""
        return self._index.get(symbol, -1)

    def position(self, symbol: str) -> float:
        """Signed net position (base units) built from this engine's fills."""
        return self._positions.get(symbol, 0.0)

    def set_position(self, symbol: str, quantity: float) -> None:
        """Set a position from outside (restoring a paper session's state)."""
        self._positions[symbol] = quantity

    def is_working(self, order_id: str) -> bool:
        """Whether the order is resting in the book."""
        return order_id in self._book

    def working_symbols(self) -> set[str]:
        """The symbols that have working orders."""
        return {w.order.symbol for w in self._book.values()}

    def has_orders(self, symbol: str | None = None) -> bool:
        """Whether any order (of `symbol`) is working."""
        if symbol is None:
            return bool(self._book)
        return any(w.order.symbol == symbol for w in self._book.values())

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Resting orders in submission order; a trailing stop shows its current trigger."""
        return [replace(w.order, trigger_price=w.trigger) if w.order.trail is not None
                else w.order
                for w in self._book.values() if symbol is None or w.order.symbol == symbol]

    def drain_events(self) -> list[OrderEvent]:
        """Accepted/rejected/triggered/cancelled/expired events since the last call."""
        events, self._events = self._events, []
        return events

    def _spec(self, symbol: str) -> InstrumentSpec:
        return self._specs.get(symbol, _DEFAULT_SPEC)

    def _now(self, symbol: str) -> Timestamp | None:
        bar = self._last.get(symbol)
        return None if bar is None else bar.close_time

    def _event(self, order: Order, kind: EventKind, reason: str = "",
               time: Timestamp | None = None) -> None:
        self._events.append(OrderEvent(order.id, kind, time, self.bar_index(order.symbol),
                                       reason))
        if kind not in ("accepted", "triggered"):
            self.outcome[order.id] = (kind, reason)

    # -- orders -------------------------------------------------------------------------

    def _validate(self, o: Order) -> str | None:
        if o.id in self._ids:
            return f"duplicate order id {o.id!r}"
        if not (math.isfinite(o.quantity) and o.quantity > 0):
            return f"quantity must be positive, got {o.quantity}"
        needs_limit = o.type in ("limit", "stop_limit")
        needs_trigger = o.type in ("stop", "stop_limit") and o.trail is None
        if needs_limit != (o.limit_price is not None):
            return (f"a {o.type} order needs a limit price" if needs_limit
                    else f"a {o.type} order takes no limit price")
        if needs_trigger and o.trigger_price is None:
            return f"a {o.type} order needs a trigger price"
        if o.type in ("market", "limit") and o.trigger_price is not None:
            return f"a {o.type} order takes no trigger price"
        for name, p in (("limit price", o.limit_price), ("trigger price", o.trigger_price)):
            if p is not None and not (math.isfinite(p) and p > 0):
                return f"{name} must be positive, got {p}"
        for name, d in (("trail", o.trail), ("trailing_stop", o.trailing_stop)):
            if d is not None and not (math.isfinite(d) and d > 0):
                return f"{name} distance must be positive, got {d}"
        if o.trail is not None and o.type != "stop":
            return "trail is only valid on a stop order"
        last = self._last.get(o.symbol)
        if o.trail is not None and o.trigger_price is None and last is None:
            return "a trailing stop without a trigger needs a last price"
        if o.post_only:
            if o.type != "limit":
                return f"post_only needs a limit order, not {o.type}"
            assert o.limit_price is not None
            if last is not None:
                buy = o.side == "buy"
                if (o.limit_price >= last.close) if buy else (o.limit_price <= last.close):
                    return (f"post_only {o.side} limit {o.limit_price:g} would cross "
                            f"the last close {last.close:g}")
        if o.type == "market" and self.model.fill == "close" and last is None:
            return "fill: close needs a bar to fill at; none seen yet"
        if o.expire_after is not None and o.expire_after < 0:
            return f"expire_after must be >= 0, got {o.expire_after}"
        return None

    def submit(self, order: Order, *, at_close: bool = False) -> SubmitResult:
        """Place `order` at the symbol's current bar index (see module docstring).
        `at_close`: a market order fills now at the last bar's close (slipped, taker),
        whatever the fill rule — a shutdown's flatten, which has no next bar."""
        k = self.bar_index(order.symbol)
        order = order.placed(k)
        now = self._now(order.symbol)
        self.placed.append((now, order))
        reason = self._validate(order)
        if reason is not None:
            self._event(order, "rejected", reason, now)
            return SubmitResult(order.id, False, reason)
        self._ids.add(order.id)
        self._event(order, "accepted", time=now)
        if order.type == "market" and (self.model.fill == "close" or at_close):
            bar = self._last[order.symbol]
            price = self.model.slipped(bar.close, order.side)
            fill = self._execute(self._working(order, k + 1), price, "taker", bar.close_time, k,
                                 children_from=k + 1)
            return SubmitResult(order.id, True, fills=[fill] if fill else [])
        w = self._working(order, k + 1)
        self._book[order.id] = w
        if w.last_bar is not None and w.last_bar < w.active_from:
            self._remove(w, "expired", w.expiry_reason, now)
        return SubmitResult(order.id, True)

    def _working(self, order: Order, active_from: int) -> _Working:
        last_bar: int | None = None
        reason = ""
        if order.expire_after is not None:
            last_bar = order.placed_at + order.expire_after
            reason = f"expire_after {order.expire_after} bars"
        if order.time_in_force != "gtc" and (last_bar is None
                                             or order.placed_at + 1 < last_bar):
            last_bar = order.placed_at + 1
            reason = f"{order.time_in_force}: not filled on the bar after placement"
        w = _Working(order, active_from, last_bar, reason, trigger=order.trigger_price)
        if order.trail is not None:
            last = self._last.get(order.symbol)
            if w.trigger is None:
                assert last is not None
                w.best = last.close
                w.trigger = (last.close - order.trail if order.side == "sell"
                             else last.close + order.trail)
            else:
                w.best = (w.trigger + order.trail if order.side == "sell"
                          else w.trigger - order.trail)
        return w

    def cancel(self, order_id: str, reason: str = "cancelled by the strategy") -> bool:
        """Cancel a resting order; False if it is not resting."""
        w = self._book.get(order_id)
        if w is None:
            return False
        self._remove(w, "cancelled", reason, self._now(w.order.symbol))
        return True

    def cancel_all(self, symbol: str, reason: str = "cancel_orders") -> list[str]:
        """Cancel every resting order of `symbol` (`action: cancel_orders`)."""
        ids = [i for i, w in self._book.items() if w.order.symbol == symbol]
        for i in ids:
            self.cancel(i, reason)
        return ids

    def _remove(self, w: _Working, kind: EventKind, reason: str, time: Timestamp | None) -> None:
        del self._book[w.order.id]
        self._event(w.order, kind, reason, time)

    # -- matching -----------------------------------------------------------------------

    def on_bar(self, bar: Bar, index: int | None = None) -> list[Fill]:
        """Match the resting orders of `bar.symbol` against `bar`; return the fills in
        the order they happened. Expiries and triggers go to `drain_events()`.
        `index` is the bar's index for its symbol when the caller skipped empty-book
        bars (default: one past the last bar seen)."""
        sym = bar.symbol
        k = self.bar_index(sym) + 1 if index is None else index
        self._index[sym] = k
        self._last[sym] = bar
        if not self._book:
            return []
        fills: list[Fill] = []
        done: set[str] = set()
        while True:
            # Each round matches the orders active on this bar that no earlier round
            # saw: bracket children of an entry filled at the open join a second round.
            work = [w for w in self._book.values()
                    if w.order.symbol == sym and w.active_from <= k and w.order.id not in done]
            if not work:
                break
            done.update(w.order.id for w in work)
            fills.extend(self._round(bar, k, work))
        for w in list(self._book.values()):
            if w.order.symbol != sym or w.active_from > k:
                continue
            if w.order.trail is not None:
                self._trail(w, bar)
            if w.last_bar is not None and k >= w.last_bar:
                self._remove(w, "expired", w.expiry_reason, bar.close_time)
        return fills

    def _round(self, bar: Bar, k: int, work: list[_Working]) -> list[Fill]:
        hits: list[tuple[_Working, _Hit]] = []
        for w in work:
            hit = self._hit(w, bar)
            if hit is not None:
                hits.append((w, hit))
        # One winner per OCO group: the open's hits first, then the intrabar rule.
        stop_first = self.model.intrabar == "stop_first"
        winners: dict[str, tuple[int, int, int]] = {}
        keyed: list[tuple[tuple[int, int, int], _Working, _Hit]] = []
        for seq, (w, h) in enumerate(hits):
            rule = 0 if h.stop_like == stop_first else 1
            key = (0 if h.at_open else 1, rule, seq)
            keyed.append((key, w, h))
            g = w.order.oco_group
            if g is not None and (g not in winners or key < winners[g]):
                winners[g] = key
        keyed = [t for t in keyed if t[1].order.oco_group is None
                 or winners[t[1].order.oco_group] == t[0]]
        keyed.sort(key=lambda t: (t[0][0], t[0][2]))
        fills: list[Fill] = []
        for _, w, h in keyed:
            if w.order.id not in self._book:
                continue  # cancelled by an earlier fill this bar
            time = bar.open_time if h.at_open else bar.close_time
            fill = self._execute(w, h.price, h.liquidity, time, k,
                                 children_from=k if h.at_open else k + 1)
            if fill is not None:
                fills.append(fill)
        return fills

    def _hit(self, w: _Working, bar: Bar) -> _Hit | None:
        """Whether and where `w` fills in `bar` (a stop_limit may only trigger)."""
        o = w.order
        buy = o.side == "buy"
        if o.type == "market":
            return _Hit(self.model.slipped(bar.open, o.side), "taker", True, False)
        if o.type == "limit" or w.triggered:
            lim = o.limit_price
            assert lim is not None
            if buy and bar.low <= lim:
                return _Hit(min(bar.open, lim), "maker", bar.open <= lim, False)
            if not buy and bar.high >= lim:
                return _Hit(max(bar.open, lim), "maker", bar.open >= lim, False)
            return None
        trig = w.trigger
        assert trig is not None
        if buy and bar.high >= trig:
            base, at_open = max(bar.open, trig), bar.open >= trig
        elif not buy and bar.low <= trig:
            base, at_open = min(bar.open, trig), bar.open <= trig
        else:
            return None
        price = self.model.slipped(base, o.side)
        if o.type == "stop":
            return _Hit(price, "taker", at_open, True)
        # stop_limit: triggered now
        lim = o.limit_price
        assert lim is not None
        w.triggered = True
        self._event(o, "triggered", f"trigger {trig:g} reached", bar.close_time)
        if (lim >= base) if buy else (lim <= base):
            capped = min(price, lim) if buy else max(price, lim)
            return _Hit(capped, "taker", at_open, True)
        return None

    def _trail(self, w: _Working, bar: Bar) -> None:
        o = w.order
        assert o.trail is not None and w.best is not None and w.trigger is not None
        if o.side == "sell":
            w.best = max(w.best, bar.high)
            w.trigger = max(w.trigger, w.best - o.trail)
        else:
            w.best = min(w.best, bar.low)
            w.trigger = min(w.trigger, w.best + o.trail)

    def _execute(self, w: _Working, price: float, liquidity: Liquidity, time: Timestamp,
                 k: int, children_from: int) -> Fill | None:
        """Fill `w` (or clip/cancel it under reduce_only); update position, OCO, brackets."""
        o = w.order
        qty = o.quantity
        pos = self.position(o.symbol)
        if o.reduce_only:
            reducible = max(0.0, -pos) if o.side == "buy" else max(0.0, pos)
            reason = ""
            if reducible <= 0:
                reason = "reduce_only: no position to reduce"
            elif qty > reducible and o.time_in_force == "fok":
                reason = "fok: reduce_only would clip the quantity"
            if reason:
                if o.id in self._book:
                    self._remove(w, "cancelled", reason, time)
                else:
                    self._event(o, "cancelled", reason, time)
                return None
            qty = min(qty, reducible)
        spec = self._spec(o.symbol)
        rate = self.model.maker_fee if liquidity == "maker" else self.model.taker_fee
        fee = price * qty * spec.multiplier * rate
        fill = Fill(o.id, o.symbol, o.side, time, price, qty, fee, liquidity, k)
        new_pos = pos + qty if o.side == "buy" else pos - qty
        if abs(new_pos) < 1e-12 * max(1.0, abs(pos)):
            new_pos = 0.0
        self._positions[o.symbol] = new_pos
        self._book.pop(o.id, None)
        self.outcome[o.id] = ("filled", "")
        if o.oco_group is not None:
            for s in [s for s in self._book.values()
                      if s.order.oco_group == o.oco_group]:
                self._remove(s, "cancelled", f"oco: {o.id} filled", time)
        if new_pos == 0.0:
            for s in [s for s in self._book.values()
                      if s.order.symbol == o.symbol and s.order.parent_id is not None]:
                self._remove(s, "cancelled", "position closed", time)
        self._attach(o, price, qty, k, children_from, time)
        return fill

    def _bracket(self, o: Order, price: float) -> tuple[float | None, float | None,
                                                         float | None]:
        if o.exits is None:
            return o.stop_loss, o.take_profit, o.trailing_stop
        tick = self._spec(o.symbol).tick_size
        buy = o.side == "buy"

        def usable(p: float | None) -> float | None:
            return p if p is not None and math.isfinite(p) and p > 0 else None

        sl, tp, trail = (usable(p) for p in o.exits(price))
        if sl is not None:
            sl = usable(round_price(sl, tick, "down" if buy else "up"))
        if tp is not None:
            tp = usable(round_price(tp, tick, "up" if buy else "down"))
        return sl, tp, trail

    def _attach(self, o: Order, price: float, qty: float, k: int, active_from: int,
                time: Timestamp) -> None:
        if (o.stop_loss is None and o.take_profit is None and o.trailing_stop is None
                and o.exits is None):
            return
        stop_loss, take_profit, trailing_stop = self._bracket(o, price)
        if stop_loss is None and take_profit is None and trailing_stop is None:
            return
        side = opposite(o.side)
        base = Order(id="", symbol=o.symbol, side=side, quantity=qty, reduce_only=True,
                     parent_id=o.id, oco_group=f"{o.id}:exits", placed_at=k)
        children: list[Order] = []
        if stop_loss is not None:
            children.append(replace(base, id=f"{o.id}:sl", type="stop",
                                    trigger_price=stop_loss))
        if take_profit is not None:
            children.append(replace(base, id=f"{o.id}:tp", type="limit",
                                    limit_price=take_profit))
        if trailing_stop is not None:
            d = trailing_stop
            start = price - d if side == "sell" else price + d
            children.append(replace(base, id=f"{o.id}:trail", type="stop",
                                    trigger_price=start, trail=d))
        for c in children:
            self._ids.add(c.id)
            self.placed.append((time, c))
            self._book[c.id] = self._working(c, active_from)
            self._event(c, "accepted", time=self._now(o.symbol))

    def run(self, bars: Iterable[Bar]) -> list[Fill]:
        """Feed `bars` through `on_bar` (no new submissions); all fills in order."""
        out: list[Fill] = []
        for bar in bars:
            out.extend(self.on_bar(bar))
        return out
