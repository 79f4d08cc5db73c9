"""A compiled fast path of the backtest's event loop for a common class of strategies.

    reason = why_not_fast(inp)
    result = simulate(inp) if reason else simulate_fast(inp)

`simulate_fast(inp)` returns what `runner.engine.simulate.simulate(inp)` returns —
the same order rows, fills (bit for bit), trades, snapshots and log counts; only
`visited` is the kernel's own count — for the inputs `why_not_fast` accepts:

- no state-using signal and no expression with per-bar history: every rule's
  expressions are columns (`when` and the size read no run-time state);
- every rule is `action: close` (any `fraction`), or a `side` rule of `type: market`,
  `time_in_force: gtc`, without `expire_after`, `reduce_only`, `post_only`, `price`,
  `trigger` or attached exits, sized by `quantity` or `notional`;
- the risk block sets no limit and no trading hours (`allow_short` either way);
- no instrument has a `lot_size` (lot rounding goes through Python's `round`, which a
  compiled loop cannot repeat bit for bit); every symbol has an instrument spec.

How: the numba kernel (`runner.engine.fastpath_kernel`, imported on first use) steps
the same bars `simulate` visits and makes every decision — cooldown, `max_entries`,
sizing and the min-notional drop, the `allow_short` check, placement, reduce-only
clipping and cancelling at fill time, fill prices, fees and the engine's and the
portfolio's positions — with the same floating-point operations. Python then builds
the `Order`, `Fill` and `OrderRow` objects from its arrays, words the reasons with
the functions `simulate` uses, and books the fills through `Portfolio.apply` (trades
and cash come from the portfolio itself, not from the kernel).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from runner.engine.portfolio import Portfolio
from runner.engine.simulate import EXIT_KEYS, OrderRow, SimInput, SimResult, Snapshot
from runner.engine.sizing import SizeSpec, size_order
from runner.sim.orders import Fill, Order, min_notional_reason

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
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


def simulate_fast(inp: SimInput, *,
                  progress: Callable[[int, int], None] | None = None) -> SimResult:
    """`simulate(inp)` for an input `why_not_fast` accepts (see the module docstring)."""
    reason = why_not_fast(inp)
    if reason is not None:
        raise ValueError(f"simulate_fast cannot run this input: {reason}")
    from runner.engine import fastpath_kernel as fk

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
        bars = cand_bar[where].tolist()
        when_col = inp.columns[_column(plan.exprs[("when", s)].column)]
        cand_when[where] = [bool(when_col[i]) for i in bars]
        if plan.rule.action is None:
            assert plan.size_mode is not None
            size_col = inp.columns[_column(plan.exprs[(plan.size_mode, s)].column)]
            cand_size[where] = [_num(size_col[i]) for i in bars]

    rules = [plan.rule for plan in plans]
    specs = [inp.specs[s] for s in symbols]
    model = strategy.backtest
    out = fk.run_kernel(
        first, n, cand_bar, cand_pair, cand_when, cand_size,
        np.array([r for r, _ in pairs], dtype=np.int64).reshape(-1),
        np.array([sym_of[s] for _, s in pairs], dtype=np.int64).reshape(-1),
        np.array([r.action == "close" for r in rules], dtype=np.bool_).reshape(-1),
        np.array([r.side == "buy" for r in rules], dtype=np.bool_).reshape(-1),
        np.array([r.fraction or 1.0 for r in rules], dtype=np.float64).reshape(-1),
        np.array([r.cooldown for r in rules], dtype=np.int64).reshape(-1),
        np.array([r.max_entries for r in rules], dtype=np.int64).reshape(-1),
        np.array([p.size_mode == "notional" for p in plans], dtype=np.bool_).reshape(-1),
        np.array([inp.bars[s][0] for s in symbols], dtype=np.float64).reshape(len(symbols), n),
        np.array([inp.bars[s][3] for s in symbols], dtype=np.float64).reshape(len(symbols), n),
        np.array([inp.fresh[s] for s in symbols], dtype=np.bool_).reshape(len(symbols), n),
        np.array([inp.bar_index[s] for s in symbols], dtype=np.int64).reshape(len(symbols), n),
        np.array([math.nan if sp.min_notional is None else sp.min_notional for sp in specs],
                 dtype=np.float64).reshape(-1),
        np.array([sp.multiplier for sp in specs], dtype=np.float64).reshape(-1),
        model.fill == "close", float(model.slippage_bps), float(model.fees.taker),
        bool(strategy.risk.allow_short))
    (no, o_cand, o_kind, o_buy, o_qty, _placed_k, o_status, o_after,
     nf, f_order, f_price, f_qty, f_fee, f_bar, f_k, f_at_open,
     mark_bar, ppos, visited, cancelled, state_fill, state_sym) = out

    close_ms, open_ms = inp.close_ms, inp.open_ms
    times: dict[int, datetime] = {}

    def close_time(i: int) -> datetime:
        t = times.get(i)
        if t is None:
            t = times[i] = _EPOCH + timedelta(milliseconds=int(close_ms[i]))
        return t

    log: dict[str, int] = {}

    def note(kind: str, count: int = 1) -> None:
        if count:
            log[kind] = log.get(kind, 0) + count

    rows: list[OrderRow] = []
    orders: list[Order] = []
    labels: list[str] = []
    kinds = o_kind[:no].tolist()
    cands = o_cand[:no].tolist()
    buys = o_buy[:no].tolist()
    qtys = o_qty[:no].tolist()
    statuses = o_status[:no].tolist()
    afters = o_after[:no].tolist()
    cbars = cand_bar.tolist()
    cpairs = cand_pair.tolist()
    for j in range(no):
        c = cands[j]
        i = cbars[c]
        r, s = pairs[cpairs[c]]
        plan = plans[r]
        rule = plan.rule
        oid = f"{s}-{r}-{i - first}"
        side: Any = "buy" if buys[j] else "sell"
        kind = kinds[j]
        qty = qtys[j]
        labels.append(plan.label)
        close = float(inp.bars[s][3][i])
        k_here = int(inp.bar_index[s][i])
        if rule.action == "close":
            order = Order(id=oid, symbol=s, side=side, quantity=qty, reduce_only=True,
                          placed_at=k_here)
        elif kind == fk.KIND_SIZE_DROP:
            order = Order(id=oid, symbol=s, side=side, quantity=math.nan, type=rule.type,
                          time_in_force=rule.time_in_force,
                          expire_after=rule.expire_after, reduce_only=rule.reduce_only,
                          post_only=rule.post_only, placed_at=k_here)
        else:
            order = Order(id=oid, symbol=s, side=side, quantity=qty, type=rule.type,
                          time_in_force=rule.time_in_force,
                          expire_after=rule.expire_after, reduce_only=rule.reduce_only,
                          post_only=rule.post_only,
                          placed_at=k_here)
        orders.append(order)
        if kind == fk.KIND_PLACED:
            status = statuses[j]
            if status == fk.STATUS_FILLED:
                row = OrderRow(close_time(i), order, "filled", "")
            elif status == fk.STATUS_CANCELLED:
                row = OrderRow(close_time(i), order, "cancelled",
                               "reduce_only: no position to reduce")
            else:
                row = OrderRow(close_time(i), order, "open", "")
            rows.append(row)
        elif kind == fk.KIND_REJECTED:
            rows.append(OrderRow(close_time(i), order, "rejected",
                                   f"quantity must be positive, got {qty}"))
            note("rejected")
        elif kind == fk.KIND_RISK_REJECT:
            why = (f"{side} {qty:g} {s} would leave a short position of {afters[j]:g} "
                   "(allow_short is false)")
            rows.append(OrderRow(close_time(i), order, "risk_reject",
                                    f"allow_short: {why}"))
            note("risk_reject")
        else:
            spec = inp.specs[s]
            text = (size_order(SizeSpec(plan.size_mode, qty),  # type: ignore[arg-type]
                               math.nan, close, None, spec)
                    if kind == fk.KIND_SIZE_DROP else min_notional_reason(close, qty, spec))
            assert isinstance(text, str), (oid, text)
            rows.append(OrderRow(close_time(i), order, "dropped", text))
            note("dropped")

    portfolio = Portfolio(float(strategy.backtest.cash), inp.specs)
    fills: list[Fill] = []
    snapshots: list[Snapshot] = [Snapshot(first, portfolio.cash, ())]

    def touch_all(j: int) -> None:
        """`simulate`'s `state()` creates every symbol's position, in this order."""
        portfolio.position(symbols[j])
        for other in symbols:
            portfolio.position(other)

    f_orders = f_order[:nf].tolist()
    f_bars = f_bar[:nf].tolist()
    f_prices = f_price[:nf].tolist()
    f_qtys = f_qty[:nf].tolist()
    f_fees = f_fee[:nf].tolist()
    f_ks = f_k[:nf].tolist()
    f_opens = f_at_open[:nf].tolist()
    for j in range(nf):
        if j == state_fill:
            touch_all(state_sym)
        o = orders[f_orders[j]]
        i = f_bars[j]
        t = (_EPOCH + timedelta(milliseconds=int(open_ms[i])) if f_opens[j]
             else close_time(i))
        fill = Fill(o.id, o.symbol, o.side, t, f_prices[j], f_qtys[j], f_fees[j], "taker",
                    f_ks[j])
        portfolio.apply(fill, labels[f_orders[j]])
        fills.append(fill)
        if j + 1 == nf or f_bars[j + 1] != i:
            snapshots.append(Snapshot(i, portfolio.cash, tuple(
                (p.symbol, p.quantity, p.avg_price) for p in portfolio.positions.values())))
    if state_fill >= nf:
        touch_all(state_sym)
    for j, s in enumerate(symbols):
        if mark_bar[j] >= 0:
            portfolio.mark(s, float(inp.bars[s][3][int(mark_bar[j])]))
        assert portfolio.quantity(s) == ppos[j], (s, portfolio.quantity(s), ppos[j])
    note("cancelled", int(cancelled))
    if progress is not None:
        progress(n - first, n - first)
    return SimResult(rows, fills, portfolio, snapshots, int(visited), "", log)


def _column(name: str | None) -> str:
    assert name is not None
    return name


__all__ = ["simulate_fast", "why_not_fast"]
