"""Batch and incremental forms equal the `ta-lib` wheel: same nulls, 1e-9 values.

Inputs: random walks (plain, with flat stretches and zero volume, at huge and tiny
magnitudes) and, when `../shared/data` is present, the recorded TA-Lib reference
outputs on real ORCL daily and ETH/BTC 5-minute bars.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import talib

from tests.unit.indicators.oracle import (
    assert_close,
    batch_column,
    incremental_column,
    walk,
)

SHARED = Path(__file__).resolve().parents[4] / "shared" / "data" / "talib_reference"

# name, params, {our output: talib callable returning that output}, scale kind
CASES: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    ("sma", {"period": 20}, {"value": lambda d: talib.SMA(d["close"], 20)}, "price"),
    ("sma", {"period": 2}, {"value": lambda d: talib.SMA(d["close"], 2)}, "price"),
    ("ema", {"period": 12}, {"value": lambda d: talib.EMA(d["close"], 12)}, "price"),
    ("ema", {"period": 50}, {"value": lambda d: talib.EMA(d["close"], 50)}, "price"),
    ("wma", {"period": 20}, {"value": lambda d: talib.WMA(d["close"], 20)}, "price"),
    ("rsi", {"period": 14}, {"value": lambda d: talib.RSI(d["close"], 14)}, "oscillator"),
    ("rsi", {"period": 2}, {"value": lambda d: talib.RSI(d["close"], 2)}, "oscillator"),
    ("atr", {"period": 14}, {"value": lambda d: talib.ATR(d["high"], d["low"], d["close"], 14)},
     "price"),
    ("atr", {"period": 1}, {"value": lambda d: talib.ATR(d["high"], d["low"], d["close"], 1)},
     "price"),
    ("macd", {"fast": 12, "slow": 26, "signal": 9},
     {o: (lambda d, i=i: talib.MACD(d["close"], 12, 26, 9)[i])
      for i, o in enumerate(("macd", "signal", "hist"))}, "price"),
    ("macd", {"fast": 5, "slow": 35, "signal": 5},
     {o: (lambda d, i=i: talib.MACD(d["close"], 5, 35, 5)[i])
      for i, o in enumerate(("macd", "signal", "hist"))}, "price"),
    ("bbands", {"period": 20, "stddev": 2.0},
     {o: (lambda d, i=i: talib.BBANDS(d["close"], 20, 2.0, 2.0, 0)[i])
      for i, o in enumerate(("upper", "middle", "lower"))}, "price"),
    ("stoch", {"k_period": 5, "k_smooth": 3, "d_period": 3},
     {o: (lambda d, i=i: talib.STOCH(d["high"], d["low"], d["close"], 5, 3, 0, 3, 0)[i])
      for i, o in enumerate(("k", "d"))}, "oscillator"),
    ("stoch", {"k_period": 14, "k_smooth": 1, "d_period": 3},
     {o: (lambda d, i=i: talib.STOCH(d["high"], d["low"], d["close"], 14, 1, 0, 3, 0)[i])
      for i, o in enumerate(("k", "d"))}, "oscillator"),
    ("mom", {"period": 10}, {"value": lambda d: talib.MOM(d["close"], 10)}, "price"),
    ("roc", {"period": 10}, {"value": lambda d: talib.ROC(d["close"], 10)}, "oscillator"),
    ("rocp", {"period": 10}, {"value": lambda d: talib.ROCP(d["close"], 10)}, "unit"),
    ("rocr", {"period": 1}, {"value": lambda d: talib.ROCR(d["close"], 1)}, "unit"),
    ("rocr100", {"period": 10}, {"value": lambda d: talib.ROCR100(d["close"], 10)},
     "oscillator"),
    ("willr", {"period": 14}, {"value": lambda d: talib.WILLR(d["high"], d["low"], d["close"],
                                                              14)}, "oscillator"),
    ("midpoint", {"period": 14}, {"value": lambda d: talib.MIDPOINT(d["close"], 14)}, "price"),
    ("midprice", {"period": 14}, {"value": lambda d: talib.MIDPRICE(d["high"], d["low"], 14)},
     "price"),
    ("medprice", {}, {"value": lambda d: talib.MEDPRICE(d["high"], d["low"])}, "price"),
    ("typprice", {}, {"value": lambda d: talib.TYPPRICE(d["high"], d["low"], d["close"])},
     "price"),
    ("avgprice", {}, {"value": lambda d: talib.AVGPRICE(d["open"], d["high"], d["low"],
                                                        d["close"])}, "price"),
    ("wclprice", {}, {"value": lambda d: talib.WCLPRICE(d["high"], d["low"], d["close"])},
     "price"),
    ("trange", {}, {"value": lambda d: talib.TRANGE(d["high"], d["low"], d["close"])}, "price"),
    ("natr", {"period": 14}, {"value": lambda d: talib.NATR(d["high"], d["low"], d["close"],
                                                            14)}, "oscillator"),
    ("sum", {"period": 30}, {"value": lambda d: talib.SUM(d["close"], 30)}, "price"),
    ("max", {"period": 30}, {"value": lambda d: talib.MAX(d["close"], 30)}, "price"),
    ("min", {"period": 30}, {"value": lambda d: talib.MIN(d["close"], 30)}, "price"),
    ("obv", {}, {"value": lambda d: talib.OBV(d["close"], d["volume"])}, "self"),
    ("ad", {}, {"value": lambda d: talib.AD(d["high"], d["low"], d["close"], d["volume"])},
     "self"),
]
FRAMES = {
    "walk": walk(4000, seed=1),
    "flat-zero-volume": walk(4000, seed=2, flat=True, zero_volume=True),
    "huge": walk(4000, seed=3, scale=2.5e6),
    "tiny": walk(4000, seed=4, scale=3e-5),
}


def _arrays(frame: pl.DataFrame) -> dict[str, np.ndarray]:
    return {c: frame[c].to_numpy().astype(float) for c in frame.columns}


def _scale(kind: str, frame: pl.DataFrame, ref: np.ndarray | None = None) -> float:
    if kind == "oscillator":
        return 100.0
    if kind == "unit":
        return 1.0
    if kind == "self" and ref is not None:
        return max(float(np.nanmax(np.abs(ref))), 1.0)
    return float(frame["close"].abs().median())  # type: ignore[arg-type]


def _ids(case: tuple[str, dict[str, Any], dict[str, Any], str]) -> str:
    name, params, _, _ = case
    return name + "-" + "-".join(str(v) for v in params.values())


@pytest.mark.parametrize("frame_name", sorted(FRAMES))
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_equal_to_talib_on_random_walks(case: tuple[str, dict[str, Any], dict[str, Any], str],
                                        frame_name: str) -> None:
    name, params, outputs, kind = case
    frame = FRAMES[frame_name]
    data = _arrays(frame)
    for output, oracle in outputs.items():
        ref = oracle(data)
        scale = _scale(kind, frame, ref)
        assert_close(batch_column(name, frame, output, **params), ref, scale,
                     f"{name}.{output} batch on {frame_name}")
        assert_close(incremental_column(name, frame, output, **params), ref, scale,
                     f"{name}.{output} incremental on {frame_name}")


REFERENCE_COLUMNS: list[tuple[str, dict[str, Any], str, str]] = [
    ("sma", {"period": 20}, "value", "sma_20"), ("sma", {"period": 50}, "value", "sma_50"),
    ("ema", {"period": 12}, "value", "ema_12"), ("ema", {"period": 26}, "value", "ema_26"),
    ("ema", {"period": 50}, "value", "ema_50"), ("wma", {"period": 20}, "value", "wma_20"),
    ("rsi", {"period": 14}, "value", "rsi_14"), ("atr", {"period": 14}, "value", "atr_14"),
    ("macd", {}, "macd", "macd"), ("macd", {}, "signal", "macd_signal"),
    ("macd", {}, "hist", "macd_hist"),
    ("bbands", {"period": 20, "stddev": 2.0}, "upper", "bb_upper"),
    ("bbands", {"period": 20, "stddev": 2.0}, "middle", "bb_middle"),
    ("bbands", {"period": 20, "stddev": 2.0}, "lower", "bb_lower"),
    ("stoch", {}, "k", "stoch_slowk"), ("stoch", {}, "d", "stoch_slowd"),
    ("mom", {"period": 10}, "value", "mom_10"), ("roc", {"period": 10}, "value", "roc_10"),
    ("rocp", {"period": 10}, "value", "rocp_10"), ("willr", {"period": 14}, "value", "willr_14"),
    ("natr", {"period": 14}, "value", "natr_14"), ("trange", {}, "value", "trange"),
    ("obv", {}, "value", "obv"), ("ad", {}, "value", "ad"),
    ("midprice", {"period": 14}, "value", "midprice_14"), ("medprice", {}, "value", "medprice"),
    ("typprice", {}, "value", "typprice"), ("wclprice", {}, "value", "wclprice"),
]


@pytest.mark.parametrize("dataset", ["orcl_1995_2014_daily", "ethbtc_2018_5m"])
def test_equal_to_recorded_talib_reference(dataset: str) -> None:
    path = SHARED / f"{dataset}.talib.parquet"
    if not path.exists():
        pytest.skip(f"../shared/data is absent: {path} not found")
    frame = pl.read_parquet(path)
    kinds = {n: k for n, _, _, k in CASES}
    for name, params, output, column in REFERENCE_COLUMNS:
        assert column in frame.columns, f"{column} is not in {path.name}"
        ref = frame[column].fill_null(np.nan).to_numpy().astype(float)
        scale = _scale(kinds.get(name, "price"), frame, ref)
        assert_close(batch_column(name, frame, output, **params), ref, scale,
                     f"{name}.{output} batch on {dataset}")
        assert_close(incremental_column(name, frame, output, **params), ref, scale,
                     f"{name}.{output} incremental on {dataset}")
