"""`report.html` of one run, rendered from the run folder alone.

    path = render_report(Path("runs/x/20240101T000000Z"))     # -> runs/x/.../report.html

Reads `summary.json` (every metric, as the run computed it), `equity.csv`,
`trades.csv`, `orders.csv` and, when the run stored them, `report_data/` (price and
indicator series, the strategy file; see `runner.report.data`). A run without
`report_data/` (a paper run) gets every section but the price charts and the
strategy text. The page: the metrics table, equity and drawdown, the monthly
returns heat-map, one price chart per instrument (candles, indicators overlaid or in
panes, entries and exits, stop and target levels), the per-instrument and
per-exit-reason breakdowns, the sortable trade list and the strategy file with its
fingerprint.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from runner.errors import UsageError
from runner.report.data import BARS_FILE, DATA_DIR, STRATEGY_FILE, read_meta
from runner.report.figures import LAZY_MARKERS, equity_figure, monthly_figure, price_figure
from runner.report.format import METRIC_GROUPS, format_value, lookup
from runner.report.page import esc, figure_div, page

if TYPE_CHECKING:
    from runner.config.validate import Validated
    from runner.plugins import Registry

REPORT_FILE = "report.html"
_TIME = pl.Datetime("ms", "UTC")


@dataclass(frozen=True, slots=True)
class RunFiles:
    """One run folder's files, read for a report."""

    path: Path
    summary: dict[str, Any]
    equity: pl.DataFrame
    """`time` (UTC, ms), `equity`, `drawdown`."""
    trades: pl.DataFrame
    orders: pl.DataFrame
    bars: pl.DataFrame | None
    meta: dict[str, Any] | None
    strategy_text: str | None

    @property
    def label(self) -> str:
        return f"{self.summary.get('name', '?')} ({self.summary.get('mode', '?')})"


def _read_csv(path: Path, times: Sequence[str], **kwargs: Any) -> pl.DataFrame:
    frame = pl.read_csv(path, infer_schema_length=10_000, **kwargs)
    return frame.with_columns(
        pl.col(c).cast(pl.String).str.to_datetime(time_unit="ms", time_zone="UTC",
                                                  strict=False)
        for c in times if c in frame.columns)


def load_run(path: str | os.PathLike[str]) -> RunFiles:
    """Read a run folder; `UsageError` when it is not one (no summary.json) or a file is
    unreadable."""
    run = Path(path)
    if not run.is_dir():
        raise UsageError(f"{run} is not a folder", hint="give the folder a run wrote")
    if not (run / "summary.json").is_file():
        raise UsageError(f"{run} is not a run folder (it has no summary.json)")
    try:
        summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
        equity = _read_csv(run / "equity.csv", ["time"], schema_overrides={
            "equity": pl.Float64, "cash": pl.Float64, "drawdown": pl.Float64})
        trades = _read_csv(run / "trades.csv", ["entry_time", "exit_time"], schema_overrides={
            "instrument": pl.String, "side": pl.String, "quantity": pl.Float64,
            "entry_price": pl.Float64, "exit_price": pl.Float64, "pnl": pl.Float64,
            "fees": pl.Float64, "exit_reason": pl.String})
        orders_path = run / "orders.csv"
        orders = (_read_csv(orders_path, ["time"], schema_overrides={
            "symbol": pl.String, "type": pl.String, "parent_id": pl.String,
            "limit_price": pl.Float64, "trigger_price": pl.Float64})
            if orders_path.is_file() else pl.DataFrame())
        bars_path = run / DATA_DIR / BARS_FILE
        bars = pl.read_parquet(bars_path) if bars_path.is_file() else None
        strategy_path = run / DATA_DIR / STRATEGY_FILE
        text = strategy_path.read_text(encoding="utf-8") if strategy_path.is_file() else None
    except (OSError, ValueError, pl.exceptions.PolarsError) as exc:
        raise UsageError(f"cannot read the run in {run}: {exc}") from None
    if not isinstance(summary, dict):
        raise UsageError(f"{run / 'summary.json'} is not a run summary")
    return RunFiles(run, summary, equity, trades, orders, bars, read_meta(run), text)


def curve(run: RunFiles) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """time (epoch ms), equity and drawdown of a run, full resolution."""
    eq = run.equity
    if eq.height == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
    return (eq["time"].dt.epoch("ms").to_numpy(), eq["equity"].to_numpy(),
            eq["drawdown"].fill_null(0.0).to_numpy())


def metrics_html(summaries: Sequence[Mapping[str, Any]], labels: Sequence[str]) -> str:
    """The metrics table, a column per run (with a difference column for two)."""
    parts = ['<div class="grid">']
    for group, rows in METRIC_GROUPS:
        head = "".join(f"<th>{esc(label)}</th>" for label in labels)
        if len(summaries) == 2:
            head += "<th>B - A</th>"
        parts.append(f"<div><table><thead><tr><th>{esc(group)}</th>{head}</tr></thead><tbody>")
        for label, key, kind in rows:
            values = [lookup(s, key) for s in summaries]
            cells = "".join(f"<td>{esc(format_value(v, kind))}</td>" for v in values)
            if len(summaries) == 2:
                cells += f"<td>{esc(_difference(values[0], values[1], kind))}</td>"
            parts.append(f"<tr><td>{esc(label)}</td>{cells}</tr>")
        parts.append("</tbody></table></div>")
    parts.append("</div>")
    return "".join(parts)


def _difference(a: Any, b: Any, kind: str) -> str:
    if kind in ("time", "text"):
        return "" if a == b else "differs"
    from runner.report.format import number

    x, y = number(a), number(b)
    if x is None or y is None or not np.isfinite(x) or not np.isfinite(y):
        return "—"
    return format_value(y - x, kind)  # type: ignore[arg-type]


TRADE_TABLE_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("instrument", "text", False), ("side", "text", False), ("quantity", "num", False),
    ("entry_time", "time", False), ("entry_price", "num", False),
    ("exit_time", "time", False), ("exit_price", "num", False), ("pnl", "num", True),
    ("fees", "num", False), ("exit_reason", "text", False))


def trade_rows(trades: pl.DataFrame) -> list[list[Any]]:
    """trades.csv rows for the page's table (times as epoch ms, NaN as null)."""
    if trades.height == 0:
        return []
    frame = trades.select(
        [pl.col(c).dt.epoch("ms") if kind == "time"
         else pl.col(c).cast(pl.Float64).fill_nan(None) if kind == "num"
         else pl.col(c).cast(pl.String)
         for c, kind, _ in TRADE_TABLE_COLUMNS])
    return [list(r) for r in frame.rows()]


def trade_table(element_id: str, trades: pl.DataFrame) -> dict[str, Any]:
    columns = [{"name": c, "kind": k, "sign": s} for c, k, s in TRADE_TABLE_COLUMNS]
    return {"id": element_id, "columns": [{"name": "#", "kind": "int"}, *columns],
            "rows": [[i + 1, *r] for i, r in enumerate(trade_rows(trades))]}


def breakdown_html(title: str, groups: Mapping[str, Any]) -> str:
    if not groups:
        return f"<div><h2>{esc(title)}</h2><p class=\"note\">no closed trades</p></div>"
    columns = (("trades", "int"), ("win_rate", "pct"), ("pnl", "money"), ("fees", "money"),
               ("profit_factor", "ratio"), ("expectancy", "money"), ("best_trade", "money"),
               ("worst_trade", "money"), ("average_holding_seconds", "duration"))
    head = "".join(f"<th>{esc(c.replace('_', ' ').replace(' seconds', ''))}</th>"
                   for c, _ in columns)
    rows = "".join(
        f"<tr><td>{esc(name)}</td>"
        + "".join(f"<td>{esc(format_value(stats.get(c), k))}</td>"  # type: ignore[arg-type]
                  for c, k in columns) + "</tr>"
        for name, stats in groups.items() if isinstance(stats, Mapping))
    return (f"<div><h2>{esc(title)}</h2><table><thead><tr><th></th>{head}</tr></thead>"
            f"<tbody>{rows}</tbody></table></div>")


def _end_ms(run: RunFiles) -> int:
    time_ms, _, _ = curve(run)
    return int(time_ms[-1]) if len(time_ms) else 0


def build_report(run: RunFiles) -> str:
    """The report page of one run, as HTML text."""
    summary = run.summary
    time_ms, equity, drawdown = curve(run)
    figures: dict[str, Any] = {}
    sections: list[str] = [
        f"<section><h2>Metrics</h2>{metrics_html([summary], ['value'])}</section>"]
    if len(time_ms):
        figures["equity"] = equity_figure(time_ms, equity, drawdown)
        sections.append(f"<section><h2>Equity and drawdown</h2>{figure_div('equity')}"
                        "</section>")
    monthly = monthly_figure(summary.get("monthly_returns") or {},
                             summary.get("yearly_returns") or {})
    if monthly is not None:
        figures["monthly"] = monthly
        sections.append(f"<section><h2>Monthly returns</h2>{figure_div('monthly')}</section>")
    symbols = _symbols(run)
    indicators = list((run.meta or {}).get("indicators", []))
    per_candle = (run.meta or {}).get("bars_per_candle", {})
    for k, symbol in enumerate(symbols):
        bars = (run.bars.filter(pl.col("instrument") == symbol)
                if run.bars is not None else None)
        element = f"price-{k}"
        figures[element] = price_figure(symbol, bars, indicators, run.trades, run.orders,
                                        _end_ms(run))
        note = ("" if run.bars is not None else
                '<p class="note">this run stored no price data (report_data/); trades '
                "are marked at their prices</p>")
        per = per_candle.get(symbol, 1) if isinstance(per_candle, Mapping) else 1
        if isinstance(per, int) and per > 1:
            note += (f'<p class="note">one candle per {per} bars (downsampled for drawing; '
                     "markers and every number are exact)</p>")
        traded = int((run.trades["instrument"] == symbol).sum()) if run.trades.height else 0
        if 2 * traded > LAZY_MARKERS:
            note += (f'<p class="note">{traded:,} trades: their entry and exit markers are '
                     f"drawn once a zoom shows at most {LAZY_MARKERS:,} of them, or by "
                     "clicking <i>entries</i> / <i>exits</i> in the legend</p>")
        sections.append(f"<section><h2>{esc(symbol)}</h2>{note}{figure_div(element)}"
                        "</section>")
    sections.append(
        '<section><div class="grid">'
        + breakdown_html("By instrument", summary.get("by_instrument") or {})
        + breakdown_html("By exit reason", summary.get("by_exit_reason") or {})
        + "</div></section>")
    sections.append('<section><h2>Trades</h2><div id="trades"></div></section>')
    sections.append(_strategy_html(run))
    subtitle = esc(f"{summary.get('mode', '')} · {format_value(summary.get('start'), 'time')}"
                   f" → {format_value(summary.get('end'), 'time')} · "
                   f"fingerprint {summary.get('fingerprint', '—')}")
    return page(f"{summary.get('name', 'run')} — report", subtitle, sections,
                figures=figures, tables=[trade_table("trades", run.trades)])


def _symbols(run: RunFiles) -> list[str]:
    found: list[str] = []
    if run.bars is not None and run.bars.height:
        found = run.bars["instrument"].unique(maintain_order=True).to_list()
    if run.trades.height:
        found += [s for s in run.trades["instrument"].unique(maintain_order=True).to_list()
                  if s not in found]
    return [str(s) for s in found]


def _strategy_html(run: RunFiles) -> str:
    fingerprint = esc(run.summary.get("fingerprint", "—"))
    if run.strategy_text is None:
        return (f"<section><h2>Strategy</h2><p class=\"note\">fingerprint {fingerprint}; "
                "this run did not store its strategy file</p></section>")
    meta = run.meta or {}
    overrides = meta.get("overrides") or []
    extra = (f"<p>--set {esc(' '.join(overrides))}</p>" if overrides else "")
    return (f"<section><h2>Strategy</h2><p class=\"note\">{esc(meta.get('file', ''))} · "
            f"fingerprint {fingerprint}</p>{extra}<pre>{esc(run.strategy_text)}</pre>"
            "</section>")


def write_html(path: Path, text: str) -> None:
    """Write a page atomically (a reader never sees half a file)."""
    from runner.engine.outputs import atomic_write

    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def render_report(run_dir: str | os.PathLike[str], out: Path | None = None) -> Path:
    """Render `report.html` into the run folder (or `out`); returns its path."""
    run = load_run(run_dir)
    target = out if out is not None else run.path / REPORT_FILE
    write_html(target, build_report(run))
    return target




def write_backtest_report(out_dir: str | os.PathLike[str], validated: Validated,
                          registry: Registry, *, start: date | datetime | None = None,
                          end: date | datetime | None = None, data_path: str | None = None,
                          overrides: Sequence[str] = (), frame: Any = None) -> Path:
    """After a backtest: store `report_data/` (the series the page draws; from `frame`,
    the run's `BarFrame`, when given) and render `report.html` into the run folder;
    returns the page's path."""
    from runner.report.data import write_report_data

    write_report_data(Path(out_dir), validated, registry, start=start, end=end,
                      data_path=data_path, overrides=overrides, frame=frame)
    return render_report(out_dir)


__all__ = ["REPORT_FILE", "RunFiles", "build_report", "curve", "load_run", "metrics_html",
           "render_report", "trade_rows", "trade_table", "write_backtest_report",
           "write_html"]
