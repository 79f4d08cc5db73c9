"""`runner run FILE --mode backtest`: wire the tested pieces into one simulated run.

    summary = run_backtest(validated, registry, out_dir=Path("runs/x"))

Pipeline (DESIGN §3-§6), in order:

1. Bars: every instrument's stored bars are loaded (`runner.data.load.load_bars`),
   resampled to the base timeframe when the data is finer, and to every listed
   timeframe (`runner.bars.resample`, incomplete windows dropped).
2. Indicators are computed in the compiled graph's order on the bars of each
   timeframe they are read on (their own, plus any `name@tf` read), and every
   higher-timeframe column is attached to the base bars as `col@tf` by
   `runner.bars.align` (the last higher bar closed by the base bar's close: no
   lookahead).
3. Instruments are put on one clock (`common_clock`) in a wide frame whose columns
   are `SYMBOL.column`; an expression evaluated for instrument X reads its bare
   names from X's columns.
4. Signals and order-rule expressions without run-time state are evaluated over
   whole columns (`to_polars`); the others (and signals reading them) are stepped
   per bar (`compile_per_bar`) with the state of the portfolio at that bar's close.
5. The per-bar loop, per base bar, per instrument with a fresh bar: matching engine
   (`on_bar`) fills → portfolio → mark at close; then the risk gate's `update`
   (halt/flatten on a standing breach); then every order rule in file order, every
   instrument in its scope: when `when` is true the order is built (sizing,
   stop-loss/take-profit evaluated with `entry_price` = the expected entry: limit
   price, trigger, or this bar's close for a market order), conformed to tick/lot,
   checked by the gate and submitted. Equity is recorded at every base bar's close.
6. Metrics, and the five files by `write_run`.

Simplifications of this first slice (see the report of issue 4):

- No warm-up bars are loaded before `start`: indicators warm up inside the range.
- `max_entries` counts entries of a rule while a position stays open; `cooldown`
  counts base bars since the rule's last submitted order.
- An indicator `input` must name a column of the bars it is computed on (a price
  field or another indicator of that timeframe); `input: x@tf` is not supported.
- Positions still open at the end stay open (valued at the last close).
- Order events (cancels, expiries, risk rejections, dropped sizes) are counted in
  the returned `log` only, not written to a file.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, Literal

import polars as pl

from runner.bars.align import align, common_clock
from runner.bars.resample import resample, timeframe_ms
from runner.compile import compile as compile_graph
from runner.config.loader import KeyPath
from runner.config.models import OrderRule, Strategy
from runner.config.validate import Validated
from runner.data.load import load_bars
from runner.engine.expressions import ColumnNames, default_column, state_refs, to_polars
from runner.engine.metrics import drawdown, metrics
from runner.engine.outputs import config_fingerprint, fills_frame, write_run
from runner.engine.per_bar import PerBarExpr, compile_per_bar
from runner.engine.portfolio import Portfolio
from runner.engine.risk import RiskDecision, RiskGate, closing_orders
from runner.engine.sizing import SizeSpec, size_order
from runner.errors import ConfigError, UsageError
from runner.expr.scope import IndicatorRef, ParamRef, Ref, SignalRef, StateRef
from runner.indicators.api import compute
from runner.plugins import Registry
from runner.sim.matching import MatchingEngine
from runner.sim.orders import Bar, Fill, FillModel, InstrumentSpec, Order, conform

_PRICE_FIELDS = ("open", "high", "low", "close", "volume")
_YEAR_MS = 365 * 24 * 3600 * 1000
_EPS = 1e-9


def _utc(value: date | datetime | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime.combine(value, time(0), tzinfo=UTC)


# -- bars and indicators -------------------------------------------------------------


def _indicator_deps(strategy: Strategy, name: str) -> list[str]:
    spec = strategy.indicators[name]
    sources: list[str] = []
    if isinstance(spec.input, str):
        sources = [spec.input]
    elif isinstance(spec.input, dict):
        sources = list(spec.input.values())
    return [s.split(".")[0] for s in sources if s.split(".")[0] in strategy.indicators]


def _needed_indicators(strategy: Strategy, refs: Sequence[Ref],
                       base_tf: str) -> dict[str, set[str]]:
    """timeframe -> indicator names to compute on its bars."""
    needed: dict[str, set[str]] = {}
    for name, spec in strategy.indicators.items():
        needed.setdefault(spec.timeframe or base_tf, set()).add(name)
    for ref in refs:
        if isinstance(ref, IndicatorRef) and ref.timeframe is not None:
            needed.setdefault(ref.timeframe, set()).add(ref.name)
    for names in needed.values():
        todo = list(names)
        while todo:
            for dep in _indicator_deps(strategy, todo.pop()):
                if dep not in names:
                    names.add(dep)
                    todo.append(dep)
    return needed


def _compute_indicator(frame: pl.DataFrame, name: str, strategy: Strategy,
                       validated: Validated, registry: Registry) -> pl.DataFrame:
    spec = strategy.indicators[name]
    definition = registry.indicators[spec.type]
    roles = definition.inputs
    sources: dict[str, str] = {role: role for role in roles}
    if isinstance(spec.input, str):
        sources[roles[0]] = spec.input
    elif isinstance(spec.input, dict):
        sources.update(spec.input)
    for role, source in sources.items():
        if source not in frame.columns:
            raise UsageError(f'indicator "{name}": input {role} = "{source}" is not a column '
                             "of its bars (not supported by backtest yet)")
    inputs = frame.select([pl.col(src).alias(role) for role, src in sources.items()])
    params = validated.indicator_params.get(name)
    values = compute(spec.type, inputs, registry=registry,
                     **(params.model_dump() if params is not None else {}))
    outputs = definition.outputs
    renamed = ({outputs[0]: name} if len(outputs) == 1
               else {o: f"{name}.{o}" for o in outputs})
    return frame.with_columns([values[o].alias(n) for o, n in renamed.items()])


def _instrument_frame(symbol: str, strategy: Strategy, validated: Validated,
                      registry: Registry, needed: Mapping[str, set[str]],
                      indicator_order: Sequence[str], *, start: datetime | None,
                      end: datetime | None, data_path: str | None) -> pl.DataFrame:
    """Base bars of `symbol` with its indicators and every `@tf` column aligned."""
    data = strategy.data
    if data is None:
        raise UsageError("the strategy has no data: section (needed for a backtest)")
    base_tf = strategy.base_timeframe
    if data.source not in ("parquet", "csv"):
        raise UsageError(f'data source "{data.source}" is not supported by backtest yet '
                         "(parquet, csv)")
    source: Literal["parquet", "csv"] = "csv" if data.source == "csv" else "parquet"
    loaded = load_bars(data_path or data.path, symbol, source=source,
                       options=validated.data_options or data.options,
                       columns={str(k): v for k, v in data.columns.items()} or None,
                       label=data.label, closed=data.closed,
                       timeframe_seconds=timeframe_ms(data.timeframe) // 1000,
                       start=start, end=end)
    bars = loaded.frame.select("time", *_PRICE_FIELDS)
    if data.timeframe != base_tf:
        if timeframe_ms(base_tf) < timeframe_ms(data.timeframe):
            raise UsageError(f"the base timeframe {base_tf} is finer than the data's "
                             f"{data.timeframe}")
        bars = resample(bars, data.timeframe, base_tf).drop("close_time")
    frames: dict[str, pl.DataFrame] = {base_tf: bars}
    for higher_tf in [*strategy.timeframes[1:], *needed]:
        if higher_tf not in frames:
            frames[higher_tf] = resample(bars, base_tf, higher_tf)
    for ind_tf, names in needed.items():
        for name in indicator_order:
            if name in names:
                frames[ind_tf] = _compute_indicator(frames[ind_tf], name, strategy,
                                                    validated, registry)
    base = frames[base_tf]
    for frame_tf, higher in frames.items():
        if frame_tf == base_tf:
            continue
        cols = [c for c in higher.columns if c not in ("time", "close_time")]
        base = align(base, higher, {c: f"{c}@{frame_tf}" for c in cols}, base_tf=base_tf)
    return base


# -- expressions ---------------------------------------------------------------------


@dataclass
class _Evaluator:
    """One expression for one instrument: a column of the wide frame, or per bar."""

    column: list[Any] | None = None
    per_bar: PerBarExpr | None = None
    reads: dict[str, str] = field(default_factory=dict)  # per-bar key -> wide column


def _wide_name(symbol: str, ref: Ref) -> str:
    col = default_column(ref)
    if getattr(ref, "instrument", None) is None:
        return f"{symbol}.{col}"
    return col


def _state(portfolio: Portfolio, symbols: Sequence[str], symbol: str, bar_index: int,
           entry_price: float | None = None) -> dict[str, Any]:
    pos = portfolio.position(symbol)
    state: dict[str, Any] = {
        "position": pos.quantity,
        "entry_price": entry_price if entry_price is not None
        else (None if pos.is_flat else pos.avg_price),
        "equity": portfolio.equity(),
        "cash": portfolio.cash,
        "bar_index": float(bar_index),
    }
    for s in symbols:
        p = portfolio.position(s)
        state[f"{s}.position"] = p.quantity
        state[f"{s}.entry_price"] = None if p.is_flat else p.avg_price
    return state


# -- the run -------------------------------------------------------------------------


def _exit_reason(order_id: str, reasons: Mapping[str, str]) -> str:
    for suffix, reason in ((":sl", "stop_loss"), (":tp", "take_profit"),
                           (":trail", "trailing_stop")):
        if order_id.endswith(suffix):
            return reason
    return reasons.get(order_id, "")


def _rule_label(rule: OrderRule, index: int) -> str:
    return rule.name or f"orders[{index}]"


def run_backtest(validated: Validated, registry: Registry, *, out_dir: str | Path,
                 start: date | datetime | None = None, end: date | datetime | None = None,
                 data_path: str | None = None,
                 overrides: Sequence[str] = (),
                 log: dict[str, int] | None = None) -> dict[str, Any]:
    """Run the strategy over stored history, write the DESIGN §6 files into `out_dir`
    and return the summary. `log`, when given, receives counts of what the summary
    does not show (`risk_halt`, `risk_reject`, `dropped`, `rejected`,
    `order_events`). Raises `ConfigError` for an invalid file, `UsageError`
    for what this slice cannot run, `DataLoadError` for bad data."""
    strategy = validated.strategy
    if strategy is None:
        raise ConfigError(validated.errors)
    graph = compile_graph(validated, registry)
    base_tf = strategy.base_timeframe
    base_ms = timeframe_ms(base_tf)
    symbols = list(graph.instruments) or list(strategy.instruments)
    params = {k: float(v) for k, v in strategy.params.items()
              if isinstance(v, int | float) and not isinstance(v, bool)}
    run_start = _utc(start) if start is not None else _utc(strategy.backtest.start)
    run_end = _utc(end) if end is not None else _utc(strategy.backtest.end)

    all_refs = [r for e in validated.expressions.values() for r in e.refs]
    needed = _needed_indicators(strategy, all_refs, base_tf)
    indicator_order = [n.name for n in graph.nodes
                       if n.kind == "indicator" and n.name in strategy.indicators]
    indicator_order += [n for n in strategy.indicators if n not in indicator_order]

    per_symbol = {s: _instrument_frame(s, strategy, validated, registry, needed,
                                       indicator_order, start=run_start, end=run_end,
                                       data_path=data_path) for s in symbols}
    if len(per_symbol) == 1:
        clocked = {s: f.with_columns(pl.lit(True).alias("fresh")) for s, f in per_symbol.items()}
    else:
        clocked = common_clock(per_symbol)
    first = clocked[symbols[0]]
    wide = first.select("time").with_columns(
        (pl.col("time") + pl.duration(milliseconds=base_ms)).alias("__close_time"))
    wide = wide.with_columns([
        frame[c].alias(f"{s}.{c}") for s, frame in clocked.items()
        for c in frame.columns if c != "time"])

    # signals: batch where possible, per bar otherwise
    signal_order = [n.name for n in graph.nodes
                    if n.kind == "signal" and n.name in strategy.signals]
    signal_order += [n for n in strategy.signals if n not in signal_order]
    per_bar_signals: set[str] = set()
    for name in signal_order:
        checked = validated.expressions[("signals", name)]
        assert checked.tree is not None
        if state_refs(checked.tree) or any(
                isinstance(r, SignalRef) and r.name in per_bar_signals for r in checked.refs):
            per_bar_signals.add(name)

    def evaluator(path: KeyPath, symbol: str) -> _Evaluator:
        checked = validated.expressions[path]
        tree = checked.tree
        assert tree is not None
        refs = [r for r in checked.refs if not isinstance(r, ParamRef)]
        stateful = bool(state_refs(tree)) or any(
            isinstance(r, SignalRef) and r.name in per_bar_signals for r in refs)
        columns: dict[Ref, str] = {r: _wide_name(symbol, r) for r in refs
                   if not isinstance(r, StateRef)}
        if not stateful:
            names = ColumnNames(params=params, time="__close_time", overrides=columns)
            return _Evaluator(column=wide.select(to_polars(tree, names))[:, 0].to_list())
        reads = {default_column(r): col for r, col in columns.items()}
        return _Evaluator(per_bar=compile_per_bar(tree, params), reads=reads)

    signals: dict[tuple[str, str], _Evaluator] = {}
    for name in signal_order:
        for s in symbols:
            ev = evaluator(("signals", name), s)
            signals[(name, s)] = ev
            if ev.column is not None:  # per-bar signals are read from `sig_values`
                wide = wide.with_columns(pl.Series(f"{s}.{name}", ev.column, pl.Boolean))

    rules = strategy.orders
    scopes = [rule.instruments or symbols for rule in rules]
    rule_exprs: dict[tuple[int, str, str], _Evaluator] = {}
    for i, rule in enumerate(rules):
        keys: list[tuple[str, KeyPath]] = [("when", ("orders", i, "when"))]
        for attr in ("price", "trigger", "stop_loss", "take_profit", "trailing_stop"):
            if getattr(rule, attr) is not None:
                keys.append((attr, ("orders", i, attr)))
        if rule.size is not None:
            for mode in ("quantity", "notional", "equity_pct", "risk_pct"):
                if getattr(rule.size, mode) is not None:
                    keys.append((mode, ("orders", i, "size", mode)))
        for s in scopes[i]:
            for key, path in keys:
                if path in validated.expressions:
                    rule_exprs[(i, key, s)] = evaluator(path, s)

    # the simulation
    specs = {s: InstrumentSpec(tick_size=inst.tick_size, lot_size=inst.lot_size,
                               min_notional=inst.min_notional,
                               multiplier=inst.multiplier or 1.0)
             for s, inst in strategy.instruments.items()}
    engine = MatchingEngine(FillModel.from_backtest(strategy.backtest), specs)
    initial_cash = float(strategy.backtest.cash)
    portfolio = Portfolio(initial_cash, specs)
    gate = RiskGate(strategy.risk)
    cols = {c: wide[c].to_list() for c in wide.columns}
    n = wide.height
    orders: list[Order] = []
    fills: list[Fill] = []
    reasons: dict[str, str] = {}
    if log is None:
        log = {}
    last_order_bar: dict[tuple[int, str], int] = {}
    entries: dict[tuple[int, str], int] = {}
    in_position: list[bool] = []
    sig_values: dict[tuple[str, str], bool] = {}

    def note(kind: str) -> None:
        log[kind] = log.get(kind, 0) + 1

    def apply(fs: Sequence[Fill]) -> None:
        for f in fs:
            portfolio.apply(f, _exit_reason(f.order_id, reasons))
            fills.append(f)

    def flatten(i: int, now: datetime) -> None:
        for s in symbols:
            engine.cancel_all(s, "risk flatten")
        for o in closing_orders(portfolio, f"flatten-{i}"):
            reasons[o.id] = "risk_flatten"
            result = engine.submit(o)
            if result.accepted:
                orders.append(o)
                apply(result.fills)

    def value(ev: _Evaluator, i: int, s: str, state: Mapping[str, Any]) -> Any:
        if ev.column is not None:
            return ev.column[i]
        assert ev.per_bar is not None
        values: dict[str, Any] = {"time": cols["__close_time"][i]}
        for key, col in ev.reads.items():
            if col in cols:
                values[key] = cols[col][i]
            else:  # a per-bar signal: name or SYMBOL.name
                sym, _, sig = col.partition(".")
                values[key] = sig_values.get((sig, sym), False)
        return ev.per_bar.step(values, state)

    def num(v: Any) -> float | None:
        if v is None or isinstance(v, bool):
            return None
        f = float(v)
        return f if math.isfinite(f) else None

    for i in range(n):
        now: datetime = cols["__close_time"][i]
        for s in symbols:
            if not cols[f"{s}.fresh"][i]:
                continue
            bar = Bar(s, cols[f"{s}.open"][i], cols[f"{s}.high"][i], cols[f"{s}.low"][i],
                      cols[f"{s}.close"][i], cols["time"][i], now)
            apply(engine.on_bar(bar))
            portfolio.mark(s, bar.close)
        for _ in engine.drain_events():
            note("order_events")
        decision: RiskDecision | None = gate.update(now, portfolio)
        if decision is not None:
            note(f"risk_{decision.action}")
            if decision.action == "flatten":
                flatten(i, now)
        for name in signal_order:
            if name not in per_bar_signals:
                continue
            for s in symbols:
                ev = signals[(name, s)]
                sig_values[(name, s)] = bool(value(ev, i, s, _state(portfolio, symbols, s, i)))
        for r, rule in enumerate(rules):
            for s in scopes[r]:
                state = _state(portfolio, symbols, s, i)
                when = bool(value(rule_exprs[(r, "when", s)], i, s, state))
                close = cols[f"{s}.close"][i]
                # step every per-bar expression of the rule on every bar (history)
                price = trigger = None
                if (r, "price", s) in rule_exprs:
                    price = num(value(rule_exprs[(r, "price", s)], i, s, state))
                if (r, "trigger", s) in rule_exprs:
                    trigger = num(value(rule_exprs[(r, "trigger", s)], i, s, state))
                ref_price = (price if rule.type == "limit" else trigger
                             if rule.type in ("stop", "stop_limit") else close)
                entry_state = _state(portfolio, symbols, s, i, entry_price=ref_price)
                exits = {k: num(value(rule_exprs[(r, k, s)], i, s, entry_state))
                         if (r, k, s) in rule_exprs else None
                         for k in ("stop_loss", "take_profit", "trailing_stop")}
                sizes = {k: num(value(rule_exprs[(r, k, s)], i, s, entry_state))
                         for k in ("quantity", "notional", "equity_pct", "risk_pct")
                         if (r, k, s) in rule_exprs}
                if not when or not cols[f"{s}.fresh"][i]:
                    continue
                label = _rule_label(rule, r)
                position = portfolio.quantity(s)
                if rule.action == "cancel_orders":
                    engine.cancel_all(s, label)
                    continue
                if i - last_order_bar.get((r, s), -10**9) <= rule.cooldown:
                    continue
                oid = f"{s}-{r}-{i}"
                if rule.action == "close":
                    qty = abs(position) * (rule.fraction or 1.0)
                    if qty <= _EPS:
                        continue
                    order = Order(id=oid, symbol=s, side="sell" if position > 0 else "buy",
                                  quantity=qty, reduce_only=True)
                    ref_price = close
                else:
                    assert rule.side is not None
                    sign = 1.0 if rule.side == "buy" else -1.0
                    if position * sign > _EPS:
                        if entries.get((r, s), 0) >= rule.max_entries:
                            continue
                    else:
                        entries[(r, s)] = 0
                    if ref_price is None or rule.size is None:
                        note("dropped")
                        continue
                    size_value = sizes.get(_mode(rule))
                    size_float = math.nan if size_value is None else size_value
                    size = SizeSpec.from_model(rule.size, _constant(size_float))
                    qty_or_reason = size_order(size, portfolio.equity(), ref_price,
                                               exits["stop_loss"], specs[s])
                    if isinstance(qty_or_reason, str):
                        note("dropped")
                        continue
                    order = Order(id=oid, symbol=s, side=rule.side, quantity=qty_or_reason,
                                  type=rule.type,
                                  limit_price=price if rule.type in ("limit", "stop_limit")
                                  else None,
                                  trigger_price=trigger if rule.type in ("stop", "stop_limit")
                                  else None,
                                  time_in_force=rule.time_in_force,
                                  expire_after=rule.expire_after,
                                  reduce_only=rule.reduce_only, post_only=rule.post_only,
                                  stop_loss=exits["stop_loss"],
                                  take_profit=exits["take_profit"],
                                  trailing_stop=exits["trailing_stop"])
                conformed = conform(order, specs[s], ref_price)
                if isinstance(conformed, str):
                    note("dropped")
                    continue
                open_counts: dict[str, int] = {}
                for o in engine.open_orders():
                    open_counts[o.symbol] = open_counts.get(o.symbol, 0) + 1
                verdict = gate.check(conformed, now, ref_price, portfolio, open_counts)
                if not verdict.accepted:
                    note(f"risk_{verdict.action}")
                    if verdict.action == "flatten":
                        flatten(i, now)
                    continue
                reasons[conformed.id] = label
                result = engine.submit(conformed)
                if not result.accepted:
                    note("rejected")
                    continue
                orders.append(replace(conformed, placed_at=engine.bar_index(s)))
                last_order_bar[(r, s)] = i
                if rule.action is None:
                    entries[(r, s)] = entries.get((r, s), 0) + 1
                apply(result.fills)
        portfolio.record_equity(now)
        in_position.append(bool(portfolio.open_positions()))
    for _ in engine.drain_events():
        note("order_events")

    if n == 0:
        raise UsageError("no bars in the requested range")
    curve = portfolio.equity_curve
    equity = pl.DataFrame({
        "time": [p.time for p in curve],
        "equity": [p.equity for p in curve],
        "cash": [p.cash for p in curve],
        "in_position": in_position,
    }, schema={"time": pl.Datetime("ms", "UTC"), "equity": pl.Float64,
               "cash": pl.Float64, "in_position": pl.Boolean})
    equity = equity.with_columns(drawdown(equity["equity"], initial_cash).alias("drawdown"))
    trades = _trades_frame(portfolio)
    fills_df = fills_frame(fills)
    summary_metrics = metrics(equity, trades, _YEAR_MS / base_ms, initial_cash=initial_cash,
                              fills=fills_df)
    file_bytes = Path(validated.file).read_bytes() if Path(validated.file).is_file() \
        else validated.text.encode()
    summary: dict[str, Any] = {
        "name": strategy.name,
        "mode": "backtest",
        "start": cols["time"][0],
        "end": cols["__close_time"][-1],
        "bars": n,
        "trades": trades.height,
        "initial_cash": initial_cash,
        "final_equity": portfolio.equity(),
        **summary_metrics,
        "fingerprint": config_fingerprint(file_bytes, overrides),
    }
    write_run(out_dir, summary, trades, orders, fills_df, equity)
    return summary


def _mode(rule: OrderRule) -> str:
    assert rule.size is not None
    for mode in ("quantity", "notional", "equity_pct", "risk_pct"):
        if getattr(rule.size, mode) is not None:
            return mode
    raise ValueError("size block sets no sizing mode")


def _constant(value: float) -> Callable[[str], float]:
    return lambda _expr: value


def _trades_frame(portfolio: Portfolio) -> pl.DataFrame:
    schema: dict[str, pl.DataType] = {
        "instrument": pl.String(), "side": pl.String(), "quantity": pl.Float64(),
        "entry_time": pl.Datetime("ms", "UTC"), "entry_price": pl.Float64(),
        "exit_time": pl.Datetime("ms", "UTC"), "exit_price": pl.Float64(),
        "pnl": pl.Float64(), "fees": pl.Float64(), "exit_reason": pl.String()}
    rows = [{k: getattr(t, k) for k in schema} for t in portfolio.trades]
    return pl.DataFrame(rows, schema=schema)


def default_out_dir(name: str, now: datetime | None = None) -> Path:
    """`runs/<name>/<UTC timestamp>/` (DESIGN §6)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return Path("runs") / name / stamp


__all__ = ["default_out_dir", "run_backtest"]
