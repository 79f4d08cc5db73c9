"""Two runs side by side: `runner report RUN_A RUN_B`, typically a backtest next to a
paper run of the same strategy.

The page: both equity and drawdown curves overlaid, the metrics of each with the
difference, and the trades that differ. Trades are matched on `(instrument, side,
entry_time, exit_time)` (the k-th trade of a key in A with the k-th in B); a matched
pair differs when its quantity, prices, pnl, fees or exit reason differ beyond a
relative 1e-9. Listed: every differing pair, and every trade only one run has.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import polars as pl

from runner.report.figures import compare_equity_figure
from runner.report.html import curve, load_run, metrics_html, trade_rows, write_html
from runner.report.page import esc, figure_div, page

KEY = ("instrument", "side", "entry_time", "exit_time")
VALUES = ("quantity", "entry_price", "exit_price", "pnl", "fees")
TOLERANCE = 1e-9


def _keyed(trades: pl.DataFrame) -> pl.DataFrame:
    return trades.with_columns(pl.int_range(pl.len()).over(list(KEY)).alias("__nth"))


def trade_differences(a: pl.DataFrame, b: pl.DataFrame) -> pl.DataFrame:
    """The trades that differ, one row per trade: a `run` column (`A`, `B`) and a
    `difference` column (`only in A`, `only in B`, `differs: pnl, fees`), then the
    trades.csv columns; a differing pair gives its A row then its B row."""
    columns = [*KEY, *VALUES, "exit_reason"]
    left, right = _keyed(a.select(columns)), _keyed(b.select(columns))
    joined = left.join(right, on=[*KEY, "__nth"], how="full", suffix="_b", coalesce=True,
                       nulls_equal=True)
    in_a = pl.col("quantity").is_not_null()
    in_b = pl.col("quantity_b").is_not_null()
    changed = [
        pl.when((pl.col(c) - pl.col(f"{c}_b")).abs()
                > TOLERANCE * pl.max_horizontal(pl.col(c).abs(), pl.col(f"{c}_b").abs(),
                                                pl.lit(1.0)))
        .then(pl.lit(c)) for c in VALUES]
    changed.append(pl.when(pl.col("exit_reason").fill_null("")
                           != pl.col("exit_reason_b").fill_null("")).then(pl.lit("exit_reason")))
    joined = joined.with_columns(
        pl.when(~in_b).then(pl.lit("only in A")).when(~in_a).then(pl.lit("only in B"))
        .otherwise(pl.concat_str(changed, separator=", ", ignore_nulls=True))
        .alias("difference"))
    joined = joined.filter(pl.col("difference") != "").sort("entry_time", "instrument",
                                                            "__nth")
    side_a = joined.filter(in_a).select(
        pl.lit("A").alias("run"), "difference", *KEY, *VALUES, "exit_reason",
        pl.col("entry_time").alias("__t"), pl.col("__nth"))
    side_b = joined.filter(in_b).select(
        pl.lit("B").alias("run"), "difference", *KEY,
        *[pl.col(f"{c}_b").alias(c) for c in VALUES], pl.col("exit_reason_b").alias(
            "exit_reason"), pl.col("entry_time").alias("__t"), pl.col("__nth"))
    both = pl.concat([side_a, side_b])
    return both.sort("__t", "instrument", "__nth", "run").drop("__t", "__nth")


def build_comparison(a_dir: str | os.PathLike[str], b_dir: str | os.PathLike[str]) -> str:
    """The comparison page of two run folders, as HTML text."""
    a, b = load_run(a_dir), load_run(b_dir)
    label_a, label_b = f"A: {a.label}", f"B: {b.label}"
    t_a, e_a, d_a = curve(a)
    t_b, e_b, d_b = curve(b)
    figures: dict[str, Any] = {"equity": compare_equity_figure(
        [(label_a, t_a, e_a, d_a), (label_b, t_b, e_b, d_b)])}
    diff = trade_differences(a.trades, b.trades)
    columns = ["run", "difference", "instrument", "side", "entry_time", "exit_time",
               "quantity", "entry_price", "exit_price", "pnl", "fees", "exit_reason"]
    kinds = {"entry_time": "time", "exit_time": "time", "run": "text", "difference": "text",
             "instrument": "text", "side": "text", "exit_reason": "text"}
    rows = ([list(r) for r in diff.select(
        [pl.col(c).dt.epoch("ms") if kinds.get(c) == "time"
         else pl.col(c).cast(pl.Float64).fill_nan(None) if c not in kinds
         else pl.col(c).cast(pl.String) for c in columns]).rows()] if diff.height else [])
    table = {"id": "differences", "columns": [{"name": c, "kind": kinds.get(c, "num"),
                                               "sign": c == "pnl"} for c in columns],
             "rows": rows}
    only_a = int((diff["difference"] == "only in A").sum()) if diff.height else 0
    only_b = int((diff["difference"] == "only in B").sum()) if diff.height else 0
    pairs = (diff.height - only_a - only_b) // 2
    same = (" (the same strategy and overrides)"
            if a.summary.get("fingerprint") == b.summary.get("fingerprint") else " (different)")
    sections = [
        f"<section><h2>Runs</h2><p>{esc(label_a)} — {esc(a.path)}<br>{esc(label_b)} — "
        f"{esc(b.path)}</p><p class=\"note\">fingerprints: "
        f"{esc(a.summary.get('fingerprint', '—'))} / {esc(b.summary.get('fingerprint', '—'))}"
        f"{same}"
        "</p></section>",
        f"<section><h2>Equity and drawdown</h2>{figure_div('equity')}</section>",
        f"<section><h2>Metrics</h2>{metrics_html([a.summary, b.summary], ['A', 'B'])}"
        "</section>",
        f"<section><h2>Trades that differ</h2><p class=\"note\">{a.trades.height} trades in A,"
        f" {b.trades.height} in B: {pairs} matched pairs differ, {only_a} only in A, "
        f"{only_b} only in B</p><div id=\"differences\"></div></section>",
    ]
    return page(f"{a.summary.get('name', 'A')} vs {b.summary.get('name', 'B')} — comparison",
                esc(f"A: {a.path} · B: {b.path}"), sections, figures=figures, tables=[table])


def render_comparison(a_dir: str | os.PathLike[str], b_dir: str | os.PathLike[str],
                      out: Path | None = None) -> Path:
    """Write the comparison page (default `A/compare-<name of B's folder>.html`)."""
    text = build_comparison(a_dir, b_dir)
    target = out if out is not None else Path(a_dir) / f"compare-{Path(b_dir).resolve().name}.html"
    write_html(target, text)
    return target


__all__ = ["build_comparison", "render_comparison", "trade_differences", "trade_rows"]
