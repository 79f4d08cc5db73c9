"""`runner run FILE --mode backtest`: one simulated run over stored history.

    summary = run_backtest(validated, registry, out_dir=Path("runs/x"))

The pieces, in order: `runner.compile` (the graph), `runner.engine.frames` (bars,
indicators and higher timeframes on one clock, with warm-up before the start),
`runner.engine.plan` (expressions as columns, state-using skeletons per bar, and
where each rule may fire), `runner.engine.simulate` (the event loop over the bars
where something can happen) or, for the strategies it covers,
`runner.engine.fastpath` (the same decisions in a compiled kernel), both ending in
`runner.engine.tables.RunTables`, then metrics and the DESIGN §6 files.

Decisions DESIGN leaves open (see also the README):

- `max_entries` counts a rule's entries while its position is open and its entry
  orders still working; `cooldown: n` skips a rule for n base bars after the bar it
  last placed an order on.
- Brackets are priced when the entry fills (`entry_price` = the fill price); sizing
  with `risk_pct` uses the expected entry (this close, the limit or the trigger).
- Positions still open at the end stay open, valued at the last close (the trades
  file has closed round trips only; `final_equity` includes the open PnL).
- `orders.csv` has every order the engine saw (bracket children included) with its
  final status (`filled`, `cancelled`, `expired`, `rejected`, `open`) and reason, and
  every order the run dropped (`dropped`: sizing, lot or min-notional) or the risk
  gate refused (`risk_reject`, `risk_halt`, `risk_flatten`) with the limit and reason.
- `bar_index` (a state name), `placed_at` and fills' `bar_index` count traded base
  bars from 0 at the run's start; warm-up bars before it are never traded.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from runner.compile import compile as compile_graph
from runner.config.validate import Validated
from runner.engine.fastpath import simulate_fast, why_not_fast
from runner.engine.frames import CLOSE_TIME, BarFrame, bar_frame, utc_datetime
from runner.engine.results import write_results
from runner.engine.simulate import SimInput, simulate
from runner.engine.strategy_plan import (
    instrument_specs,
    plan_strategy,
    signal_batches,
    strategy_params,
)
from runner.engine.tables import tables_of
from runner.errors import ConfigError, UsageError
from runner.plugins import Registry


@dataclass(frozen=True, slots=True)
class Prepared:
    """What `run_backtest` needs besides the `SimInput`: the planned frame."""

    frame: BarFrame
    wide: pl.DataFrame
    """The frame's wide table with the state-free signal columns added."""


def prepare(validated: Validated, registry: Registry, *,
            start: date | datetime | None = None, end: date | datetime | None = None,
            data_path: str | None = None) -> tuple[SimInput, Prepared]:
    """Everything before the event loop: compile, build the frame, plan the
    expressions and the candidate bars. Raises as `run_backtest` does."""
    strategy = validated.strategy
    if strategy is None:
        raise ConfigError(validated.errors)
    graph = compile_graph(validated, registry)
    run_start = utc_datetime(start) if start is not None else utc_datetime(strategy.backtest.start)
    run_end = utc_datetime(end) if end is not None else utc_datetime(strategy.backtest.end)
    frame = bar_frame(validated, registry, graph, start=run_start, end=run_end,
                      data_path=data_path)
    wide, symbols, first = frame.wide, frame.symbols, frame.first
    if wide.height - first <= 0:
        raise UsageError("no bars in the requested range")
    params = strategy_params(strategy)
    plan = plan_strategy(validated, graph, symbols, params)
    # in order, a signal may read the ones before it; lazily, with polars' optimizations
    # (an eager `with_columns` has none: the columns a signal reads twice, or two
    # signals read, would be cast and cleaned of NaN once per read)
    for batch in signal_batches(plan):
        wide = wide.lazy().with_columns([plan.planner.signal_column(name, s)
                                         for name in batch for s in symbols]
                                        ).collect(engine="in-memory")
    columns = plan.planner.compute(wide)
    # every bar is visited when an expression keeps history: no candidates needed
    with_columns = wide.hstack(columns.frame) if columns.frame.width else wide
    candidates = (np.empty((0, 2), dtype=np.int64) if plan.continuous
                  else _candidates(with_columns, plan.masks, first))
    specs = instrument_specs(strategy)
    fresh = {s: wide[f"{s}.fresh"].fill_null(False).to_numpy() for s in symbols}
    inp = SimInput(
        strategy=strategy, symbols=symbols, first=first,
        close_ms=wide[CLOSE_TIME].dt.epoch("ms").to_numpy(),
        open_ms=wide["time"].dt.epoch("ms").to_numpy(),
        bars={s: tuple(_floats(wide[f"{s}.{c}"])  # type: ignore[misc]
                       for c in ("open", "high", "low", "close")) for s in symbols},
        fresh=fresh,
        bar_index={s: _traded_index(col, first) for s, col in fresh.items()},
        columns=columns, rules=plan.rules, signals=plan.stateful, candidates=candidates,
        pairs=plan.pairs, continuous=plan.continuous, specs=specs, params=params)
    return inp, Prepared(frame, wide)


def run_backtest(validated: Validated, registry: Registry, *, out_dir: str | Path,
                 start: date | datetime | None = None, end: date | datetime | None = None,
                 data_path: str | None = None,
                 overrides: Sequence[str] = (),
                 log: dict[str, Any] | None = None,
                 progress: Callable[[int, int], None] | None = None,
                 keep_frame: bool = False) -> dict[str, Any]:
    """Run the strategy over stored history, write the DESIGN §6 files into `out_dir`
    and return the summary. `log`, when given, receives counts of what the summary
    does not show (`risk_halt`, `risk_reject`, `dropped`, `rejected`, `cancelled`,
    `expired`; `visited`, the bars the loop stepped; `fast_path`, "used" or why the
    compiled fast path could not run this strategy; `halted`, the reason and time, when
    the risk gate halted; `data_warnings`, what loading the data found; `seconds`, the
    wall time of `prepare`, `simulate` and `write`; with
    `keep_frame`, `bar_frame`, the `BarFrame` the run stepped, for the report).
    `progress(done, total)` is called as bars are simulated. Raises `ConfigError` for
    an invalid file,
    `UsageError` for what a backtest cannot run, `DataLoadError` for bad data."""
    clock = time.perf_counter()
    inp, prepared = prepare(validated, registry, start=start, end=end, data_path=data_path)
    seconds = {"prepare": time.perf_counter() - clock}
    clock = time.perf_counter()
    frame = prepared.frame
    wide, first = prepared.wide, frame.first
    gc.freeze()  # the frame's millions of objects need no cycle collection in the loop
    fast_path = why_not_fast(inp)
    halted = ""
    try:
        if fast_path is None:
            fast = simulate_fast(inp, progress=progress)
            tables, counts, visited = fast.tables, fast.log, fast.visited
        else:
            result = simulate(inp, progress=progress)
            tables, counts, visited = tables_of(result, inp), result.log, result.visited
            halted = result.halted
    finally:
        gc.unfreeze()

    times = wide[CLOSE_TIME][first:]
    start_time, end_time = wide["time"][first], wide[CLOSE_TIME][-1]
    warnings, base_ms = frame.warnings, frame.base_ms
    if log is not None and keep_frame:
        log["bar_frame"] = frame  # the report draws from it, rather than loading again
    del inp, prepared, frame, wide  # the bars are done with: lower the peak while writing
    seconds["simulate"] = time.perf_counter() - clock
    clock = time.perf_counter()
    summary = write_results(out_dir, validated, tables, mode="backtest", times=times,
                            start=start_time, end=end_time, base_ms=base_ms,
                            overrides=overrides)
    if log is not None:
        log.update(counts)
        log["seconds"] = {**seconds, "write": time.perf_counter() - clock}
        log["visited"] = visited
        log["fast_path"] = fast_path or "used"
        if warnings:
            log["data_warnings"] = list(warnings)
        if halted:
            log["halted"] = halted
    return summary


def _floats(column: pl.Series) -> np.ndarray:
    """A price column as numpy, NaN where an instrument has no bar yet (no copy when
    it has no nulls)."""
    return (column.fill_null(math.nan) if column.null_count() else column).to_numpy()


def _traded_index(fresh: np.ndarray, first: int) -> np.ndarray:
    """Per row, the instrument's bar index counted from 0 at its first fresh bar at or
    after the run's start (warm-up bars are negative and never reach the engine).

    Read-only, like the price columns handed over as views of the frame, so the
    compiled kernel always sees arrays of the same type (numba compiles one
    specialisation per combination of writable and read-only arguments)."""
    if fresh.all():  # one instrument, or several on the same clock: the row number
        index = np.arange(-first, fresh.shape[0] - first, dtype=np.int64)
    else:
        index = np.cumsum(fresh, dtype=np.int64)
        before = int(index[first - 1]) if first > 0 else 0
        index -= 1 + before
    index.flags.writeable = False
    return index


def _candidates(wide: pl.DataFrame, masks: Sequence[pl.Expr], first: int) -> np.ndarray:
    """`(bar, pair)` rows for every bar at or after `first` where pair `p` may fire,
    sorted by bar then pair; one mask at a time, and as the indices of its true rows
    (not a column of booleans), so memory follows the candidates."""
    bars: list[np.ndarray] = []
    pairs: list[np.ndarray] = []
    for p, m in enumerate(masks):
        hit = wide.select(m.slice(first).arg_true().alias("m"))["m"].to_numpy()
        bars.append(hit.astype(np.int64) + first)
        pairs.append(np.full(hit.shape[0], p, dtype=np.int64))
    if not bars:
        return np.empty((0, 2), dtype=np.int64)
    bar, pair = np.concatenate(bars), np.concatenate(pairs)
    order = np.lexsort((pair, bar))
    return np.column_stack([bar[order], pair[order]]).astype(np.int64)


def default_out_dir(name: str, now: datetime | None = None) -> Path:
    """`runs/<name>/<UTC timestamp>/` (DESIGN §6)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return Path("runs") / name / stamp


__all__ = ["Prepared", "default_out_dir", "prepare", "run_backtest"]
