"""The channel family equals the `ta-lib` wheel (same nulls, values to 1e-9) on
random walks, its incremental forms equal its batch forms for any valid params, and
the indicators TA-Lib lacks (ichimoku, pivots) match hand-checked vectors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.errors import ConfigError
from runner.indicators.api import compute, incremental
from tests.unit.indicators.oracle import (
    Case,
    Reference,
    batch_column,
    case_test,
    incremental_column,
    parity_test,
    reference_test,
    walk,
    with_missing_bars,
)

BANDS = ("upper", "middle", "lower")


def _bands(fn: Any, names: tuple[str, ...] = BANDS) -> dict[str, Any]:
    """One oracle per output of a multi-output TA-Lib call."""
    return {o: (lambda d, i=i: fn(d)[i]) for i, o in enumerate(names)}


CASES: list[Case] = [
    Case("keltner", {"period": 20, "atr_period": 10, "multiplier": 2.0},
         _bands(lambda d: talib.KC(d["high"], d["low"], d["close"], 20, 10, 2.0))),
    Case("keltner", {"period": 5, "atr_period": 14, "multiplier": 1.5},
         _bands(lambda d: talib.KC(d["high"], d["low"], d["close"], 5, 14, 1.5))),
    Case("keltner", {"period": 10, "atr_period": 1, "multiplier": 3.0},
         _bands(lambda d: talib.KC(d["high"], d["low"], d["close"], 10, 1, 3.0))),
    Case("donchian", {"period": 20}, _bands(lambda d: talib.DONCHIAN(d["high"], d["low"], 20))),
    Case("donchian", {"period": 2}, _bands(lambda d: talib.DONCHIAN(d["high"], d["low"], 2))),
    Case("accbands", {"period": 20},
         _bands(lambda d: talib.ACCBANDS(d["high"], d["low"], d["close"], 20))),
    Case("accbands", {"period": 7},
         _bands(lambda d: talib.ACCBANDS(d["high"], d["low"], d["close"], 7))),
    Case("heikin_ashi", {},
         _bands(lambda d: talib.HA(d["open"], d["high"], d["low"], d["close"]),
                ("open", "high", "low", "close"))),
    Case("adr", {"period": 14}, {"value": lambda d: talib.ADR(d["high"], d["low"], 14)}),
    Case("adr", {"period": 1}, {"value": lambda d: talib.ADR(d["high"], d["low"], 1)}),
    Case("cvi", {"period": 10, "roc_period": 10},
         {"value": lambda d: talib.CVI(d["high"], d["low"], 10, 10)}, "oscillator"),
    Case("cvi", {"period": 4, "roc_period": 1},
         {"value": lambda d: talib.CVI(d["high"], d["low"], 4, 1)}, "oscillator"),
    Case("massi", {"fast": 9, "slow": 25},
         {"value": lambda d: talib.MASSI(d["high"], d["low"], 9, 25)}, "self"),
    Case("massi", {"fast": 3, "slow": 40},
         {"value": lambda d: talib.MASSI(d["high"], d["low"], 3, 40)}, "self"),
    Case("rvi", {"period": 14, "stddev_period": 10},
         {"value": lambda d: talib.RVI(d["close"], 14, 10)}, "oscillator"),
    Case("rvi", {"period": 1, "stddev_period": 2},
         {"value": lambda d: talib.RVI(d["close"], 1, 2)}, "oscillator"),
    Case("rvi", {"period": 5, "stddev_period": 30},
         {"value": lambda d: talib.RVI(d["close"], 5, 30)}, "oscillator"),
]
REFERENCES: list[Reference] = []

test_equal_to_talib_on_random_walks = case_test(CASES)
test_equal_to_recorded_talib_reference = reference_test(REFERENCES)

PERIOD = st.integers(2, 60)
PARITY: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "keltner": st.fixed_dictionaries({"period": PERIOD, "atr_period": st.integers(1, 60),
                                      "multiplier": st.floats(0.1, 5.0, allow_nan=False)}),
    "donchian": st.fixed_dictionaries({"period": PERIOD}),
    "accbands": st.fixed_dictionaries({"period": PERIOD}),
    "heikin_ashi": st.just({}),
    "adr": st.fixed_dictionaries({"period": st.integers(1, 60)}),
    "cvi": st.fixed_dictionaries({"period": PERIOD, "roc_period": st.integers(1, 40)}),
    "massi": st.fixed_dictionaries({"fast": st.integers(2, 30), "slow": st.integers(2, 60)}),
    "rvi": st.fixed_dictionaries({"period": st.integers(1, 40),
                                  "stddev_period": st.integers(2, 40)}),
    "ichimoku": st.fixed_dictionaries({"conversion": st.integers(1, 20),
                                       "base": st.integers(1, 40),
                                       "span_b": st.integers(1, 80),
                                       "displacement": st.integers(1, 40)}),
    "pivots": st.fixed_dictionaries({
        "kind": st.sampled_from(["classic", "fibonacci", "camarilla"]),
        "day_start": st.sampled_from(["00:00", "09:30", "17:00", "23:59"]),
        "tz": st.sampled_from(["UTC", "America/New_York", "Europe/London",
                               "Australia/Sydney", "Asia/Kolkata"])}),
}
TIMED = {"pivots"}  # need a `time` column: checked by test_pivots_incremental_equals_batch
test_incremental_equals_batch = parity_test(
    {k: v for k, v in PARITY.items() if k not in TIMED}, max_examples=10)


@settings(max_examples=15, deadline=None)
@given(params=PARITY["pivots"], seed=st.integers(0, 2**16),
       start=st.integers(1_500_000_000_000, 1_800_000_000_000),
       step_minutes=st.sampled_from([15, 60, 240]))
def test_pivots_incremental_equals_batch(params: dict[str, Any], seed: int, start: int,
                                         step_minutes: int) -> None:
    """Pivots read the bar time, so their parity runs on bars with a `time` column:
    a random start, 15-minute to 4-hour bars (crossing DST changes within the 300
    bars for the longer ones), and missing bars."""
    frame = walk(300, seed=seed, gaps=True)
    times = start + np.arange(300) * step_minutes * 60_000
    frame = with_missing_bars(frame.with_columns(time=pl.Series(times, dtype=pl.Float64)), 13)
    for output in ("pp", "r1", "r2", "r3", "s1", "s2", "s3"):
        batch = batch_column("pivots", frame, output, **params)
        step = incremental_column("pivots", frame, output, **params)
        assert np.array_equal(np.isnan(batch), np.isnan(step)), output
        ok = ~np.isnan(batch)
        assert np.allclose(batch[ok], step[ok], rtol=1e-12, atol=0), output


def test_ichimoku_hand_checked() -> None:
    frame = pl.DataFrame({"high": [10.0, 12, 11, 13, 15, 14, 16, 13],
                          "low": [8.0, 9, 9, 10, 12, 11, 12, 10],
                          "close": [9.0, 11, 10, 12, 14, 13, 15, 11]})
    params: dict[str, Any] = {"conversion": 2, "base": 3, "span_b": 4, "displacement": 2}
    n = None
    expected = {
        # (max high + min low) / 2 over 2 bars: t1 (12+8)/2, t2 (12+9)/2, t3 (13+9)/2,
        # t4 (15+10)/2, t5 (15+11)/2, t6 (16+11)/2, t7 (16+10)/2
        "conversion": [n, 10.0, 10.5, 11.0, 12.5, 13.0, 13.5, 13.0],
        # over 3 bars: t2 (12+8)/2, t3 (13+9)/2, t4 (15+9)/2, t5 (15+10)/2, t6 (16+11)/2,
        # t7 (16+10)/2
        "base": [n, n, 10.0, 11.0, 12.0, 12.5, 13.5, 13.0],
        # (conversion + base) / 2 computed 2 bars earlier: t4 <- t2 (10.5+10)/2,
        # t5 <- t3 (11+11)/2, t6 <- t4 (12.5+12)/2, t7 <- t5 (13+12.5)/2
        "span_a": [n, n, n, n, 10.25, 11.0, 12.25, 12.75],
        # 4-bar midpoint 2 bars earlier: t5 <- t3 (13+8)/2, t6 <- t4 (15+9)/2,
        # t7 <- t5 (15+9)/2
        "span_b": [n, n, n, n, n, 10.5, 12.0, 12.0],
        # the close 2 bars earlier
        "lagging": [n, n, 9.0, 11.0, 10.0, 12.0, 14.0, 13.0],
    }
    for output, values in expected.items():
        assert compute("ichimoku", frame, **params)[output].to_list() == values, output
        ind = incremental("ichimoku", **params)
        steps = [ind.update(row)[output] for row in frame.iter_rows(named=True)]
        assert steps == values, output


def _pivot_frame() -> pl.DataFrame:
    """Three UTC days of 6-hour bars (the third day has one bar)."""
    times = [datetime(2024, 1, 1, h, tzinfo=UTC) for h in (0, 6, 12, 18)]
    times += [datetime(2024, 1, 2, h, tzinfo=UTC) for h in (0, 12)]
    times += [datetime(2024, 1, 3, 0, tzinfo=UTC)]
    return pl.DataFrame({"time": times,
                         "high": [10.0, 12, 11, 10, 15, 14, 20],
                         "low": [7.0, 6, 8, 8, 9, 10, 15],
                         "close": [8.0, 11, 9, 9, 13, 12, 18]})


LEVELS = ("pp", "r1", "r2", "r3", "s1", "s2", "s3")
# Day 1: H = 12, L = 6, C = 9 -> PP = 27 / 3 = 9, R = 6. Day 2: H = 15, L = 9,
# C = 12 -> PP = 36 / 3 = 12, R = 6.
PIVOT_VECTORS = {
    # R1 = 2 PP - L, R2 = PP + R, R3 = H + 2 (PP - L), S1 = 2 PP - H, S2 = PP - R,
    # S3 = L - 2 (H - PP)
    "classic": ((9.0, 12.0, 15.0, 18.0, 6.0, 3.0, 0.0),
                (12.0, 15.0, 18.0, 21.0, 9.0, 6.0, 3.0)),
    # PP +/- 0.382 R, 0.618 R, R: 9 + 2.292, 9 + 3.708, 9 + 6
    "fibonacci": ((9.0, 11.292, 12.708, 15.0, 6.708, 5.292, 3.0),
                  (12.0, 14.292, 15.708, 18.0, 9.708, 8.292, 6.0)),
    # C +/- 1.1 R / 12, / 6, / 4: 9 + 0.55, 9 + 1.1, 9 + 1.65
    "camarilla": ((9.0, 9.55, 10.1, 10.65, 8.45, 7.9, 7.35),
                  (12.0, 12.55, 13.1, 13.65, 11.45, 10.9, 10.35)),
}


@pytest.mark.parametrize("kind", sorted(PIVOT_VECTORS))
def test_pivots_hand_checked(kind: str) -> None:
    day1, day2 = PIVOT_VECTORS[kind]
    frame = _pivot_frame()
    batch = compute("pivots", frame, kind=kind)
    ind = incremental("pivots", kind=kind)
    steps = [ind.update(row) for row in frame.iter_rows(named=True)]
    for i, output in enumerate(LEVELS):
        # null over day 1, day 1's levels over day 2, day 2's on day 3
        expected = [None] * 4 + [day1[i]] * 2 + [day2[i]]
        for got in (batch[output].to_list(), [s[output] for s in steps]):
            assert got[:4] == [None] * 4, output
            assert got[4:] == pytest.approx(expected[4:], rel=1e-12), output


def test_pivot_sessions_start_at_day_start() -> None:
    """With sessions from 12:00 UTC: Jan 1 00:00 and 06:00 are Dec 31's session
    (H 12, L 6, C 11); 12:00 Jan 1 to 06:00 Jan 2 is the next (only 12:00, 18:00,
    00:00 here: H 15, L 8, C 13); the 12:00 Jan 2 bar opens the third session."""
    frame = _pivot_frame()
    pp = compute("pivots", frame, day_start="12:00")["pp"].to_list()
    assert pp[:2] == [None, None]
    # (12 + 6 + 11) / 3 over the bars at 12:00, 18:00 and 00:00
    assert pp[2:5] == pytest.approx([29 / 3] * 3)
    # (15 + 8 + 13) / 3 from 12:00 Jan 2 on
    assert pp[5:] == pytest.approx([12.0, 12.0])


def test_pivot_sessions_follow_dst() -> None:
    """A 17:00 New York session starts at 22:00 UTC in winter and 21:00 UTC once
    DST begins (Sunday 10 March 2024): the levels change at those bars only."""
    times = [datetime(2024, 3, 7, tzinfo=UTC) + timedelta(hours=h) for h in range(24 * 6)]
    frame = pl.DataFrame({"time": times, "close": [float(h) for h in range(len(times))]})
    frame = frame.with_columns(high=pl.col("close") + 1.0, low=pl.col("close") - 1.0)
    params: dict[str, Any] = {"day_start": "17:00", "tz": "America/New_York"}
    ind = incremental("pivots", **params)
    steps = [ind.update(row)["pp"] for row in frame.iter_rows(named=True)]
    for pp in (compute("pivots", frame, **params)["pp"].to_list(), steps):
        changes = [times[i] for i in range(1, len(pp)) if pp[i] != pp[i - 1]]
        assert [(t.day, t.hour) for t in changes] == [
            (7, 22), (8, 22), (9, 22), (10, 21), (11, 21), (12, 21)]


def test_pivot_params_are_validated() -> None:
    frame = _pivot_frame()
    with pytest.raises(ConfigError, match="IANA time zone"):
        compute("pivots", frame, tz="Mars/Olympus")
    with pytest.raises(ConfigError, match="kind must be one of"):
        compute("pivots", frame, kind="woodie")
    with pytest.raises(ConfigError, match="HH:MM"):
        compute("pivots", frame, day_start="9:30")
