"""The backtest's wide rows, built one base bar at a time (paper and live trading).

    rows = RowBuilder(validated, registry, graph)
    rows.columns                     # == bar_frame(...).wide.columns
    row = rows.push(open_ms, {"BTCUSDT": (o, h, l, c, v), ...})

`bar_frame` builds the whole history as one polars frame; a paper run learns one base
bar at a time and must see *the same row* the backtest would have seen at that time,
or paper and backtest stop being comparable (STYLE: "parity testable"). So this module
redoes `frames._instrument_frame` and `common_clock` step by step, in plain Python:

- indicators run in their incremental forms (`runner.indicators.api.incremental`), in
  the order and with the inputs and params `frames._compute_indicator` uses;
- a higher-timeframe bar is completed exactly when the batch `resample` would emit it
  (its window's last base bar arrived, or a bar of a later window did) and is then
  fed to that timeframe's indicators; `col@tf` is the last completed one, as `align`;
- several instruments follow `common_clock`: one with no bar at a time repeats its
  last non-null values (polars `forward_fill`) with `fresh` false.

Nothing here touches polars or numpy per bar: a push is a few dict operations plus
the indicators' own updates.

Known difference: a higher bar's `volume` is a float sum, summed here from the first
bar to the last. Polars' grouped sum (in `resample`) adds in an order that depends on
the engine and the thread count, so for non-integral volumes `volume@tf` (and a
higher-timeframe indicator reading it) can differ from the batch in the last bits.
Every other value is bit-identical whenever the indicators' incremental forms are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from runner.bars.resample import timeframe_ms, window_anchor_ms
from runner.compile.graph import Graph
from runner.config.models import Strategy
from runner.config.validate import Validated
from runner.engine.frames import CLOSE_TIME, PRICE_FIELDS, indicator_sources, needed_indicators
from runner.errors import UsageError
from runner.indicators.api import IncrementalIndicator, incremental
from runner.market import Bar
from runner.plugins import Registry

"""(open, high, low, close, volume) of one base bar. Volume may be None: the loader
keeps a null volume as null, and so does this."""

_EPOCH = datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC"))
"""Polars hands out `Datetime("ms", "UTC")` values with a `ZoneInfo("UTC")` tzinfo;
building times from this epoch gives the very same objects."""


def _utc(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


@dataclass(slots=True)
class _Indicator:
    """One indicator on one instrument and timeframe: reads `sources` from the row of
    its timeframe, writes its outputs back into that row under their column names."""

    kernel: IncrementalIndicator
    sources: tuple[tuple[str, str], ...]
    """(input role, row column) pairs."""
    columns: tuple[tuple[str, str], ...]
    """(output, row column) pairs: `name`, or `name.output` for several outputs."""

    def update(self, row: dict[str, Any]) -> None:
        if self.kernel.time_at is not None:  # the api converts a datetime time input
            out = self.kernel.update({role: row[src] for role, src in self.sources})
            for output, column in self.columns:
                row[column] = out[output]
            return
        # the api's update, without its dicts: this runs per indicator per bar
        values = [row[src] for _, src in self.sources]
        if None in values:
            for _, column in self.columns:
                row[column] = None
            return
        for (_, column), value in zip(self.columns, self.kernel.kernel.update(*values),
                                      strict=True):
            row[column] = value


def _indicators(strategy: Strategy, validated: Validated, registry: Registry,
                names: Sequence[str], columns: list[str]) -> list[_Indicator]:
    """Incremental indicators for `names` (already in compute order) on bars whose
    columns are `columns`; appends their output columns to `columns`, as
    `frames._compute_indicator` appends them to the frame."""
    out: list[_Indicator] = []
    for name in names:
        spec = strategy.indicators[name]
        definition = registry.indicators[spec.type]
        sources = indicator_sources(spec.input, definition.inputs)
        for role, source in sources.items():
            if source not in columns:
                raise UsageError(f'indicator "{name}": input {role} = "{source}" is not a '
                                 "column of its bars (the backtest reads inputs of the "
                                 "indicator's own timeframe)")
        params = validated.indicator_params.get(name)
        kernel = incremental(spec.type, registry=registry,
                             **(params.model_dump() if params is not None else {}))
        outputs = definition.outputs
        named = ({outputs[0]: name} if len(outputs) == 1
                 else {o: f"{name}.{o}" for o in outputs})
        columns.extend(named.values())
        out.append(_Indicator(kernel, tuple(sources.items()), tuple(named.items())))
    return out


@dataclass(slots=True)
class _Higher:
    """One higher timeframe of one instrument: the window being filled, its
    indicators, and the `col@tf` values of the last completed bar."""

    tf: str
    step: int
    anchor: int
    indicators: list[_Indicator]
    aligned: tuple[tuple[str, str], ...]
    """(higher-bar column, `column@tf`) pairs, as `align` names them."""
    start: int | None = None
    open: float = 0.0
    high: float | None = None
    low: float | None = None
    close: float = 0.0
    volume: float = 0.0

    def push(self, open_ms: int, bar: Bar, values: dict[str, Any], base_step: int) -> None:
        """Add one base bar; when that completes a window (as `resample` would emit
        it), run the indicators on it and copy its columns into `values`."""
        start = open_ms - (open_ms - self.anchor) % self.step
        if self.start is not None and start != self.start:
            self._complete(values)  # a gap ran past the end of the previous window
        o, h, lo, c, v = bar
        if self.start is None:
            self.start, self.open, self.high, self.low, self.volume = start, o, h, lo, 0.0
        else:
            self.high = _nan_max(self.high, h)
            self.low = _nan_min(self.low, lo)
        self.close = c
        if v is not None:  # polars' sum skips nulls; all null sums to 0.0
            self.volume += v
        if open_ms + base_step == start + self.step:
            self._complete(values)

    def _complete(self, values: dict[str, Any]) -> None:
        assert self.start is not None
        row: dict[str, Any] = {"time": self.start, "open": self.open, "high": self.high,
                               "low": self.low, "close": self.close, "volume": self.volume,
                               "close_time": self.start + self.step}
        for indicator in self.indicators:
            indicator.update(row)
        for column, name in self.aligned:
            values[name] = row[column]
        self.start = None


def _nan_max(current: float | None, value: float | None) -> float | None:
    """Polars' `max`: nulls skipped, NaN only when nothing else is there."""
    if current is None or current != current:
        return value if value is not None else current
    return value if value is not None and value > current else current


def _nan_min(current: float | None, value: float | None) -> float | None:
    if current is None or current != current:
        return value if value is not None else current
    return value if value is not None and value < current else current


@dataclass(slots=True)
class _Instrument:
    """One instrument's state. `values` holds its columns of the current row under
    their frame names (`close`, `sma`, `close@5m`, ...); `filled` the last non-null
    of each, which is what `common_clock` shows for it."""

    keys: tuple[str, ...]
    wide: tuple[str, ...]
    fresh: str
    indicators: list[_Indicator]
    highers: list[_Higher]
    values: dict[str, Any] = field(default_factory=dict)
    filled: dict[str, Any] = field(default_factory=dict)

    def push(self, open_ms: int, bar: Bar, base_step: int) -> None:
        values = self.values
        values["time"] = open_ms
        values["open"], values["high"], values["low"], values["close"], values["volume"] = bar
        for indicator in self.indicators:
            indicator.update(values)
        for higher in self.highers:
            higher.push(open_ms, bar, values, base_step)


class RowBuilder:
    """The rows of `bar_frame(validated, registry, graph, ...).wide`, one base-bar time
    per `push`, for a paper or live run (see the module docstring).

    Bars pushed are base-timeframe bars: a feed with finer data resamples them first,
    as `bar_frame` does. Warm-up is the caller's: push history before trading on it.
    """

    def __init__(self, validated: Validated, registry: Registry, graph: Graph) -> None:
        strategy = validated.strategy
        if strategy is None:
            raise UsageError("the strategy has errors; validate it first")
        base_tf = strategy.base_timeframe
        self._base_step = timeframe_ms(base_tf)
        self._base_anchor = window_anchor_ms(base_tf)
        self._symbols = tuple(graph.instruments) or tuple(strategy.instruments)
        refs = [r for e in validated.expressions.values() for r in e.refs]
        needed = needed_indicators(strategy, refs, base_tf)
        order = [n.name for n in graph.nodes if n.kind == "indicator"
                 and n.name in strategy.indicators]
        order += [n for n in strategy.indicators if n not in order]
        higher_tfs: list[str] = []
        for tf in [*strategy.timeframes[1:], *needed]:
            if tf != base_tf and tf not in higher_tfs:
                higher_tfs.append(tf)
        for tf in higher_tfs:
            self._check_timeframe(base_tf, tf)

        columns: list[str] = ["time", CLOSE_TIME]
        self._instruments: dict[str, _Instrument] = {}
        for symbol in self._symbols:
            base_columns = ["time", *PRICE_FIELDS]
            base_names = [n for n in order if n in needed.get(base_tf, set())]
            base_indicators = _indicators(strategy, validated, registry, base_names,
                                          base_columns)
            keys = base_columns[1:]
            highers: list[_Higher] = []
            for tf in higher_tfs:
                tf_columns = ["time", *PRICE_FIELDS, "close_time"]
                names = [n for n in order if n in needed.get(tf, set())]
                tf_indicators = _indicators(strategy, validated, registry, names, tf_columns)
                aligned = tuple((c, f"{c}@{tf}") for c in tf_columns
                                if c not in ("time", "close_time"))
                keys += [name for _, name in aligned]
                highers.append(_Higher(tf, timeframe_ms(tf), window_anchor_ms(tf),
                                       tf_indicators, aligned))
            instrument = _Instrument(tuple(keys), tuple(f"{symbol}.{k}" for k in keys),
                                     f"{symbol}.fresh", base_indicators, highers)
            instrument.values = dict.fromkeys(keys)
            self._instruments[symbol] = instrument
            columns += [*instrument.wide, instrument.fresh]
        self._columns = tuple(columns)
        self._last: int | None = None

    @staticmethod
    def _check_timeframe(base_tf: str, tf: str) -> None:
        """What `resample` would refuse, refused up front rather than at the first bar."""
        base, step = timeframe_ms(base_tf), timeframe_ms(tf)
        if step % base:
            raise UsageError(f"{tf} is not a whole multiple of {base_tf}")
        if (window_anchor_ms(tf) - window_anchor_ms(base_tf)) % base:
            raise UsageError(f"{tf} windows do not start on the {base_tf} grid")

    @property
    def columns(self) -> tuple[str, ...]:
        """Exactly `bar_frame(...).wide.columns`, in the same order."""
        return self._columns

    @property
    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    def push(self, open_ms: int, bars: Mapping[str, Bar]) -> dict[str, Any]:
        """One base-bar time (epoch ms open time, strictly increasing across calls): the
        (open, high, low, close, volume) of every instrument that has a bar at this time.
        Returns the wide row for this time: same keys and values as
        `bar_frame(...).wide.row(i, named=True)` at that time.

        ValueError for a time not after the last one or off the base grid, no bars,
        or a symbol the strategy does not trade: the batch frame has no such row.
        """
        if self._last is not None and open_ms <= self._last:
            raise ValueError(f"bar time {open_ms} is not after the last one ({self._last})")
        if (open_ms - self._base_anchor) % self._base_step:
            raise ValueError(f"bar time {open_ms} does not open on the base timeframe grid")
        if not bars:
            raise ValueError("no bars: the clock only has times some instrument has a bar at")
        unknown = [s for s in bars if s not in self._instruments]
        if unknown:
            raise ValueError(f"bars for unknown instrument(s): {', '.join(sorted(unknown))}")
        self._last = open_ms
        row: dict[str, Any] = {"time": _utc(open_ms),
                               CLOSE_TIME: _utc(open_ms + self._base_step)}
        single = len(self._instruments) == 1
        for symbol, instrument in self._instruments.items():
            bar = bars.get(symbol)
            if single:  # no common clock: the bar is always there, nothing is filled
                assert bar is not None
                instrument.push(open_ms, bar, self._base_step)
                values = instrument.values
                for key, name in zip(instrument.keys, instrument.wide, strict=True):
                    row[name] = values[key]
                row[instrument.fresh] = True
                continue
            filled = instrument.filled
            if bar is not None:
                instrument.push(open_ms, bar, self._base_step)
                values = instrument.values
                for key in instrument.keys:
                    value = values[key]
                    if value is not None:
                        filled[key] = value
            for key, name in zip(instrument.keys, instrument.wide, strict=True):
                row[name] = filled.get(key)
            row[instrument.fresh] = bar is not None
        return row


__all__ = ["Bar", "RowBuilder"]
