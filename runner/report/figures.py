"""plotly.js figures as plain dicts (`{"data": [...], "layout": {...}}`), built from
a run's tables without importing the plotly Python package.

Times are epoch milliseconds on `type: "date"` axes (plotly.js reads them as UTC).
What is drawn is bounded whatever the run's length: candles come downsampled from
`report_data/bars.parquet`, and the equity and drawdown lines keep, per bucket of
consecutive bars, the bar with the lowest and the one with the highest value
(`minmax_indices`), so every peak and trough of the curve is still drawn. Trade
markers are never thinned: a chart with many switches to WebGL (`scattergl`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

LINE_POINTS = 4000
"""Buckets of the min/max downsampling of lines (at most twice as many points)."""
WEBGL_MARKERS = 4000
"""Above this many trade markers on one chart they are drawn with WebGL."""
LAZY_MARKERS = 6000
"""Above this many trade markers on one chart they start hidden (legend only) and
are drawn once a zoom shows at most this many (or by a click on the legend): tens of
thousands of markers over a whole run are a smear that costs seconds to draw."""
OVERLAY_DISTANCE = 0.25
"""An indicator whose median distance from the close is below this fraction of the
close is drawn over the candles; any other gets a pane of its own."""
UP, DOWN = "#26a69a", "#ef5350"
PALETTE = ("#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#bcbd22", "#7f7f7f")

Figure = dict[str, Any]


def clean(values: np.ndarray | Sequence[Any]) -> list[Any]:
    """Floats for JSON: NaN and infinities become None (a gap in a line)."""
    out = np.asarray(values, dtype=np.float64).tolist()
    return [v if math.isfinite(v) else None for v in out]


def minmax_indices(values: np.ndarray, buckets: int = LINE_POINTS) -> np.ndarray:
    """Sorted row indices keeping, per bucket of consecutive rows, the lowest and the
    highest value, plus the first and last row; every row when there are few."""
    n = len(values)
    if n <= 2 * buckets:
        return np.arange(n)
    per = -(-n // buckets)
    whole = n // per * per
    block = np.nan_to_num(values[:whole], nan=0.0).reshape(-1, per)
    base = np.arange(0, whole, per)
    keep = [base + block.argmin(axis=1), base + block.argmax(axis=1), np.array([0, n - 1])]
    if whole < n:
        tail = np.nan_to_num(values[whole:], nan=0.0)
        keep.append(np.array([whole + tail.argmin(), whole + tail.argmax()]))
    return np.unique(np.concatenate(keep))


def _date_axis(**extra: Any) -> dict[str, Any]:
    return {"type": "date", "showspikes": True, "spikemode": "across",
            "spikethickness": 1, **extra}


def _layout(height: int, **extra: Any) -> dict[str, Any]:
    return {"height": height, "margin": {"l": 60, "r": 20, "t": 30, "b": 30},
            "hovermode": "x", "dragmode": "zoom", "showlegend": True,
            "legend": {"orientation": "h", "y": 1.06, "x": 0},
            "paper_bgcolor": "white", "plot_bgcolor": "white", **extra}


def equity_figure(time_ms: np.ndarray, equity: np.ndarray, drawdown: np.ndarray) -> Figure:
    """Equity over the drawdown (below zero, as a filled area), sharing the time axis."""
    eq = minmax_indices(equity)
    dd = minmax_indices(drawdown)
    return {
        "data": [
            {"type": "scatter", "mode": "lines", "name": "equity", "x": time_ms[eq].tolist(),
             "y": clean(equity[eq]), "line": {"color": PALETTE[0], "width": 1.5},
             "hovertemplate": "%{y:,.2f}<extra>equity</extra>"},
            {"type": "scatter", "mode": "lines", "name": "drawdown", "x": time_ms[dd].tolist(),
             "y": clean(-drawdown[dd]), "yaxis": "y2", "fill": "tozeroy",
             "line": {"color": DOWN, "width": 1},
             "hovertemplate": "%{y:.2%}<extra>drawdown</extra>"},
        ],
        "layout": _layout(
            460, xaxis=_date_axis(anchor="y2"),
            yaxis={"domain": [0.34, 1], "title": {"text": "equity"}, "tickformat": ",.0f"},
            yaxis2={"domain": [0, 0.28], "title": {"text": "drawdown"}, "tickformat": ".0%"}),
    }


def compare_equity_figure(curves: Sequence[tuple[str, np.ndarray, np.ndarray,
                                                 np.ndarray]]) -> Figure:
    """Several runs' equity (top) and drawdown (bottom) overlaid: (label, time_ms,
    equity, drawdown) each."""
    data: list[dict[str, Any]] = []
    for k, (label, time_ms, equity, drawdown) in enumerate(curves):
        color = PALETTE[k % len(PALETTE)]
        eq, dd = minmax_indices(equity), minmax_indices(drawdown)
        data.append({"type": "scatter", "mode": "lines", "name": f"{label} equity",
                     "x": time_ms[eq].tolist(), "y": clean(equity[eq]),
                     "line": {"color": color, "width": 1.5}})
        data.append({"type": "scatter", "mode": "lines", "name": f"{label} drawdown",
                     "x": time_ms[dd].tolist(), "y": clean(-drawdown[dd]), "yaxis": "y2",
                     "line": {"color": color, "width": 1, "dash": "dot"}})
    return {"data": data, "layout": _layout(
        480, xaxis=_date_axis(anchor="y2"),
        yaxis={"domain": [0.34, 1], "title": {"text": "equity"}, "tickformat": ",.0f"},
        yaxis2={"domain": [0, 0.28], "title": {"text": "drawdown"}, "tickformat": ".0%"})}


def monthly_figure(monthly: Mapping[str, Any], yearly: Mapping[str, Any]) -> Figure | None:
    """The monthly returns heat-map: a row per year, a column per month, the year's
    return in a last column; None without any month."""
    if not monthly:
        return None
    years = sorted({key[:4] for key in monthly} | set(yearly))
    columns = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
               "Nov", "Dec", "Year"]
    z: list[list[float | None]] = []
    text: list[list[str]] = []
    for year in years:
        row = [monthly.get(f"{year}-{m:02d}") for m in range(1, 13)] + [yearly.get(year)]
        values = [_finite(v) for v in row]
        z.append(values)
        text.append(["" if v is None else f"{v * 100:.2f}%" for v in values])
    finite = [abs(v) for r in z for v in r if v is not None]
    bound = max(finite) if finite and max(finite) > 0 else 0.01
    return {
        "data": [{"type": "heatmap", "x": columns, "y": years, "z": z, "text": text,
                  "texttemplate": "%{text}", "hovertemplate": "%{y} %{x}: %{text}<extra></extra>",
                  "colorscale": [[0, DOWN], [0.5, "#ffffff"], [1, UP]],
                  "zmin": -bound, "zmax": bound, "showscale": False, "xgap": 2, "ygap": 2}],
        "layout": _layout(max(140, 60 + 34 * len(years)), showlegend=False,
                          yaxis={"type": "category", "autorange": "reversed"},
                          xaxis={"type": "category", "side": "top"},
                          margin={"l": 60, "r": 20, "t": 40, "b": 10}),
    }


def _finite(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _is_overlay(series: np.ndarray, close: np.ndarray) -> bool:
    ok = np.isfinite(series) & np.isfinite(close) & (close != 0)
    if not ok.any():
        return False
    distance = np.abs(series[ok] / close[ok] - 1.0)
    return bool(np.median(distance) < OVERLAY_DISTANCE)


def _pane_of(name: str) -> str:
    """Series of one multi-output indicator share a pane (`macd.macd`, `macd.hist`)."""
    return name.split("@")[0].split(".")[0] + ("@" + name.split("@")[1] if "@" in name else "")


def _ms(column: pl.Series) -> np.ndarray:
    return column.dt.epoch("ms").to_numpy()


def _markers(trades: pl.DataFrame, entry: bool) -> list[dict[str, Any]]:
    """Entry (or exit) markers, one trace per marker style so no per-point style
    arrays are written: entries `triangle-up` for longs and `triangle-down` for shorts,
    exits an `x`, green for a winner and red otherwise. Every trace is named
    `entries` or `exits` (one legend item each)."""
    kind = "scattergl" if 2 * trades.height > WEBGL_MARKERS else "scatter"
    if entry:
        is_short = pl.col("side") == "short"
        groups = [(~is_short, "triangle-up", "#1565c0"), (is_short, "triangle-down", "#6a1b9a")]
        name, x, y, size = "entries", "entry_time", "entry_price", 10
    else:
        winner = pl.col("pnl").fill_null(0.0) > 0
        groups = [(winner, "x", UP), (~winner, "x", DOWN)]
        name, x, y, size = "exits", "exit_time", "exit_price", 9
    traces: list[dict[str, Any]] = []
    hidden = 2 * trades.height > LAZY_MARKERS
    for mask, symbol, color in groups:
        rows = trades.filter(mask)
        if rows.height == 0:
            continue
        traces.append({
            "visible": "legendonly" if hidden else True,
            "type": kind, "mode": "markers", "name": name, "legendgroup": name,
            "showlegend": not traces, "x": _ms(rows[x]).tolist(),
            "y": clean(rows[y].cast(pl.Float64).to_numpy()),
            "marker": {"symbol": symbol, "size": size, "color": color,
                       "line": {"width": 1, "color": "white" if entry else color}},
            "hovertemplate": f"{name[:-1]} @ %{{y:,.4f}}<extra></extra>"})
    return traces


def _levels(orders: pl.DataFrame, trades: pl.DataFrame, symbol: str, end_ms: int,
            ) -> list[dict[str, Any]]:
    """Stop-loss and take-profit levels of the attached exits, as dashed segments from
    the entry's fill to the trade's exit (the run's end while still open)."""
    if orders.height == 0 or "parent_id" not in orders.columns:
        return []
    children = orders.filter((pl.col("symbol") == symbol) & pl.col("parent_id").is_not_null()
                             & pl.col("type").is_in(["stop", "limit"]))
    if children.height == 0:
        return []
    exits = trades.filter(pl.col("instrument") == symbol).select(
        pl.col("entry_time").alias("time"), pl.col("exit_time")).unique("time", keep="first")
    joined = children.join(exits, on="time", how="left")
    traces = []
    for kind, column, color, label in (("stop", "trigger_price", DOWN, "stop"),
                                       ("limit", "limit_price", UP, "target")):
        rows = joined.filter(pl.col("type") == kind)
        if rows.height == 0:
            continue
        start = _ms(rows["time"])
        stop = rows["exit_time"].dt.epoch("ms").fill_null(end_ms).to_numpy()
        level = clean(rows[column].cast(pl.Float64).to_numpy())
        xs: list[Any] = []
        ys: list[Any] = []
        for a, b, y in zip(start.tolist(), stop.tolist(), level, strict=True):
            xs += [a, b, None]
            ys += [y, y, None]
        traces.append({"type": "scattergl" if rows.height > WEBGL_MARKERS else "scatter",
                       "mode": "lines", "name": label, "x": xs, "y": ys,
                       "connectgaps": False, "hoverinfo": "skip",
                       "line": {"color": color, "width": 1, "dash": "dash"}})
    return traces


def price_figure(symbol: str, bars: pl.DataFrame | None, indicators: Sequence[str],
                 trades: pl.DataFrame, orders: pl.DataFrame, end_ms: int) -> Figure:
    """One instrument: candles with the overlay indicators, the other indicators in
    panes below, entries and exits marked, stop and target levels drawn. With more
    than `LAZY_MARKERS` markers, `layout.meta.lazy_markers` asks the page to show them
    only while a zoom holds at most that many."""
    data: list[dict[str, Any]] = []
    panes: dict[str, list[str]] = {}
    overlays: list[str] = []
    if bars is not None and bars.height:
        time_ms = _ms(bars["time"])
        close = bars["close"].to_numpy()
        data.append({"type": "candlestick", "name": symbol, "x": time_ms.tolist(),
                     "open": clean(bars["open"].to_numpy()),
                     "high": clean(bars["high"].to_numpy()),
                     "low": clean(bars["low"].to_numpy()), "close": clean(close),
                     "increasing": {"line": {"color": UP, "width": 1}},
                     "decreasing": {"line": {"color": DOWN, "width": 1}}})
        for name in indicators:
            if name not in bars.columns or bars[name].null_count() == bars.height:
                continue
            values = bars[name].cast(pl.Float64).to_numpy()
            if _is_overlay(values, close):
                overlays.append(name)
            else:
                panes.setdefault(_pane_of(name), []).append(name)
        colors = iter(PALETTE * 8)
        for name in overlays:
            data.append({"type": "scatter", "mode": "lines", "name": name,
                         "x": time_ms.tolist(), "y": clean(bars[name].to_numpy()),
                         "line": {"width": 1.2, "color": next(colors)}})
        for k, (_, names) in enumerate(panes.items()):
            for name in names:
                data.append({"type": "scatter", "mode": "lines", "name": name,
                             "x": time_ms.tolist(), "y": clean(bars[name].to_numpy()),
                             "yaxis": f"y{k + 2}", "line": {"width": 1.2,
                                                            "color": next(colors)}})
    mine = trades.filter(pl.col("instrument") == symbol) if trades.height else trades
    data += _levels(orders, mine, symbol, end_ms)
    if mine.height:
        data += _markers(mine, entry=True)
        data += _markers(mine, entry=False)
    count = len(panes)
    gap, pane = 0.03, 0.22
    price_bottom = count * (pane + gap) if count else 0.0
    markers = 2 * mine.height
    layout = _layout(520 + 140 * count,
                     meta={"lazy_markers": LAZY_MARKERS} if markers > LAZY_MARKERS else {},
                     xaxis=_date_axis(rangeslider={"visible": False},
                                      anchor=f"y{count + 1}" if count else "y"),
                     yaxis={"domain": [min(price_bottom, 0.7), 1], "title": {"text": symbol},
                            "fixedrange": False})
    step = (min(price_bottom, 0.7) - gap * count) / count if count else 0.0
    for k, name in enumerate(panes):
        top = min(price_bottom, 0.7) - gap - k * (step + gap)
        layout[f"yaxis{k + 2}"] = {"domain": [max(top - step, 0), top],
                                   "title": {"text": name, "font": {"size": 10}}}
    return {"data": data, "layout": layout}


__all__ = ["LINE_POINTS", "WEBGL_MARKERS", "clean", "compare_equity_figure",
           "equity_figure", "minmax_indices", "monthly_figure", "price_figure"]
