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
    rows = n - first
    equity = np.empty(rows)
    in_position = np.empty(rows, dtype=bool)
    # Rows `bounds[k]..bounds[k + 1]` (from `first`) hold snapshot k. The per-row
    # quantities and prices are made one block of rows at a time: column-sized
    # temporaries would cost more in fresh memory (page faults) than in arithmetic.
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    for start in range(0, rows, _BLOCK):
        stop = min(start + _BLOCK, rows)
        k0 = int(np.searchsorted(bounds, start, side="right")) - 1
        k1 = int(np.searchsorted(bounds, stop, side="left"))
        block = np.diff(np.clip(bounds[k0:k1 + 1], start, stop))
        total, held_any = _unrealized(snap_qty[k0:k1], snap_avg[k0:k1], block,
                                      [close[first + start:first + stop] for close in closes],
                                      multipliers)
        np.add(cash[start:stop], total, out=equity[start:stop])
        in_position[start:stop] = held_any
    return equity, cash, in_position


_BLOCK = 1 << 18
"""Rows per block of `equity_curve` (2 MiB of floats: the temporaries stay in cache)."""


def _unrealized(qty: np.ndarray, avg: np.ndarray, lengths: np.ndarray,
                closes: Sequence[np.ndarray], multipliers: Sequence[float],
                ) -> tuple[np.ndarray, np.ndarray]:
    """Per row, `sum(where(held, qty * (close - avg) * multiplier, 0.0))` over the
    instruments in order (the portfolio's operations, so the sum is exact), and
    whether any is held; snapshot k (`qty[k]`, `avg[k]`) holds for `lengths[k]` rows."""
    total = np.zeros(int(lengths.sum()))
    in_position = np.zeros(total.shape[0], dtype=bool)
    for j, close in enumerate(closes):
        q = np.repeat(qty[:, j], lengths)
        unrealized = np.repeat(avg[:, j], lengths)
        held = q != 0.0
        with np.errstate(invalid="ignore"):
            np.subtract(close, unrealized, out=unrealized)
            np.multiply(q, unrealized, out=unrealized)
            np.multiply(unrealized, multipliers[j], out=unrealized)
        np.copyto(unrealized, 0.0, where=~held)
        if j == 0:
            total = unrealized
        else:
            np.add(total, unrealized, out=total)
        in_position |= held
    return total, in_position


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
