"""The core set equals the `ta-lib` wheel (same nulls, values to 1e-9) on random
walks and on the recorded reference columns, and its incremental forms equal its
batch forms for any valid params."""

from __future__ import annotations

from typing import Any

import talib
from hypothesis import strategies as st

from tests.unit.indicators.oracle import Case, Reference, case_test, parity_test, reference_test

CASES: list[Case] = [
    Case("sma", {"period": 20}, {"value": lambda d: talib.SMA(d["close"], 20)}, "price"),
    Case("sma", {"period": 2}, {"value": lambda d: talib.SMA(d["close"], 2)}, "price"),
    Case("ema", {"period": 12}, {"value": lambda d: talib.EMA(d["close"], 12)}, "price"),
    Case("ema", {"period": 50}, {"value": lambda d: talib.EMA(d["close"], 50)}, "price"),
    Case("wma", {"period": 20}, {"value": lambda d: talib.WMA(d["close"], 20)}, "price"),
    Case("rsi", {"period": 14}, {"value": lambda d: talib.RSI(d["close"], 14)}, "oscillator"),
    Case("rsi", {"period": 2}, {"value": lambda d: talib.RSI(d["close"], 2)}, "oscillator"),
    Case("atr", {"period": 14}, {"value": lambda d: talib.ATR(d["high"], d["low"], d["close"], 14)},
     "price"),
    Case("atr", {"period": 1}, {"value": lambda d: talib.ATR(d["high"], d["low"], d["close"], 1)},
     "price"),
    Case("macd", {"fast": 12, "slow": 26, "signal": 9},
     {o: (lambda d, i=i: talib.MACD(d["close"], 12, 26, 9)[i])
      for i, o in enumerate(("macd", "signal", "hist"))}, "price"),
    Case("macd", {"fast": 5, "slow": 35, "signal": 5},
     {o: (lambda d, i=i: talib.MACD(d["close"], 5, 35, 5)[i])
      for i, o in enumerate(("macd", "signal", "hist"))}, "price"),
    Case("bbands", {"period": 20, "stddev": 2.0},
     {o: (lambda d, i=i: talib.BBANDS(d["close"], 20, 2.0, 2.0, 0)[i])
      for i, o in enumerate(("upper", "middle", "lower"))}, "price"),
    Case("bbands", {"period": 10, "stddev": 1.5},
         {o: (lambda d, i=i: talib.BBANDS(d["close"], 10, 1.5, 1.5, 0)[i])
          for i, o in enumerate(("upper", "middle", "lower"))}, "price"),
    Case("stoch", {"k_period": 5, "k_smooth": 3, "d_period": 3},
     {o: (lambda d, i=i: talib.STOCH(d["high"], d["low"], d["close"], 5, 3, 0, 3, 0)[i])
      for i, o in enumerate(("k", "d"))}, "oscillator"),
    Case("stoch", {"k_period": 14, "k_smooth": 1, "d_period": 3},
     {o: (lambda d, i=i: talib.STOCH(d["high"], d["low"], d["close"], 14, 1, 0, 3, 0)[i])
      for i, o in enumerate(("k", "d"))}, "oscillator"),
    Case("mom", {"period": 10}, {"value": lambda d: talib.MOM(d["close"], 10)}, "price"),
    Case("roc", {"period": 10}, {"value": lambda d: talib.ROC(d["close"], 10)}, "oscillator"),
    Case("rocp", {"period": 10}, {"value": lambda d: talib.ROCP(d["close"], 10)}, "unit"),
    Case("rocr", {"period": 1}, {"value": lambda d: talib.ROCR(d["close"], 1)}, "unit"),
    Case("rocr100", {"period": 10}, {"value": lambda d: talib.ROCR100(d["close"], 10)},
     "oscillator"),
    Case("willr", {"period": 14}, {"value": lambda d: talib.WILLR(d["high"], d["low"], d["close"],
                                                              14)}, "oscillator"),
    Case("midpoint", {"period": 14}, {"value": lambda d: talib.MIDPOINT(d["close"], 14)}, "price"),
    Case("midprice", {"period": 14}, {"value": lambda d: talib.MIDPRICE(d["high"], d["low"], 14)},
     "price"),
    Case("medprice", {}, {"value": lambda d: talib.MEDPRICE(d["high"], d["low"])}, "price"),
    Case("typprice", {}, {"value": lambda d: talib.TYPPRICE(d["high"], d["low"], d["close"])},
     "price"),
    Case("avgprice", {}, {"value": lambda d: talib.AVGPRICE(d["open"], d["high"], d["low"],
                                                        d["close"])}, "price"),
    Case("wclprice", {}, {"value": lambda d: talib.WCLPRICE(d["high"], d["low"], d["close"])},
     "price"),
    Case("trange", {}, {"value": lambda d: talib.TRANGE(d["high"], d["low"], d["close"])}, "price"),
    Case("natr", {"period": 14}, {"value": lambda d: talib.NATR(d["high"], d["low"], d["close"],
                                                            14)}, "oscillator"),
    Case("sum", {"period": 30}, {"value": lambda d: talib.SUM(d["close"], 30)}, "price"),
    Case("max", {"period": 30}, {"value": lambda d: talib.MAX(d["close"], 30)}, "price"),
    Case("min", {"period": 30}, {"value": lambda d: talib.MIN(d["close"], 30)}, "price"),
    Case("obv", {}, {"value": lambda d: talib.OBV(d["close"], d["volume"])}, "self"),
    Case("ad", {}, {"value": lambda d: talib.AD(d["high"], d["low"], d["close"], d["volume"])},
         "self"),
]
REFERENCES: list[Reference] = [
    Reference("sma", {"period": 20}, "value", "sma_20"),
    Reference("sma", {"period": 50}, "value", "sma_50"),
    Reference("ema", {"period": 12}, "value", "ema_12"),
    Reference("ema", {"period": 26}, "value", "ema_26"),
    Reference("ema", {"period": 50}, "value", "ema_50"),
    Reference("wma", {"period": 20}, "value", "wma_20"),
    Reference("rsi", {"period": 14}, "value", "rsi_14", "oscillator"),
    Reference("atr", {"period": 14}, "value", "atr_14"),
    Reference("macd", {}, "macd", "macd"),
    Reference("macd", {}, "signal", "macd_signal"),
    Reference("macd", {}, "hist", "macd_hist"),
    Reference("bbands", {"period": 20, "stddev": 2.0}, "upper", "bb_upper"),
    Reference("bbands", {"period": 20, "stddev": 2.0}, "middle", "bb_middle"),
    Reference("bbands", {"period": 20, "stddev": 2.0}, "lower", "bb_lower"),
    Reference("stoch", {}, "k", "stoch_slowk", "oscillator"),
    Reference("stoch", {}, "d", "stoch_slowd", "oscillator"),
    Reference("mom", {"period": 10}, "value", "mom_10"),
    Reference("roc", {"period": 10}, "value", "roc_10", "oscillator"),
    Reference("rocp", {"period": 10}, "value", "rocp_10", "unit"),
    Reference("willr", {"period": 14}, "value", "willr_14", "oscillator"),
    Reference("natr", {"period": 14}, "value", "natr_14", "oscillator"),
    Reference("trange", {}, "value", "trange"),
    Reference("obv", {}, "value", "obv", "self"),
    Reference("ad", {}, "value", "ad", "self"),
    Reference("midprice", {"period": 14}, "value", "midprice_14"),
    Reference("medprice", {}, "value", "medprice"),
    Reference("typprice", {}, "value", "typprice"),
    Reference("wclprice", {}, "value", "wclprice"),
    Reference("max", {"period": 20}, "value", "max_20"),
    Reference("min", {"period": 20}, "value", "min_20"),
]


test_equal_to_talib_on_random_walks = case_test(CASES)
test_equal_to_recorded_talib_reference = reference_test(REFERENCES)

PERIOD = st.integers(2, 60)
PARITY: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "sma": st.fixed_dictionaries({"period": PERIOD}),
    "ema": st.fixed_dictionaries({"period": PERIOD}),
    "wma": st.fixed_dictionaries({"period": PERIOD}),
    "rsi": st.fixed_dictionaries({"period": PERIOD}),
    "atr": st.fixed_dictionaries({"period": st.integers(1, 60)}),
    "macd": st.tuples(st.integers(2, 30), st.integers(1, 30), st.integers(1, 20)).map(
        lambda t: {"fast": t[0], "slow": t[0] + t[1], "signal": t[2]}),
    "bbands": st.fixed_dictionaries({"period": PERIOD,
                                     "stddev": st.floats(0.1, 4.0, allow_nan=False)}),
    **dict.fromkeys(("mom", "roc", "rocp", "rocr", "rocr100"),
                    st.fixed_dictionaries({"period": st.integers(1, 60)})),
    **dict.fromkeys(("willr", "midpoint", "midprice", "sum", "max", "min"),
                    st.fixed_dictionaries({"period": PERIOD})),
    **dict.fromkeys(("medprice", "typprice", "avgprice", "wclprice", "trange", "obv", "ad"),
                    st.just({})),
    "natr": st.fixed_dictionaries({"period": st.integers(1, 60)}),
    "stoch": st.fixed_dictionaries({"k_period": st.integers(1, 30),
                                    "k_smooth": st.integers(1, 10),
                                    "d_period": st.integers(1, 10)}),
}
test_incremental_equals_batch = parity_test(PARITY)


def test_price_transforms_are_bit_identical_in_both_forms(registry: Any) -> None:
    """Paper mode must reproduce a backtest exactly: the element-wise price transforms
    divide exactly in the batch form too (polars would otherwise multiply by the
    reciprocal of a literal divisor: `(h + l + c) / 3` differed in a third of rows)."""
    import numpy as np
    import polars as pl

    from runner.indicators.api import compute, incremental

    rng = np.random.default_rng(3)
    close = 100 + np.cumsum(rng.normal(0, 1, 3000))
    frame = pl.DataFrame({"open": close + rng.normal(0, 0.3, 3000),
                          "high": close + 1.0 + rng.random(3000),
                          "low": close - 1.0 - rng.random(3000), "close": close})
    for name in ("medprice", "typprice", "avgprice", "wclprice"):
        batch = compute(name, frame, registry=registry)["value"].to_list()
        form = incremental(name, registry=registry)
        assert [form.update(row)["value"] for row in frame.to_dicts()] == batch, name
