"""resample: hand-checked windows, boundaries, incomplete windows, chaining."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.bars import resample

MS_UTC = pl.Datetime("ms", "UTC")


def make_bars(times: list[datetime], closes: list[float] | None = None) -> pl.DataFrame:
    """Bars with open=i, high=100+i, low=-i, close=given or i+0.5, volume=1+i."""
    n = len(times)
    closes = closes if closes is not None else [i + 0.5 for i in range(n)]
    return pl.DataFrame(
        {
            "time": pl.Series(times, dtype=pl.Datetime("us")).cast(MS_UTC),
            "open": [float(i) for i in range(n)],
            "high": [100.0 + i for i in range(n)],
            "low": [-float(i) for i in range(n)],
            "close": [float(c) for c in closes],
            "volume": [1.0 + i for i in range(n)],
        }
    )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_gap_and_partial_last_window_1m_to_5m() -> None:
    minutes = [0, 1, 2, 3, 4, 10, 12, 15]  # 00:05-00:09 empty; 00:15 window incomplete
    bars = make_bars([datetime(2024, 1, 1, 0, m) for m in minutes])
    out = resample(bars, "1m", "5m")
    assert out.columns == ["time", "open", "high", "low", "close", "volume", "close_time"]
    assert out.schema["time"] == MS_UTC and out.schema["close_time"] == MS_UTC
    assert out.to_dicts() == [
        {"time": utc(2024, 1, 1, 0, 0), "open": 0.0, "high": 104.0, "low": -4.0,
         "close": 4.5, "volume": 15.0, "close_time": utc(2024, 1, 1, 0, 5)},
        # a window with a gap inside is built from the bars it has (10 and 12)
        {"time": utc(2024, 1, 1, 0, 10), "open": 5.0, "high": 106.0, "low": -6.0,
         "close": 6.5, "volume": 13.0, "close_time": utc(2024, 1, 1, 0, 15)},
    ]  # no synthetic 00:05 bar; the 00:15 window (closes 00:20 > data end 00:16) is dropped


def test_last_window_kept_when_it_closes_exactly_at_data_end() -> None:
    bars = make_bars([datetime(2024, 1, 1, 0, m) for m in range(10)])
    out = resample(bars, "1m", "5m")
    assert out.get_column("time").to_list() == [utc(2024, 1, 1, 0, 0), utc(2024, 1, 1, 0, 5)]


def test_explicit_end_keeps_or_drops_incomplete_window() -> None:
    bars = make_bars([datetime(2024, 1, 1, 0, m) for m in (0, 1, 7)])
    assert resample(bars, "1m", "5m").height == 1
    assert resample(bars, "1m", "5m", end=datetime(2024, 1, 1, 0, 10)).height == 2
    assert resample(bars, "1m", "5m", end=utc(2024, 1, 1, 0, 4)).height == 0


def test_daily_windows_start_at_midnight_utc() -> None:
    start = datetime(2024, 1, 1, 22)
    bars = make_bars([start + timedelta(hours=h) for h in range(27)])  # to 01-03 00:00
    out = resample(bars, "1h", "1d")
    # 01-01 (22:00, 23:00) and 01-02 (24 bars); 01-03 is incomplete and dropped
    assert out.get_column("time").to_list() == [utc(2024, 1, 1), utc(2024, 1, 2)]
    assert out.get_column("close_time").to_list() == [utc(2024, 1, 2), utc(2024, 1, 3)]
    assert out.get_column("open").to_list() == [0.0, 2.0]
    assert out.get_column("close").to_list() == [1.5, 25.5]
    assert out.get_column("volume").to_list() == [3.0, sum(range(3, 27))]


def test_weekly_windows_start_on_monday_utc() -> None:
    # Thu 2024-01-04 .. Tue 2024-01-16, daily bars
    days = [datetime(2024, 1, 4) + timedelta(days=d) for d in range(13)]
    out = resample(make_bars(days), "1d", "1w")
    # week of Mon 01-01 (Thu..Sun, 4 bars), week of Mon 01-08 (7 bars); week of 01-15
    # is incomplete (closes 01-22, data ends 01-17) and dropped
    assert out.get_column("time").to_list() == [utc(2024, 1, 1), utc(2024, 1, 8)]
    assert all(t.weekday() == 0 for t in out.get_column("time").to_list())
    assert out.get_column("close_time").to_list() == [utc(2024, 1, 8), utc(2024, 1, 15)]
    assert out.get_column("open").to_list() == [0.0, 4.0]
    assert out.get_column("close").to_list() == [3.5, 10.5]


def test_weekly_from_minutes_matches_weekly_from_days() -> None:
    minutes = [datetime(2024, 1, 7, 23, 58) + timedelta(minutes=m) for m in range(4)]
    out = resample(make_bars(minutes), "1m", "1w", end=datetime(2024, 1, 15))
    assert out.get_column("time").to_list() == [utc(2024, 1, 1), utc(2024, 1, 8)]


def test_four_hour_windows_aligned_to_epoch() -> None:
    bars = make_bars([datetime(2024, 1, 1, h) for h in range(1, 9)])
    out = resample(bars, "1h", "4h")
    assert out.get_column("time").to_list() == [utc(2024, 1, 1, 0), utc(2024, 1, 1, 4)]


def test_empty_input_gives_empty_output() -> None:
    out = resample(make_bars([]), "1m", "1h")
    assert out.height == 0 and out.schema["close_time"] == MS_UTC


@pytest.mark.parametrize(
    ("base_tf", "target_tf", "times", "message"),
    [
        ("1m", "90s", [datetime(2024, 1, 1)], "multiple"),
        ("1m", "1x", [datetime(2024, 1, 1)], "not a timeframe"),
        ("5m", "1h", [datetime(2024, 1, 1, 0, 3)], "grid"),
        ("1m", "5m", [datetime(2024, 1, 1, 0, 1), datetime(2024, 1, 1, 0, 0)], "increasing"),
        ("1m", "5m", [datetime(2024, 1, 1), datetime(2024, 1, 1)], "increasing"),
    ],
)
def test_invalid_input_is_rejected(
    base_tf: str, target_tf: str, times: list[datetime], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        resample(make_bars(times), base_tf, target_tf)


def test_missing_column_is_rejected() -> None:
    with pytest.raises(ValueError, match="volume"):
        resample(make_bars([datetime(2024, 1, 1)]).drop("volume"), "1m", "5m")


minute_sets = st.lists(st.integers(0, 6 * 60), min_size=1, max_size=200, unique=True)


@settings(max_examples=60, deadline=None)
@given(minutes=minute_sets, start_hour=st.integers(0, 23),
       closes=st.lists(st.floats(1, 1000), min_size=200, max_size=200))
def test_chained_resample_equals_direct(
    minutes: list[int], start_hour: int, closes: list[float]
) -> None:
    start = datetime(2024, 3, 1, start_hour)
    times = [start + timedelta(minutes=m) for m in sorted(minutes)]
    bars = make_bars(times, closes[: len(times)])
    end = times[-1] + timedelta(minutes=1)
    direct = resample(bars, "1m", "1h", end=end)
    chained = resample(resample(bars, "1m", "5m", end=end), "5m", "1h", end=end)
    assert chained.equals(direct)
    # with no explicit end, chaining agrees whenever the data ends on a 5m boundary
    if end.minute % 5 == 0:
        assert resample(resample(bars, "1m", "5m"), "5m", "1h").equals(
            resample(bars, "1m", "1h")
        )


def test_resample_is_fast_enough_on_large_input() -> None:
    n = 2_000_000
    bars = pl.DataFrame(
        {
            "time": pl.datetime_range(
                datetime(2020, 1, 1), datetime(2020, 1, 1) + timedelta(minutes=n - 1),
                interval="1m", time_unit="ms", time_zone="UTC", eager=True,
            ),
            "open": pl.Series(range(n), dtype=pl.Float64),
        }
    ).with_columns(high=pl.col("open"), low=pl.col("open"), close=pl.col("open"),
                   volume=pl.col("open"))
    out = resample(bars, "1m", "1h")
    assert out.height == n // 60  # the last, partial hour is dropped
