"""The statistic family equals the `ta-lib` wheel (same nulls, values to 1e-9) on
random walks and on the recorded reference columns, its incremental forms equal its
batch forms for any valid params, and the z-score (not in TA-Lib) matches a
hand-checked vector."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.indicators.oracle import (
    FRAMES,
    REL,
    Case,
    Reference,
    assert_close,
    batch_column,
    case_id,
    case_test,
    incremental_column,
    parity_test,
    reference_test,
    talib_on,
    walk,
)


def _indices(values: np.ndarray, lookback: int) -> np.ndarray:
    """TA-Lib's index outputs are int32 with 0 during the lookback; ours are null."""
    out = np.asarray(values, dtype=float)
    out[:lookback] = np.nan
    return out


def _line_cases(name: str, fn: Any, scale: str) -> list[Case]:
    return [Case(name, {"period": n}, {"value": lambda d, n=n: fn(d["close"], n)}, scale)
            for n in (14, 5, 2)]


CASES: list[Case] = [
    Case("stddev", {}, {"value": lambda d: talib.STDDEV(d["close"], 5, 1.0)}),
    Case("stddev", {"period": 20, "deviations": 2.5},
         {"value": lambda d: talib.STDDEV(d["close"], 20, 2.5)}),
    Case("var", {}, {"value": lambda d: talib.VAR(d["close"], 5)}, "self"),
    Case("var", {"period": 20}, {"value": lambda d: talib.VAR(d["close"], 20)}, "self"),
    Case("var", {"period": 1}, {"value": lambda d: talib.VAR(d["close"], 1)}, "self"),
    Case("avgdev", {}, {"value": lambda d: talib.AVGDEV(d["close"], 14)}),
    Case("avgdev", {"period": 3}, {"value": lambda d: talib.AVGDEV(d["close"], 3)}),
    *_line_cases("linearreg", talib.LINEARREG, "price"),
    *_line_cases("linearreg_slope", talib.LINEARREG_SLOPE, "price"),
    *_line_cases("linearreg_angle", talib.LINEARREG_ANGLE, "oscillator"),
    *_line_cases("linearreg_intercept", talib.LINEARREG_INTERCEPT, "price"),
    *_line_cases("tsf", talib.TSF, "price"),
    Case("fosc", {}, {"value": lambda d: talib.FOSC(d["close"], 5)}, "oscillator"),
    Case("fosc", {"period": 14}, {"value": lambda d: talib.FOSC(d["close"], 14)}, "oscillator"),
    Case("maxindex", {}, {"value": lambda d: _indices(talib.MAXINDEX(d["close"], 30), 29)},
         "self"),
    Case("maxindex", {"period": 2}, {"value": lambda d: _indices(talib.MAXINDEX(d["close"], 2),
                                                                 1)}, "self"),
    Case("minindex", {}, {"value": lambda d: _indices(talib.MININDEX(d["close"], 30), 29)},
         "self"),
    Case("minindex", {"period": 7}, {"value": lambda d: _indices(talib.MININDEX(d["close"], 7),
                                                                 6)}, "self"),
    Case("minmax", {}, {o: (lambda d, i=i: talib.MINMAX(d["close"], 30)[i])
                        for i, o in enumerate(("min", "max"))}),
    Case("minmax", {"period": 3}, {o: (lambda d, i=i: talib.MINMAX(d["close"], 3)[i])
                                   for i, o in enumerate(("min", "max"))}),
    Case("minmaxindex", {}, {o: (lambda d, i=i: _indices(talib.MINMAXINDEX(d["close"], 30)[i],
                                                          29))
                             for i, o in enumerate(("min", "max"))}, "self"),
    Case("minmaxindex", {"period": 5},
         {o: (lambda d, i=i: _indices(talib.MINMAXINDEX(d["close"], 5)[i], 4))
          for i, o in enumerate(("min", "max"))}, "self"),
    Case("percentile", {}, {"value": lambda d: talib.PERCENTILE(d["close"], 30, 50.0)}),
    Case("percentile", {"period": 7, "percentile": 33.0},
         {"value": lambda d: talib.PERCENTILE(d["close"], 7, 33.0)}),
    Case("percentile", {"period": 120, "percentile": 90.0},
         {"value": lambda d: talib.PERCENTILE(d["close"], 120, 90.0)}),
    Case("percentile", {"period": 10, "percentile": 0.0},
         {"value": lambda d: talib.PERCENTILE(d["close"], 10, 0.0)}),
    Case("percent_rank", {}, {"value": lambda d: talib.PERCENTRANK(d["close"], 100)},
         "oscillator"),
    Case("percent_rank", {"period": 5}, {"value": lambda d: talib.PERCENTRANK(d["close"], 5)},
         "oscillator"),
]
REFERENCES: list[Reference] = [
    Reference("stddev", {"period": 20, "deviations": 1.0}, "value", "stddev_20"),
    Reference("var", {"period": 20}, "value", "var_20", "self"),
    Reference("linearreg", {"period": 14}, "value", "linearreg_14"),
    Reference("linearreg_slope", {"period": 14}, "value", "linearreg_slope_14"),
]

test_equal_to_talib_on_random_walks = case_test(CASES)
test_equal_to_recorded_talib_reference = reference_test(REFERENCES)


# --- two-series indicators: the frames get a second, independent walk ------------

def _paired(frame_name: str, role: str) -> pl.DataFrame:
    """The named frame plus a second series `role`, an independent walk at the same
    price level (flat stretches too on the flat frame)."""
    frame = FRAMES[frame_name]
    level = float(frame["close"].drop_nulls()[0])
    second = walk(frame.height, seed=77, scale=level, flat=frame_name.startswith("flat"))
    return frame.with_columns(second["close"].alias(role))


SECOND = {"beta": "benchmark", "correl": "other"}
PAIRED_CASES: list[Case] = [
    # ours: beta of close against benchmark = TA-Lib BETA(benchmark, close)
    Case("beta", {}, {"value": lambda d: talib.BETA(d["benchmark"], d["close"], 5)}, "unit"),
    Case("beta", {"period": 30},
         {"value": lambda d: talib.BETA(d["benchmark"], d["close"], 30)}, "unit"),
    Case("correl", {}, {"value": lambda d: talib.CORREL(d["close"], d["other"], 30)}, "unit"),
    Case("correl", {"period": 5}, {"value": lambda d: talib.CORREL(d["close"], d["other"], 5)},
         "unit"),
]
# not in case_test above: their frames need the second column (_paired)
CASES = CASES + PAIRED_CASES


@pytest.mark.parametrize("frame_name", sorted(FRAMES))
@pytest.mark.parametrize("case", PAIRED_CASES, ids=case_id)
def test_two_series_equal_to_talib(case: Case, frame_name: str) -> None:
    frame = _paired(frame_name, SECOND[case.name])
    ref = talib_on(frame, case.outputs["value"])
    for ours, form in ((batch_column(case.name, frame, "value", **case.params), "batch"),
                       (incremental_column(case.name, frame, "value", **case.params),
                        "incremental")):
        assert_close(ours, ref, 1.0, f"{case.name} {form} on {frame_name}")


def test_beta_is_the_regression_of_the_series_on_the_benchmark() -> None:
    """A series whose returns are exactly twice the benchmark's has beta 2."""
    bench = walk(200, seed=3)["close"].to_numpy()
    returns = np.diff(bench) / bench[:-1]
    close = np.concatenate([[50.0], 50.0 * np.cumprod(1.0 + 2.0 * returns)])
    frame = pl.DataFrame({"close": close, "benchmark": bench})
    value = batch_column("beta", frame, "value", period=20)
    assert np.allclose(value[20:], 2.0, rtol=1e-9)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), flat=st.booleans(),
       scale=st.sampled_from([1e-4, 1.0, 100.0, 5e5]), data=st.data())
def test_two_series_incremental_equals_batch(seed: int, flat: bool, scale: float,
                                              data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(SECOND)))
    role = SECOND[name]
    params = data.draw(PARITY[name])
    frame = walk(300, seed=seed, flat=flat, scale=scale, gaps=True)
    second = walk(300, seed=seed + 1, flat=flat, scale=scale)["close"]
    if data.draw(st.booleans()):
        second = frame["close"] * 1.5  # perfectly correlated: the degenerate branches
    frame = frame.with_columns(second.alias(role))
    batch = batch_column(name, frame, "value", **params)
    step = incremental_column(name, frame, "value", **params)
    assert np.array_equal(np.isnan(batch), np.isnan(step))
    ok = ~np.isnan(batch)
    assert (np.abs(batch[ok] - step[ok]) <= np.maximum(REL * np.abs(batch[ok]), REL)).all()


# --- zscore: not in TA-Lib ---------------------------------------------------------

def test_zscore_hand_checked_vector() -> None:
    # period 4, population statistics over the 4 closes ending at the bar:
    # [2, 4, 4, 4]: mean 3.5, var (2.25 + 3 * 0.25) / 4 = 0.75, z = 0.5 / sqrt(0.75)
    # [4, 4, 4, 5]: mean 4.25, var (3 * 0.0625 + 0.5625) / 4 = 0.1875,
    #               z = 0.75 / sqrt(0.1875) = sqrt(3)
    # [4, 4, 5, 7]: mean 5, var (1 + 1 + 0 + 4) / 4 = 1.5, z = 2 / sqrt(1.5)
    # [4, 5, 7, 9]: mean 6.25, var (5.0625 + 1.5625 + 0.5625 + 7.5625) / 4 = 3.6875,
    #               z = 2.75 / sqrt(3.6875)
    # [9, 9, 9, 9]: flat window, z = 0 by definition
    closes = [2.0, 4.0, 4.0, 4.0, 5.0, 7.0, 9.0, 9.0, 9.0, 9.0, 9.0]
    expected = [None, None, None, 0.5 / math.sqrt(0.75), math.sqrt(3.0), 2.0 / math.sqrt(1.5),
                2.75 / math.sqrt(3.6875), None, None, None, 0.0]
    frame = pl.DataFrame({"close": closes})
    for form in (batch_column("zscore", frame, "value", period=4),
                 incremental_column("zscore", frame, "value", period=4)):
        for got, want in zip(form, expected, strict=True):
            if want is not None:
                assert got == pytest.approx(want, rel=1e-12, abs=1e-12)
        assert np.isnan(form[:3]).all() and not np.isnan(form[3:]).any()


def test_zscore_default_period_is_20() -> None:
    frame = walk(60, seed=9)
    value = batch_column("zscore", frame, "value")
    assert np.isnan(value[:19]).all() and not np.isnan(value[19:]).any()
    x = frame["close"].to_numpy()[:20]
    assert value[19] == pytest.approx((x[-1] - x.mean()) / x.std(), rel=1e-9)


def test_var_has_no_deviations_param() -> None:
    """TA-Lib's VAR ignores its nbdev argument; we refuse it rather than ignore it."""
    from runner.errors import ConfigError

    with pytest.raises(ConfigError):
        batch_column("var", walk(30, seed=1), "value", period=5, deviations=2.0)


PERIOD = st.integers(2, 60)
PARITY: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "stddev": st.fixed_dictionaries({"period": PERIOD,
                                     "deviations": st.floats(0.1, 4.0, allow_nan=False)}),
    "var": st.fixed_dictionaries({"period": st.integers(1, 60)}),
    **dict.fromkeys(("avgdev", "linearreg", "linearreg_slope", "linearreg_angle",
                     "linearreg_intercept", "tsf", "fosc", "maxindex", "minindex", "minmax",
                     "minmaxindex", "percent_rank", "zscore"),
                    st.fixed_dictionaries({"period": PERIOD})),
    "percentile": st.fixed_dictionaries({"period": PERIOD,
                                         "percentile": st.floats(0.0, 100.0,
                                                                 allow_nan=False)}),
}
test_incremental_equals_batch = parity_test(PARITY, max_examples=10)
# checked by test_two_series_incremental_equals_batch (their frames need a 2nd column)
PARITY = {**PARITY, "beta": st.fixed_dictionaries({"period": PERIOD}),
          "correl": st.fixed_dictionaries({"period": PERIOD})}
