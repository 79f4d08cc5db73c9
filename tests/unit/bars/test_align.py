"""align and common_clock: hand-checked cases, no lookahead, a real data file."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.bars import align, common_clock, resample
from tests.unit.bars.test_resample import make_bars, utc

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
ETH_BTC_5M = SHARED_DATA / "ohlcv" / "freqtrade" / "ETH_BTC-5m.normalized.parquet"


def test_higher_bar_visible_exactly_at_its_close() -> None:
    base = make_bars([datetime(2024, 1, 1, 0, m) for m in range(12)])
    higher = resample(base, "1m", "5m")  # 00:00 (close 4.5), 00:05 (close 9.5)
    out = align(base.select("time", "close"), higher, {"close": "close@5m"}, base_tf="1m")
    assert out.columns == ["time", "close", "close@5m"]
    # base bar opening 00:03 closes 00:04: nothing closed yet; 00:04 closes 00:05: sees 00:00
    expected = [None] * 4 + [4.5] * 5 + [9.5] * 3
    assert out.get_column("close@5m").to_list() == expected


def test_gap_in_higher_bars_keeps_the_last_closed_value() -> None:
    minutes = [0, 1, 2, 3, 4, 10, 12, 15, 16, 21]
    base = make_bars([datetime(2024, 1, 1, 0, m) for m in minutes])
    higher = resample(base, "1m", "5m")
    # 5m bars: 00:00 (closes 00:05, close 4.5), 00:10 (00:15, 6.5), 00:15 (00:20, 8.5);
    # 00:20 is incomplete (data ends 00:22) and never visible
    assert higher.get_column("close").to_list() == [4.5, 6.5, 8.5]
    out = align(base, higher, {"close": "c5", "high": "h5"}, base_tf="1m")
    assert out.get_column("c5").to_list() == [
        None, None, None, None, 4.5,  # 00:00-00:04
        4.5,  # 00:10 closes 00:11: the 00:10 bar is still open
        4.5,  # 00:12 closes 00:13
        6.5,  # 00:15 closes 00:16: the 00:10 bar closed at 00:15
        6.5,  # 00:16 closes 00:17
        8.5,  # 00:21 closes 00:22: the 00:15 bar closed at 00:20
    ]
    assert out.get_column("h5").to_list()[-1] == 108.0


def test_align_uses_base_close_time_column_and_keeps_order() -> None:
    base = make_bars([datetime(2024, 1, 1, h) for h in range(6)]).with_columns(
        close_time=pl.col("time") + pl.duration(hours=1)
    )
    higher = resample(base, "1h", "2h")
    out = align(base, higher, {"volume": "vol@2h"})
    assert out.get_column("vol@2h").to_list() == [None, 3.0, 3.0, 7.0, 7.0, 11.0]
    assert out.drop("vol@2h").equals(base)


def test_align_rejects_bad_input() -> None:
    base = make_bars([datetime(2024, 1, 1, 0, m) for m in range(10)])
    higher = resample(base, "1m", "5m")
    with pytest.raises(ValueError, match="already in base"):
        align(base, higher, ["close"], base_tf="1m")
    with pytest.raises(ValueError, match="missing"):
        align(base, higher, ["rsi"], base_tf="1m")
    with pytest.raises(ValueError, match="base_tf"):
        align(base, higher, {"close": "c"})
    with pytest.raises(ValueError, match="increasing"):
        align(base, higher.reverse(), {"close": "c"}, base_tf="1m")


def _aligned(bars: pl.DataFrame) -> pl.DataFrame:
    """Every higher timeframe the engine would read, aligned onto the 1m bars."""
    out = bars.select("time")
    for tf in ("5m", "15m", "1h"):
        higher = resample(bars, "1m", tf)
        out = align(out, higher, {c: f"{c}@{tf}" for c in ("open", "high", "low", "close",
                                                           "volume")}, base_tf="1m")
    return out


@settings(max_examples=80, deadline=None)
@given(
    minutes=st.lists(st.integers(0, 3 * 60), min_size=2, max_size=120, unique=True),
    cut=st.integers(1, 119),
    future_minutes=st.lists(st.integers(0, 2 * 60), max_size=60, unique=True),
    seed=st.integers(0, 2**32),
)
def test_no_lookahead(
    minutes: list[int], cut: int, future_minutes: list[int], seed: int
) -> None:
    """Replacing every base bar after T (values, times, how many) never changes what the
    base bars closing at or before T see."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, 0)
    minutes = sorted(minutes)
    cut = min(cut, len(minutes) - 1)
    times = [start + timedelta(minutes=m) for m in minutes]
    original = make_bars(times, [rng.uniform(1, 1000) for _ in times])
    past = original.head(cut)
    last_open = times[cut - 1]
    future_times = [last_open + timedelta(minutes=1 + m) for m in sorted(future_minutes)]
    future = make_bars(future_times, [rng.uniform(1, 1000) for _ in future_times])
    future = future.with_columns(pl.col("open", "high", "low", "volume") * rng.uniform(2, 5))
    alternative = pl.concat([past, future])

    expected = _aligned(original).head(cut)
    assert _aligned(alternative).head(cut).equals(expected)
    assert _aligned(past).equals(expected)  # data ending at T: same answer
    # and the higher bars built from data ending at T are exactly the full history's
    # bars closed by T: nothing still forming at T is ever emitted
    t = (last_open + timedelta(minutes=1)).replace(tzinfo=UTC)
    for tf in ("5m", "15m", "1h"):
        full = resample(original, "1m", tf).filter(pl.col("close_time") <= t)
        assert resample(past, "1m", tf).equals(full)


def test_common_clock_forward_fills_and_flags_stale_rows() -> None:
    btc = make_bars([datetime(2024, 1, 1, 0, m) for m in (0, 1, 3)])
    eth = make_bars([datetime(2024, 1, 1, 0, m) for m in (1, 2)], closes=[20.0, 21.0])
    out = common_clock({"BTC": btc, "ETH": eth})
    clock = [utc(2024, 1, 1, 0, m) for m in range(4)]
    for frame in out.values():
        assert frame.get_column("time").to_list() == clock
        assert frame.columns == [*btc.columns, "fresh"]
    assert out["BTC"].get_column("fresh").to_list() == [True, True, False, True]
    assert out["BTC"].get_column("close").to_list() == [0.5, 1.5, 1.5, 2.5]
    assert out["ETH"].get_column("fresh").to_list() == [False, True, True, False]
    assert out["ETH"].get_column("close").to_list() == [None, 20.0, 21.0, 21.0]
    assert out["ETH"].get_column("volume").to_list() == [None, 1.0, 2.0, 2.0]


def test_common_clock_edge_cases() -> None:
    assert common_clock({}) == {}
    one = make_bars([datetime(2024, 1, 1, 0, m) for m in (0, 5)])
    out = common_clock({"X": one})
    assert out["X"].drop("fresh").equals(one)
    assert out["X"].get_column("fresh").all()
    with pytest.raises(ValueError, match="fresh"):
        common_clock({"X": one.with_columns(fresh=pl.lit(True))})
    with pytest.raises(ValueError, match="increasing"):
        common_clock({"X": one.reverse()})


@pytest.mark.skipif(not ETH_BTC_5M.exists(), reason=f"shared data file absent: {ETH_BTC_5M}")
def test_align_on_real_eth_btc_5m_file() -> None:
    raw = pl.read_parquet(ETH_BTC_5M)
    # the file stamps bars by open time as integer epoch ms in `timestamp`
    bars = raw.select(
        pl.from_epoch("timestamp", time_unit="ms").dt.replace_time_zone("UTC").alias("time"),
        "open", "high", "low", "close", "volume",
    )
    hourly = resample(bars, "5m", "1h")
    daily = resample(bars, "5m", "1d")
    assert hourly.height > 0 and daily.height > 0
    assert (hourly.get_column("time").dt.minute() == 0).all()
    assert (daily.get_column("time").dt.hour() == 0).all()
    # totals are preserved over complete windows
    end = hourly.get_column("close_time")[-1]
    assert hourly.get_column("volume").sum() == pytest.approx(
        bars.filter(pl.col("time") >= hourly.get_column("time")[0])
        .filter(pl.col("time") < end).get_column("volume").sum()
    )

    out = align(bars, hourly, {"close": "close@1h", "close_time": "ct@1h"}, base_tf="5m")
    assert out.height == bars.height
    out = out.with_columns(base_close=pl.col("time") + pl.duration(minutes=5, time_unit="ms"))
    seen = out.filter(pl.col("ct@1h").is_not_null())
    # never a bar from the future ...
    assert (seen.get_column("ct@1h") <= seen.get_column("base_close")).all()
    # ... and always the latest one closed by then
    latest = seen.join_asof(
        hourly.select(pl.col("close_time").alias("latest")),
        left_on="base_close", right_on="latest", strategy="backward",
    )
    assert latest.get_column("latest").equals(latest.get_column("ct@1h"), check_names=False)
    unseen = out.filter(pl.col("ct@1h").is_null()).get_column("base_close")
    assert (unseen < hourly.get_column("close_time").min()).all()  # nulls only before the first
    # at a 1h boundary the 5m bar closing there sees the hourly bar that just closed
    joined = out.join(hourly.select("close_time", pl.col("close").alias("hourly_close")),
                      left_on="base_close", right_on="close_time", how="inner")
    assert joined.height > 0
    assert joined.get_column("close@1h").equals(joined.get_column("hourly_close"),
                                                check_names=False)
    assert datetime.now(UTC) > end  # sanity: the data is historical


def test_align_keeps_the_row_order_of_an_unsorted_base() -> None:
    base = make_bars([datetime(2024, 1, 1, 0, m) for m in range(12)])
    higher = resample(base, "1m", "5m")
    forward = align(base, higher, {"close": "c5"}, base_tf="1m")
    backward = align(base.reverse(), higher, {"close": "c5"}, base_tf="1m")
    assert backward.equals(forward.reverse())
