"""Cash, net positions, PnL and closed round trips (DESIGN §1 `instruments`, §3, §6).

Decisions (each one is a choice the design leaves open):

- **One net position per instrument** (DESIGN §3): a fill against the position first
  reduces it; whatever is left of the fill opens the other side (a *flip*).
- **Average price**: adding to a position moves its average entry price to the
  quantity-weighted mean of old and new; reducing never changes it. A position opened by
  one fill has exactly that fill's price, and a trade closed by fills at one price has
  exactly that exit price (`q * p / q` can differ from `p` in the last bit).
- **Multiplier**: every money amount is `price * quantity * multiplier` (DESIGN §1);
  realized PnL of closing `q` is `q * (exit - average) * multiplier`, signed for shorts.
- **Cash is margin-style**: `cash = initial cash + realized PnL - fees`. Buying does not
  spend the notional (a futures contract worth 250 000 does not make cash negative), and
  `equity = cash + unrealized PnL at the last mark`. For spot this gives the same equity
  as debiting the notional; only the `cash` column differs.
- **Fees** (from `Fill.fee`, in quote currency, negative for a rebate) are taken from
  cash at every fill. A flip's fee is split between the closing and opening parts in
  proportion to quantity.
- **Unrealized PnL** uses the last price given to `mark`; an instrument never marked is
  valued at its average price (zero unrealized).
- **Round trips** (`trades.csv`): a trip opens when a position leaves flat and closes
  when it returns to flat (a flip closes one trip and opens the next at the same fill).
  Partial closes and adds belong to the same trip: one row with the total quantity
  entered, the average entry price, the quantity-weighted average exit price, the time
  and reason of the *last* exit, the trip's fees (entry and exit fees, flips split as
  above) and `pnl` **net of those fees** (`gross_pnl` keeps the price-only figure).
  `side` is `long` or `short`.
- **Float noise**: a position within a relative 1e-9 of zero after a fill is flat.
- **Drawdown** in `EquityPoint` is the fraction `1 - equity / peak equity` over the
  points recorded so far (0 at a new peak).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from runner.sim.orders import Fill, InstrumentSpec, Timestamp

TradeSide = Literal["long", "short"]
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """One closed round trip, a row of `trades.csv`."""

    instrument: str
    side: TradeSide
    quantity: float
    entry_time: Timestamp
    entry_price: float
    exit_time: Timestamp
    exit_price: float
    pnl: float
    fees: float
    exit_reason: str
    gross_pnl: float


@dataclass(frozen=True, slots=True)
class EquityPoint:
    """One row of `equity.csv`."""

    time: Timestamp
    equity: float
    cash: float
    drawdown: float


@dataclass(slots=True)
class _Trip:
    entry_time: Timestamp
    side: TradeSide
    entry_quantity: float = 0.0
    exit_quantity: float = 0.0
    exit_value: float = 0.0
    exit_price: float | None = None
    """The exit fills' price while they all have one (then it is the trade's exit
    price exactly, not `value / quantity`, which can be off by an ulp)."""
    gross_pnl: float = 0.0
    fees: float = 0.0


@dataclass(slots=True)
class Position:
    """The net position of one instrument: `quantity` is signed (negative is short),
    `avg_price` is 0 when flat. `realized_pnl` and `fees` accumulate over the run."""

    symbol: str
    quantity: float = 0.0
    avg_price: float = 0.0
    realized_pnl: float = 0.0
    fees: float = 0.0
    _trip: _Trip | None = field(default=None, repr=False)

    @property
    def is_flat(self) -> bool:
        return self.quantity == 0.0

    @property
    def entry_time(self) -> Timestamp | None:
        """When the current round trip opened (`None` when flat)."""
        return None if self._trip is None else self._trip.entry_time


class Portfolio:
    """Book-keeping of one account: feed it fills (`apply`) and marks (`mark`)."""

    def __init__(self, cash: float, specs: Mapping[str, InstrumentSpec] | None = None) -> None:
        self.initial_cash = cash
        self.cash = cash
        self.fees = 0.0
        self.realized_pnl = 0.0
        self.specs: dict[str, InstrumentSpec] = dict(specs or {})
        self.positions: dict[str, Position] = {}
        self.marks: dict[str, float] = {}
        self.trades: list[TradeRecord] = []
        self.equity_curve: list[EquityPoint] = []
        self.peak_equity = cash

    # -- queries ---------------------------------------------------------------------

    def multiplier(self, symbol: str) -> float:
        spec = self.specs.get(symbol)
        return 1.0 if spec is None else spec.multiplier

    def position(self, symbol: str) -> Position:
        """The position of `symbol` (a flat one if it never traded)."""
        pos = self.positions.get(symbol)
        if pos is None:
            pos = self.positions[symbol] = Position(symbol)
        return pos

    def quantity(self, symbol: str) -> float:
        pos = self.positions.get(symbol)
        return 0.0 if pos is None else pos.quantity

    def open_positions(self) -> list[Position]:
        return [p for p in self.positions.values() if not p.is_flat]

    def mark_price(self, symbol: str) -> float:
        """Last mark of `symbol`, or its average price if never marked."""
        pos = self.positions.get(symbol)
        avg = 0.0 if pos is None else pos.avg_price
        return self.marks.get(symbol, avg)

    def unrealized_pnl(self, symbol: str | None = None) -> float:
        """Unrealized PnL of one instrument, or of all when `symbol` is None."""
        if symbol is None:
            total = 0.0  # in the positions' order: tables.equity_curve repeats these
            for s, held in self.positions.items():
                if held.quantity != 0.0:
                    total += held.quantity * (self.marks.get(s, held.avg_price)
                                              - held.avg_price) * self.multiplier(s)
            return total
        pos = self.positions.get(symbol)
        if pos is None or pos.is_flat:
            return 0.0
        return pos.quantity * (self.mark_price(symbol) - pos.avg_price) * self.multiplier(symbol)

    def instrument_pnl(self, symbol: str) -> float:
        """Net PnL of one instrument over the run: realized - fees + unrealized."""
        pos = self.positions.get(symbol)
        if pos is None:
            return 0.0
        return pos.realized_pnl - pos.fees + self.unrealized_pnl(symbol)

    def exposure(self, symbol: str | None = None) -> float:
        """Gross exposure `|quantity| * mark * multiplier` of one instrument or all."""
        if symbol is None:
            return sum(self.exposure(s) for s in self.positions)
        return abs(self.quantity(symbol) * self.mark_price(symbol) * self.multiplier(symbol))

    def equity(self) -> float:
        return self.cash + self.unrealized_pnl()

    # -- updates ---------------------------------------------------------------------

    def mark(self, symbol: str, price: float) -> None:
        """Set the price unrealized PnL and exposure of `symbol` are valued at."""
        self.marks[symbol] = price

    def record_equity(self, time: Timestamp) -> EquityPoint:
        """Append (and return) an equity point at `time` using the current marks."""
        equity = self.equity()
        self.peak_equity = max(self.peak_equity, equity)
        drawdown = 0.0 if self.peak_equity <= 0 else max(0.0, 1.0 - equity / self.peak_equity)
        point = EquityPoint(time, equity, self.cash, drawdown)
        self.equity_curve.append(point)
        return point

    def apply(self, fill: Fill, exit_reason: str = "") -> float:
        """Book `fill`; returns the PnL it realized (before fees).

        `exit_reason` is recorded on the round trip this fill closes, if it closes one
        (e.g. `stop_loss`, `take_profit`, a rule name, `flatten`, `end_of_data`).
        """
        pos = self.position(fill.symbol)
        m = self.multiplier(fill.symbol)
        sign = 1.0 if fill.side == "buy" else -1.0
        qty = fill.quantity
        self.cash -= fill.fee
        self.fees += fill.fee
        pos.fees += fill.fee

        close_qty = 0.0
        if pos.quantity != 0.0 and (pos.quantity > 0) != (sign > 0):
            held = abs(pos.quantity)
            close_qty = held if qty >= held * (1 - _EPS) else qty
        open_qty = max(0.0, qty - close_qty)
        if open_qty <= _EPS * qty:
            open_qty = 0.0
        close_fee = fill.fee * close_qty / qty if qty > 0 else 0.0
        open_fee = fill.fee - close_fee

        realized = 0.0
        if close_qty > 0.0:
            realized = self._close(pos, fill, close_qty, close_fee, m, exit_reason)
        if open_qty > 0.0:
            self._open(pos, fill, open_qty, open_fee, sign)
        elif close_qty == 0.0 and pos._trip is not None:
            pos._trip.fees += fill.fee  # a zero-quantity fill: only its fee
        return realized

    def _close(self, pos: Position, fill: Fill, qty: float, fee: float, m: float,
               reason: str) -> float:
        direction = 1.0 if pos.quantity > 0 else -1.0
        pnl = qty * (fill.price - pos.avg_price) * direction * m
        pos.realized_pnl += pnl
        self.realized_pnl += pnl
        self.cash += pnl
        trip = pos._trip
        assert trip is not None
        trip.exit_quantity += qty
        trip.exit_value += qty * fill.price
        if trip.exit_quantity == qty:
            trip.exit_price = fill.price
        elif trip.exit_price != fill.price:
            trip.exit_price = None
        trip.gross_pnl += pnl
        trip.fees += fee
        remaining = pos.quantity - direction * qty
        if abs(remaining) <= _EPS * max(qty, abs(pos.quantity)):
            self.trades.append(TradeRecord(
                instrument=pos.symbol, side=trip.side, quantity=trip.entry_quantity,
                entry_time=trip.entry_time, entry_price=pos.avg_price,
                exit_time=fill.time, exit_price=(trip.exit_price if trip.exit_price is not None
                            else trip.exit_value / trip.exit_quantity),
                pnl=trip.gross_pnl - trip.fees, fees=trip.fees, exit_reason=reason,
                gross_pnl=trip.gross_pnl,
            ))
            pos.quantity = 0.0
            pos.avg_price = 0.0
            pos._trip = None
        else:
            pos.quantity = remaining
        return pnl

    def _open(self, pos: Position, fill: Fill, qty: float, fee: float, sign: float) -> None:
        if pos._trip is None:
            pos._trip = _Trip(fill.time, "long" if sign > 0 else "short")
        held = abs(pos.quantity)
        pos.avg_price = (fill.price if held == 0.0
                         else (held * pos.avg_price + qty * fill.price) / (held + qty))
        pos.quantity += sign * qty
        pos._trip.entry_quantity += qty
        pos._trip.fees += fee
