"""Shared helpers for comparing our indicators with the `ta-lib` wheel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from runner.indicators.api import compute, incremental

REL = 1e-9


def walk(n: int, *, seed: int, scale: float = 100.0, flat: bool = False,
         zero_volume: bool = False) -> pl.DataFrame:
    """A geometric random walk with OHLCV; optionally flat stretches and no volume."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(0, 0.01, n)
    if flat:
        for start in rng.integers(0, n - 40, 5):
            steps[start:start + 30] = 0.0
    close = scale * np.exp(np.cumsum(steps))
    open_ = np.concatenate([[close[0]], close[:-1]])
    wick = np.abs(rng.normal(0, 0.004, n))
    if flat:
        wick[steps == 0.0] = 0.0
    high = np.maximum(open_, close) * (1 + wick)
    low = np.minimum(open_, close) * (1 - wick)
    volume = np.zeros(n) if zero_volume else rng.integers(1, 1000, n).astype(float)
    return pl.DataFrame({"open": open_, "high": high, "low": low, "close": close,
                         "volume": volume})


def as_array(values: Any) -> np.ndarray:
    out: np.ndarray = np.array([np.nan if v is None else v for v in values], dtype=float)
    return out


def batch_column(name: str, frame: pl.DataFrame, output: str, **params: Any) -> np.ndarray:
    return as_array(compute(name, frame, **params)[output].to_list())


def incremental_column(name: str, frame: pl.DataFrame, output: str,
                       **params: Any) -> np.ndarray:
    ind = incremental(name, **params)
    return as_array(ind.update(row)[output] for row in frame.iter_rows(named=True))


def assert_close(ours: np.ndarray, ref: np.ndarray, scale: float, what: str) -> None:
    """Same null positions; values within 1e-9 relative, or 1e-9 of the series'
    scale near zero (an oscillator crossing zero has no meaningful relative error)."""
    ref = np.asarray(ref, dtype=float)
    assert np.array_equal(np.isnan(ours), np.isnan(ref)), (
        f"{what}: null positions differ: ours first value at {np.argmin(np.isnan(ours))}, "
        f"TA-Lib at {np.argmin(np.isnan(ref))}")
    ok = ~np.isnan(ref)
    tol = np.maximum(REL * np.abs(ref[ok]), REL * scale)
    err = np.abs(ours[ok] - ref[ok])
    worst = int(np.argmax(err - tol)) if err.size else 0
    assert (err <= tol).all(), \
        f"{what}: off by {err[worst]:.3g} at row {worst} (tol {tol[worst]:.3g})"


Oracle = Callable[[dict[str, np.ndarray], dict[str, Any]], tuple[np.ndarray, ...]]
