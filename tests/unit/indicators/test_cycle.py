"""The Hilbert-transform family equals the `ta-lib` wheel (same nulls, values to 1e-9)
on random walks and on the recorded reference column, and its incremental forms
equal its batch forms."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pytest
import talib
from hypothesis import strategies as st

from runner.errors import ConfigError
from runner.indicators.api import compute, incremental
from runner.indicators.cycle import incremental as inc
from runner.indicators.cycle import kernels
from tests.unit.indicators.oracle import (
    Case,
    Reference,
    case_test,
    parity_test,
    reference_test,
    walk,
)


def _blank(values: np.ndarray, lookback: int) -> np.ndarray:
    """HT_TRENDMODE returns integers, so the wrapper fills its lookback with 0, not NaN."""
    out = np.asarray(values, dtype=float)
    out[:lookback] = np.nan
    return out


def _mama(fast: float, slow: float) -> Case:
    return Case("mama", {"fast_limit": fast, "slow_limit": slow},
                {o: (lambda d, i=i: talib.MAMA(d["close"], fast, slow)[i])
                 for i, o in enumerate(("mama", "fama"))}, "price")


CASES: list[Case] = [
    Case("ht_trendline", {}, {"value": lambda d: talib.HT_TRENDLINE(d["close"])}, "price"),
    Case("ht_dcperiod", {}, {"value": lambda d: talib.HT_DCPERIOD(d["close"])}, "unit"),
    Case("ht_dcphase", {}, {"value": lambda d: talib.HT_DCPHASE(d["close"])}, "self"),
    Case("ht_phasor", {}, {o: (lambda d, i=i: talib.HT_PHASOR(d["close"])[i])
                           for i, o in enumerate(("inphase", "quadrature"))}, "self"),
    Case("ht_sine", {}, {o: (lambda d, i=i: talib.HT_SINE(d["close"])[i])
                         for i, o in enumerate(("sine", "leadsine"))}, "unit"),
    Case("ht_trendmode", {}, {"value": lambda d: _blank(talib.HT_TRENDMODE(d["close"]), 63)},
         "unit"),
    _mama(0.5, 0.05),
    _mama(0.3, 0.1),
    _mama(0.99, 0.01),
]
REFERENCES: list[Reference] = [
    Reference("ht_trendline", {}, "value", "ht_trendline"),
]

test_equal_to_talib_on_random_walks = case_test(CASES)
test_equal_to_recorded_talib_reference = reference_test(REFERENCES)


def _mama_limits(pair: tuple[float, float]) -> dict[str, Any]:
    low, high = sorted(pair)
    return {"fast_limit": high, "slow_limit": low}


PARITY: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    **dict.fromkeys(("ht_trendline", "ht_dcperiod", "ht_dcphase", "ht_phasor", "ht_sine",
                     "ht_trendmode"), st.just({})),
    "mama": st.tuples(st.floats(0.01, 0.99), st.floats(0.01, 0.99))
    .filter(lambda t: t[0] != t[1]).map(_mama_limits),
}

test_incremental_equals_batch = parity_test(PARITY, max_examples=10)


@pytest.mark.parametrize("params", [{"fast_limit": 0.05, "slow_limit": 0.05},
                                    {"fast_limit": 0.1, "slow_limit": 0.5},
                                    {"fast_limit": 1.0}, {"slow_limit": 0.001}])
def test_mama_rejects_limits_outside_talib_ranges(params: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        incremental("mama", **params)


def test_lookbacks_match_talib() -> None:
    from talib import abstract

    from runner.indicators.api import default_registry

    indicators = default_registry().indicators
    for name in ("ht_trendline", "ht_dcperiod", "ht_dcphase", "ht_phasor", "ht_sine",
                 "ht_trendmode", "mama"):
        p = indicators[name].params()
        assert indicators[name].lookback(p) == abstract.Function(name.upper()).lookback


def test_fma_is_rounded_once_in_both_forms() -> None:
    """The pure-Python fma and the numba intrinsic agree bit for bit, and differ from
    a separately rounded multiply-add where they should."""
    rng = random.Random(7)
    for _ in range(2000):
        x, y, z = (rng.uniform(-1e3, 1e3) for _ in range(3))
        assert inc.fma(x, y, z) == kernels.fma_check(x, y, z)
    x = 1.0 + 2.0 ** -30
    assert inc.fma(x, x, -1.0) == 2.0 ** -29 + 2.0 ** -60  # x*x - 1 would lose 2^-60
    assert inc.fma(math.inf, 1.0, 1.0) == math.inf


def test_short_series_are_all_null() -> None:
    frame = walk(40, seed=3)
    for name, outputs in (("ht_dcperiod", ("value",)), ("ht_trendline", ("value",)),
                          ("mama", ("mama", "fama"))):
        result = compute(name, frame)
        assert result.height == 40
        for o in outputs:
            nulls = result[o].null_count()
            assert nulls == (40 if name == "ht_trendline" else 32)
