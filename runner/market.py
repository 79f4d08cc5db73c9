"""Market-data events: what a feed yields, what a venue streams, what bars are made of.

A top-level module with no heavy imports (no polars, no engine), so a venue plugin
can name these types at import time and `runner validate` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Trade:
    """One exchange trade: its exchange timestamp (epoch ms), price and amount."""

    time_ms: int
    price: float
    amount: float


Bar = tuple[float, float, float, float, float | None]
"""open, high, low, close, volume (None when the venue has none)."""


@dataclass(frozen=True, slots=True)
class BarEvent:
    """A closed base bar of one instrument."""

    symbol: str
    open_ms: int
    bar: Bar


@dataclass(frozen=True, slots=True)
class TradeEvent:
    symbol: str
    trade: Trade


@dataclass(frozen=True, slots=True)
class TradeBatch:
    """Several trades of one instrument delivered together (an exchange message with
    many trades, or a chunk of a fast replay): all of them are taken before the
    clock moves on (DESIGN §3: every trade of a batch)."""

    symbol: str
    trades: tuple[Trade, ...]


MarketEvent = BarEvent | TradeEvent | TradeBatch


__all__ = ["Bar", "BarEvent", "MarketEvent", "Trade", "TradeBatch", "TradeEvent"]
