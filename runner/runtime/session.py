"""The strategy side of a streaming run: closed base bars in, decisions, journal, files.

    session = Session(validated, registry, journal=journal, start_ms=None)
    session.restore()                        # replays the journal's bars, if any
    session.on_bars(open_ms, {"BTCUSDT": (o, h, l, c, v)})    # one call per base bar time
    summary = session.close(out_dir, flatten=False)

A `Session` is synchronous and single-threaded: the asyncio executor
(`runner.runtime.executor`) feeds it one row at a time, tests and benchmarks call it
directly. Per base-bar time it does what the backtest does for a row of its frame,
with the backtest's own code:

1. `RowBuilder` (incremental indicators, higher timeframes, common clock) gives the
   row the backtest's `bar_frame` would hold, and `RowColumns` adds the planned
   columns with their per-bar forms;
2. the row is stepped by the backtest's `Stepper` (matching engine, portfolio, risk
   gate, order rules) with every rule a candidate on every row, which decides
   exactly what the backtest's sparse visits decide (it skips only rows where no
   `when` can hold).

So a replay of the backtest's bars gives its orders, fills and trades (the parity
test holds it).

The journal (`state.sqlite`) is an event log the session can be rebuilt from:

- every base bar is journaled *before* it is processed (deferred: committed at the
  next intent, or every `commit_every_s`), and every order *before* it is submitted,
  committed (intent first); signals, risk decisions and fills follow it, deferred;
- on start, `restore` steps the journaled bars again through a fresh session. The
  simulated broker is deterministic, so this rebuilds positions, cash, working orders
  and indicator warm-up exactly; the events it re-derives that the journal already
  holds are skipped (each kind counted; each order's id checked) and the ones a crash
  lost are written. The feed then resumes after the last journaled bar
  (`resume_after_ms`): nothing lost, nothing twice.
"""

from __future__ import annotations

import math
import time
from array import array
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from runner.bars.resample import timeframe_ms
from runner.compile import compile as compile_graph
from runner.config.models import Strategy
from runner.config.validate import Validated
from runner.engine.frames import CLOSE_TIME
from runner.engine.outputs import ORDER_FIELDS
from runner.engine.plan import Expression
from runner.engine.results import write_results
from runner.engine.row_columns import RowColumns
from runner.engine.rows import Bar, RowBuilder
from runner.engine.simulate import (
    Broker,
    OrderRow,
    RulePlan,
    SimInput,
    SimResult,
    Stepper,
    make_stepper,
)
from runner.engine.strategy_plan import instrument_specs, plan_strategy, strategy_params
from runner.engine.tables import tables_of
from runner.errors import UsageError
from runner.journal.store import Event, Journal, JournalError
from runner.plugins import Registry
from runner.sim.orders import Fill, InstrumentSpec, Order

_RECORDED = ("order", "fill", "dropped", "risk", "signal")
"""The kinds the session derives from bars (what `restore` counts and skips)."""


class _Current:
    """The row being stepped: its index and its values by column name."""

    __slots__ = ("index", "row")

    def __init__(self) -> None:
        self.index = -1
        self.row: dict[str, Any] = {}


class _Latest:
    """A column that keeps only the current row's value: the stepper reads row `i`
    while it visits row `i` and never an older one, so a long session's memory stays
    flat. Reading any other row is a bug and raises."""

    __slots__ = ("current", "name")

    def __init__(self, current: _Current, name: str) -> None:
        self.current, self.name = current, name

    def __getitem__(self, i: int) -> Any:
        current = self.current
        if i != current.index:
            raise IndexError(f"row {i} is not the current row ({current.index})")
        return current.row[self.name]


@dataclass(slots=True)
class _Rows:
    """The stepper's view of a streaming run (`runner.engine.simulate.RowData`):
    prices and times of every row (the equity curve needs them at the end; 8 bytes
    per value), the latest value of everything else."""

    strategy: Strategy
    symbols: tuple[str, ...]
    rules: list[RulePlan]
    signals: list[tuple[str, str, Expression]]
    pairs: list[tuple[int, str]]
    specs: dict[str, InstrumentSpec]
    columns: dict[str, _Latest]
    first: int = 0
    continuous: bool = False
    close_ms: array[int] = field(default_factory=lambda: array("q"))
    open_ms: array[int] = field(default_factory=lambda: array("q"))
    bars: dict[str, tuple[array[float], array[float], array[float], array[float]]] = \
        field(default_factory=dict)
    fresh: dict[str, _Latest] = field(default_factory=dict)
    bar_index: dict[str, _Latest] = field(default_factory=dict)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def order_payload(order: Order) -> dict[str, Any]:
    """An order as the journal records it (the orders.csv fields)."""
    return {f: _finite(getattr(order, f)) for f in ORDER_FIELDS}


def fill_payload(fill: Fill) -> dict[str, Any]:
    when = fill.time
    ms = int(when.timestamp() * 1000) if isinstance(when, datetime) else int(when or 0)
    return {"order_id": fill.order_id, "symbol": fill.symbol, "side": fill.side,
            "time_ms": ms, "price": fill.price, "quantity": fill.quantity, "fee": fill.fee,
            "liquidity": fill.liquidity, "bar_index": fill.bar_index}


@dataclass(frozen=True, slots=True)
class Status:
    """What the status line shows."""

    equity: float
    positions: dict[str, float]
    last_bar_ms: int | None
    bars: int


class Session:
    """See the module docstring."""

    def __init__(self, validated: Validated, registry: Registry, *,
                 journal: Journal | None, start_ms: int | None = None,
                 overrides: Sequence[str] = (), commit_every_s: float = 0.1,
                 broker: Broker | None = None,
                 specs: Mapping[str, InstrumentSpec] | None = None,
                 mode: str = "paper") -> None:
        strategy = validated.strategy
        if strategy is None:
            raise UsageError("the strategy is not valid")
        self.validated = validated
        self.strategy = strategy
        self.overrides = tuple(overrides)
        self.graph = graph = compile_graph(validated, registry)
        self.rows = RowBuilder(validated, registry, graph)
        symbols = self.rows.symbols
        self.symbols = symbols
        params = strategy_params(strategy)
        plan = plan_strategy(validated, graph, symbols, params)
        self._columns = RowColumns(plan, symbols, params)
        self._free_signals = [(name, s, f"{s}.{name}") for name in plan.free_signals
                              for s in symbols]
        self._current = current = _Current()
        self._data = _Rows(strategy, symbols, plan.rules, plan.stateful, plan.pairs,
                           dict(specs) if specs is not None else instrument_specs(strategy),
                           {name: _Latest(current, name) for name in self._columns.names},
                           continuous=plan.continuous)
        self._every_pair = tuple(range(len(plan.pairs)))
        """Every rule is tried on every row (a `when` that cannot hold returns at once):
        the backtest's candidate masks only skip rows where that is so."""
        for s in symbols:
            self._data.bars[s] = (array("d"), array("d"), array("d"), array("d"))
            self._data.fresh[s] = _Latest(current, f"{s}.fresh")
            self._data.bar_index[s] = _Latest(current, f"{s}\x00bar_index")
        self._traded = dict.fromkeys(symbols, 0)
        self._per_symbol = [
            (s, tuple(f"{s}.{c}" for c in ("open", "high", "low", "close")),
             self._data.bars[s], f"{s}.fresh", f"{s}\x00bar_index") for s in symbols]
        self.base_ms = timeframe_ms(strategy.base_timeframe)
        self.start_ms = start_ms
        self.journal = journal
        self.commit_every_s = commit_every_s
        self._last_commit = time.monotonic()
        self._stepper: Stepper | None = None
        self._broker = broker
        self.mode = mode
        self._shut = False
        """Executes the orders: None, the simulated matching engine (paper); a venue's
        broker in live mode."""
        self._n = 0
        self._visited = 0
        self._close_ms = 0
        self._skip: Counter[str] = Counter()
        self._journaled_orders: list[str] = []
        self.resume_after_ms: int | None = None
        """Open time of the last bar `restore` rebuilt from the journal, if any."""
        self.errors = 0

    # -- journal -----------------------------------------------------------------------

    def _record(self, kind: str, payload: Mapping[str, Any], *, defer: bool) -> None:
        if self.journal is None:
            return
        if self._skip[kind] > 0:  # re-derived while restoring: journaled already
            self._skip[kind] -= 1
            if kind == "order":
                expected = self._journaled_orders.pop(0)
                if expected != payload["id"]:
                    raise JournalError(
                        f"{self.journal.path}: replaying its own bars gives order "
                        f"{payload['id']} where it recorded {expected}: the data or the "
                        "runner changed under it; run with --fresh to start over")
            return
        self.journal.record(kind, payload, event_ms=self._close_ms, defer=defer)
        if not defer:
            self._last_commit = time.monotonic()

    def _hook(self, kind: str, obj: Any) -> None:
        if kind == "order":
            self._record("order", order_payload(obj), defer=False)  # intent first
        elif kind == "fill":
            self._record("fill", fill_payload(obj), defer=True)
        elif kind == "dropped":
            row: OrderRow = obj
            self._record("risk" if row.status.startswith("risk_") else "dropped",
                         {"id": row.order.id, "symbol": row.order.symbol,
                          "status": row.status, "reason": row.reason}, defer=True)
        elif kind == "signal":
            name, symbol = obj
            self._record("signal", {"name": name, "symbol": symbol}, defer=True)

    def restore(self, on_event: Callable[[Event], None] | None = None) -> int:
        """Rebuild the session from its journal (module docstring); the number of bars
        rebuilt. Call once, before the first `on_bars`. `on_event` is handed every
        other journaled input (a live venue's order updates and fills) in journal
        order between the bars, as the session first met them."""
        if self.journal is None:
            return 0
        kinds: Counter[str] = Counter()
        events = list(self.journal.events())
        for event in events:
            if event.kind in _RECORDED:
                kinds[event.kind] += 1
                if event.kind == "order":
                    self._journaled_orders.append(str(event.payload["id"]))
        self._skip = kinds
        last: int | None = None
        count = 0
        for event in events:
            if event.kind == "bar":
                last = int(event.payload["t"])
                count += 1
                self.on_bars(last, {s: tuple(v)  # type: ignore[misc]
                                    for s, v in event.payload["b"].items()},
                             journal_bar=False)
            elif on_event is not None and event.kind not in _RECORDED:
                on_event(event)
        left = {k: n for k, n in self._skip.items() if n}
        if left:
            raise JournalError(
                f"{self.journal.path} holds events its own bars do not give again "
                f"({', '.join(f'{n} {k}' for k, n in sorted(left.items()))}): the data or "
                "the runner changed under it; run with --fresh to start over")
        if last is not None:
            self.resume_after_ms = last
            self.journal.record("resume", {"bars": count}, event_ms=self._close_ms)
        return count

    # -- rows --------------------------------------------------------------------------

    def on_bars(self, open_ms: int, bars: Mapping[str, Bar], *,
                journal_bar: bool = True) -> None:
        """One base-bar time: the closed bars of the instruments that have one."""
        self._close_ms = close_ms = open_ms + self.base_ms
        self._shut = False  # a bar after a shutdown: a resumed run goes on
        if journal_bar and self.journal is not None:
            payload = {"t": open_ms, "b": {s: list(bar) for s, bar in bars.items()}}
            try:
                self.journal.record("bar", payload, event_ms=close_ms, defer=True)
            except ValueError:  # a NaN price (JSON has none): journaled as null
                payload["b"] = {s: [_finite(v) for v in bar] for s, bar in bars.items()}
                self.journal.record("bar", payload, event_ms=close_ms, defer=True)
        row = self.rows.push(open_ms, bars)
        self._columns.add(row)
        i = self._n
        self._n += 1
        data = self._data
        data.open_ms.append(open_ms)
        data.close_ms.append(close_ms)
        self._current.index, self._current.row = i, row
        traded = self.start_ms is None or open_ms >= self.start_ms
        if traded and self._stepper is None:
            data.first = i
            self._stepper = make_stepper(data, hook=self._hook, broker=self._broker)
        traded_bars = self._traded
        for s, keys, arrays, fresh_key, index_key in self._per_symbol:
            for key, prices in zip(keys, arrays, strict=True):
                value = row[key]
                prices.append(math.nan if value is None else value)
            if traded and row[fresh_key]:
                traded_bars[s] += 1
            row[index_key] = traded_bars[s] - 1
        if self._stepper is None:
            return
        for name, s, column in self._free_signals:
            if row[column] is True:
                self._record("signal", {"name": name, "symbol": s}, defer=True)
        self._stepper.visit(i, self._every_pair)
        self._visited += 1
        if self.journal is not None and time.monotonic() - self._last_commit \
                > self.commit_every_s:
            self.journal.commit()
            self._last_commit = time.monotonic()

    # -- state -------------------------------------------------------------------------

    def last_close(self, symbol: str) -> float | None:
        """The instrument's last close seen, if any."""
        closes = self._data.bars[symbol][3]
        for k in range(len(closes) - 1, -1, -1):
            if closes[k] == closes[k]:
                return float(closes[k])
        return None

    @property
    def halted(self) -> str:
        """The risk gate's halt (reason and time), or empty."""
        return self._stepper.halted() if self._stepper is not None else ""

    @property
    def bars(self) -> int:
        """Base-bar times processed (warm-up included)."""
        return self._n

    @property
    def traded_rows(self) -> int:
        """Rows stepped by the strategy (warm-up excluded), restored ones included."""
        return self._visited

    @property
    def row_open_ms(self) -> int | None:
        """Open time of the newest row (the one being stepped), if any."""
        return int(self._data.open_ms[-1]) if self._n else None

    def positions(self) -> dict[str, float]:
        """Signed position per traded instrument, as the strategy booked it."""
        out = dict.fromkeys(self.symbols, 0.0)
        if self._stepper is not None:
            for p in self._stepper.portfolio.open_positions():
                out[p.symbol] = p.quantity
        return out

    def status(self) -> Status:
        """Equity, open positions and the last bar, for the status line."""
        last = int(self._data.open_ms[-1]) if self._n else None
        if self._stepper is None:
            return Status(float(self.strategy.backtest.cash), {}, last, self._n)
        portfolio = self._stepper.portfolio
        return Status(portfolio.equity(),
                      {p.symbol: p.quantity for p in portfolio.open_positions()}, last, self._n)

    # -- the end -----------------------------------------------------------------------

    def shutdown(self, *, flatten: bool = False) -> None:
        """The kill switch after the last row: cancel every working order and, with
        `flatten`, close every position (at the last close, or on the venue)."""
        if self._stepper is not None:
            self._shut = True
            self._stepper.shutdown(self._n - 1, flatten)

    def book(self, fills: Sequence[Fill]) -> None:
        """Fills that came after the last row (a live venue's answers to a stop)."""
        if self._stepper is not None and fills:
            self._stepper.book(self._n - 1, fills)

    def close(self, out_dir: str | Path | None, *, shutdown: bool = False,
              flatten: bool = False) -> tuple[dict[str, Any] | None, SimResult | None]:
        """End the run: with `shutdown`, cancel every working order (and with
        `flatten` close every position at the last close); write the DESIGN §6 files
        into `out_dir` (None: none) and close the journal. Returns the summary (None
        when no bar was traded) and the loop's result."""
        result: SimResult | None = None
        summary: dict[str, Any] | None = None
        if self._stepper is not None:
            if shutdown and not self._shut:
                self.shutdown(flatten=flatten)
            result = self._stepper.finish(self._visited)
            if out_dir is not None:
                summary = self._write(out_dir, result)
        if self.journal is not None:
            self.journal.record("stop", {"shutdown": shutdown or self._shut,
                                         "flatten": flatten,
                                         "halted": result.halted if result else ""},
                                event_ms=self._close_ms)
            self.journal.close()
        return summary, result

    def _write(self, out_dir: str | Path, result: SimResult) -> dict[str, Any]:
        data = self._data
        first = data.first
        frozen = SimInput(
            strategy=self.strategy, symbols=self.symbols, first=first,
            close_ms=np.frombuffer(data.close_ms, dtype=np.int64),
            open_ms=np.frombuffer(data.open_ms, dtype=np.int64),
            bars={s: tuple(np.frombuffer(a, dtype=np.float64) for a in arrays)  # type: ignore[misc]
                  for s, arrays in data.bars.items()},
            fresh={}, bar_index={}, columns={}, rules=[], signals=[],
            candidates=np.empty((0, 2), dtype=np.int64), pairs=[], continuous=True,
            specs=data.specs, params={})
        tables = tables_of(result, frozen)
        close_ms = np.frombuffer(data.close_ms, dtype=np.int64)[first:]
        times = pl.Series(CLOSE_TIME, close_ms).cast(pl.Datetime("ms")) \
            .dt.replace_time_zone("UTC")
        start = datetime.fromtimestamp(data.open_ms[first] / 1000, UTC)
        end = datetime.fromtimestamp(data.close_ms[-1] / 1000, UTC)
        return write_results(out_dir, self.validated, tables, mode=self.mode, times=times,
                             start=start, end=end, base_ms=self.base_ms,
                             overrides=self.overrides)


__all__ = ["Session", "Status", "fill_payload", "order_payload"]
