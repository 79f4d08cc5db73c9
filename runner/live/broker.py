"""The matching engine's seat in the stepper, taken by a real venue.

`make_stepper` drives a broker through a handful of calls (`submit`, `cancel_all`,
`on_bar`, `is_working`, `open_orders`, ...). The backtest and paper mode pass the
simulated `MatchingEngine`; live mode passes a `VenueBroker`, which keeps the same
synchronous calls and moves the venue's asynchronous world behind two queues:

- what the strategy decides (`submit`, `cancel_all`) becomes `Command`s in `outbox`,
  which the router (`runner.live.router`) sends, with the venue's retries and its
  deterministic client order ids;
- what the venue says (`OrderState`, `VenueFill`, from the user stream, a submit's
  answer or reconciliation) goes into `on_venue`; fills wait there until the next
  base bar of their instrument, where `on_bar` hands them to the stepper, which books
  them as it books simulated fills. So the portfolio and every output are made of
  the venue's fills, at the venue's prices, times and fees.

Duplicated or reordered user events change nothing: fills count once by trade id,
and an order's cumulative filled quantity and final status never go back.

Attached exits (`stop_loss` / `take_profit`) are placed by the runner once the entry
is final with a filled quantity, as reduce-only orders for that quantity, and kept
one-cancels-other: when one fills, the others are cancelled. Trailing stops need the
venue's native support and are refused by its capabilities when it has none.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from runner.sim.matching import SubmitResult
from runner.sim.orders import (
    Bar,
    EventKind,
    Fill,
    InstrumentSpec,
    Order,
    OrderEvent,
    Timestamp,
    opposite,
    round_price,
)
from runner.venue.contract import OrderRequest, OrderState, VenueFill

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CLIENT_ID = re.compile(r"^[.A-Za-z0-9:/_-]{1,36}$")
_EPS = 1e-12


def client_order_id(prefix: str, order_id: str) -> str:
    """The venue's client order id of a runner order: the same for the same order in
    every process (a retry or a restart sends the id the venue already has). Ids that
    would not fit the common venue limit (36 characters of `[.A-Za-z0-9:/_-]`) are
    hashed."""
    plain = f"{prefix}{order_id}"
    if _CLIENT_ID.match(plain):
        return plain
    digest = hashlib.sha256(order_id.encode()).hexdigest()[: 35 - len(prefix)]
    return f"{prefix}h{digest}"


def client_prefix(strategy: str, account: str) -> str:
    """A short tag of the strategy and account, so two strategies on one account never
    share an id: `r` + 6 hex + `-`."""
    return "r" + hashlib.sha256(f"{strategy}/{account}".encode()).hexdigest()[:6] + "-"


@dataclass(frozen=True, slots=True)
class Command:
    """What the router must do: send an order, or cancel one by client id."""

    kind: Literal["submit", "cancel"]
    symbol: str
    client_id: str
    request: OrderRequest | None = None


@dataclass(slots=True)
class _Tracked:
    order: Order
    client_id: str
    placed_index: int
    state: OrderState | None = None
    filled: float = 0.0
    """Quantity of this order's fills taken so far (by trade id)."""
    notional: float = 0.0
    received: float = 0.0
    """Quantity of this order's fills received (taken or still waiting)."""
    cancel_reason: str = ""
    final: bool = False
    exits_done: bool = False
    children: list[str] = field(default_factory=list)


class VenueBroker:
    """A venue in the matching engine's place (module docstring)."""

    def __init__(self, specs: Mapping[str, InstrumentSpec], *, prefix: str,
                 quote_assets: Mapping[str, str] | None = None,
                 base_assets: Mapping[str, str] | None = None,
                 notify: Callable[[], None] | None = None) -> None:
        self._specs = dict(specs)
        self.prefix = prefix
        self._quote = dict(quote_assets or {})
        self._base = dict(base_assets or {})
        self._notify = notify
        self.outbox: deque[Command] = deque()
        self.placed: list[tuple[Timestamp | None, Order]] = []
        self.outcome: dict[str, tuple[str, str]] = {}
        self._orders: dict[str, _Tracked] = {}
        self._by_client: dict[str, _Tracked] = {}
        self._seen_trades: set[tuple[str, str]] = set()
        self._waiting: dict[str, list[VenueFill]] = {}
        self._events: list[OrderEvent] = []
        self._index: dict[str, int] = {}
        self._now: dict[str, Timestamp] = {}
        self._last_fill_ms: int | None = None
        self.unconverted_fees = 0
        """Fills whose fee was charged in an asset other than base or quote (booked
        as 0 in quote currency; the venue's own record keeps the real fee)."""
        self.replaying = False
        """Restoring from the journal: decisions are re-derived, nothing is sent."""
        self.suppress_before: int | None = None
        """Orders decided on a row opening before this time are recorded and at once
        cancelled, never sent: the bars a restart backfills warm the strategy but do
        not trade late."""
        self.closing = False
        """The run is stopping (the kill switch): an entry that fills now gets no
        exits, since every working order is being cancelled. The next bar clears it
        (a resumed run goes on)."""
        self.row_open: Callable[[], int | None] = lambda: None
        """Open time of the row being stepped (the session's)."""

    # -- the stepper's calls ------------------------------------------------------------

    def submit(self, order: Order, *, at_close: bool = False) -> SubmitResult:
        index = self._index.get(order.symbol, -1)
        placed = replace(order, placed_at=index)
        tracked = _Tracked(placed, client_order_id(self.prefix, order.id), index)
        self._orders[order.id] = tracked
        self._by_client[tracked.client_id] = tracked
        self.placed.append((self._now.get(order.symbol), placed))
        row = self.row_open()
        if self.suppress_before is not None and row is not None and row < self.suppress_before:
            tracked.final = True
            self.outcome[order.id] = ("cancelled", "decided on a bar a restart backfilled")
            return SubmitResult(order.id, True)
        self._send(Command("submit", order.symbol, tracked.client_id,
                           self._request(placed, tracked.client_id)))
        return SubmitResult(order.id, True)

    def cancel(self, order_id: str, reason: str = "cancelled by the strategy") -> bool:
        tracked = self._orders.get(order_id)
        if tracked is None or tracked.final or tracked.cancel_reason:
            return False
        tracked.cancel_reason = reason
        self._send(Command("cancel", tracked.order.symbol, tracked.client_id))
        return True

    def cancel_all(self, symbol: str, reason: str = "cancel_orders") -> list[str]:
        return [oid for oid, t in list(self._orders.items())
                if t.order.symbol == symbol and self.cancel(oid, reason)]

    def on_bar(self, bar: Bar, index: int | None = None) -> list[Fill]:
        """The instrument's new base bar: expire what `expire_after` ends here and hand
        over the fills that came since its last bar."""
        self.closing = False
        s = bar.symbol
        k = self._index.get(s, -1) + 1 if index is None else index
        self._index[s] = k
        self._now[s] = bar.close_time
        fills = self._take(s, k)
        for oid, t in list(self._orders.items()):
            o = t.order
            if o.symbol != s:
                continue
            if not t.final and o.expire_after is not None \
                    and k > t.placed_index + o.expire_after:
                self.cancel(oid, "expired")
            if t.final and t.filled > _EPS and not t.exits_done:
                t.exits_done = True  # an entry ended part filled: exits for that part
                self._attach(t)
        return fills

    def take_all(self) -> list[Fill]:
        """Every fill still waiting, at each instrument's current bar (the end of a
        run: nothing waits for a next bar)."""
        out: list[Fill] = []
        for s in list(self._waiting):
            out.extend(self._take(s, self._index.get(s, -1)))
        return out

    def settled(self) -> bool:
        """No order is waiting for the venue's last word: every order is final and
        every fill its final state counts has been received."""
        return all(t.final and (t.state is None or t.received >= t.state.filled_quantity
                                * (1 - 1e-9)) for t in self._orders.values())

    def is_working(self, order_id: str) -> bool:
        t = self._orders.get(order_id)
        return t is not None and not t.final

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [t.order for t in self._orders.values()
                if not t.final and (symbol is None or t.order.symbol == symbol)]

    def working_symbols(self) -> set[str]:
        out = {t.order.symbol for t in self._orders.values() if not t.final}
        out.update(s for s, waiting in self._waiting.items() if waiting)
        return out

    def has_orders(self, symbol: str | None = None) -> bool:
        return any(not t.final and (symbol is None or t.order.symbol == symbol)
                   for t in self._orders.values()) or any(
            waiting for s, waiting in self._waiting.items() if symbol in (None, s))

    def bar_index(self, symbol: str) -> int:
        return self._index.get(symbol, -1)

    def drain_events(self) -> list[OrderEvent]:
        out, self._events = self._events, []
        return out

    # -- the venue's side ---------------------------------------------------------------

    def is_new(self, event: OrderState | VenueFill) -> bool:
        """Whether `on_venue(event)` would change anything (a fill not seen yet, an
        update of one of ours that moves it forward)."""
        if isinstance(event, VenueFill):
            return event.client_id in self._by_client and \
                (event.symbol, event.trade_id) not in self._seen_trades
        tracked = self._by_client.get(event.client_id)
        if tracked is None:
            return False
        old = tracked.state
        return old is None or (not old.final and event != old
                               and event.filled_quantity >= old.filled_quantity)

    def on_venue(self, event: OrderState | VenueFill) -> None:
        """An order update or a fill, from wherever it came; repeats change nothing."""
        if isinstance(event, VenueFill):
            key = (event.symbol, event.trade_id)
            if key in self._seen_trades:
                return
            self._seen_trades.add(key)
            self._waiting.setdefault(event.symbol, []).append(event)
            tracked = self._by_client.get(event.client_id)
            if tracked is not None:
                tracked.received += event.quantity
            if self._last_fill_ms is None or event.time_ms > self._last_fill_ms:
                self._last_fill_ms = event.time_ms
            return
        tracked = self._by_client.get(event.client_id)
        if tracked is None:
            return  # not ours: an external order (reconciliation decides about those)
        old = tracked.state
        if old is not None and (old.final or event.filled_quantity < old.filled_quantity):
            return  # stale: an older update arriving late
        tracked.state = event
        if event.final:
            self._finish(tracked, event)

    def rejected(self, client_id: str, reason: str) -> None:
        """The venue refused a submit (the router's answer when `submit` raised
        `OrderRejected`)."""
        tracked = self._by_client.get(client_id)
        if tracked is None or tracked.final:
            return
        tracked.final = True
        self.outcome[tracked.order.id] = ("rejected", reason)
        symbol = tracked.order.symbol
        self._events.append(OrderEvent(tracked.order.id, "rejected", self._now.get(symbol),
                                       self._index.get(symbol, -1), reason))

    def unsent(self) -> list[Command]:
        """Orders not known to be final, as submit commands: what a restart asks the
        venue about (the venue may or may not have each)."""
        return [Command("submit", t.order.symbol, t.client_id,
                        self._request(t.order, t.client_id))
                for t in self._orders.values() if not t.final]

    def tracked_clients(self) -> set[str]:
        return set(self._by_client)

    def expected_positions(self, held: Mapping[str, float]) -> dict[str, float]:
        """`held` (the strategy's booked positions) plus the fills still waiting for
        a bar: what the venue should report."""
        out = dict(held)
        for s, waiting in self._waiting.items():
            for f in waiting:
                if f.client_id in self._by_client:
                    out[s] = out.get(s, 0.0) + (f.quantity if f.side == "buy" else -f.quantity)
        return out

    def last_fill_ms(self) -> int | None:
        """Venue time of the newest fill seen, if any."""
        return self._last_fill_ms

    # -- internals ----------------------------------------------------------------------

    def _send(self, command: Command) -> None:
        if self.replaying:
            return
        self.outbox.append(command)
        if self._notify is not None:
            self._notify()

    def _request(self, o: Order, client_id: str) -> OrderRequest:
        return OrderRequest(client_id=client_id, symbol=o.symbol, side=o.side, type=o.type,
                            quantity=o.quantity, price=o.limit_price,
                            stop_price=o.trigger_price, time_in_force=o.time_in_force,
                            reduce_only=o.reduce_only, post_only=o.post_only)

    def _finish(self, tracked: _Tracked, state: OrderState) -> None:
        if tracked.final:
            return
        tracked.final = True
        status = {"filled": "filled", "canceled": "cancelled", "expired": "expired",
                  "rejected": "rejected"}.get(state.status, state.status)
        if status == "cancelled" and tracked.cancel_reason == "expired":
            status = "expired"
        reason = state.reason or (tracked.cancel_reason if status != "filled" else "")
        self.outcome[tracked.order.id] = (status, reason)
        if status != "filled":
            kind: EventKind = "cancelled" if status == "cancelled" else \
                "expired" if status == "expired" else "rejected"
            symbol = tracked.order.symbol
            self._events.append(OrderEvent(tracked.order.id, kind, self._now.get(symbol),
                                           self._index.get(symbol, -1), reason))

    def _take(self, symbol: str, k: int) -> list[Fill]:
        waiting = self._waiting.get(symbol)
        if not waiting:
            return []
        self._waiting[symbol] = []
        waiting.sort(key=lambda f: (f.time_ms, f.trade_id))
        out: list[Fill] = []
        for vf in waiting:
            tracked = self._by_client.get(vf.client_id)
            if tracked is None:
                continue  # an external order's fill: not the strategy's
            tracked.filled += vf.quantity
            tracked.notional += vf.quantity * vf.price
            out.append(Fill(tracked.order.id, symbol, vf.side,
                            _EPOCH + timedelta(milliseconds=vf.time_ms), vf.price,
                            vf.quantity, self._fee(vf), "maker" if vf.maker else "taker", k))
            self._after_fill(tracked)
        return out

    def _fee(self, vf: VenueFill) -> float:
        asset = vf.fee_asset
        if not asset or asset == self._quote.get(vf.symbol, asset):
            return vf.fee
        if asset == self._base.get(vf.symbol):
            return vf.fee * vf.price
        self.unconverted_fees += 1
        return 0.0

    def _after_fill(self, tracked: _Tracked) -> None:
        o = tracked.order
        done = tracked.filled >= o.quantity * (1 - 1e-9)
        if o.oco_group is not None and done:  # an exit filled: the others go
            for t in self._orders.values():
                if t is not tracked and t.order.oco_group == o.oco_group:
                    self.cancel(t.order.id, f"oco: {o.id} filled")
        if done and not tracked.final:
            tracked.final = True
            self.outcome[o.id] = ("filled", "")
        if done and not tracked.exits_done:
            tracked.exits_done = True
            self._attach(tracked)

    def _attach(self, tracked: _Tracked) -> None:
        o = tracked.order
        if self.closing or (o.exits is None and o.stop_loss is None and o.take_profit is None):
            return
        if o.exits is not None:
            stop_loss, take_profit, trailing = o.exits(self._average_price(tracked))
        else:
            stop_loss, take_profit, trailing = o.stop_loss, o.take_profit, o.trailing_stop
        del trailing  # refused by the venue's capabilities when it has no native form
        spec = self._specs.get(o.symbol, InstrumentSpec())
        side = opposite(o.side)
        base = Order(id="", symbol=o.symbol, side=side, quantity=tracked.filled,
                     reduce_only=True, parent_id=o.id, oco_group=f"{o.id}:exits")
        if _usable(stop_loss):
            assert stop_loss is not None
            trigger = round_price(stop_loss, spec.tick_size, "down" if o.side == "buy" else "up")
            self.submit(replace(base, id=f"{o.id}:sl", type="stop", trigger_price=trigger))
        if _usable(take_profit):
            assert take_profit is not None
            limit = round_price(take_profit, spec.tick_size, "up" if o.side == "buy" else "down")
            self.submit(replace(base, id=f"{o.id}:tp", type="limit", limit_price=limit))

    def _average_price(self, tracked: _Tracked) -> float:
        return tracked.notional / tracked.filled if tracked.filled > _EPS else math.nan

    def venue_fills(self) -> Iterable[VenueFill]:
        for waiting in self._waiting.values():
            yield from waiting


def _usable(p: float | None) -> bool:
    return p is not None and math.isfinite(p) and p > 0


__all__ = ["Command", "VenueBroker", "client_order_id", "client_prefix"]
