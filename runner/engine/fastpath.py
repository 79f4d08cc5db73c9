"""A compiled fast path of the backtest's event loop for a common class of strategies.

    reason = why_not_fast(inp)
    tables = tables_of(simulate(inp), inp) if reason else simulate_fast(inp).tables

`simulate_fast(inp).tables` equals `runner.engine.tables.tables_of(simulate(inp), inp)`
— orders, fills and trades bit for bit, the equity, cash and in-position curves — with
the same log counts (only `visited` is the kernel's own count), for the inputs
`why_not_fast` accepts:

- no state-using signal and no expression with per-bar history: every rule's
  expressions are columns (`when` and the size read no run-time state);
- every rule is `action: close` (any `fraction`), or a `side` rule of `type: market`,
  `time_in_force: gtc`, without `expire_after`, `reduce_only`, `post_only`, `price`,
  `trigger` or attached exits, sized by `quantity` or `notional`;
- the risk block sets no limit and no trading hours (`allow_short` either way);
- no instrument has a `lot_size` (lot rounding goes through Python's `round`, which a
  compiled loop cannot repeat bit for bit); every symbol has an instrument spec.

How: the numba kernels (`runner.engine.fastpath_kernel`, compiled ahead of time by
`runner.native` when built, else imported and JIT-compiled on first use) step
the same bars `simulate` visits and make every decision — cooldown, `max_entries`,
sizing and the min-notional drop, the `allow_short` check, placement, reduce-only
clipping and cancelling at fill time, fill prices, fees, the engine's and the
portfolio's positions — and then book the fills as `Portfolio.apply` does (cash,
average prices, round trips), with the same floating-point operations in the same
order. Python builds the tables column by column from their arrays and words the few
reasons (drops, refusals) with the functions `simulate` uses.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from runner.engine import fastpath_codes as codes
from runner.engine.outputs import FILL_SCHEMA, ORDER_SCHEMA
from runner.engine.plan import Columns
from runner.engine.simulate import EXIT_KEYS, SimInput
from runner.engine.sizing import SizeSpec, size_order
from runner.engine.tables import TRADE_SCHEMA, RunTables, equity_curve
from runner.native import kernel_module
from runner.sim.orders import min_notional_reason

_FAST_SIZES = ("quantity", "notional")
_RISK_LIMITS = ("max_position", "max_gross_exposure", "max_open_orders",
                "max_orders_per_minute", "max_daily_loss", "max_drawdown",
                "max_daily_trades", "max_positions", "trading_hours")


def why_not_fast(inp: SimInput) -> str | None:
    """None when `simulate_fast` can run `inp`, else why not (a short phrase)."""
    if inp.continuous:
        return "an expression keeps per-bar history"
    if inp.signals:
        return "a signal reads run-time state"
    risk = inp.strategy.risk
    for name in _RISK_LIMITS:
        if getattr(risk, name) is not None:
            return f"risk sets {name}"
    for s in inp.symbols:
        spec = inp.specs.get(s)
        if spec is None:
            return f"no instrument spec for {s}"
        if spec.lot_size is not None:
            return f"{s} has a lot_size"
    for plan in inp.rules:
        rule, label = plan.rule, plan.label
        for ex in plan.exprs.values():
            if ex.column is None or ex.per_bar is not None:
                return f"{label}: an expression reads run-time state"
        if rule.action == "close":
            continue
        if rule.action is not None:
            return f"{label}: action {rule.action}"
        if rule.side is None:
            return f"{label}: no side"
        if rule.type != "market":
            return f"{label}: type {rule.type}"
        if rule.time_in_force != "gtc":
            return f"{label}: time_in_force {rule.time_in_force}"
        if rule.expire_after is not None:
            return f"{label}: expire_after"
        if rule.reduce_only:
            return f"{label}: reduce_only"
        if rule.post_only:
            return f"{label}: post_only"
        if rule.price is not None or rule.trigger is not None:
            return f"{label}: price or trigger on a market order"
        for k in EXIT_KEYS:
            if getattr(rule, k) is not None:
                return f"{label}: {k}"
        if plan.size_mode not in _FAST_SIZES:
            return f"{label}: size {plan.size_mode}"
    return None


def _num(v: Any) -> float:
    """`simulate._num`, with NaN for None."""
    if v is None or isinstance(v, bool):
        return math.nan
    f = float(v)
    return f if math.isfinite(f) else math.nan


@dataclass(frozen=True, slots=True)
class FastResult:
    """The fast path's run: its tables, the log counts `simulate` would give, and the
    number of bars the kernel looked at."""

    tables: RunTables
    log: dict[str, int]
    visited: int


def simulate_fast(inp: SimInput, *,
                  progress: Callable[[int, int], None] | None = None) -> FastResult:
    """`tables_of(simulate(inp), inp)` for an input `why_not_fast` accepts (see the
    module docstring), computed in compiled code and columns."""
    reason = why_not_fast(inp)
    if reason is not None:
        raise ValueError(f"simulate_fast cannot run this input: {reason}")
    kernels = kernel_module("runner.engine.fastpath_kernel")

    strategy = inp.strategy
    symbols = inp.symbols
    first = inp.first
    n = len(inp.close_ms)
    if progress is not None:
        progress(0, n - first)
    sym_of = {s: j for j, s in enumerate(symbols)}
    plans = inp.rules
    pairs = inp.pairs

    cand = np.asarray(inp.candidates, dtype=np.int64).reshape(-1, 2)
    cand = cand[cand[:, 0] >= first]
    cand_bar = np.ascontiguousarray(cand[:, 0])
    cand_pair = np.ascontiguousarray(cand[:, 1])
    m = len(cand_bar)
    cand_when = np.zeros(m, dtype=np.bool_)
    cand_size = np.full(m, math.nan)
    for p in np.unique(cand_pair).tolist():
        r, s = pairs[p]
        plan = plans[r]
        where = np.flatnonzero(cand_pair == p)
        rows = cand_bar[where]
        cand_when[where] = _when_at(inp, _column(plan.exprs[("when", s)].column), rows)
        if plan.rule.action is None:
            assert plan.size_mode is not None
            cand_size[where] = _size_at(
                inp, _column(plan.exprs[(plan.size_mode, s)].column), rows)

    rules = [plan.rule for plan in plans]
    specs = [inp.specs[s] for s in symbols]
    model = strategy.backtest
    out = kernels.run_kernel(
        first, n, cand_bar, cand_pair, cand_when, cand_size,
        np.array([r for r, _ in pairs], dtype=np.int64).reshape(-1),
        np.array([sym_of[s] for _, s in pairs], dtype=np.int64).reshape(-1),
        np.array([r.action == "close" for r in rules], dtype=np.bool_).reshape(-1),
        np.array([r.side == "buy" for r in rules], dtype=np.bool_).reshape(-1),
        np.array([r.fraction or 1.0 for r in rules], dtype=np.float64).reshape(-1),
        np.array([r.cooldown for r in rules], dtype=np.int64).reshape(-1),
        np.array([r.max_entries for r in rules], dtype=np.int64).reshape(-1),
        np.array([p.size_mode == "notional" for p in plans], dtype=np.bool_).reshape(-1),
        _stack([inp.bars[s][0] for s in symbols], np.float64),
        _stack([inp.bars[s][3] for s in symbols], np.float64),
        _stack([inp.fresh[s] for s in symbols], np.bool_),
        _stack([inp.bar_index[s] for s in symbols], np.int64),
        np.array([math.nan if sp.min_notional is None else sp.min_notional for sp in specs],
                 dtype=np.float64).reshape(-1),
        np.array([sp.multiplier for sp in specs], dtype=np.float64).reshape(-1),
        model.fill == "close", float(model.slippage_bps), float(model.fees.taker),
        bool(strategy.risk.allow_short), float(strategy.backtest.cash))
    tables = _tables(inp, out, cand_bar, cand_pair)
    log: dict[str, int] = {}
    kinds = out[2][:out[0]]
    for name, count in (
            ("rejected", int((kinds == codes.KIND_REJECTED).sum())),
            ("risk_reject", int((kinds == codes.KIND_RISK_REJECT).sum())),
            ("dropped", int(((kinds == codes.KIND_SIZE_DROP)
                             | (kinds == codes.KIND_NOTIONAL_DROP)).sum())),
            ("cancelled", int(out[19]))):
        if count:
            log[name] = count
    if progress is not None:
        progress(n - first, n - first)
    return FastResult(tables, log, int(out[18]))


def _tables(inp: SimInput, out: Any, cand_bar: np.ndarray,
            cand_pair: np.ndarray) -> RunTables:
    """The kernel's arrays as the run's tables, column by column."""
    (no, o_cand, o_kind, o_buy, o_qty, _placed_k, o_status, o_after,
     nf, f_order, f_price, f_qty, f_fee, f_bar, f_k, f_at_open,
     _mark_bar, _ppos, _visited, _cancelled, state_fill, state_sym, book) = out
    symbols, plans, first = inp.symbols, inp.rules, inp.first
    pair_rule = np.array([r for r, _ in inp.pairs], dtype=np.int64)
    sym_of = {s: j for j, s in enumerate(symbols)}
    pair_sym = np.array([sym_of[s] for _, s in inp.pairs], dtype=np.int64)

    # orders, in decision order
    o_cand, o_kind, o_buy = o_cand[:no], o_kind[:no], o_buy[:no]
    o_qty, o_status, o_after = o_qty[:no], o_status[:no], o_after[:no]
    o_bar = cand_bar[o_cand]
    o_rule = pair_rule[cand_pair[o_cand]]
    o_sym = pair_sym[cand_pair[o_cand]]
    bar_index = _stack([inp.bar_index[s] for s in symbols], np.int64)
    closes = [inp.bars[s][3] for s in symbols]
    is_close = np.array([plan.rule.action == "close" for plan in plans], dtype=bool)
    labels = pl.Series([plan.label for plan in plans], dtype=pl.String)
    # Text columns are gathered from their few distinct values by code: making them
    # from numpy string arrays or Python lists costs a string object per row.
    placed = o_kind == codes.KIND_PLACED
    status = _STATUS_NAMES.gather(np.select(
        [placed & (o_status == codes.STATUS_FILLED), placed & (o_status == codes.STATUS_CANCELLED),
         placed, o_kind == codes.KIND_REJECTED, o_kind == codes.KIND_RISK_REJECT],
        [0, 1, 2, 3, 4], 5))
    reasons: dict[int, str] = {}
    for j in np.flatnonzero(o_status == codes.STATUS_CANCELLED).tolist():
        if o_kind[j] == codes.KIND_PLACED:
            reasons[j] = "reduce_only: no position to reduce"
    for j in np.flatnonzero(o_kind != codes.KIND_PLACED).tolist():
        kind, qty, s = int(o_kind[j]), float(o_qty[j]), symbols[int(o_sym[j])]
        side = "buy" if o_buy[j] else "sell"
        if kind == codes.KIND_REJECTED:
            reasons[j] = f"quantity must be positive, got {qty}"
        elif kind == codes.KIND_RISK_REJECT:
            reasons[j] = (f"allow_short: {side} {qty:g} {s} would leave a short position of "
                          f"{float(o_after[j]):g} (allow_short is false)")
        else:
            plan = plans[int(o_rule[j])]
            close = float(closes[int(o_sym[j])][int(o_bar[j])])
            text = (size_order(SizeSpec(plan.size_mode, qty),  # type: ignore[arg-type]
                               math.nan, close, None, inp.specs[s])
                    if kind == codes.KIND_SIZE_DROP
                    else min_notional_reason(close, qty, inp.specs[s]))
            assert isinstance(text, str), (j, text)
            reasons[j] = text
    reason = pl.repeat(None, no, dtype=pl.String, eager=True)
    if reasons:
        reason = reason.scatter(list(reasons), list(reasons.values()))
    quantity = np.where(o_kind == codes.KIND_SIZE_DROP, np.nan, o_qty)
    sym_names = pl.Series([s for s in symbols], dtype=pl.String)
    orders = pl.DataFrame({
        "time": _ms(inp.close_ms[o_bar]), "sym": sym_names.gather(o_sym),
        "rule": o_rule, "index": o_bar - first, "buy": o_buy, "quantity": quantity,
        "close": is_close[o_rule], "placed_at": bar_index[o_sym, o_bar],
        "status": status, "reason": reason,
    }).select(
        pl.col("time").cast(ORDER_SCHEMA["time"]),
        pl.concat_str([pl.col("sym"), pl.lit("-"), pl.col("rule").cast(pl.String),
                       pl.lit("-"), pl.col("index").cast(pl.String)]).alias("id"),
        pl.col("sym").alias("symbol"),
        pl.when(pl.col("buy")).then(pl.lit("buy")).otherwise(pl.lit("sell")).alias("side"),
        pl.col("quantity").fill_nan(None),
        pl.lit("market").alias("type"),
        pl.lit(None, pl.Float64).alias("limit_price"),
        pl.lit(None, pl.Float64).alias("trigger_price"),
        pl.lit("gtc").alias("time_in_force"),
        pl.lit(None, pl.Int64).alias("expire_after"),
        pl.col("close").alias("reduce_only"),
        pl.lit(False).alias("post_only"),
        *(pl.lit(None, pl.Float64).alias(k) for k in ("stop_loss", "take_profit",
                                                       "trailing_stop", "trail")),
        pl.lit(None, pl.String).alias("parent_id"), pl.lit(None, pl.String).alias("oco_group"),
        pl.col("placed_at"), pl.col("status"), pl.col("reason"),
    ).cast(ORDER_SCHEMA)  # type: ignore[arg-type]

    # fills, in the order they happened
    f_order, f_price, f_qty, f_fee = f_order[:nf], f_price[:nf], f_qty[:nf], f_fee[:nf]
    f_bar, f_k, f_at_open = f_bar[:nf], f_k[:nf], f_at_open[:nf]
    f_ms = np.where(f_at_open, inp.open_ms[f_bar], inp.close_ms[f_bar])
    fills = pl.DataFrame({
        "order_id": orders["id"].gather(f_order) if nf else pl.Series([], dtype=pl.String),
        "symbol": orders["symbol"].gather(f_order) if nf else pl.Series([], dtype=pl.String),
        "side": orders["side"].gather(f_order) if nf else pl.Series([], dtype=pl.String),
        "time": _ms(f_ms), "price": f_price, "quantity": f_qty, "fee": f_fee,
        "liquidity": pl.repeat("taker", nf, dtype=pl.String, eager=True), "bar_index": f_k,
    }).cast(FILL_SCHEMA)  # type: ignore[arg-type]

    # the portfolio, booked in the kernel; its instruments in `Portfolio`'s order:
    # the symbol whose entry first read the run-time state, then every symbol
    multiplier = np.array([inp.specs[s].multiplier for s in symbols], dtype=np.float64)
    (nt, t_sym, t_long, t_qty, t_entry_fill, t_entry_price, t_exit_fill, t_exit_price,
     t_pnl, t_fees, ns, s_bar, s_cash, s_q, s_avg, _cash, _q) = book
    t_exit_fill = t_exit_fill[:nt]
    trades = pl.DataFrame({
        "instrument": sym_names.gather(t_sym[:nt]),
        "side": _SIDE_NAMES.gather(t_long[:nt].astype(np.int64)),
        "quantity": t_qty[:nt], "entry_time": _ms(f_ms[t_entry_fill[:nt]]),
        "entry_price": t_entry_price[:nt], "exit_time": _ms(f_ms[t_exit_fill]),
        "exit_price": t_exit_price[:nt], "pnl": t_pnl[:nt], "fees": t_fees[:nt],
        "exit_reason": labels.gather(o_rule[f_order[t_exit_fill]]),
    }).cast(TRADE_SCHEMA)  # type: ignore[arg-type]

    order = [] if state_fill < 0 else [int(state_sym)] + [
        j for j in range(len(symbols)) if j != state_sym]
    snap_bar = np.concatenate([[first], s_bar[:ns]]).astype(np.int64)
    snap_cash = np.concatenate([[float(inp.strategy.backtest.cash)], s_cash[:ns]])
    snap_q = np.vstack([np.zeros((1, len(symbols))), s_q[:ns]])[:, order]
    snap_avg = np.vstack([np.zeros((1, len(symbols))), s_avg[:ns]])[:, order]
    equity, cash, in_position = equity_curve(
        snap_bar, snap_cash, snap_q, snap_avg, [closes[j] for j in order],
        [float(multiplier[j]) for j in order], first, len(inp.close_ms))
    return RunTables(orders, fills, trades, equity, cash, in_position)


_STATUS_NAMES = pl.Series(["filled", "cancelled", "open", "rejected", "risk_reject",
                           "dropped"], dtype=pl.String)
"""orders.csv statuses of the fast path, by the code `_tables` gives each order."""
_SIDE_NAMES = pl.Series(["short", "long"], dtype=pl.String)
"""trades.csv sides, by `long` as 0 or 1."""


def _stack(rows: list[np.ndarray], dtype: Any) -> np.ndarray:
    """Per-symbol columns as one 2-d array; a single symbol's is a view, not a copy."""
    if len(rows) == 1:
        return np.ascontiguousarray(rows[0], dtype=dtype).reshape(1, -1)
    return np.array(rows, dtype=dtype)


def _ms(values: np.ndarray) -> pl.Series:
    """Epoch milliseconds as UTC datetimes."""
    return pl.Series(np.asarray(values, dtype=np.int64)).cast(pl.Datetime("ms", "UTC"))


def _gather(inp: SimInput, name: str, rows: np.ndarray) -> list[Any]:
    """A column's values at `rows` (only those become Python objects)."""
    columns = inp.columns
    if isinstance(columns, Columns):
        return columns.gather(name, rows)
    column = columns[name]
    return [column[i] for i in rows.tolist()]


def _frame_column(inp: SimInput, name: str, rows: np.ndarray) -> pl.Series | None:
    """A computed column's values at `rows` as a series, when the columns are a frame."""
    columns = inp.columns
    if isinstance(columns, Columns) and name in columns.frame.columns:
        return columns.frame[name].gather(rows)
    return None


def _when_at(inp: SimInput, name: str, rows: np.ndarray) -> np.ndarray:
    """`bool(v)` of a `when` column at `rows` (null is False), as an array."""
    series = _frame_column(inp, name, rows)
    if series is not None and series.dtype == pl.Boolean:
        return series.fill_null(False).to_numpy()
    return np.array([bool(v) for v in _gather(inp, name, rows)], dtype=np.bool_)


def _size_at(inp: SimInput, name: str, rows: np.ndarray) -> np.ndarray:
    """`_num(v)` of a size column at `rows` (null, a Boolean or a non-finite value is
    NaN), as an array."""
    series = _frame_column(inp, name, rows)
    if series is not None and (series.dtype.is_float() or series.dtype.is_integer()):
        values = series.cast(pl.Float64).fill_null(math.nan).to_numpy()
        return np.where(np.isfinite(values), values, math.nan)
    return np.array([_num(v) for v in _gather(inp, name, rows)], dtype=np.float64)


def _column(name: str | None) -> str:
    assert name is not None
    return name


__all__ = ["FastResult", "simulate_fast", "why_not_fast"]
