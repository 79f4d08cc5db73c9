"""The oscillators equal the `ta-lib` wheel (same nulls, values to 1e-9) on random
walks and on the recorded reference columns, and their incremental forms equal their
batch forms for any valid params."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import polars as pl
import pytest
import talib
from hypothesis import strategies as st

from runner.errors import ConfigError
from runner.indicators.api import compute
from tests.unit.indicators.oracle import (
    Case,
    Reference,
    case_test,
    parity_test,
    reference_test,
    walk,
)


def talib_fractal(d: dict[str, np.ndarray], left: int, right: int) -> list[np.ndarray]:
    """TA-Lib's FRACTAL returns int32 with 0 (not NaN) in its lookback rows."""
    outs = []
    for values in talib.FRACTAL(d["high"], d["low"], left, right):
        out = values.astype(float)
        out[:left + right] = np.nan
        outs.append(out)
    return outs


CASES: list[Case] = [
    Case("bop", {}, {"value": lambda d: talib.BOP(d["open"], d["high"], d["low"], d["close"])},
         "unit"),
    Case("cci", {"period": 14}, {"value": lambda d: talib.CCI(d["high"], d["low"], d["close"],
                                                              14)}, "oscillator"),
    Case("cci", {"period": 40}, {"value": lambda d: talib.CCI(d["high"], d["low"], d["close"],
                                                              40)}, "oscillator"),
    Case("cmo", {"period": 14}, {"value": lambda d: talib.CMO(d["close"], 14)}, "oscillator"),
    Case("cmo", {"period": 3}, {"value": lambda d: talib.CMO(d["close"], 3)}, "oscillator"),
    Case("cmou", {"period": 14}, {"value": lambda d: talib.CMOU(d["close"], 14)}, "oscillator"),
    Case("cmou", {"period": 5}, {"value": lambda d: talib.CMOU(d["close"], 5)}, "oscillator"),
    Case("mfi", {"period": 14}, {"value": lambda d: talib.MFI(d["high"], d["low"], d["close"],
                                                              d["volume"], 14)}, "oscillator"),
    Case("mfi", {"period": 60}, {"value": lambda d: talib.MFI(d["high"], d["low"], d["close"],
                                                              d["volume"], 60)}, "oscillator"),
    Case("trix", {"period": 30}, {"value": lambda d: talib.TRIX(d["close"], 30)}, "unit"),
    Case("trix", {"period": 5}, {"value": lambda d: talib.TRIX(d["close"], 5)}, "unit"),
    Case("ultosc", {"short": 7, "medium": 14, "long": 28},
         {"value": lambda d: talib.ULTOSC(d["high"], d["low"], d["close"], 7, 14, 28)},
         "oscillator"),
    Case("ultosc", {"short": 2, "medium": 10, "long": 40},
         {"value": lambda d: talib.ULTOSC(d["high"], d["low"], d["close"], 2, 10, 40)},
         "oscillator"),
    Case("imi", {"period": 14}, {"value": lambda d: talib.IMI(d["open"], d["close"], 14)},
         "oscillator"),
    Case("imi", {"period": 3}, {"value": lambda d: talib.IMI(d["open"], d["close"], 3)},
         "oscillator"),
    Case("qstick", {"period": 10}, {"value": lambda d: talib.QSTICK(d["open"], d["close"], 10)},
         "price"),
    Case("qstick", {"period": 1}, {"value": lambda d: talib.QSTICK(d["open"], d["close"], 1)},
         "price"),
    Case("ao", {"fast": 5, "slow": 34}, {"value": lambda d: talib.AO(d["high"], d["low"], 5, 34)},
         "price"),
    Case("ao", {"fast": 2, "slow": 3}, {"value": lambda d: talib.AO(d["high"], d["low"], 2, 3)},
         "price"),
    Case("ac", {"fast": 5, "slow": 34, "signal": 5},
         {"value": lambda d: talib.AC(d["high"], d["low"], 5, 34, 5)}, "price"),
    Case("ac", {"fast": 3, "slow": 10, "signal": 12},
         {"value": lambda d: talib.AC(d["high"], d["low"], 3, 10, 12)}, "price"),
    # our long_roc is TA-Lib's roc2period (14), short_roc its roc1period (11)
    Case("coppock", {"period": 10, "long_roc": 14, "short_roc": 11},
         {"value": lambda d: talib.COPPOCK(d["close"], wmaperiod=10, roc1period=11,
                                           roc2period=14)}, "oscillator"),
    Case("coppock", {"period": 1, "long_roc": 20, "short_roc": 3},
         {"value": lambda d: talib.COPPOCK(d["close"], wmaperiod=1, roc1period=3,
                                           roc2period=20)}, "oscillator"),
    Case("dpo", {"period": 20}, {"value": lambda d: talib.DPO(d["close"], 20)}, "price"),
    Case("dpo", {"period": 2}, {"value": lambda d: talib.DPO(d["close"], 2)}, "price"),
    Case("dpo", {"period": 7}, {"value": lambda d: talib.DPO(d["close"], 7)}, "price"),
    Case("er", {"period": 10}, {"value": lambda d: talib.ER(d["close"], 10)}, "unit"),
    Case("er", {"period": 2}, {"value": lambda d: talib.ER(d["close"], 2)}, "unit"),
    Case("eri", {"period": 13},
         {o: (lambda d, i=i: talib.ERI(d["high"], d["low"], d["close"], 13)[i])
          for i, o in enumerate(("bull", "bear"))}, "price"),
    Case("eri", {"period": 1},
         {o: (lambda d, i=i: talib.ERI(d["high"], d["low"], d["close"], 1)[i])
          for i, o in enumerate(("bull", "bear"))}, "price"),
    Case("eri", {"period": 2},
         {o: (lambda d, i=i: talib.ERI(d["high"], d["low"], d["close"], 2)[i])
          for i, o in enumerate(("bull", "bear"))}, "price"),
    Case("smi", {"period": 13, "fast": 2, "slow": 25, "signal": 9},
         {o: (lambda d, i=i: talib.SMI(d["high"], d["low"], d["close"], timeperiod=13,
                                       fastperiod=2, slowperiod=25, signalperiod=9)[i])
          for i, o in enumerate(("smi", "signal"))}, "oscillator"),
    Case("smi", {"period": 5, "fast": 3, "slow": 10, "signal": 2},
         {o: (lambda d, i=i: talib.SMI(d["high"], d["low"], d["close"], timeperiod=5,
                                       fastperiod=3, slowperiod=10, signalperiod=2)[i])
          for i, o in enumerate(("smi", "signal"))}, "oscillator"),
    Case("tsi", {"long": 25, "short": 13},
         {"value": lambda d: talib.TSI(d["close"], firstperiod=25, secondperiod=13)},
         "oscillator"),
    Case("tsi", {"long": 3, "short": 2},
         {"value": lambda d: talib.TSI(d["close"], firstperiod=3, secondperiod=2)},
         "oscillator"),
    Case("fractal", {"left": 2, "right": 2},
         {o: (lambda d, i=i: talib_fractal(d, 2, 2)[i])
          for i, o in enumerate(("swing_high", "swing_low"))}, "oscillator"),
    Case("fractal", {"left": 1, "right": 4},
         {o: (lambda d, i=i: talib_fractal(d, 1, 4)[i])
          for i, o in enumerate(("swing_high", "swing_low"))}, "oscillator"),
]

REFERENCES: list[Reference] = [
    Reference("cci", {"period": 20}, "value", "cci_20", "oscillator"),
    Reference("mfi", {"period": 14}, "value", "mfi_14", "oscillator"),
    Reference("trix", {"period": 30}, "value", "trix_30", "unit"),
    Reference("cmo", {"period": 14}, "value", "cmo_14", "oscillator"),
    Reference("bop", {}, "value", "bop", "unit"),
    Reference("ultosc", {}, "value", "ultosc", "oscillator"),
]

test_equal_to_talib_on_random_walks = case_test(CASES)
test_equal_to_recorded_talib_reference = reference_test(REFERENCES)

PERIOD = st.integers(2, 60)
PARITY: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "bop": st.just({}),
    **dict.fromkeys(("cci", "cmo", "cmou", "mfi"), st.fixed_dictionaries({"period": PERIOD})),
    "trix": st.fixed_dictionaries({"period": st.integers(1, 40)}),
    "ultosc": st.tuples(st.integers(1, 20), st.integers(1, 20), st.integers(1, 20)).map(
        lambda t: {"short": t[0], "medium": t[0] + t[1], "long": t[0] + t[1] + t[2]}),
    "imi": st.fixed_dictionaries({"period": PERIOD}),
    "qstick": st.fixed_dictionaries({"period": st.integers(1, 60)}),
    "ao": st.tuples(st.integers(2, 30), st.integers(1, 30)).map(
        lambda t: {"fast": t[0], "slow": t[0] + t[1]}),
    "ac": st.tuples(st.integers(2, 30), st.integers(1, 30), st.integers(2, 20)).map(
        lambda t: {"fast": t[0], "slow": t[0] + t[1], "signal": t[2]}),
    "coppock": st.tuples(st.integers(1, 20), st.integers(1, 20), st.integers(1, 20)).map(
        lambda t: {"period": t[0], "short_roc": t[1], "long_roc": t[1] + t[2]}),
    "dpo": st.fixed_dictionaries({"period": PERIOD}),
    "er": st.fixed_dictionaries({"period": PERIOD}),
    "eri": st.fixed_dictionaries({"period": st.integers(1, 60)}),
    "smi": st.tuples(st.integers(2, 20), st.integers(2, 10), st.integers(1, 20),
                     st.integers(2, 10)).map(
        lambda t: {"period": t[0], "fast": t[1], "slow": t[1] + t[2], "signal": t[3]}),
    "tsi": st.tuples(st.integers(2, 20), st.integers(1, 20)).map(
        lambda t: {"short": t[0], "long": t[0] + t[1]}),
    "fractal": st.fixed_dictionaries({"left": st.integers(1, 6), "right": st.integers(1, 6)}),
}
test_incremental_equals_batch = parity_test(PARITY, max_examples=10)


@pytest.mark.parametrize(("name", "params", "message"), [
    ("ultosc", {"short": 14, "medium": 7}, "medium (7) must be longer than short (14)"),
    ("ultosc", {"medium": 14, "long": 14}, "long (14) must be longer than medium (14)"),
    ("ao", {"fast": 34, "slow": 5}, "slow (5) must be longer than fast (34)"),
    ("coppock", {"long_roc": 11, "short_roc": 14},
     "long_roc (11) must be longer than short_roc (14)"),
    ("smi", {"fast": 25, "slow": 2}, "slow (2) must be longer than fast (25)"),
    ("tsi", {"long": 13, "short": 25}, "long (13) must be longer than short (25)"),
])
def test_cross_field_rules_are_enforced(name: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        compute(name, walk(50, seed=1), **params)


@pytest.mark.parametrize("name", sorted(PARITY))
def test_no_value_depends_on_a_later_bar(name: str) -> None:
    """Cutting the frame after bar t leaves every value up to t unchanged."""
    frame = walk(240, seed=7, gaps=True)
    full = compute(name, frame)
    head = compute(name, frame.head(150))
    assert full.head(150).equals(head)


def test_fractal_is_reported_on_its_confirming_bar() -> None:
    # highs 1 2 5 2 1 1: the centre bar 2 (high 5) is above the two bars on each
    # side, which are only all known at bar 4, so swing_high is 100 at bar 4.
    # lows 3 2 0 2 3 4 mirror it: swing_low is 100 at bar 4 too; bar 5's window
    # (bars 1..5, centre 3 with low 2) has a lower low (bar 2), so 0 there.
    frame = pl.DataFrame({"high": [1.0, 2.0, 5.0, 2.0, 1.0, 1.0],
                          "low": [3.0, 2.0, 0.0, 2.0, 3.0, 4.0]})
    out = compute("fractal", frame, left=2, right=2)
    assert out["swing_high"].to_list() == [None, None, None, None, 100.0, 0.0]
    assert out["swing_low"].to_list() == [None, None, None, None, 100.0, 0.0]


def test_dpo_is_the_displaced_close_minus_the_current_sma() -> None:
    # period 4: lag 4 // 2 + 1 = 3, lookback max(3, 3) = 3.
    # bar 3: close[0] - mean(close[0..3]) = 1 - (1 + 2 + 4 + 8) / 4 = 1 - 3.75 = -2.75
    # bar 4: close[1] - mean(close[1..4]) = 2 - (2 + 4 + 8 + 16) / 4 = 2 - 7.5 = -5.5
    frame = pl.DataFrame({"close": [1.0, 2.0, 4.0, 8.0, 16.0]})
    assert compute("dpo", frame, period=4)["value"].to_list() == [None, None, None, -2.75,
                                                                  -5.5]
