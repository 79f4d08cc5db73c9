"""The report's metrics against values computed by hand on small runs, and the
calendar the run is annualised with."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest

from runner.report.metrics import (
    DAY_MS,
    EXTENDED_KEYS,
    Calendar,
    extended_metrics,
    infer_calendar,
)

MINUTE = 60_000
HOUR = 3_600_000
T0 = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday
MS0 = int(T0.timestamp() * 1000)
DAILY = Calendar("24/7", 365.0)


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def trades_frame(rows: list[tuple[str, float, int, int, str]]) -> pl.DataFrame:
    """(instrument, pnl, entry ms, exit ms, exit reason) rows with fees of 1 each."""
    return pl.DataFrame({
        "instrument": [r[0] for r in rows], "side": ["long"] * len(rows),
        "quantity": [1.0] * len(rows),
        "entry_time": pl.Series([r[2] for r in rows], dtype=pl.Int64).cast(
            pl.Datetime("ms", "UTC")),
        "entry_price": [100.0] * len(rows),
        "exit_time": pl.Series([r[3] for r in rows], dtype=pl.Int64).cast(
            pl.Datetime("ms", "UTC")),
        "exit_price": [100.0] * len(rows), "pnl": [r[1] for r in rows],
        "fees": [1.0] * len(rows), "exit_reason": [r[4] for r in rows]},
        schema_overrides={"pnl": pl.Float64})


NO_FILLS = pl.DataFrame({"symbol": [], "price": [], "quantity": []},
                        schema={"symbol": pl.String, "price": pl.Float64,
                                "quantity": pl.Float64})


def run(equity: list[float], close_ms: list[int], *, trades: pl.DataFrame | None = None,
        fills: pl.DataFrame = NO_FILLS, calendar: Calendar = DAILY, cagr: float | None = 0.5,
        max_drawdown: float = 0.0, initial_cash: float = 100.0,
        start_ms: int | None = None) -> dict[str, Any]:
    out = extended_metrics(
        np.array(equity, dtype=float), np.array(close_ms, dtype=np.int64),
        start_ms=close_ms[0] - DAY_MS if start_ms is None else start_ms,
        end_ms=close_ms[-1], initial_cash=initial_cash,
        trades=trades if trades is not None else trades_frame([]), fills=fills,
        multipliers={"AAA": 1.0, "FUT": 50.0}, calendar=calendar, cagr=cagr,
        max_drawdown=max_drawdown)
    assert tuple(out) == EXTENDED_KEYS
    assert_no_nan(out)
    return out


def assert_no_nan(value: Any) -> None:
    """Undefined is None, never NaN (the page and summary.json must not show one);
    an infinite profit factor is a value."""
    def reject(token: str) -> float:
        if token == "NaN":
            raise AssertionError(f"NaN in {value}")
        return float(token)
    json.loads(json.dumps(value, default=str), parse_constant=reject)


# -- calendar ----------------------------------------------------------------------------

def minute_bars(start: datetime, days: int, *, weekdays_only: bool = False,
                session: tuple[int, int] | None = None) -> np.ndarray:
    """Close times of 1-minute bars over `days` days from `start`."""
    opens = np.arange(ms(start), ms(start) + days * DAY_MS, MINUTE, dtype=np.int64)
    keep = np.ones(len(opens), dtype=bool)
    if weekdays_only:
        keep &= ((opens // DAY_MS + 3) % 7) < 5
    if session is not None:
        minute_of_day = (opens % DAY_MS) // MINUTE
        keep &= (minute_of_day >= session[0]) & (minute_of_day < session[1])
    return opens[keep] + MINUTE


def test_crypto_trades_on_saturday_so_the_year_has_365_days() -> None:
    calendar = infer_calendar(minute_bars(T0, 10), MINUTE)
    assert calendar == Calendar("24/7", 365 * 24 * 60)


def test_an_equity_session_gives_252_days_of_390_bars() -> None:
    # 14:30-21:00 UTC, Monday to Friday, two weeks
    closes = minute_bars(T0, 14, weekdays_only=True, session=(14 * 60 + 30, 21 * 60))
    assert infer_calendar(closes, MINUTE) == Calendar("sessions", 252 * 390)


def test_daily_stock_bars_give_252_a_year() -> None:
    opens = [T0 + timedelta(days=d) for d in range(28) if (T0 + timedelta(days=d)).weekday() < 5]
    closes = np.array([ms(o) + DAY_MS for o in opens], dtype=np.int64)
    assert infer_calendar(closes, DAY_MS) == Calendar("sessions", 252.0)


def test_a_run_shorter_than_a_weekend_cannot_tell_and_counts_every_day() -> None:
    closes = minute_bars(T0 + timedelta(days=2), 2)  # Wednesday and Thursday
    assert infer_calendar(closes, MINUTE).kind == "24/7"


def test_globex_hours_use_the_median_weekday() -> None:
    # 23 hours a day Sunday 23:00 to Friday 21:00 UTC, closed 21:00-22:00 UTC
    opens = np.arange(ms(T0 - timedelta(days=1)), ms(T0 + timedelta(days=13)), HOUR,
                      dtype=np.int64)
    hour = (opens % DAY_MS) // HOUR
    weekday = (opens // DAY_MS + 3) % 7
    trading = (hour != 21) & ((weekday < 4) | ((weekday == 4) & (hour < 21))
                              | ((weekday == 6) & (hour >= 22)))
    calendar = infer_calendar(opens[trading] + HOUR, HOUR)
    assert calendar == Calendar("sessions", 252 * 23)


def test_weekly_bars_are_365_days_over_the_timeframe() -> None:
    week = 7 * DAY_MS
    closes = np.arange(MS0 + week, MS0 + 20 * week, week, dtype=np.int64)
    assert infer_calendar(closes, week) == Calendar("24/7", 365 / 7)


# -- equity ------------------------------------------------------------------------------

def jan_feb() -> list[int]:
    """Three daily bars closing 2024-01-31, 2024-02-01 (midnight: January's last day)
    and 2024-02-02."""
    return [ms(datetime(2024, 1, d, tzinfo=UTC)) for d in (31,)] + [
        ms(datetime(2024, 2, d, tzinfo=UTC)) for d in (1, 2)]


def test_drawdown_volatility_calmar_and_monthly_returns_by_hand() -> None:
    closes = jan_feb()
    out = run([110.0, 99.0, 121.0], closes, cagr=2.0, max_drawdown=0.1,
              calendar=Calendar("24/7", 365.0))
    returns = [0.1, -0.1, 121 / 99 - 1]
    mean = sum(returns) / 3
    stdev = math.sqrt(sum((r - mean) ** 2 for r in returns) / 2)
    assert out["volatility"] == pytest.approx(stdev * math.sqrt(365), rel=1e-12)
    assert out["calmar"] == pytest.approx(2.0 / 0.1)
    dd = out["drawdown"]
    assert dd["depth"] == pytest.approx(11 / 110)
    assert dd["start"] == datetime(2024, 1, 31, tzinfo=UTC)   # the 110 peak
    assert dd["trough"] == datetime(2024, 2, 1, tzinfo=UTC)
    assert dd["recovery"] == datetime(2024, 2, 2, tzinfo=UTC)
    assert dd["duration_seconds"] == 2 * 86_400 and dd["bars"] == 2
    assert dd["longest_seconds"] == 2 * 86_400
    assert out["time_under_water"] == pytest.approx(1 / 3)
    assert out["monthly_returns"] == {"2024-01": pytest.approx(99 / 100 - 1),
                                      "2024-02": pytest.approx(121 / 99 - 1)}
    assert out["yearly_returns"] == {"2024": pytest.approx(0.21)}
    assert out["calendar"] == "24/7" and out["bars_per_year"] == 365.0


def test_an_unrecovered_drawdown_lasts_to_the_end() -> None:
    closes = [MS0 + k * DAY_MS for k in range(1, 4)]
    out = run([90.0, 80.0, 95.0], closes, max_drawdown=0.2)
    dd = out["drawdown"]
    assert dd["depth"] == pytest.approx(0.2)
    assert dd["start"] == datetime(2024, 1, 1, tzinfo=UTC)  # the initial cash at the start
    assert dd["trough"] == datetime(2024, 1, 3, tzinfo=UTC)
    assert dd["recovery"] is None
    assert dd["duration_seconds"] == 3 * 86_400 and dd["bars"] == 3
    assert out["time_under_water"] == 1.0


def test_a_drawdown_starts_at_the_last_bar_at_its_peak() -> None:
    closes = [MS0 + k * DAY_MS for k in range(1, 5)]
    out = run([100.0, 100.0, 80.0, 100.0], closes, max_drawdown=0.2)
    dd = out["drawdown"]
    assert dd["start"] == datetime(2024, 1, 3, tzinfo=UTC)
    assert dd["recovery"] == datetime(2024, 1, 5, tzinfo=UTC)
    assert dd["duration_seconds"] == 2 * 86_400 and dd["bars"] == 2


def test_a_flat_curve_has_no_drawdown_and_no_nan() -> None:
    closes = [MS0 + k * DAY_MS for k in range(1, 6)]
    out = run([100.0] * 5, closes, cagr=0.0, max_drawdown=0.0)
    assert out["volatility"] == 0.0
    assert out["calmar"] is None
    assert out["drawdown"] == {"depth": 0.0, "start": None, "trough": None,
                               "recovery": None, "duration_seconds": None, "bars": None,
                               "longest_seconds": None}
    assert out["time_under_water"] == 0.0
    assert out["monthly_returns"] == {"2024-01": 0.0}


def test_a_single_bar_has_no_volatility() -> None:
    out = run([101.0], [MS0 + DAY_MS], cagr=None)
    assert out["volatility"] is None and out["calmar"] is None


def test_volatility_is_undefined_once_equity_reaches_zero() -> None:
    out = run([50.0, 0.0, 10.0], [MS0 + k * DAY_MS for k in (1, 2, 3)], cagr=-1.0,
              max_drawdown=1.0)
    assert out["volatility"] is None
    assert out["calmar"] == -1.0


# -- trades ------------------------------------------------------------------------------

CLOSES = [MS0 + k * DAY_MS for k in range(1, 11)]
CURVE = [100.0 + k for k in range(10)]


def hours(h: float) -> int:
    return int(h * HOUR)


def test_trade_statistics_by_hand() -> None:
    pnl = [10.0, -5.0, -3.0, 0.0, 7.0, 8.0, 9.0]
    rows = [("AAA" if k % 2 == 0 else "FUT", p, MS0 + k * DAY_MS,
             MS0 + k * DAY_MS + hours(k + 1), "stop_loss" if p < 0 else "signal")
            for k, p in enumerate(pnl)]
    out = run(CURVE, CLOSES, trades=trades_frame(rows))
    assert out["expectancy"] == pytest.approx(26 / 7)
    assert out["average_win"] == pytest.approx((10 + 7 + 8 + 9) / 4)
    assert out["average_loss"] == pytest.approx(-4.0)
    assert out["best_trade"] == 10.0 and out["worst_trade"] == -5.0
    assert out["average_holding_seconds"] == pytest.approx(4 * 3600)  # mean of 1..7 h
    assert out["longest_win_streak"] == 3 and out["longest_loss_streak"] == 2
    assert out["trades_per_day"] == pytest.approx(7 / 10)
    fut = out["by_instrument"]["FUT"]  # -5, 0, 8
    assert fut == {"trades": 3, "wins": 1, "win_rate": pytest.approx(1 / 3), "pnl": 3.0,
                   "fees": 3.0, "profit_factor": pytest.approx(8 / 5),
                   "expectancy": pytest.approx(1.0), "best_trade": 8.0, "worst_trade": -5.0,
                   "average_holding_seconds": pytest.approx(4 * 3600)}
    assert out["by_instrument"]["AAA"]["pnl"] == pytest.approx(10 - 3 + 7 + 9)
    assert list(out["by_exit_reason"]) == ["signal", "stop_loss"]
    assert out["by_exit_reason"]["stop_loss"]["profit_factor"] == 0.0
    assert out["by_exit_reason"]["signal"]["profit_factor"] == math.inf


def test_streaks_follow_exit_time_not_file_order() -> None:
    rows = [("AAA", 1.0, MS0, MS0 + hours(3), "x"), ("AAA", -1.0, MS0, MS0 + hours(1), "x"),
            ("AAA", 2.0, MS0, MS0 + hours(2), "x")]
    out = run(CURVE, CLOSES, trades=trades_frame(rows))
    assert out["longest_win_streak"] == 2 and out["longest_loss_streak"] == 1


def test_no_trades() -> None:
    out = run(CURVE, CLOSES)
    for key in ("expectancy", "average_win", "average_loss", "best_trade", "worst_trade",
                "average_holding_seconds"):
        assert out[key] is None, key
    assert out["longest_win_streak"] == out["longest_loss_streak"] == 0
    assert out["trades_per_day"] == 0.0 and out["turnover"] == 0.0
    assert out["by_instrument"] == {} and out["by_exit_reason"] == {}


def test_one_trade() -> None:
    out = run(CURVE, CLOSES, trades=trades_frame([("AAA", 4.0, MS0, MS0 + hours(2), "tp")]))
    assert out["expectancy"] == out["best_trade"] == out["worst_trade"] == 4.0
    assert out["average_win"] == 4.0 and out["average_loss"] is None
    assert out["longest_win_streak"] == 1 and out["longest_loss_streak"] == 0
    assert out["by_exit_reason"]["tp"]["profit_factor"] == math.inf
    assert out["average_holding_seconds"] == 7200


def test_all_losers() -> None:
    rows = [("AAA", p, MS0, MS0 + hours(1), "stop_loss") for p in (-1.0, -2.0, -3.0)]
    out = run(CURVE, CLOSES, trades=trades_frame(rows))
    assert out["average_win"] is None and out["average_loss"] == pytest.approx(-2.0)
    assert out["longest_win_streak"] == 0 and out["longest_loss_streak"] == 3
    stats = out["by_instrument"]["AAA"]
    assert stats["win_rate"] == 0.0 and stats["profit_factor"] == 0.0


def test_break_even_only_has_no_profit_factor() -> None:
    out = run(CURVE, CLOSES, trades=trades_frame([("AAA", 0.0, MS0, MS0 + hours(1), "x")]))
    assert out["by_instrument"]["AAA"]["profit_factor"] is None
    assert out["longest_win_streak"] == out["longest_loss_streak"] == 0


def test_turnover_is_traded_notional_over_mean_equity() -> None:
    fills = pl.DataFrame({"symbol": ["AAA", "AAA", "FUT"], "price": [100.0, 110.0, 20.0],
                          "quantity": [2.0, 2.0, 1.0]})
    out = run(CURVE, CLOSES, fills=fills)
    notional = 100 * 2 + 110 * 2 + 20 * 1 * 50
    assert out["turnover"] == pytest.approx(notional / (sum(CURVE) / len(CURVE)))


def test_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="equity values"):
        extended_metrics(np.array([1.0, 2.0]), np.array([MS0], dtype=np.int64),
                         start_ms=MS0, end_ms=MS0, initial_cash=1.0, trades=trades_frame([]),
                         fills=NO_FILLS, multipliers={}, calendar=DAILY, cagr=None,
                         max_drawdown=0.0)


def test_period_returns_match_a_plain_reference() -> None:
    rng = np.random.default_rng(3)
    step = 7 * HOUR  # bars that straddle midnight and month ends at every offset
    closes = MS0 + step * np.arange(1, 4000, dtype=np.int64)
    curve = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, len(closes))))
    out = run(curve.tolist(), closes.tolist(), start_ms=MS0)
    month_end: dict[str, float] = {}
    year_end: dict[str, float] = {}
    for c, e in zip(closes.tolist(), curve.tolist(), strict=True):
        moment = datetime.fromtimestamp((c - 1) / 1000, UTC)
        month_end[moment.strftime("%Y-%m")] = e
        year_end[moment.strftime("%Y")] = e
    for ends, got in ((month_end, out["monthly_returns"]), (year_end, out["yearly_returns"])):
        previous = 100.0
        expected = {}
        for key, value in ends.items():
            expected[key] = value / previous - 1
            previous = value
        assert got == pytest.approx(expected, rel=1e-12)
    assert len(out["monthly_returns"]) == 39


@pytest.mark.parametrize("equity", [[100.0, 104.0, 99.0, 99.0, 120.0, 90.0, 95.0],
                                    [100.0], [100.0, 0.0, 5.0], [100.0, 100.0, 100.0]])
def test_shared_curve_gives_the_same_metrics(equity: list[float]) -> None:
    from runner.engine.metrics import curve_stats

    close_ms = [MS0 + (i + 1) * DAY_MS for i in range(len(equity))]
    trades = trades_frame([("AAA", 3.0, MS0, MS0 + DAY_MS, "exit"),
                           ("AAA", -1.0, MS0 + DAY_MS, MS0 + 2 * DAY_MS, "stop")])
    curve = np.array(equity)
    stats = curve_stats(curve, 100.0)
    kwargs: dict[str, Any] = {
        "start_ms": MS0, "end_ms": close_ms[-1], "initial_cash": 100.0, "trades": trades,
        "fills": NO_FILLS, "multipliers": {}, "calendar": DAILY, "cagr": 0.1,
        "max_drawdown": float(stats[1].max())}
    with np.errstate(all="ignore"):
        shared = extended_metrics(curve, np.array(close_ms), **kwargs, shared=stats)
        alone = extended_metrics(curve, np.array(close_ms), **kwargs)
    assert json.dumps(shared, default=str) == json.dumps(alone, default=str)


def _calendar_reference(close_ms: np.ndarray, base_ms: int) -> Calendar:
    """infer_calendar as first written: every bar's day at once."""
    every_day = Calendar("24/7", 365 * DAY_MS / base_ms)
    if base_ms >= 7 * DAY_MS or len(close_ms) == 0:
        return every_day
    open_ms = np.asarray(close_ms, dtype=np.int64) - base_ms
    days = open_ms // DAY_MS
    weekday = (days + 3) % 7
    first_full = -(-int(open_ms[0]) // DAY_MS)
    saturday = first_full + (5 - (first_full + 3) % 7) % 7
    if (saturday + 1) * DAY_MS > int(close_ms[-1]) or bool((weekday == 5).any()):
        return every_day
    weekdays = days[weekday < 5]
    if len(weekdays) == 0:
        return every_day
    _, per_day = np.unique(weekdays, return_counts=True)
    return Calendar("sessions", 252 * float(np.median(per_day)))


@pytest.mark.parametrize("chunk", [1, 7, 1 << 20])
@pytest.mark.parametrize("seed", range(6))
def test_per_day_scans_in_chunks_match_whole_arrays(
        chunk: int, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    import runner.report.metrics as report_metrics

    monkeypatch.setattr(report_metrics, "_CHUNK", chunk)
    rng = np.random.default_rng(seed)
    step = [MINUTE, HOUR, DAY_MS][seed % 3]
    opens = MS0 + step * np.cumsum(rng.integers(1, 40, 3_000))
    if seed % 2:  # a market that skips Saturdays and Sundays
        opens = opens[(opens // DAY_MS + 3) % 7 < 5]
    if seed == 5:  # out of order
        opens = rng.permutation(opens)
    closes = opens + step
    assert report_metrics.infer_calendar(closes, step) == _calendar_reference(closes, step)
    days = (closes - 1) // DAY_MS
    first_of_day = np.flatnonzero(np.diff(days, prepend=days[0] - 1))
    got_first, got_months = report_metrics._day_starts(closes)
    assert got_first.tolist() == first_of_day.tolist()
    assert got_months.tolist() == days[first_of_day].astype("datetime64[D]").astype(
        "datetime64[M]").astype(np.int64).tolist()


def _drawdown_reference(values: np.ndarray, times: np.ndarray, end_ms: int) -> dict[str, Any]:
    """The drawdown statistics as first written, over the initial cash then the curve."""
    peaks = np.maximum.accumulate(values)
    depth = (peaks - values) / peaks
    trough = int(depth.argmax())
    if not depth[trough] > 0:
        return {"depth": 0.0, "start": None, "trough": None, "recovery": None,
                "duration_seconds": None, "bars": None, "longest_seconds": None}
    peak = peaks[trough]
    start = trough - int(np.argmax(values[trough::-1] == peak))
    back = np.flatnonzero(values[trough:] >= peak)
    recovery = trough + int(back[0]) if len(back) else None
    until = int(times[recovery]) if recovery is not None else end_ms
    under = depth > 0
    edges = np.diff(np.concatenate([[0], under.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    ends_ms = np.where(ends < len(times), times[np.minimum(ends, len(times) - 1)], end_ms)
    longest = float((ends_ms - times[starts - 1]).max()) / 1000
    iso = report_metrics_module()._iso
    return {
        "depth": float(depth[trough]), "start": iso(int(times[start])),
        "trough": iso(int(times[trough])),
        "recovery": iso(int(times[recovery])) if recovery is not None else None,
        "duration_seconds": (until - int(times[start])) / 1000,
        "bars": (recovery if recovery is not None else len(values) - 1) - start,
        "longest_seconds": longest,
    }


def report_metrics_module() -> Any:
    import runner.report.metrics as module

    return module


@pytest.mark.parametrize("seed", range(40))
def test_drawdown_without_the_initial_cash_array_matches(seed: int) -> None:
    from runner.engine.metrics import curve_stats

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    curve = 100.0 + np.round(np.cumsum(rng.normal(0, 2, n)), int(rng.integers(0, 3)))
    if seed % 4 == 0:
        curve[rng.integers(0, n)] = 100.0  # back exactly at the initial cash
    if seed % 5 == 0:
        curve = np.full(n, 100.0)
    close_ms = MS0 + MINUTE * np.arange(1, n + 1)
    values = np.concatenate([[100.0], curve])
    times = np.concatenate([[MS0], close_ms])
    end_ms = int(close_ms[-1])
    peaks, depth, _ = curve_stats(curve, 100.0)
    got = report_metrics_module()._drawdown(curve, 100.0, peaks, depth, MS0, close_ms, end_ms)
    assert got == _drawdown_reference(values, times, end_ms)
