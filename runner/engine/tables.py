"""A simulation's results as the tables the output files are written from.

Both ways of running the loop end here: `tables_of(result, inp)` turns the event
loop's objects (`runner.engine.simulate.SimResult`) into `RunTables`, and the
compiled fast path (`runner.engine.fastpath`) builds the same `RunTables` straight
from its arrays, never making a Python object per order or fill. The fast path's
test holds the two equal, table for table.

The equity curve is computed here for both, from the account's state after each bar
on which it changed (cash, and each instrument's quantity and average price) and the
closes in between: `cash + sum(quantity * (close - average) * multiplier)`, summed in
the portfolio's order of instruments — the operations `Portfolio.equity` does, so the
curve is exact although the loop never visits most bars.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from runner.engine.outputs import fills_frame, orders_frame
from runner.engine.portfolio import Portfolio
from runner.engine.simulate import SimInput, SimResult

TRADE_SCHEMA: dict[str, pl.DataType] = {
    "instrument": pl.String(), "side": pl.String(), "quantity": pl.Float64(),
    "entry_time": pl.Datetime("ms", "UTC"), "entry_price": pl.Float64(),
    "exit_time": pl.Datetime("ms", "UTC"), "exit_price": pl.Float64(),
    "pnl": pl.Float64(), "fees": pl.Float64(), "exit_reason": pl.String()}


@dataclass(frozen=True, slots=True)
class RunTables:
    """orders.csv, fills.csv and trades.csv as frames; equity, cash and whether any
    position is open per traded bar (rows `first..n` of the frame)."""

    orders: pl.DataFrame
    fills: pl.DataFrame
    trades: pl.DataFrame
    equity: np.ndarray
    cash: np.ndarray
    in_position: np.ndarray


def trades_frame(portfolio: Portfolio) -> pl.DataFrame:
    """The portfolio's closed round trips with the trades.csv columns."""
    return pl.DataFrame({k: [getattr(t, k) for t in portfolio.trades] for k in TRADE_SCHEMA},
                        schema=TRADE_SCHEMA)


def equity_curve(snap_bar: np.ndarray, snap_cash: np.ndarray, snap_qty: np.ndarray,
                 snap_avg: np.ndarray, closes: Sequence[np.ndarray],
                 multipliers: Sequence[float], first: int,
                 n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Equity, cash and in-position for rows `first..n`.

    `snap_*` are the account after each changing bar (`snap_bar` ascending, the first
    at `first` with the starting cash); `snap_qty` / `snap_avg` have one column per
    instrument in the portfolio's order, and `closes` / `multipliers` follow it."""
    # each snapshot holds from its bar to the next one's (a later snapshot of the same
    # bar replaces it): repeat it that many rows, with no per-row index array
    ends = np.append(snap_bar[1:], n)
    lengths = np.clip(ends, first, n) - np.clip(snap_bar, first, n)
    cash = np.repeat(snap_cash, lengths)
    total = np.zeros(n - first)
    in_position = np.zeros(n - first, dtype=bool)
    for j, close in enumerate(closes):
        qty = np.repeat(snap_qty[:, j], lengths)
        avg = np.repeat(snap_avg[:, j], lengths)
        held = qty != 0.0
        with np.errstate(invalid="ignore"):
            unrealized = np.where(held, qty * (close[first:n] - avg) * multipliers[j], 0.0)
        total = unrealized if j == 0 else total + unrealized
        in_position |= held
    return cash + total, cash, in_position


def tables_of(result: SimResult, inp: SimInput) -> RunTables:
    """The event loop's result as tables."""
    order = list(result.portfolio.positions)
    snaps = result.snapshots
    column = {s: j for j, s in enumerate(order)}
    qty = np.zeros((len(snaps), len(order)))
    avg = np.zeros((len(snaps), len(order)))
    for k, snap in enumerate(snaps):
        for symbol, q, a in snap.positions:
            qty[k, column[symbol]] = q
            avg[k, column[symbol]] = a
    n = len(inp.close_ms)
    equity, cash, in_position = equity_curve(
        np.array([s.index for s in snaps], dtype=np.int64),
        np.array([s.cash for s in snaps]), qty, avg,
        [inp.bars[s][3] for s in order], [inp.specs[s].multiplier for s in order],
        inp.first, n)
    return RunTables(orders_frame(result.orders), fills_frame(result.fills),
                     trades_frame(result.portfolio), equity, cash, in_position)


__all__ = ["TRADE_SCHEMA", "RunTables", "equity_curve", "tables_of", "trades_frame"]
