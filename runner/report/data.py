"""What a report needs besides the run's DESIGN §6 files, stored in the run folder so
`runner report RUN_DIR` re-renders from the folder alone (no data file, no plugins):

    RUN_DIR/report_data/bars.parquet   price and indicator series, downsampled for drawing
    RUN_DIR/report_data/strategy.yaml  the strategy file as it was run
    RUN_DIR/report_data/meta.json      its path, the --set overrides, the base timeframe,
                                       the indicator columns and the bars per candle

`bars.parquet` is long: `instrument, time, open, high, low, close` then one Float64
column per indicator series the strategy computes (`fast`, `macd.hist`,
`trend@1h`, ...), null where an instrument lacks it. The series are the backtest's
own: the bar frame is rebuilt with `runner.engine.frames.bar_frame` (the function the
backtest runs on), over the same range, then each instrument's traded bars are cut
into at most `MAX_CANDLES` equal runs of consecutive bars, each drawn as one candle
(first open, highest high, lowest low, last close; indicators at the run's last bar).
Only what is *drawn* is downsampled: every number in the report's tables comes from
the full-resolution files.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from runner.config.validate import Validated
from runner.engine.frames import BarFrame, utc_datetime
from runner.plugins import Registry

DATA_DIR = "report_data"
BARS_FILE = "bars.parquet"
STRATEGY_FILE = "strategy.yaml"
META_FILE = "meta.json"
MAX_CANDLES = 5000
PRICE_COLUMNS = ("open", "high", "low", "close")


def downsample_bars(frame: pl.DataFrame, indicators: Sequence[str],
                    max_candles: int = MAX_CANDLES) -> tuple[pl.DataFrame, int]:
    """`time, open, high, low, close, *indicators` cut into at most `max_candles` runs
    of consecutive rows, one row each; returns it and the rows per run."""
    n = frame.height
    per = max(1, -(-n // max_candles))
    if per == 1:
        return frame, 1
    grouped = frame.with_row_index("__i").with_columns(pl.col("__i") // per).group_by(
        "__i", maintain_order=True).agg(
        pl.col("time").first(), pl.col("open").first(), pl.col("high").max(),
        pl.col("low").min(), pl.col("close").last(),
        *[pl.col(c).last() for c in indicators])
    return grouped.drop("__i"), per


def _indicator_columns(columns: Sequence[str], symbol: str,
                       indicators: Sequence[str]) -> list[str]:
    """The strategy's indicator series among one instrument's wide-frame columns."""
    prefix = f"{symbol}."
    out: list[str] = []
    for column in columns:
        if not column.startswith(prefix):
            continue
        name = column[len(prefix):]
        if name.split("@")[0].split(".")[0] in indicators:
            out.append(name)
    return out


def write_report_data(out_dir: str | Path, validated: Validated, registry: Registry, *,
                      start: date | datetime | None = None,
                      end: date | datetime | None = None, data_path: str | None = None,
                      overrides: Sequence[str] = (), frame: BarFrame | None = None) -> Path:
    """Store what the report draws in `out_dir/report_data/` (see the module
    docstring) from the backtest's bar frame — `frame`, the one the run stepped, or
    rebuilt the same way; returns that folder. Raises what `bar_frame` raises for the
    data."""
    from runner.compile import compile as compile_graph
    from runner.engine.frames import bar_frame

    strategy = validated.strategy
    if strategy is None:
        raise ValueError("the strategy is not valid")
    if frame is None:
        graph = compile_graph(validated, registry)
        frame = bar_frame(validated, registry, graph,
                          start=utc_datetime(start) if start is not None
                          else utc_datetime(strategy.backtest.start),
                          end=utc_datetime(end) if end is not None
                          else utc_datetime(strategy.backtest.end),
                          data_path=data_path)
    wide = frame.wide.slice(frame.first)
    indicators = list(strategy.indicators)
    parts: list[pl.DataFrame] = []
    per_candle: dict[str, int] = {}
    all_series: list[str] = []
    for symbol in frame.symbols:
        series = _indicator_columns(wide.columns, symbol, indicators)
        all_series += [s for s in series if s not in all_series]
        fresh = wide[f"{symbol}.fresh"].fill_null(False)
        bars = wide.filter(fresh).select(
            pl.col("time").dt.cast_time_unit("ms").dt.replace_time_zone("UTC"),
            *[pl.col(f"{symbol}.{c}").cast(pl.Float64).alias(c) for c in PRICE_COLUMNS],
            *[pl.col(f"{symbol}.{s}").cast(pl.Float64).fill_nan(None).alias(s)
              for s in series])
        small, per = downsample_bars(bars, series)
        per_candle[symbol] = per
        parts.append(small.with_columns(pl.lit(symbol).alias("instrument")))
    table = pl.concat(parts, how="diagonal_relaxed") if parts else pl.DataFrame()
    table = table.select("instrument", "time", *PRICE_COLUMNS,
                         *[pl.col(s).cast(pl.Float64) for s in all_series])
    target = Path(out_dir) / DATA_DIR
    target.mkdir(parents=True, exist_ok=True)
    table.write_parquet(target / BARS_FILE)
    source = Path(validated.file)
    if source.is_file():
        shutil.copyfile(source, target / STRATEGY_FILE)
    else:
        (target / STRATEGY_FILE).write_text(validated.text, encoding="utf-8")
    meta = {"file": str(validated.file), "overrides": list(overrides),
            "timeframe": strategy.base_timeframe, "indicators": all_series,
            "bars_per_candle": per_candle}
    (target / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return target


def read_meta(run_dir: Path) -> dict[str, Any] | None:
    """`report_data/meta.json` of a run, or None when the run has none."""
    path = run_dir / DATA_DIR / META_FILE
    if not path.is_file():
        return None
    value: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return value


__all__ = ["BARS_FILE", "DATA_DIR", "MAX_CANDLES", "META_FILE", "STRATEGY_FILE",
           "downsample_bars", "read_meta", "write_report_data"]
