"""The backtest's event loop: matching engine, portfolio, risk gate and order rules,
stepped over the bars of a planned wide frame.

Per visited base bar, in this order (DESIGN §3-§4):

1. every instrument with a fresh bar and working orders (or an order rule to try)
   gets its bar: the matching engine fills resting orders, the portfolio books the
   fills, open positions are marked at the close;
2. the risk gate's `update` (halt/flatten on a standing breach);
3. state-using signals are evaluated;
4. every order rule in file order, every instrument in its scope: when `when` holds
   the order is built (sizing with the expected entry — the limit price, the trigger,
   or this bar's close for a market order), conformed to tick and lot, checked by the
   gate and submitted; its bracket is priced when it fills, with `entry_price` the
   fill price and every other name read at this bar.

Which bars are visited: every bar on which something can happen — a bar where some
rule's `when` may hold (`Planner.possible`), every bar while an order is working,
every bar while a position is open if the risk block has a limit measured on equity
(`max_drawdown`, `max_daily_loss`: the gate's peak and day-start equity see every
bar), and every bar when an expression's per-bar part keeps history of its own. On
the bars skipped nothing can change: no order rests, no rule fires, and the equity
between visits is computed afterwards from the positions held (`runner.engine.tables`),
with the same floating-point operations the portfolio uses, so it is exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import numpy as np

from runner.config.models import OrderRule, Strategy
from runner.engine.plan import Expression, signal_key
from runner.engine.portfolio import Portfolio
from runner.engine.risk import RiskGate, closing_orders
from runner.engine.sizing import SizeSpec, size_order
from runner.sim.matching import MatchingEngine, SubmitResult
from runner.sim.orders import (
    Bar,
    ExitPrices,
    Fill,
    FillModel,
    InstrumentSpec,
    Order,
    OrderEvent,
    Timestamp,
    conform,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SIZE_MODES = ("quantity", "notional", "equity_pct", "risk_pct")
EXIT_KEYS = ("stop_loss", "take_profit", "trailing_stop")
_EPS = 1e-9


@dataclass(slots=True)
class RulePlan:
    """One order rule, planned per instrument of its scope."""

    index: int
    rule: OrderRule
    label: str
    symbols: tuple[str, ...]
    exprs: dict[tuple[str, str], Expression]
    """(key, symbol) -> the planned expression; keys: when, price, trigger, the
    exits and the size mode."""
    size_mode: str | None


@dataclass(slots=True)
class OrderRow:
    """One row of orders.csv: an order the engine saw (with its final status), or one
    the run dropped or the risk gate rejected before it reached the engine."""

    time: Timestamp | None
    order: Order
    status: str
    reason: str


@dataclass(slots=True)
class Snapshot:
    """The account after a visited bar on which it changed (cash and positions)."""

    index: int
    cash: float
    positions: tuple[tuple[str, float, float], ...]
    """(symbol, signed quantity, average price), in the portfolio's order."""


@dataclass(slots=True)
class SimResult:
    """What the loop produced: every order row (in decision order), the fills in the
    order they happened, the portfolio (trades, final positions), the account after
    every bar on which it changed, how many bars were visited, the halt (reason and
    time, or empty) and the log counts."""

    orders: list[OrderRow]
    fills: list[Fill]
    portfolio: Portfolio
    snapshots: list[Snapshot]
    visited: int
    halted: str = ""
    log: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class SimInput:
    """Everything the loop reads: numpy columns per row of the wide frame (a row
    becomes Python values only when the loop visits it), the computed expression
    columns, and the planned rules."""

    strategy: Strategy
    symbols: tuple[str, ...]
    first: int
    close_ms: np.ndarray
    """Close time of each row, epoch ms (a datetime is made only for visited bars)."""
    open_ms: np.ndarray
    bars: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
    """open, high, low, close per symbol (numpy: only visited rows become floats)."""
    fresh: dict[str, np.ndarray]
    bar_index: dict[str, np.ndarray]
    columns: Mapping[str, list[Any]]
    rules: list[RulePlan]
    signals: list[tuple[str, str, Expression]]
    """State-using signals: (name, symbol, expression), evaluated per visited bar."""
    candidates: np.ndarray
    """`(bar, pair)` rows, int64, sorted: pair p = (rule, symbol) in `pairs` order, which
    may fire on that bar (unused when `continuous`: every bar is visited)."""
    pairs: list[tuple[int, str]]
    continuous: bool
    specs: dict[str, InstrumentSpec]
    params: Mapping[str, float]


class Indexed(Protocol):
    """A column the loop reads one row at a time: a numpy array or list in the
    backtest, a growing array or the latest value only in a streaming run."""

    def __getitem__(self, i: int, /) -> Any: ...


class RowData(Protocol):
    """What the loop reads (`SimInput` is one; the streaming runtime has its own)."""

    @property
    def strategy(self) -> Strategy: ...
    @property
    def symbols(self) -> tuple[str, ...]: ...
    @property
    def first(self) -> int: ...
    @property
    def close_ms(self) -> Indexed: ...
    @property
    def open_ms(self) -> Indexed: ...
    @property
    def bars(self) -> Mapping[str, tuple[Indexed, Indexed, Indexed, Indexed]]: ...
    @property
    def fresh(self) -> Mapping[str, Indexed]: ...
    @property
    def bar_index(self) -> Mapping[str, Indexed]: ...
    @property
    def columns(self) -> Mapping[str, Indexed]: ...
    @property
    def rules(self) -> list[RulePlan]: ...
    @property
    def signals(self) -> list[tuple[str, str, Expression]]: ...
    @property
    def pairs(self) -> list[tuple[int, str]]: ...
    @property
    def continuous(self) -> bool: ...
    @property
    def specs(self) -> dict[str, InstrumentSpec]: ...


class Broker(Protocol):
    """What the loop asks of whoever executes its orders: the simulated
    `MatchingEngine` (backtest, paper) or a venue (`runner.live.broker.VenueBroker`)."""

    placed: list[tuple[Timestamp | None, Order]]
    outcome: dict[str, tuple[str, str]]

    def submit(self, order: Order, *, at_close: bool = False) -> SubmitResult: ...
    def cancel_all(self, symbol: str, reason: str = ...) -> list[str]: ...
    def on_bar(self, bar: Bar, index: int | None = None) -> list[Fill]: ...
    def is_working(self, order_id: str) -> bool: ...
    def open_orders(self, symbol: str | None = None) -> list[Order]: ...
    def working_symbols(self) -> set[str]: ...
    def has_orders(self, symbol: str | None = None) -> bool: ...
    def drain_events(self) -> list[OrderEvent]: ...


def _num(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    f = float(v)
    return f if math.isfinite(f) else None


EventHook = Callable[[str, Any], None]
"""Called as `hook(kind, obj)` at the moments a journal records (intent first):
`"order"` with the conformed `Order` just *before* it is submitted, `"signal"` with
`(name, symbol)` of a state-using signal that holds on this row, `"dropped"` with
the `OrderRow` of an order that never reached the engine (sizing, lot, or a risk
decision with its reason), `"fill"` with each `Fill` as it is booked."""


@dataclass(frozen=True, slots=True)
class Stepper:
    """The loop's state behind three calls, so that the backtest (sparse, over a
    planned frame) and paper trading (one row at a time, as bars close) step the very
    same code: `visit(i, pairs)` processes row `i` (`pairs`, the indices into
    `SimInput.pairs` that may fire there, is ignored when the input is continuous),
    `busy()` says whether the next row must be visited (an order works, or the gate
    watches an open position's equity), `finish(visited)` ends the run."""

    visit: Callable[[int, Sequence[int]], None]
    busy: Callable[[], bool]
    finish: Callable[[int], SimResult]
    shutdown: Callable[[int, bool], None]
    """`shutdown(i, flatten)` after row `i`, the last: cancel every working order and,
    with `flatten`, close every position at row `i`'s close (the kill switch)."""
    portfolio: Portfolio
    """The account as it stands (read it; only the loop changes it)."""
    halted: Callable[[], str]
    """The risk gate's halt (reason and time), or empty."""
    book: Callable[[int, Sequence[Fill]], None]
    """`book(i, fills)` after row `i`: fills that came with no bar (a live venue's
    answers to the last orders of a stopping run) are booked as any other."""


def simulate(inp: SimInput, *, progress: Callable[[int, int], None] | None = None
             ) -> SimResult:
    """Run the loop described in the module docstring over every row of `inp`."""
    stepper = make_stepper(inp)
    visit, busy = stepper.visit, stepper.busy
    first, n = inp.first, len(inp.close_ms)
    cand: list[list[int]] = np.asarray(inp.candidates, dtype=np.int64).reshape(-1, 2).tolist()
    ncand = len(cand)
    ptr = 0
    while ptr < ncand and cand[ptr][0] < first:
        ptr += 1
    i = first
    visited = 0
    step = max(1, (n - first) // 100)
    next_report = first
    continuous = inp.continuous
    while i < n:
        visited += 1
        if progress is not None and i >= next_report:
            progress(i - first, n - first)
            next_report = i + step
        here: list[int] = []
        while ptr < ncand and cand[ptr][0] == i:
            here.append(cand[ptr][1])
            ptr += 1
        visit(i, here)
        if continuous or busy():
            i += 1
        else:
            i = cand[ptr][0] if ptr < ncand else n
    if progress is not None:
        progress(n - first, n - first)
    return stepper.finish(visited)


def make_stepper(inp: RowData, *, hook: EventHook | None = None,
                 broker: Broker | None = None) -> Stepper:
    """The loop over `inp` as a `Stepper`; `hook` sees each order, drop and fill.
    `broker` executes the orders (default: the simulated matching engine)."""
    strategy = inp.strategy
    symbols = inp.symbols
    specs = inp.specs
    engine: Broker = broker if broker is not None else MatchingEngine(
        FillModel.from_backtest(strategy.backtest), specs)
    portfolio = Portfolio(float(strategy.backtest.cash), specs)
    gate = RiskGate(strategy.risk)
    risk = strategy.risk
    watch_equity = risk.max_drawdown is not None or risk.max_daily_loss is not None
    cols = inp.columns
    close_ms, open_ms = inp.close_ms, inp.open_ms
    made: list[Any] = [-1, _EPOCH]  # the last row's close time: rows only move forward

    def close_time(i: int) -> datetime:
        if made[0] != i:
            made[0], made[1] = i, _EPOCH + timedelta(milliseconds=int(close_ms[i]))
        t: datetime = made[1]
        return t
    first = inp.first
    fills: list[Fill] = []
    drops: list[tuple[int, OrderRow]] = []
    snapshots: list[Snapshot] = [Snapshot(first, portfolio.cash, ())]
    reasons: dict[str, str] = {}
    log: dict[str, int] = {}
    last_order_bar: dict[tuple[int, str], int] = {}
    entries: dict[tuple[int, str], int] = {}
    working: dict[tuple[int, str], list[str]] = {}
    sig_values: dict[str, bool] = {}
    dirty = False
    halted = ""

    def note(kind: str) -> None:
        log[kind] = log.get(kind, 0) + 1

    def apply(fs: Sequence[Fill]) -> None:
        nonlocal dirty
        for f in fs:
            if hook is not None:
                hook("fill", f)
            portfolio.apply(f, _exit_reason(f.order_id, reasons))
            fills.append(f)
            dirty = True

    def dropped(i: int, order: Order, status: str, reason: str) -> None:
        """An order that never reached the engine: recorded where it was decided,
        among the engine's orders (`len(engine.placed)` of them came before it)."""
        placed = order.placed(int(inp.bar_index[order.symbol][i]))
        row = OrderRow(close_time(i), placed, status, reason)
        if hook is not None:
            hook("dropped", row)
        drops.append((len(engine.placed), row))
        note(status)

    def flatten(i: int) -> None:
        for s in symbols:
            engine.cancel_all(s, "risk flatten")
        for o in closing_orders(portfolio, f"flatten-{i - first}"):
            reasons[o.id] = "risk_flatten"
            if hook is not None:
                hook("order", o)
            apply(engine.submit(o).fills)

    def state(i: int, s: str, entry_price: float | None = None) -> dict[str, Any]:
        pos = portfolio.position(s)
        out: dict[str, Any] = {
            "position": pos.quantity,
            "entry_price": entry_price if entry_price is not None
            else (None if pos.is_flat else pos.avg_price),
            "equity": portfolio.equity(),
            "cash": portfolio.cash,
            "bar_index": float(i - first),
        }
        for other in symbols:
            p = portfolio.position(other)
            out[f"{other}.position"] = p.quantity
            out[f"{other}.entry_price"] = None if p.is_flat else p.avg_price
        return out

    def values(ex: Expression, i: int) -> dict[str, Any]:
        out: dict[str, Any] = {"time": close_time(i)}
        for key, source in ex.reads:
            col = cols.get(source)
            out[key] = col[i] if col is not None else sig_values.get(source, False)
        return out

    def value(ex: Expression, i: int, st: Mapping[str, Any]) -> Any:
        if ex.column is not None:
            return cols[ex.column][i]
        assert ex.per_bar is not None
        return ex.per_bar.step(values(ex, i), st)

    def exit_pricer(plan: RulePlan, s: str, i: int,
                    decided: dict[str, float | None]) -> Callable[[float], ExitPrices]:
        """Exits priced at fill: entry_price = the fill price, the rest at bar i."""
        live = {k: plan.exprs[(k, s)] for k in EXIT_KEYS if (k, s) in plan.exprs}
        frozen = {k: (cols[ex.column][i] if ex.column is not None else None)
                  for k, ex in live.items()}
        base = state(i, s)
        snap = {k: values(ex, i) for k, ex in live.items() if ex.per_bar is not None}

        def price(fill_price: float) -> ExitPrices:
            out: list[float | None] = []
            for k in EXIT_KEYS:
                ex = live.get(k)
                if ex is None:
                    out.append(None)
                elif ex.column is not None:
                    out.append(_num(frozen[k]))
                elif ex.history:
                    out.append(decided.get(k))
                else:
                    assert ex.per_bar is not None
                    out.append(_num(ex.per_bar.step(snap[k], {**base,
                                                              "entry_price": fill_price})))
            return out[0], out[1], out[2]

        return price

    def try_rule(plan: RulePlan, s: str, i: int) -> None:
        rule, r = plan.rule, plan.index
        exprs = plan.exprs
        st: dict[str, Any] | None = None
        cache: dict[str, Any] = {}

        def get(key: str, at: Mapping[str, Any]) -> Any:
            """Each expression once per rule, instrument and bar (history steps once)."""
            if key not in cache:
                cache[key] = value(exprs[(key, s)], i, at)
            return cache[key]

        if inp.continuous:
            # Every per-bar expression steps on every bar, so its history sees every
            # bar; the entry-dependent ones with the expected entry as `entry_price`.
            st = state(i, s)
            get("when", st)
            for key in ("price", "trigger"):
                if (key, s) in exprs:
                    get(key, st)
            expected = _expected_entry(rule.type, _num(cache.get("price")),
                                       _num(cache.get("trigger")),
                                       float(inp.bars[s][3][i]))
            at_entry = state(i, s, entry_price=expected)
            for key in (*EXIT_KEYS, *SIZE_MODES):
                if (key, s) in exprs:
                    get(key, at_entry)
        when_ex = exprs[("when", s)]
        if when_ex.column is not None:
            when = bool(cols[when_ex.column][i])
        else:
            st = st or state(i, s)
            when = bool(get("when", st))
        if not when or not inp.fresh[s][i]:
            return
        if rule.action == "cancel_orders":
            engine.cancel_all(s, plan.label)
            return
        if i - last_order_bar.get((r, s), -10**9) <= rule.cooldown:
            return
        position = portfolio.quantity(s)
        oid = f"{s}-{r}-{i - first}"
        close = float(inp.bars[s][3][i])
        if rule.action == "close":
            qty = abs(position) * (rule.fraction or 1.0)
            if qty <= _EPS:
                return
            order = Order(id=oid, symbol=s, side="sell" if position > 0 else "buy",
                          quantity=qty, reduce_only=True)
            ref_price = close
        else:
            assert rule.side is not None
            sign = 1.0 if rule.side == "buy" else -1.0
            # max_entries counts this rule's entries while its position is open and
            # its entry orders still working (a resting limit is an entry in flight)
            live = [oid for oid in working.get((r, s), ()) if engine.is_working(oid)]
            working[(r, s)] = live
            if position * sign <= _EPS and not live:
                entries[(r, s)] = 0
            if entries.get((r, s), 0) >= rule.max_entries:
                return
            st = st or state(i, s)
            price = trigger = None
            if ("price", s) in exprs:
                price = _num(get("price", st))
            if ("trigger", s) in exprs:
                trigger = _num(get("trigger", st))
            expected = _expected_entry(rule.type, price, trigger, close)
            template = Order(id=oid, symbol=s, side=rule.side, quantity=math.nan,
                             type=rule.type,
                             limit_price=price if rule.type in ("limit", "stop_limit")
                             else None,
                             trigger_price=trigger if rule.type in ("stop", "stop_limit")
                             else None,
                             time_in_force=rule.time_in_force,
                             expire_after=rule.expire_after, reduce_only=rule.reduce_only,
                             post_only=rule.post_only)
            if expected is None:
                dropped(i, template, "dropped", f"{rule.type} price is null on this bar")
                return
            ref_price = expected
            entry_state = state(i, s, entry_price=ref_price)
            decided: dict[str, float | None] = {}
            for k in EXIT_KEYS:
                if (k, s) in exprs:
                    decided[k] = _num(get(k, entry_state))
            assert plan.size_mode is not None and rule.size is not None
            size_value = _num(get(plan.size_mode, entry_state))
            size = SizeSpec(plan.size_mode, math.nan if size_value is None  # type: ignore[arg-type]
                            else size_value)
            qty_or_reason = size_order(size, portfolio.equity(), ref_price,
                                       decided.get("stop_loss"), specs[s])
            if isinstance(qty_or_reason, str):
                dropped(i, template, "dropped", qty_or_reason)
                return
            has_exits = any((k, s) in exprs for k in EXIT_KEYS)
            order = Order(id=oid, symbol=s, side=rule.side, quantity=qty_or_reason,
                          type=template.type, limit_price=template.limit_price,
                          trigger_price=template.trigger_price,
                          time_in_force=rule.time_in_force, expire_after=rule.expire_after,
                          reduce_only=rule.reduce_only, post_only=rule.post_only,
                          exits=exit_pricer(plan, s, i, decided) if has_exits else None)
        conformed = conform(order, specs[s], ref_price)
        if isinstance(conformed, str):
            dropped(i, order, "dropped", conformed)
            return
        open_counts: dict[str, int] = {}
        if risk.max_open_orders is not None:
            for o in engine.open_orders():
                open_counts[o.symbol] = open_counts.get(o.symbol, 0) + 1
        verdict = gate.check(conformed, close_time(i), ref_price, portfolio, open_counts)
        if not verdict.accepted:
            dropped(i, conformed, f"risk_{verdict.action}",
                    f"{verdict.limit}: {verdict.reason}")
            if verdict.action == "flatten":
                flatten(i)
            return
        reasons[conformed.id] = plan.label
        if hook is not None:
            hook("order", conformed)
        result = engine.submit(conformed)
        if not result.accepted:
            note("rejected")
            return
        last_order_bar[(r, s)] = i
        apply(result.fills)
        if rule.action is None:
            entries[(r, s)] = entries.get((r, s), 0) + 1
            if engine.is_working(conformed.id):
                working.setdefault((r, s), []).append(conformed.id)

    pairs = inp.pairs
    plans = inp.rules
    bars = inp.bars
    fresh = inp.fresh
    index_of = inp.bar_index

    def visit(i: int, here: Sequence[int]) -> None:
        nonlocal dirty, halted
        now = close_time(i)
        if inp.continuous:
            wanted: Sequence[str] = symbols
        else:
            wanted_set = engine.working_symbols()
            wanted_set.update(pairs[p][1] for p in here)
            wanted = [s for s in symbols if s in wanted_set]
        for s in wanted:
            if not fresh[s][i]:
                continue
            o, h, lo, c = bars[s]
            opened = _EPOCH + timedelta(milliseconds=int(open_ms[i]))
            apply(engine.on_bar(Bar(s, float(o[i]), float(h[i]), float(lo[i]), float(c[i]),
                                    opened, now), int(index_of[s][i])))
        for pos in portfolio.open_positions():
            c_now = float(bars[pos.symbol][3][i])
            if c_now == c_now:  # NaN before the instrument's first bar
                portfolio.mark(pos.symbol, c_now)
        if watch_equity:
            decision = gate.update(now, portfolio)
            if decision is not None:
                note(f"risk_{decision.action}")
                if decision.action == "flatten":
                    flatten(i)
        for name, s, ex in inp.signals:
            held = sig_values[signal_key(name, s)] = bool(value(ex, i, state(i, s)))
            if held and hook is not None:
                hook("signal", (name, s))
        if inp.continuous:
            for plan in plans:
                for s in plan.symbols:
                    try_rule(plan, s, i)
        else:
            for p in here:
                r, s = pairs[p]
                try_rule(plans[r], s, i)
        if gate.halted and not halted:
            halted = f"{gate.halt_reason} at {now.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}Z"
        if dirty:
            snapshots.append(Snapshot(i, portfolio.cash, tuple(
                (p.symbol, p.quantity, p.avg_price) for p in portfolio.positions.values())))
            dirty = False

    def shutdown(i: int, flatten_positions: bool) -> None:
        nonlocal dirty
        for s in symbols:
            engine.cancel_all(s, "shutdown")
        if flatten_positions:
            for o in closing_orders(portfolio, f"exit-{i - first}"):
                reasons[o.id] = "shutdown"
                if hook is not None:
                    hook("order", o)
                apply(engine.submit(o, at_close=True).fills)
        if dirty:
            snapshots.append(Snapshot(i, portfolio.cash, tuple(
                (p.symbol, p.quantity, p.avg_price) for p in portfolio.positions.values())))
            dirty = False

    def book(i: int, fs: Sequence[Fill]) -> None:
        nonlocal dirty
        apply(fs)
        if dirty:
            snapshots.append(Snapshot(i, portfolio.cash, tuple(
                (p.symbol, p.quantity, p.avg_price) for p in portfolio.positions.values())))
            dirty = False

    def busy() -> bool:
        return engine.has_orders() or bool(watch_equity and portfolio.open_positions())

    def finish(visited: int) -> SimResult:
        for event in engine.drain_events():
            if event.kind in ("cancelled", "expired"):
                note(event.kind)
        rows: list[OrderRow] = []
        waiting = iter(drops)
        drop = next(waiting, None)
        for j, (t, placed) in enumerate(engine.placed):
            while drop is not None and drop[0] <= j:
                rows.append(drop[1])
                drop = next(waiting, None)
            status, why = engine.outcome.get(placed.id, ("open", ""))
            rows.append(OrderRow(t, placed, status, why))
        while drop is not None:
            rows.append(drop[1])
            drop = next(waiting, None)
        return SimResult(rows, fills, portfolio, snapshots, visited, halted, log)

    return Stepper(visit, busy, finish, shutdown, portfolio, lambda: halted, book)


def _expected_entry(order_type: str, price: float | None, trigger: float | None,
                    close: float | None) -> float | None:
    """The price an entry is sized at: its limit, its trigger, or this bar's close."""
    if order_type == "limit":
        return price
    if order_type in ("stop", "stop_limit"):
        return trigger
    return close


def _exit_reason(order_id: str, reasons: Mapping[str, str]) -> str:
    for suffix, reason in ((":sl", "stop_loss"), (":tp", "take_profit"),
                           (":trail", "trailing_stop")):
        if order_id.endswith(suffix):
            return reason
    return reasons.get(order_id, "")


__all__ = [
    "EventHook",
    "Indexed",
    "OrderRow",
    "RowData",
    "RulePlan",
    "SimInput",
    "SimResult",
    "Snapshot",
    "Stepper",
    "make_stepper",
    "simulate",
]
