"""The adapter contract: what a venue plugin implements and what live mode calls.

A venue is one `Venue` object per run, made by `ExchangeDef.connect(params,
credentials)` and used as an async context manager (it opens its HTTP session and
sockets on enter and closes them on exit). It has three faces:

- **metadata** — `instruments(symbols)` returns each symbol's tick, lot, minimum
  notional and multiplier, which the runner rounds and checks orders against;
- **market data** — `trades`, `bars`, `quotes`, `depth` are endless async streams of
  the runtime's own event types, reconnecting and resubscribing inside the adapter;
  `klines` reads closed bars over REST for warm-up and for backfill after a gap;
- **broker** — `submit`, `cancel`, `amend`, `open_orders`, `fills`, `positions`,
  `balances`, and `user_events()`, the stream of order updates and fills.

Everything crosses the boundary in venue-neutral types (the dataclasses below), so the
live binding and the conformance suite in `runner.testing` know nothing of any venue.

Idempotency is the adapter's half of "a retry never sends a second order" (DESIGN §8):
the runner gives each order a deterministic `client_id`; the adapter sends it as the
venue's client order id and, when a submit's outcome is unknown (a timeout, a 5xx, a
dropped connection), asks the venue for that id before it sends again.

A capability the venue lacks raises `Unsupported`; the compiler has already refused
order rules outside `Capabilities`, so live mode never meets one for orders.
"""

from __future__ import annotations

import abc
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal, Self

from runner.market import BarEvent, MarketEvent

Side = Literal["buy", "sell"]
OrderType = Literal["market", "limit", "stop", "stop_limit"]
TimeInForce = Literal["gtc", "ioc", "fok"]
OrderStatus = Literal["new", "partially_filled", "filled", "canceled", "rejected",
                      "expired"]
FINAL_STATUSES: frozenset[str] = frozenset({"filled", "canceled", "rejected", "expired"})
"""Statuses after which an order never changes again."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """An account's API key and secret, read from the environment only
    (`RUNNER_<EXCHANGE>_<ACCOUNT>_API_KEY` / `_API_SECRET`). The secret never
    appears in a repr, so it cannot leak into a log line or an error by accident."""

    api_key: str
    api_secret: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credentials(api_key={_masked(self.api_key)}, api_secret=***)"

    __str__ = __repr__


def _masked(key: str) -> str:
    return "***" if len(key) < 12 else f"{key[:4]}…{key[-4:]}"


@dataclass(frozen=True, slots=True)
class InstrumentMeta:
    """How a venue trades one instrument. `symbol` is the strategy's name for it,
    `venue_symbol` the venue's (they differ for e.g. `BTC/USDT` vs `BTCUSDT`)."""

    symbol: str
    venue_symbol: str
    tick_size: float
    lot_size: float
    min_quantity: float = 0.0
    max_quantity: float | None = None
    min_notional: float = 0.0
    multiplier: float = 1.0
    base_asset: str = ""
    quote_asset: str = ""
    market_lot_size: float | None = None
    """The lot of market orders when the venue has a separate one (Binance
    MARKET_LOT_SIZE); None: `lot_size`."""


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """One order as the runner sends it: already rounded to tick and lot."""

    client_id: str
    symbol: str
    side: Side
    type: OrderType
    quantity: float
    price: float | None = None
    stop_price: float | None = None
    time_in_force: TimeInForce = "gtc"
    reduce_only: bool = False
    post_only: bool = False


@dataclass(frozen=True, slots=True)
class OrderState:
    """What the venue says of one order: from a submit, a cancel, an open-orders query
    or the user stream. `filled_quantity` is cumulative, so an update seen twice or
    out of order is recognised (it never goes down)."""

    client_id: str
    venue_order_id: str
    symbol: str
    side: Side
    type: OrderType
    status: OrderStatus
    quantity: float
    filled_quantity: float
    price: float | None
    stop_price: float | None
    time_ms: int
    """When the venue last changed the order (its own clock)."""
    reason: str = ""
    """Why it was rejected or expired, in the venue's words."""

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(frozen=True, slots=True)
class VenueFill:
    """One execution. `trade_id` is unique per (symbol, venue): the key that makes a
    fill seen twice (stream and REST, or a duplicated event) count once."""

    trade_id: str
    client_id: str
    venue_order_id: str
    symbol: str
    side: Side
    quantity: float
    price: float
    fee: float
    fee_asset: str
    time_ms: int
    maker: bool


@dataclass(frozen=True, slots=True)
class Position:
    """Net position of one instrument: signed quantity (negative: short)."""

    symbol: str
    quantity: float
    entry_price: float


@dataclass(frozen=True, slots=True)
class Balance:
    asset: str
    free: float
    locked: float


@dataclass(frozen=True, slots=True)
class Quote:
    """Best bid and ask."""

    symbol: str
    time_ms: int
    bid: float
    bid_size: float
    ask: float
    ask_size: float


@dataclass(frozen=True, slots=True)
class DepthUpdate:
    """Changed price levels of one side or both (size 0 removes a level).
    `first_id`/`last_id` are the venue's update ids when it has them, so a consumer
    keeping a book can see a gap."""

    symbol: str
    time_ms: int
    bids: tuple[tuple[float, float], ...]
    asks: tuple[tuple[float, float], ...]
    first_id: int | None = None
    last_id: int | None = None
    snapshot: bool = False


UserEvent = OrderState | VenueFill


class Unsupported(Exception):
    """The venue does not have this (a stream, `amend`, an order type)."""


class Venue(abc.ABC):
    """One venue connection for a run (module docstring). Subclass it in a plugin and
    return an instance from the `connect` factory of the `ExchangeDef`.

    Stream methods return async iterators that run until cancelled; they reconnect by
    themselves and raise only for an error that retrying cannot fix. Every call may
    raise; `is_transient(exc)` tells the runner whether retrying may help."""

    name: str = ""

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def open(self) -> None:
        """Open sessions and learn what every later call needs (server time offset)."""
        return None

    async def close(self) -> None:
        """Close every socket and session; idempotent."""
        return None

    def now_ms(self) -> int:
        """The venue's clock (epoch ms), as well as the adapter knows it: what a bar's
        close is compared with to tell a bar that just closed from an old one.
        Default: this machine's clock."""
        return time.time_ns() // 1_000_000

    # -- metadata ---------------------------------------------------------------------
    @abc.abstractmethod
    async def instruments(self, symbols: Sequence[str]) -> dict[str, InstrumentMeta]:
        """Metadata of each symbol; an unknown symbol raises `KeyError`."""

    # -- market data ------------------------------------------------------------------
    def trades(self, symbols: Sequence[str]) -> AsyncIterator[MarketEvent]:
        """Trades of every symbol (`TradeEvent` or `TradeBatch`), in venue order."""
        raise Unsupported(f"{self.name}: no trade stream")

    def bars(self, symbols: Sequence[str], timeframe: str) -> AsyncIterator[BarEvent]:
        """Closed bars of `timeframe` as the venue builds them."""
        raise Unsupported(f"{self.name}: no bar stream")

    def quotes(self, symbols: Sequence[str]) -> AsyncIterator[Quote]:
        raise Unsupported(f"{self.name}: no best bid/ask stream")

    def depth(self, symbols: Sequence[str]) -> AsyncIterator[DepthUpdate]:
        raise Unsupported(f"{self.name}: no depth stream")

    async def klines(self, symbol: str, timeframe: str, start_ms: int,
                     end_ms: int) -> list[BarEvent]:
        """Closed bars opening in [start_ms, end_ms), oldest first, every page read."""
        raise Unsupported(f"{self.name}: no historical bars")

    # -- broker -----------------------------------------------------------------------
    async def submit(self, order: OrderRequest) -> OrderState:
        """Place `order` once, whatever happens on the wire (module docstring)."""
        raise Unsupported(f"{self.name}: no trading")

    async def cancel(self, symbol: str, client_id: str) -> OrderState:
        """Cancel by client id; an order already final is returned as it is."""
        raise Unsupported(f"{self.name}: no trading")

    async def amend(self, symbol: str, client_id: str, *, quantity: float | None = None,
                    price: float | None = None) -> OrderState:
        raise Unsupported(f"{self.name}: cannot amend orders")

    async def order(self, symbol: str, client_id: str) -> OrderState | None:
        """One order by client id, or None when the venue never had it."""
        raise Unsupported(f"{self.name}: no trading")

    async def open_orders(self, symbols: Sequence[str]) -> list[OrderState]:
        raise Unsupported(f"{self.name}: no trading")

    async def fills(self, symbol: str, since_ms: int) -> list[VenueFill]:
        """Fills of `symbol` at or after `since_ms`, oldest first, every page read."""
        raise Unsupported(f"{self.name}: no trading")

    async def positions(self, symbols: Sequence[str]) -> list[Position]:
        raise Unsupported(f"{self.name}: no trading")

    async def balances(self) -> list[Balance]:
        raise Unsupported(f"{self.name}: no trading")

    def user_events(self) -> AsyncIterator[UserEvent]:
        """Order updates and fills as they happen (may repeat or come out of order:
        the consumer deduplicates by `trade_id` and cumulative `filled_quantity`)."""
        raise Unsupported(f"{self.name}: no user stream")

    # -- errors -----------------------------------------------------------------------
    def is_transient(self, exc: BaseException) -> bool:
        """Whether retrying the call that raised `exc` may succeed (a dropped socket, a
        5xx, a rate limit), as opposed to a rejection that will repeat."""
        return isinstance(exc, (ConnectionError, TimeoutError, VenueTransient))


class VenueError(Exception):
    """A venue answered with an error. `code` is the venue's own error code."""

    def __init__(self, message: str, *, code: int | str | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class VenueTransient(VenueError):
    """An error that a later retry may not meet (5xx, a dropped connection)."""


class RateLimited(VenueTransient):
    """The venue asks us to slow down; `retry_after` seconds when it says."""

    def __init__(self, message: str, *, retry_after: float | None = None,
                 code: int | str | None = None, status: int | None = None,
                 banned: bool = False) -> None:
        super().__init__(message, code=code, status=status)
        self.retry_after = retry_after
        self.banned = banned


class OrderRejected(VenueError):
    """The venue refused an order; retrying it unchanged will be refused again."""


__all__ = [
    "FINAL_STATUSES", "Balance", "Credentials", "DepthUpdate", "InstrumentMeta",
    "OrderRejected", "OrderRequest", "OrderState", "OrderStatus", "OrderType", "Position",
    "Quote", "RateLimited", "Side", "TimeInForce", "Unsupported", "UserEvent", "Venue",
    "VenueError", "VenueFill", "VenueTransient",
]
