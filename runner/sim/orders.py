"""Value types of the simulated matching engine, and tick/lot rounding (DESIGN §1, §3).

Pure Python (no polars, no numpy): the same types serve backtest, which feeds the
engine bar by bar from a frame, and paper mode, which feeds it live-built bars.

Every type here is a frozen, slotted dataclass; the engine's mutable book-keeping
lives in `runner.sim.matching`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from runner.config.models import Backtest

Side = Literal["buy", "sell"]
OrderType = Literal["market", "limit", "stop", "stop_limit"]
TimeInForce = Literal["gtc", "ioc", "fok"]
Liquidity = Literal["maker", "taker"]
FillAt = Literal["next_open", "close"]
Intrabar = Literal["stop_first", "target_first"]
Timestamp = datetime | int
"""A bar or fill time: a datetime, or an integer epoch. The engine only copies times
from bars onto fills and events; it never interprets them."""

EventKind = Literal["accepted", "rejected", "triggered", "cancelled", "expired"]

ExitPrices = tuple[float | None, float | None, float | None]
"""`(stop_loss, take_profit, trailing_stop)` of a bracket; `None` leaves one out."""
ExitPricer = Callable[[float], ExitPrices]
"""Computes a bracket from the entry's fill price (`entry_price` in the exits'
expressions is the fill price: the bracket is priced when the entry fills)."""


def opposite(side: Side) -> Side:
    return "sell" if side == "buy" else "buy"


@dataclass(frozen=True, slots=True)
class Order:
    """One order as the engine sees it.

    Prices are absolute (already evaluated from expressions) and should already be
    rounded to tick, quantities to lot (`conform` does both); the engine does not
    round.

    - `limit_price` is required by `limit` and `stop_limit`, `trigger_price` by `stop`
      and `stop_limit`; a `market` order must have neither.
    - `expire_after`: the order may fill on the `expire_after` bars after the bar it was
      placed at and is cancelled (event `expired`) after the last of them; `None`
      means no expiry, `0` means it expires before any bar can fill it.
    - `stop_loss`, `take_profit` (absolute prices) and `trailing_stop` (a distance) are
      attached exits: when this order fills, the engine places them as one OCO group
      of reduce-only children (`parent_id` = this id).
    - `trail` on a `stop` order makes it a trailing stop: the trigger follows the best
      price seen since placement at this distance (see `MatchingEngine`).
    - `oco_group`: orders sharing a group are one-cancels-other.
    - `placed_at` is filled in by the engine on `submit` (the symbol's current bar index).
    - `exits`, when set, prices the bracket at fill time from the fill price and
      replaces `stop_loss` / `take_profit` / `trailing_stop` (the engine rounds the
      prices to tick as `conform` would). Not part of the order's identity or record.
    """

    id: str
    symbol: str
    side: Side
    quantity: float
    type: OrderType = "market"
    limit_price: float | None = None
    trigger_price: float | None = None
    time_in_force: TimeInForce = "gtc"
    expire_after: int | None = None
    reduce_only: bool = False
    post_only: bool = False
    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_stop: float | None = None
    trail: float | None = None
    parent_id: str | None = None
    oco_group: str | None = None
    placed_at: int = -1
    exits: ExitPricer | None = field(default=None, compare=False, repr=False)

    def placed(self, bar_index: int) -> Order:
        """This order stamped with the bar index it is placed at. (A positional copy:
        `dataclasses.replace` costs several times more on the backtest's hot path.)"""
        return Order(self.id, self.symbol, self.side, self.quantity, self.type,
                     self.limit_price, self.trigger_price, self.time_in_force,
                     self.expire_after, self.reduce_only, self.post_only, self.stop_loss,
                     self.take_profit, self.trailing_stop, self.trail, self.parent_id,
                     self.oco_group, bar_index, self.exits)


@dataclass(frozen=True, slots=True)
class Bar:
    """One closed bar of one symbol: it covers `[open_time, close_time)` and is known
    at `close_time` (DESIGN §3)."""

    symbol: str
    open: float
    high: float
    low: float
    close: float
    open_time: Timestamp
    close_time: Timestamp


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution. `fee` is in quote currency (`price * quantity * multiplier *
    rate`; negative for a maker rebate). `bar_index` is the symbol's bar index of the
    bar the fill belongs to."""

    order_id: str
    symbol: str
    side: Side
    time: Timestamp
    price: float
    quantity: float
    fee: float
    liquidity: Liquidity
    bar_index: int


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """Everything but fills that happens to an order: `accepted`, `rejected` (at
    submit), `triggered` (a stop_limit became a limit), `cancelled` and `expired`.
    `reason` says why for rejections and cancellations."""

    order_id: str
    kind: EventKind
    time: Timestamp | None
    bar_index: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class FillModel:
    """How the simulation fills (`backtest:` in DESIGN §1).

    - `fill`: market orders decided at bar t fill at bar t+1's open (`next_open`) or at
      bar t's close (`close`).
    - `slippage_bps`: added against the taker on every taker fill (market, stop, a
      triggered stop_limit that is marketable): buys pay `price * (1 + bps/1e4)`,
      sells receive `price * (1 - bps/1e4)`. Maker fills have no slippage.
    - `maker_fee`, `taker_fee`: fractions of notional.
    - `intrabar`: when several members of one OCO group (a stop-loss and a take-profit)
      could both fill inside one bar, `stop_first` fills the stop, `target_first` the
      target; a member that the bar's open already reaches always wins.
    """

    fill: FillAt = "next_open"
    slippage_bps: float = 0.0
    maker_fee: float = 0.0
    taker_fee: float = 0.0
    intrabar: Intrabar = "stop_first"

    @classmethod
    def from_backtest(cls, backtest: Backtest) -> FillModel:
        return cls(fill=backtest.fill, slippage_bps=backtest.slippage_bps,
                   maker_fee=backtest.fees.maker, taker_fee=backtest.fees.taker,
                   intrabar=backtest.intrabar)

    def slipped(self, price: float, side: Side) -> float:
        """`price` moved against a taker on `side` by `slippage_bps`."""
        if self.slippage_bps == 0.0:
            return price
        k = self.slippage_bps / 10_000.0
        return price * (1.0 + k) if side == "buy" else price * (1.0 - k)


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """Exchange metadata of one instrument (DESIGN §1 `instruments:`); `None` means
    unrestricted."""

    tick_size: float | None = None
    lot_size: float | None = None
    min_notional: float | None = None
    multiplier: float = 1.0


# -- rounding ----------------------------------------------------------------------------

RoundMode = Literal["nearest", "down", "up"]
_EPS = 1e-9
"""Relative slack for float noise: 0.3 / 0.1 is 2.9999999999999996 steps, which is 3."""


def _decimals(step: float) -> int:
    exponent = Decimal(repr(step)).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _to_step(value: float, step: float, mode: RoundMode) -> float:
    n = value / step
    if mode == "nearest":
        k = math.floor(n + 0.5)
    elif mode == "down":
        k = math.floor(n + _EPS)
    else:
        k = math.ceil(n - _EPS)
    return round(k * step, _decimals(step))


def round_price(price: float, tick_size: float | None, mode: RoundMode = "nearest") -> float:
    """`price` on the tick grid: to the nearest tick (halves up) by default, or `down`
    / `up`. Without a tick size the price is returned unchanged."""
    if tick_size is None:
        return price
    return _to_step(price, tick_size, mode)


def round_quantity(quantity: float, lot_size: float | None) -> float:
    """`quantity` rounded DOWN to a whole number of lots (never more than asked)."""
    if lot_size is None:
        return quantity
    return _to_step(quantity, lot_size, "down")


def min_notional_reason(price: float, quantity: float, spec: InstrumentSpec) -> str | None:
    """Why an order of `quantity` at `price` is too small to send, or `None`."""
    if quantity <= 0:
        return "quantity rounds down to zero lots"
    if spec.min_notional is None:
        return None
    notional = abs(price) * quantity * spec.multiplier
    if notional < spec.min_notional * (1 - _EPS):
        return f"notional {notional:g} is under min_notional {spec.min_notional:g}"
    return None


def conform(order: Order, spec: InstrumentSpec, reference_price: float) -> Order | str:
    """`order` with quantity rounded down to lot and prices rounded to tick, or the
    reason it is dropped (zero lots, under min notional at `reference_price` — the
    limit price if any, else the trigger, else `reference_price`).

    Prices round in the *passive* direction so rounding never makes an order more
    aggressive than asked: buy limits down, sell limits up; buy stops up, sell stops
    down. Attached exits round as the exit order they become (a long's stop-loss is
    a sell stop: down; its take-profit a sell limit: up).
    """
    tick = spec.tick_size
    buy = order.side == "buy"
    qty = round_quantity(order.quantity, spec.lot_size)

    def rp(p: float | None, mode: RoundMode) -> float | None:
        return None if p is None else round_price(p, tick, mode)

    limit = rp(order.limit_price, "down" if buy else "up")
    trigger = rp(order.trigger_price, "up" if buy else "down")
    stop_loss = rp(order.stop_loss, "down" if buy else "up")
    take_profit = rp(order.take_profit, "up" if buy else "down")
    price = limit if limit is not None else trigger if trigger is not None else reference_price
    reason = min_notional_reason(price, qty, spec)
    if reason is not None:
        return reason
    if (qty == order.quantity and limit == order.limit_price
            and trigger == order.trigger_price and stop_loss == order.stop_loss
            and take_profit == order.take_profit):
        return order
    return replace(order, quantity=qty, limit_price=limit, trigger_price=trigger,
                   stop_loss=stop_loss, take_profit=take_profit)
