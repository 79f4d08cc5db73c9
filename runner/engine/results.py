"""A run's tables made into `summary.json` and the DESIGN §6 files, in every mode.

Backtest and paper runs end here with the same `RunTables`, so their files have the
same columns, the same metrics and the same formatting, and can be diffed.
summary.json holds DESIGN §6's metrics, annualised with the calendar inferred from
the run's bar times (`runner.report.metrics.infer_calendar`), then the report's
(`runner.report.metrics.EXTENDED_KEYS`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from runner.config.validate import Validated
from runner.engine.metrics import curve_stats, drawdown, metrics
from runner.engine.outputs import config_fingerprint, write_run
from runner.engine.strategy_plan import instrument_specs
from runner.engine.tables import RunTables
from runner.report.metrics import extended_metrics, infer_calendar

YEAR_MS = 365 * 24 * 3600 * 1000


def strategy_fingerprint(validated: Validated, overrides: Sequence[str] = ()) -> str:
    """sha256 of the strategy file (as read) plus the canonical `--set` overrides."""
    file_bytes = Path(validated.file).read_bytes() if Path(validated.file).is_file() \
        else validated.text.encode()
    return config_fingerprint(file_bytes, overrides)


def _epoch_ms(value: datetime) -> int:
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return round(aware.timestamp() * 1000)


def write_results(out_dir: str | Path, validated: Validated, tables: RunTables, *,
                  mode: str, times: pl.Series, start: datetime, end: datetime,
                  base_ms: int, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Compute the metrics, write every file into `out_dir` and return the summary.
    `times` are the close times of the traded bars (one per equity row); `start` is
    the first traded bar's open time, `end` the last one's close."""
    strategy = validated.strategy
    assert strategy is not None
    equity_values, cash_values = tables.equity, tables.cash
    initial_cash = float(strategy.backtest.cash)
    # the curve's running peak, drawdown and per-bar returns, computed once for the
    # summary's metrics, the report's and equity.csv's drawdown column
    curve = np.ascontiguousarray(equity_values, dtype=np.float64)
    stats = curve_stats(curve, initial_cash)
    equity = pl.DataFrame({
        "time": times,
        "equity": equity_values,
        "cash": cash_values,
        "in_position": tables.in_position,
    })
    if np.isnan(curve).any():  # NaN peaks: keep polars' own (NaN-skipping) running max
        column = drawdown(equity["equity"], initial_cash)
    else:  # the same operations as `drawdown(equity, initial_cash)`, already done
        column = pl.Series("drawdown", stats[1])
    equity = equity.with_columns(column.alias("drawdown"))
    trades, fills = tables.trades, tables.fills
    computed: dict[str, Any] = {}

    def summarize() -> dict[str, Any]:
        """The summary, computed while `write_run` writes equity.csv."""
        close_ms = times.dt.epoch("ms").to_numpy()
        calendar = infer_calendar(close_ms, base_ms)
        summary_metrics = metrics(equity, trades, calendar.bars_per_year,
                                  initial_cash=initial_cash, fills=fills,
                                  shared=stats)
        extended = extended_metrics(
            curve, close_ms,
            start_ms=_epoch_ms(start), end_ms=_epoch_ms(end), initial_cash=initial_cash,
            trades=trades, fills=fills,
            multipliers={s: spec.multiplier for s, spec in instrument_specs(strategy).items()},
            calendar=calendar, cagr=summary_metrics["cagr"],
            max_drawdown=summary_metrics["max_drawdown"],
            shared=stats)
        computed.update({
            "name": strategy.name,
            "mode": mode,
            "start": start,
            "end": end,
            "bars": len(times),
            "trades": trades.height,
            "initial_cash": initial_cash,
            "final_equity": float(equity_values[-1]) if len(equity_values) else initial_cash,
            **summary_metrics,
            "fingerprint": strategy_fingerprint(validated, overrides),
            **extended,
        })
        return computed

    write_run(out_dir, summarize, trades, tables.orders, fills, equity)
    return computed


__all__ = ["YEAR_MS", "strategy_fingerprint", "write_results"]
