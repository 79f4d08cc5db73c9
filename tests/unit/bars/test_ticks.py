"""Bars from trades (`runner.bars.ticks`): the recorded XRP/ETH tape rebuilds its
recorded 1-minute bars exactly, and properties of the interval, lateness and
multi-timeframe rules hold for random streams."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.bars.ticks import BarBuilder, BuiltBar, Trade
from tests.conftest import SHARED_DATA

XRP = SHARED_DATA / "ohlcv" / "freqtrade"
MIN = 60_000


def test_the_xrp_eth_tape_rebuilds_its_recorded_minute_bars() -> None:
    """Freqtrade's test data: 12,477 trades whose 1-minute resample is the recorded
    XRP_ETH-1m bars (2,469 of them, minutes without trades have none)."""
    if not (XRP / "XRP_ETH-trades.json.gz").is_file():
        pytest.skip(f"recorded trades not found under {XRP} (../shared is absent)")
    import polars as pl

    with gzip.open(XRP / "XRP_ETH-trades.json.gz") as fh:
        rows = json.loads(fh.read())
    builder = BarBuilder(["1m"], grace_ms=0)
    bars: list[BuiltBar] = []
    for ts, _id, _type, _side, price, amount, _cost in rows:
        bars += builder.advance(ts)  # the exchange clock is at this trade
        builder.add(Trade(ts, price, amount))
    bars += builder.flush()
    recorded = pl.read_parquet(XRP / "XRP_ETH-1m.normalized.parquet")
    assert builder.late == 0
    assert len(bars) == recorded.height == 2469
    got = [(b.open_ms, b.open, b.high, b.low, b.close, b.volume) for b in bars]
    assert got == list(recorded.select("timestamp", "open", "high", "low", "close",
                                       "volume").iter_rows())


# -- properties ----------------------------------------------------------------------

START = 1_704_067_200_000  # Monday 2024-01-01 00:00 UTC

trades_st = st.lists(
    st.tuples(st.integers(0, 6 * 3_600_000), st.integers(1, 1000), st.integers(1, 50)),
    min_size=1, max_size=80)


def reference(trades: list[tuple[int, int, int]], length: int, *, right: bool = False
              ) -> dict[int, tuple[float, float, float, float, float]]:
    """Plain grouping: window start -> (open, high, low, close, volume), trades in
    (time, arrival) order."""
    groups: dict[int, list[tuple[int, int, float, float]]] = defaultdict(list)
    for arrival, (t, price, amount) in enumerate(trades):
        start = ((t - 1) // length) * length if right else (t // length) * length
        groups[start].append((t, arrival, float(price), float(amount)))
    out = {}
    for start, rows in groups.items():
        rows.sort()
        volume = 0.0
        for row in sorted(rows, key=lambda r: r[1]):  # volume sums in arrival order
            volume += row[3]
        out[start] = (rows[0][2], max(r[2] for r in rows), min(r[2] for r in rows),
                      rows[-1][2], volume)
    return out


@settings(max_examples=150, deadline=None)
@given(trades_st, st.sampled_from(["left", "right"]))
def test_every_window_is_its_trades_whatever_their_order(
        trades: list[tuple[int, int, int]], closed: str) -> None:
    builder = BarBuilder(["1m", "5m", "1h"], closed=closed)  # type: ignore[arg-type]
    for t, price, amount in trades:
        builder.add(Trade(START + t, price, amount))
    bars = builder.flush()
    for tf, length in (("1m", MIN), ("5m", 5 * MIN), ("1h", 60 * MIN)):
        expected = reference([(START + t, p, a) for t, p, a in trades], length,
                             right=closed == "right")
        got = {b.open_ms: (b.open, b.high, b.low, b.close, b.volume)
               for b in bars if b.timeframe == tf}
        assert got == expected, tf
    assert [b.close_ms for b in bars] == sorted(b.close_ms for b in bars)


@settings(max_examples=150, deadline=None)
@given(trades_st, st.lists(st.integers(0, 7 * 3_600_000), max_size=10),
       st.integers(0, 5_000))
def test_late_trades_are_counted_and_change_no_final_bar(
        trades: list[tuple[int, int, int]], clocks: list[int], grace: int) -> None:
    """Interleave the stream with clock ticks: a bar is emitted once its end + grace
    has passed and never again, and it is exactly the trades of its window that had
    arrived when it was emitted; every later trade for it is counted late."""
    builder = BarBuilder(["1m", "1h"], grace_ms=grace)
    ticks = sorted(clocks)
    emitted: list[tuple[BuiltBar, int]] = []  # with the number of trades added before
    stream = [(START + t, p, a) for t, p, a in trades]
    for k, (t, price, amount) in enumerate(stream):
        if ticks and k % 3 == 0:
            now = START + ticks.pop(0)
            for bar in builder.advance(now):
                assert bar.close_ms + grace <= now  # never early
                emitted.append((bar, k))
        builder.add(Trade(t, price, amount))
    emitted += [(bar, len(stream)) for bar in builder.flush()]
    keys = [(b.timeframe, b.open_ms) for b, _ in emitted]
    assert len(keys) == len(set(keys))  # never twice
    for bar, seen in emitted:
        length = bar.close_ms - bar.open_ms
        expected = reference(stream[:seen], length)[bar.open_ms]
        assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == expected
    # per timeframe, every trade is in exactly one bar or late
    assert builder.late == 2 * len(stream) - sum(b.trades for b, _ in emitted)


@settings(max_examples=100, deadline=None)
@given(trades_st)
def test_a_higher_bar_is_the_union_of_its_lower_bars(trades: list[tuple[int, int, int]]) -> None:
    builder = BarBuilder(["1h", "4h"])
    builder.add_all(Trade(START + t, p, a) for t, p, a in trades)
    bars = builder.flush()
    hours = [b for b in bars if b.timeframe == "1h"]
    for big in (b for b in bars if b.timeframe == "4h"):
        inside = [h for h in hours if big.open_ms <= h.open_ms < big.close_ms]
        assert big.high == max(h.high for h in inside)
        assert big.low == min(h.low for h in inside)
        assert big.open == inside[0].open and big.close == inside[-1].close
        assert big.trades == sum(h.trades for h in inside)


def test_weeks_start_on_monday_utc_and_the_boundary_follows_closed() -> None:
    wednesday = int(datetime(2024, 1, 3, 12, tzinfo=UTC).timestamp() * 1000)
    builder = BarBuilder(["1w", "1m"])
    builder.add(Trade(wednesday, 1.0, 1.0))
    week, minute = sorted(builder.flush(), key=lambda b: b.timeframe)[::-1]
    assert datetime.fromtimestamp(week.open_ms / 1000, UTC) == datetime(2024, 1, 1,
                                                                          tzinfo=UTC)
    assert week.close_ms - week.open_ms == 7 * 86_400_000
    assert minute.open_ms == wednesday
    # a trade exactly on a boundary: the bar it starts (left) or the bar it ends (right)
    left, right = BarBuilder(["1m"], closed="left"), BarBuilder(["1m"], closed="right")
    for b in (left, right):
        b.add(Trade(START + MIN, 2.0, 1.0))
    assert left.flush()[0].open_ms == START + MIN
    assert right.flush()[0].open_ms == START


def test_bad_settings_are_errors() -> None:
    with pytest.raises(ValueError, match="timeframe"):
        BarBuilder([])
    with pytest.raises(ValueError, match="grace"):
        BarBuilder(["1m"], grace_ms=-1)
    with pytest.raises(ValueError, match="not a timeframe"):
        BarBuilder(["7q"])


@settings(max_examples=100, deadline=None)
@given(trades_st, st.integers(0, 5_000))
def test_next_final_is_exactly_when_the_next_bar_is_emitted(
        trades: list[tuple[int, int, int]], grace: int) -> None:
    """A live feed sleeps until `next_final_ms()`: one millisecond earlier nothing is
    final, at that time at least one bar is, and with no bar open there is no time."""
    builder = BarBuilder(["1m", "5m"], grace_ms=grace)
    assert builder.next_final_ms() is None
    for t, price, amount in trades:
        builder.add(Trade(START + t, price, amount))
    while (due := builder.next_final_ms()) is not None:
        assert builder.advance(due - 1) == []
        assert builder.advance(due)
    assert builder.flush() == []
