"""The pattern family: the candle patterns equal the `ta-lib` wheel (same warm-up,
same 0/±80/±100 on every bar) on random walks and on bars built to be rich in
patterns; the Waddah Attar explosion equals its definition in TA-Lib's EMA, BBANDS
and ATR; fair value gaps, order blocks and the explosion, which TA-Lib lacks, equal
hand-checked vectors; and every incremental form equals its batch form for any
valid params."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest
import talib
from hypothesis import strategies as st
from talib import abstract

from tests.unit.indicators.oracle import (
    Case,
    Oracle,
    Reference,
    as_array,
    assert_close,
    batch_column,
    case_test,
    incremental_column,
    parity_test,
    reference_test,
)

CANDLES = {"doji": "CDLDOJI", "hammer": "CDLHAMMER", "shooting_star": "CDLSHOOTINGSTAR",
           "engulfing": "CDLENGULFING"}


def candle(function: str) -> Oracle:
    """TA-Lib's candle output, with its warm-up bars (where it writes 0) as nulls:
    our forms give null until the pattern can be judged, like every indicator."""
    lookback = abstract.Function(function).lookback  # type: ignore[attr-defined]

    def oracle(d: dict[str, np.ndarray]) -> np.ndarray:
        out = getattr(talib, function)(d["open"], d["high"], d["low"], d["close"])
        values = np.asarray(out, dtype=float)
        values[:lookback] = np.nan
        return values

    return oracle


def wae_oracle(output: str, fast: int = 20, slow: int = 40, sensitivity: float = 150.0,
               bb_period: int = 20, bb_stddev: float = 2.0, dead_zone_period: int = 100,
               dead_zone_multiplier: float = 3.7) -> Oracle:
    """The explosion's definition in TA-Lib calls: EMA(fast) - EMA(slow) differenced,
    BBANDS' width, ATR times the multiplier; all null before the common start."""
    start = max(slow, bb_period - 1, dead_zone_period)

    def oracle(d: dict[str, np.ndarray]) -> np.ndarray:
        line = talib.EMA(d["close"], fast) - talib.EMA(d["close"], slow)
        trend = np.concatenate([[np.nan], np.diff(line)]) * sensitivity
        upper, _, lower = talib.BBANDS(d["close"], bb_period, bb_stddev, bb_stddev,
                                        0)  # type: ignore[arg-type]
        values = {"up": np.where(trend > 0, trend, 0.0),
                  "down": np.where(trend < 0, -trend, 0.0),
                  "explosion": upper - lower,
                  "dead_zone": talib.ATR(d["high"], d["low"], d["close"], dead_zone_period)
                  * dead_zone_multiplier}[output]
        values[:start] = np.nan
        return values

    return oracle


WAE_OUTPUTS = ("up", "down", "explosion", "dead_zone")
WAE_SMALL: dict[str, Any] = {"fast": 5, "slow": 13, "sensitivity": 20.0, "bb_period": 10,
                             "bb_stddev": 1.5, "dead_zone_period": 7,
                             "dead_zone_multiplier": 2.0}

CASES: list[Case] = [
    *(Case(name, {}, {"value": candle(function)}, "oscillator")
      for name, function in CANDLES.items()),
    Case("wae", {}, {o: wae_oracle(o) for o in WAE_OUTPUTS}, "price"),
    Case("wae", WAE_SMALL, {o: wae_oracle(o, **WAE_SMALL) for o in WAE_OUTPUTS}, "price"),
]
# the recorded reference files hold no column of this family
REFERENCES: list[Reference] = []

test_equal_to_talib_on_random_walks = case_test(CASES)
test_equal_to_recorded_talib_reference = reference_test(REFERENCES)


def pattern_rich(n: int, seed: int, tick: float, scale: float = 100.0) -> pl.DataFrame:
    """Bars whose open is not the last close and whose shadows are heavy-tailed, on a
    tick grid: every pattern fires often, and ties with TA-Lib's yardsticks occur
    (the random walks never gap up, so they hold no shooting star)."""
    rng = np.random.default_rng(seed)
    mid = scale * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    o = mid * (1 + rng.normal(0, 0.004, n))
    c = mid * (1 + rng.normal(0, 0.004, n))
    up = mid * np.abs(rng.standard_t(2, n)) * 0.003 * (rng.random(n) < 0.7)
    down = mid * np.abs(rng.standard_t(2, n)) * 0.003 * (rng.random(n) < 0.7)
    grid = tick * scale / 100.0

    def snap(x: np.ndarray) -> np.ndarray:
        snapped: np.ndarray = np.round(x / grid) * grid
        return snapped

    return pl.DataFrame({"open": snap(o), "high": snap(np.maximum(o, c) + up),
                         "low": snap(np.minimum(o, c) - down), "close": snap(c),
                         "volume": np.ones(n)})


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("tick", "scale"), [(0.01, 100.0), (0.25, 100.0), (1e-3, 3e-5),
                                             (0.5, 2.5e6)])
def test_candles_equal_talib_on_pattern_rich_bars(seed: int, tick: float,
                                                  scale: float) -> None:
    frame = pattern_rich(1500, seed, tick, scale)
    d = {c: frame[c].to_numpy() for c in frame.columns}
    for name, function in CANDLES.items():
        ref = candle(function)(d)
        assert np.count_nonzero(np.nan_to_num(ref)) > 10, f"{name} never fires"
        assert_close(batch_column(name, frame, "value"), ref, 100.0, f"{name} batch")
        assert_close(incremental_column(name, frame, "value"), ref, 100.0,
                     f"{name} incremental")


def both_forms(name: str, bars: dict[str, list[float]], output: str,
               **params: Any) -> list[np.ndarray]:
    frame = pl.DataFrame(bars)
    return [batch_column(name, frame, output, **params),
            incremental_column(name, frame, output, **params)]


def assert_vector(name: str, bars: dict[str, list[float]],
                  expected: dict[str, list[float | None]], **params: Any) -> None:
    for output, values in expected.items():
        want = as_array(values)
        for got in both_forms(name, bars, output, **params):
            assert np.array_equal(np.isnan(got), np.isnan(want)), (output, got, want)
            assert np.allclose(got[~np.isnan(want)], want[~np.isnan(want)], rtol=1e-12,
                               atol=1e-12), (output, got, want)


N = None
FVG_BARS = {
    "high": [10.0, 12.0, 13.0, 13.5, 13.2, 12.2, 11.0, 10.0, 10.5, 10.6],
    "low": [9.0, 10.0, 11.0, 12.0, 11.5, 10.8, 9.0, 8.0, 9.5, 10.0],
    "close": [9.5, 11.8, 12.5, 13.0, 12.0, 11.0, 9.2, 8.5, 10.2, 10.4],
}


def test_fvg_hand_checked() -> None:
    # t2: low 11 > high[t0] 10: bullish gap [10, 11], size 1
    # t3: low 12 > high[t1] 12? no (equal); the gap stays open (low 12 > top 11)
    # t4: low 11.5 > top 11: still open
    # t5: low 10.8 <= top 11: touched, mitigated; the bar still shows the gap
    # t6: no gap open (null edges); high 11 < low[t4] 11.5: bearish gap [11, 11.5],
    #     size 0.5
    # t7: high 10 >= bottom 11? no; high 10 < low[t5] 10.8: a newer bearish gap
    #     [10, 10.8], size 0.8, replaces it
    # t8: high 10.5 >= bottom 10: mitigated, shows [10, 10.8]; no new gap
    # t9: nothing open; low 10 > high[t7] 10? no (equal), high 10.6 < low[t7] 8? no
    assert_vector("fvg", FVG_BARS, {
        "bullish": [N, N, 1, 0, 0, 0, 0, 0, 0, 0],
        "bearish": [N, N, 0, 0, 0, 0, 1, 1, 0, 0],
        "size": [N, N, 1.0, 0, 0, 0, 0.5, 0.8, 0, 0],
        "top": [N, N, 11, 11, 11, 11, 11.5, 10.8, 10.8, N],
        "bottom": [N, N, 10, 10, 10, 10, 11, 10, 10, N],
        "mitigated": [N, N, 0, 0, 0, 1, 0, 0, 1, 0],
    })


def test_fvg_min_size_is_a_fraction_of_the_close() -> None:
    # min_size 0.06: t2 needs 0.06 * 12.5 = 0.75 <= 1 (kept); t6 needs
    # 0.06 * 9.2 = 0.552 > 0.5 (dropped: nothing open after t5's mitigation);
    # t7 needs 0.06 * 8.5 = 0.51 <= 0.8 (kept)
    assert_vector("fvg", FVG_BARS, {
        "bearish": [N, N, 0, 0, 0, 0, 0, 1, 0, 0],
        "size": [N, N, 1.0, 0, 0, 0, 0, 0.8, 0, 0],
        "top": [N, N, 11, 11, 11, 11, N, 10.8, 10.8, N],
        "mitigated": [N, N, 0, 0, 0, 1, 0, 0, 1, 0],
    }, min_size=0.06)


OB_BARS = {
    "open": [10.0, 10.2, 9.8, 9.2, 8.8, 9.9, 9.6, 10.2, 9.45],
    "high": [10.5, 10.4, 10.0, 9.4, 10.0, 10.1, 10.3, 10.4, 9.6],
    "low": [9.5, 9.6, 9.0, 8.6, 8.7, 9.5, 9.55, 9.3, 9.4],
    "close": [10.2, 9.8, 9.2, 8.8, 9.9, 9.6, 10.2, 9.45, 9.5],
}


def test_order_block_hand_checked() -> None:
    # period 1: the ATR is the true range, and a bar is judged with the previous
    # bar's: TR1 = 10.4 - 9.6 = 0.8, TR2 = 10.0 - 9.0 = 1.0, TR3 = 9.4 - 8.6 = 0.8,
    # TR4 = 10.0 - 8.7 = 1.3, TR5 = 10.1 - 9.5 = 0.6, TR6 = 10.3 - 9.55 = 0.75.
    # t0 up: bearish candidate (10.5, 9.5). t1 down: bullish candidate (10.4, 9.6).
    # t2: close 9.2 < 9.5 breaks the bearish candidate; 10.5 - 9.2 = 1.3 >=
    #     1.5 * TR1 = 1.2: bearish block [9.5, 10.5]. t2 is down: candidate (10.0, 9.0)
    # t3: high 9.4 < bottom 9.5, not touched; close 8.8 <= 10.0, no break;
    #     down: candidate (9.4, 8.6)
    # t4: high 10.0 >= 9.5 mitigates the bearish block; close 9.9 > 9.4 breaks the
    #     bullish candidate and 9.9 - 8.6 = 1.3 >= 1.5 * TR3 = 1.2: bullish block
    #     [8.6, 9.4] (the edges are the new block's); up: candidate (10.0, 8.7)
    # t5: low 9.5 > top 9.4, open; down: candidate (10.1, 9.5)
    # t6: close 10.2 > 10.1 breaks it but 10.2 - 9.5 = 0.7 < 1.5 * TR5 = 0.9: not
    #     impulsive, dropped; up: candidate (10.3, 9.55)
    # t7: low 9.3 <= 9.4 mitigates the bullish block; close 9.45 < 9.55 breaks the
    #     bearish candidate but 10.3 - 9.45 = 0.85 < 1.5 * TR6 = 1.125: dropped
    # t8: nothing open
    assert_vector("order_block", OB_BARS, {
        "bullish": [N, N, 0, 0, 1, 0, 0, 0, 0],
        "bearish": [N, N, 1, 0, 0, 0, 0, 0, 0],
        "top": [N, N, 10.5, 10.5, 9.4, 9.4, 9.4, 9.4, N],
        "bottom": [N, N, 9.5, 9.5, 8.6, 8.6, 8.6, 8.6, N],
        "mitigated": [N, N, 0, 0, 1, 0, 0, 1, 0],
    }, period=1, multiplier=1.5)


def test_order_block_needs_the_atr_of_the_previous_bar() -> None:
    # period 3: the first ATR is at bar 3, so bars 0..3 are warm-up; t2's break is
    # not judged and no block exists before bar 4
    got = both_forms("order_block", OB_BARS, "bearish", period=3, multiplier=1.5)
    for column in got:
        assert np.isnan(column[:4]).all() and not np.isnan(column[4:]).any()
        assert column[4:].sum() == 0.0


def test_wae_hand_checked() -> None:
    # fast 2 (alpha 2/3), slow 3 (alpha 1/2), bb_period 2, dead_zone_period 2,
    # starting together at max(3, 1, 2) = 3; high/low = close +- 0.5
    # EMA2: 3/2 (t1), 3/2 + 2/3 * 5/2 = 19/6, 19/6 - 2/3 * 1/6 = 55/18,
    #       55/18 + 2/3 * 35/18 = 235/54
    # EMA3: 7/3 (t2), 7/3 + 1/3 = 8/3, 8/3 + 7/6 = 23/6
    # line: 5/6 (t2), 55/18 - 8/3 = 7/18, 235/54 - 23/6 = 14/27
    # trend * 10: (7/18 - 5/6) * 10 = -40/9 (t3), (14/27 - 7/18) * 10 = 35/27 (t4)
    # explosion: 2 * 1 * population sd of two closes = |a - b|: |4 - 3|, |3 - 5|
    # TR: 2.5 - 1 = 1.5 (t1), 4.5 - 2 = 2.5, 4 - 2.5 = 1.5, 5.5 - 3 = 2.5;
    # ATR2: (1.5 + 2.5) / 2 = 2 (t2), 2 + (1.5 - 2) / 2 = 1.75, 1.75 + 0.375 = 2.125
    close = [1.0, 2.0, 4.0, 3.0, 5.0]
    bars = {"high": [c + 0.5 for c in close], "low": [c - 0.5 for c in close],
            "close": close}
    assert_vector("wae", bars, {
        "up": [N, N, N, 0.0, 35 / 27],
        "down": [N, N, N, 40 / 9, 0.0],
        "explosion": [N, N, N, 1.0, 2.0],
        "dead_zone": [N, N, N, 1.75, 2.125],
    }, fast=2, slow=3, sensitivity=10.0, bb_period=2, bb_stddev=1.0, dead_zone_period=2,
        dead_zone_multiplier=1.0)


def test_wae_rejects_a_slow_window_not_longer_than_the_fast() -> None:
    from runner.errors import ConfigError
    from runner.indicators.api import incremental

    with pytest.raises(ConfigError, match="slow"):
        incremental("wae", fast=30, slow=30)


PARITY: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    **dict.fromkeys(CANDLES, st.just({})),
    "fvg": st.fixed_dictionaries({"min_size": st.sampled_from([0.0, 1e-4, 1e-3, 0.01])}),
    "order_block": st.fixed_dictionaries({"period": st.integers(1, 30),
                                          "multiplier": st.floats(0.0, 4.0)}),
    "wae": st.tuples(st.integers(2, 20), st.integers(1, 30), st.floats(1.0, 300.0),
                     st.integers(2, 30), st.floats(0.5, 3.0), st.integers(1, 60),
                     st.floats(0.5, 5.0)).map(
        lambda t: {"fast": t[0], "slow": t[0] + t[1], "sensitivity": t[2],
                   "bb_period": t[3], "bb_stddev": t[4], "dead_zone_period": t[5],
                   "dead_zone_multiplier": t[6]}),
}
test_incremental_equals_batch = parity_test(PARITY, max_examples=10)
