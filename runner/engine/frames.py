"""The backtest's bar frame: every instrument's base bars with its indicators and
higher-timeframe columns, on one clock, as one wide polars frame.

    bars = bar_frame(validated, registry, graph, start=..., end=..., data_path=None)
    bars.wide          # time, __close_time, SYMBOL.open ... SYMBOL.<indicator>, SYMBOL.fresh
    bars.first         # index of the first bar the strategy may trade on

Steps (DESIGN §3):

1. Every instrument's stored bars are loaded (`runner.data.load.load_bars`, the time
   range pushed down), resampled to the base timeframe when the data is finer, and to
   every listed timeframe (`runner.bars.resample`, incomplete windows dropped).
2. Indicators are computed in the compiled graph's order on the bars of each
   timeframe they are read on (their own, plus any `name@tf` read), and every
   higher-timeframe column is attached to the base bars as `col@tf` by
   `runner.bars.align` (the last higher bar closed by the base bar's close: no
   lookahead).
3. Instruments are put on one clock (`common_clock`): an instrument with no bar at a
   time keeps its last values and has `fresh` false there.

Warm-up: with a start time (`--from` or `backtest.start`), bars are loaded from
`graph.warmup("backtest")` base bars *of time* before it, so indicators are warm on
the first traded bar; those earlier bars are computed on but never traded, marked or
written. Data that begins later than that simply gives a shorter warm-up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

import polars as pl

from runner.bars.align import align, common_clock
from runner.bars.resample import resample, timeframe_ms
from runner.compile.graph import Graph
from runner.config.models import Strategy
from runner.config.validate import Validated
from runner.data.load import load_bars
from runner.errors import UsageError
from runner.expr.scope import IndicatorRef, Ref
from runner.indicators.api import compute
from runner.plugins import Registry

PRICE_FIELDS = ("open", "high", "low", "close", "volume")
CLOSE_TIME = "__close_time"
"""The wide frame's column of base-bar close times: when each row is known."""


def utc_datetime(value: date | datetime | None) -> datetime | None:
    """A `--from`/`--to` or `backtest.start/end` value as an aware UTC datetime: naive
    datetimes are UTC, a date is its 00:00 UTC."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime.combine(value, time(0), tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class BarFrame:
    """The wide frame a backtest runs over."""

    wide: pl.DataFrame
    symbols: tuple[str, ...]
    first: int
    """Index of the first row at or after the run's start (rows before it are warm-up)."""
    base_ms: int
    warnings: tuple[str, ...] = ()
    """What loading the data found and decided (gaps, zero volume...), one line each,
    prefixed with the symbol: the CLI prints them, so nothing is fixed silently."""


def _indicator_deps(strategy: Strategy, name: str) -> list[str]:
    spec = strategy.indicators[name]
    sources: list[str] = []
    if isinstance(spec.input, str):
        sources = [spec.input]
    elif isinstance(spec.input, dict):
        sources = list(spec.input.values())
    return [s.split(".")[0] for s in sources if s.split(".")[0] in strategy.indicators]


def needed_indicators(strategy: Strategy, refs: Sequence[Ref],
                      base_tf: str) -> dict[str, set[str]]:
    """timeframe -> the indicators to compute on its bars (with their inputs)."""
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


def indicator_sources(given: str | Mapping[str, str] | None,
                      roles: Sequence[str]) -> dict[str, str]:
    """Which column each input role of an indicator reads: the role's own name, unless
    `input:` names another (a string for the first role, a mapping for any)."""
    sources: dict[str, str] = {role: role for role in roles}
    if isinstance(given, str):
        sources[roles[0]] = given
    elif isinstance(given, Mapping):
        sources.update(given)
    return sources


def _compute_indicator(frame: pl.DataFrame, name: str, strategy: Strategy,
                       validated: Validated, registry: Registry) -> pl.DataFrame:
    spec = strategy.indicators[name]
    definition = registry.indicators[spec.type]
    sources = indicator_sources(spec.input, definition.inputs)
    for role, source in sources.items():
        if source not in frame.columns:
            raise UsageError(f'indicator "{name}": input {role} = "{source}" is not a column '
                             "of its bars (the backtest reads inputs of the indicator's own "
                             "timeframe)")
    inputs = frame.select([pl.col(src).alias(role) for role, src in sources.items()])
    params = validated.indicator_params.get(name)
    values = compute(spec.type, inputs, registry=registry,
                     **(params.model_dump() if params is not None else {}))
    outputs = definition.outputs
    renamed = ({outputs[0]: name} if len(outputs) == 1
               else {o: f"{name}.{o}" for o in outputs})
    added = [values[o].alias(n) for o, n in renamed.items()]
    if any(n in frame.columns for n in renamed.values()):
        return frame.with_columns(added)  # replaces a column of the same name
    return frame.hstack(added)  # no query to plan and run for a mere append


def base_bars(symbol: str, strategy: Strategy, validated: Validated, *,
              start: datetime | None, end: datetime | None, data_path: str | None,
              warnings: list[str]) -> pl.DataFrame:
    """The stored bars of `symbol` at the base timeframe (`time` and `PRICE_FIELDS`),
    resampled when the data is finer; the loader's warnings are appended to
    `warnings`. A paper replay reads its bars here too, so it sees the backtest's."""
    data = strategy.data
    if data is None:
        raise UsageError("the strategy has no data: section (needed for a backtest)")
    base_tf = strategy.base_timeframe
    if data.source not in ("parquet", "csv"):
        raise UsageError(f'data source "{data.source}" cannot feed a backtest '
                         "(parquet, csv)")
    source: Literal["parquet", "csv"] = "csv" if data.source == "csv" else "parquet"
    loaded = load_bars(data_path or data.path, symbol, source=source,
                       options=validated.data_options or data.options,
                       columns={str(k): v for k, v in data.columns.items()} or None,
                       label=data.label, closed=data.closed,
                       timeframe_seconds=timeframe_ms(data.timeframe) // 1000,
                       start=start, end=end)
    warnings.extend(f"{symbol}: {issue.kind}: {issue.message}" for issue in loaded.warnings)
    bars = loaded.frame.select("time", *PRICE_FIELDS)
    if data.timeframe != base_tf:
        if timeframe_ms(base_tf) < timeframe_ms(data.timeframe):
            raise UsageError(f"the base timeframe {base_tf} is finer than the data's "
                             f"{data.timeframe}")
        bars = resample(bars, data.timeframe, base_tf).drop("close_time")
    return bars


def _instrument_frame(symbol: str, strategy: Strategy, validated: Validated,
                      registry: Registry, needed: Mapping[str, set[str]],
                      indicator_order: Sequence[str], *, start: datetime | None,
                      end: datetime | None, data_path: str | None,
                      warnings: list[str]) -> pl.DataFrame:
    """Base bars of `symbol` with its indicators and every `@tf` column aligned; the
    loader's warnings are appended to `warnings`."""
    base_tf = strategy.base_timeframe
    bars = base_bars(symbol, strategy, validated, start=start, end=end,
                     data_path=data_path, warnings=warnings)
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


def bar_frame(validated: Validated, registry: Registry, graph: Graph, *,
              start: datetime | None, end: datetime | None,
              data_path: str | None) -> BarFrame:
    """Load, resample, compute and align every instrument (see the module docstring)."""
    strategy = validated.strategy
    assert strategy is not None
    base_tf = strategy.base_timeframe
    base_ms = timeframe_ms(base_tf)
    symbols = tuple(graph.instruments) or tuple(strategy.instruments)
    refs = [r for e in validated.expressions.values() for r in e.refs]
    needed = needed_indicators(strategy, refs, base_tf)
    order = [n.name for n in graph.nodes if n.kind == "indicator"
             and n.name in strategy.indicators]
    order += [n for n in strategy.indicators if n not in order]
    load_from = None if start is None else start - timedelta(
        milliseconds=graph.warmup("backtest") * base_ms)
    warnings: list[str] = []
    per_symbol = {s: _instrument_frame(s, strategy, validated, registry, needed, order,
                                       start=load_from, end=end, data_path=data_path,
                                       warnings=warnings)
                  for s in symbols}
    if len(per_symbol) == 1:
        clocked = {s: f.hstack([pl.repeat(True, f.height, dtype=pl.Boolean, eager=True)
                                .alias("fresh")])
                   for s, f in per_symbol.items()}
    else:
        clocked = common_clock(per_symbol)
    head = clocked[symbols[0]]
    # the columns as they are (renamed), appended: no query over the whole frame
    wide = head.select("time", (pl.col("time") + pl.duration(milliseconds=base_ms))
                       .alias(CLOSE_TIME))
    wide = wide.hstack([
        frame[c].alias(f"{s}.{c}") for s, frame in clocked.items()
        for c in frame.columns if c != "time"])
    first = 0
    if start is not None and wide.height:
        first = int(wide["time"].search_sorted(pl.Series([start]).cast(wide["time"].dtype))[0])
    return BarFrame(wide, symbols, first, base_ms, tuple(warnings))


__all__ = ["CLOSE_TIME", "PRICE_FIELDS", "BarFrame", "bar_frame", "needed_indicators",
           "utc_datetime"]
