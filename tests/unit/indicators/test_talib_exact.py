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
]
FRAMES = {
    "walk": walk(4000, seed=1),
    "flat-zero-volume": walk(4000, seed=2, flat=True, zero_volume=True),
    "huge": walk(4000, seed=3, scale=2.5e6),
    "tiny": walk(4000, seed=4, scale=3e-5),
}


def _arrays(frame: pl.DataFrame) -> dict[str, np.ndarray]:
    return {c: frame[c].to_numpy().astype(float) for c in frame.columns}


def _scale(kind: str, frame: pl.DataFrame) -> float:
    return 100.0 if kind == "oscillator" else float(frame["close"].abs().median())  # type: ignore[arg-type]


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
        scale = _scale(kind, frame)
        assert_close(batch_column(name, frame, output, **params), ref, scale,
                     f"{name}.{output} batch on {frame_name}")
        assert_close(incremental_column(name, frame, output, **params), ref, scale,
                     f"{name}.{output} incremental on {frame_name}")


REFERENCE_COLUMNS = [
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
]


@pytest.mark.parametrize("dataset", ["orcl_1995_2014_daily", "ethbtc_2018_5m"])
def test_equal_to_recorded_talib_reference(dataset: str) -> None:
    path = SHARED / f"{dataset}.talib.parquet"
    if not path.exists():
        pytest.skip(f"../shared/data is absent: {path} not found")
    frame = pl.read_parquet(path)
    for name, params, output, column in REFERENCE_COLUMNS:
        ref = frame[column].fill_null(np.nan).to_numpy().astype(float)
        kind = "oscillator" if name in ("rsi", "stoch") else "price"
        scale = _scale(kind, frame)
        assert_close(batch_column(name, frame, output, **params), ref, scale,
                     f"{name}.{output} batch on {dataset}")
        assert_close(incremental_column(name, frame, output, **params), ref, scale,
                     f"{name}.{output} incremental on {dataset}")
