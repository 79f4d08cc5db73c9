"""The pieces of the page: downsampling for drawing, formatting, the terminal table,
the trade comparison and the page's JSON."""

from __future__ import annotations

import io
import json
import math
import re

import numpy as np
import polars as pl
import pytest

from runner.report.compare import trade_differences
from runner.report.data import downsample_bars
from runner.report.figures import minmax_indices, monthly_figure
from runner.report.format import format_value
from runner.report.page import page
from runner.report.terminal import plain_summary, print_summary


def test_minmax_downsampling_keeps_every_extreme() -> None:
    rng = np.random.default_rng(1)
    values = np.cumsum(rng.normal(size=100_003))
    keep = minmax_indices(values, buckets=1000)
    assert len(keep) <= 2 * 1000 + 4
    assert np.all(np.diff(keep) > 0)
    assert {0, len(values) - 1, int(values.argmin()), int(values.argmax())} <= set(keep)
    per = -(-len(values) // 1000)
    for b in range(0, len(values), per):  # each bucket's low and high are drawn
        block = values[b:b + per]
        assert b + int(block.argmin()) in keep and b + int(block.argmax()) in keep


def test_short_series_are_drawn_whole() -> None:
    assert minmax_indices(np.arange(10.0), buckets=10).tolist() == list(range(10))


def test_candles_aggregate_runs_of_bars() -> None:
    n = 12
    frame = pl.DataFrame({"time": list(range(n)), "open": [float(i) for i in range(n)],
                          "high": [10.0 + i for i in range(n)],
                          "low": [-float(i) for i in range(n)],
                          "close": [0.5 + i for i in range(n)],
                          "fast": [float(i) * 2 for i in range(n)]})
    small, per = downsample_bars(frame, ["fast"], max_candles=3)
    assert per == 4
    assert small.to_dict(as_series=False) == {
        "time": [0, 4, 8], "open": [0.0, 4.0, 8.0], "high": [13.0, 17.0, 21.0],
        "low": [-3.0, -7.0, -11.0], "close": [3.5, 7.5, 11.5], "fast": [6.0, 14.0, 22.0]}
    same, one = downsample_bars(frame, ["fast"], max_candles=100)
    assert one == 1 and same.equals(frame)


@pytest.mark.parametrize(("value", "kind", "text"), [
    (None, "pct", "—"), (math.nan, "ratio", "—"), (math.inf, "ratio", "∞"),
    ("inf", "ratio", "∞"), ("-inf", "ratio", "-∞"), (0.12345, "pct", "12.35%"),
    (1234.5, "money", "1,234.50"), (3.0, "int", "3"), (90061, "duration", "1d 01:01"),
    (3725, "duration", "01:02:05"), (12, "duration", "12s"), (-660, "duration", "-00:11:00"),
    ("2024-01-02T03:04:00.000Z", "time", "2024-01-02 03:04:00"), (None, "time", "—"),
    ("24/7", "text", "24/7")])
def test_format_value(value: object, kind: str, text: str) -> None:
    assert format_value(value, kind) == text  # type: ignore[arg-type]


SUMMARY = {"name": "demo", "mode": "backtest", "start": "2024-01-01T00:00:00.000Z",
           "end": "2024-02-01T00:00:00.000Z", "total_return": -0.0847, "cagr": None,
           "sharpe": -3.6, "sortino": None, "calmar": None, "max_drawdown": 0.118,
           "volatility": 0.287, "exposure": 0.02, "trades": 0, "win_rate": None,
           "profit_factor": "inf", "expectancy": None, "fees": 954.45,
           "final_equity": 9153.37}


def test_plain_summary_is_aligned_text() -> None:
    text = plain_summary(SUMMARY)
    lines = text.splitlines()
    assert lines[0] == "demo (backtest): 2024-01-01 00:00:00 → 2024-02-01 00:00:00"
    assert "\x1b" not in text and "nan" not in text.lower()
    body = lines[1:]
    assert len(body) == 7
    assert len({line.index("%") for line in body[:1]}) == 1
    # the second column starts at the same place on every full line
    starts = {len(re.match(r"^(.*?\S)\s{4}\S", line).group(1)) for line in body}  # type: ignore[union-attr]
    assert len(starts) == 1
    assert "Total return" in body[0] and "-8.47%" in body[0]
    assert "Profit factor" in text and "∞" in text and "—" in text


def test_rich_summary_on_a_terminal() -> None:
    out = io.StringIO()
    print_summary(SUMMARY, out, rich=True)
    assert "Sharpe" in out.getvalue() and "-3.60" in out.getvalue()
    piped = io.StringIO()
    print_summary(SUMMARY, piped)  # a StringIO is not a terminal: plain text
    assert piped.getvalue() == plain_summary(SUMMARY) + "\n"


def trades(rows: list[tuple[str, int, int, float, str]]) -> pl.DataFrame:
    return pl.DataFrame({
        "instrument": [r[0] for r in rows], "side": ["long"] * len(rows),
        "entry_time": pl.Series([r[1] for r in rows]).cast(pl.Datetime("ms", "UTC")),
        "exit_time": pl.Series([r[2] for r in rows]).cast(pl.Datetime("ms", "UTC")),
        "quantity": [1.0] * len(rows), "entry_price": [10.0] * len(rows),
        "exit_price": [11.0] * len(rows), "pnl": [r[3] for r in rows],
        "fees": [0.1] * len(rows), "exit_reason": [r[4] for r in rows]})


def test_trade_differences() -> None:
    a = trades([("X", 1, 2, 1.0, "signal"), ("X", 3, 4, 2.0, "signal"),
                ("X", 5, 6, 3.0, "signal"), ("Y", 1, 2, 1.0, "stop_loss")])
    b = trades([("X", 1, 2, 1.0, "signal"), ("X", 3, 4, 2.5, "signal"),
                ("X", 7, 8, 3.0, "signal"), ("Y", 1, 2, 1.0 + 1e-13, "take_profit")])
    diff = trade_differences(a, b)
    got = list(zip(diff["run"], diff["difference"], diff["instrument"],
                   diff["entry_time"].dt.epoch("ms"), strict=True))
    assert got == [("A", "exit_reason", "Y", 1), ("B", "exit_reason", "Y", 1),
                   ("A", "pnl", "X", 3), ("B", "pnl", "X", 3),
                   ("A", "only in A", "X", 5), ("B", "only in B", "X", 7)]
    assert diff.filter(pl.col("run") == "B")["pnl"].to_list()[1] == 2.5
    assert trade_differences(a, a).height == 0


def test_monthly_heat_map() -> None:
    fig = monthly_figure({"2023-12": 0.01, "2024-01": -0.02, "2024-02": None},
                         {"2023": 0.01, "2024": -0.02})
    assert fig is not None
    heat = fig["data"][0]
    assert heat["y"] == ["2023", "2024"] and len(heat["x"]) == 13
    assert heat["z"][0][11] == 0.01 and heat["z"][0][12] == 0.01
    assert heat["z"][1][:3] == [-0.02, None, None] and heat["text"][1][0] == "-2.00%"
    assert monthly_figure({}, {}) is None


def test_page_json_cannot_close_its_script() -> None:
    html = page("t", "s", ["<p>x</p>"], figures={"f": {"data": [{"name": "</script><b>"}]}},
                tables=[])
    payload = html.split('<script type="application/json" id="report-data">')[1]
    payload = payload.split("</script>")[0]
    assert json.loads(payload)["figures"]["f"]["data"][0]["name"] == "</script><b>"
