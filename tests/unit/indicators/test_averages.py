"""The averages family equals the `ta-lib` wheel (same nulls, values to 1e-9) on random
walks and on the recorded reference columns, and its incremental forms equal its batch
forms for any valid params."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.errors import ConfigError
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

MA_TYPES = {"sma": 0, "ema": 1, "wma": 2, "dema": 3, "tema": 4, "trima": 5, "kama": 6,
            "t3": 8, "hma": 9, "zlema": 12, "rma": 13}
KINDS = st.sampled_from(sorted(MA_TYPES))


def _single(name: str, fn: str, period: int) -> Case:
    return Case(name, {"period": period},
                {"value": lambda d: getattr(talib, fn)(d["close"], period)}, "price")


def _ma(period: int, kind: str) -> Case:
    return Case("ma", {"period": period, "ma": kind},
                {"value": lambda d: talib.MA(d["close"], period, MA_TYPES[kind])}, "price")


def _two(name: str, fast: int, slow: int, kind: str) -> Case:
    fn = getattr(talib, name.upper())
    column = "volume" if name == "pvo" else "close"
    return Case(name, {"fast": fast, "slow": slow, "ma": kind},
                {"value": lambda d: fn(d[column], fast, slow, MA_TYPES[kind])},
                "price" if name == "apo" else "oscillator")


def _macd(name: str, params: dict[str, Any], call: Any) -> Case:
    return Case(name, params, {o: (lambda d, i=i: call(d)[i])
                               for i, o in enumerate(("macd", "signal", "hist"))}, "price")


def _hlc(name: str, params: dict[str, Any], outputs: tuple[str, ...], call: Any) -> Case:
    return Case(name, params, {o: (lambda d, i=i: call(d)[i]) for i, o in enumerate(outputs)},
                "oscillator")


CASES: list[Case] = [
    *(_single(name, name.upper(), period)
      for name in ("dema", "tema", "trima", "kama", "rma", "zlema") for period in (30, 7)),
    _single("trima", "TRIMA", 8),
    _single("kama", "KAMA", 2),
    _single("zlema", "ZLEMA", 2),
    _single("dema", "DEMA", 1),
    *(_single("hma", "HMA", period) for period in (20, 9, 3)),
    Case("t3", {"period": 5, "vfactor": 0.7},
         {"value": lambda d: talib.T3(d["close"], 5, 0.7)}, "price"),
    Case("t3", {"period": 12, "vfactor": 0.3},
         {"value": lambda d: talib.T3(d["close"], 12, 0.3)}, "price"),
    _ma(30, "sma"),
    *(_ma(10, kind) for kind in MA_TYPES),
    _ma(1, "kama"),
    _ma(2, "t3"),
    # the defaults: 12/26 EMAs, TA-Lib's APO/PPO matype 1
    *(Case(name, {}, {"value": (lambda d, fn=fn: fn(d["close"]))},
           "price" if name == "apo" else "oscillator")
      for name, fn in (("apo", talib.APO), ("ppo", talib.PPO))),
    *(_two(name, fast, slow, kind) for name in ("apo", "ppo")
      for fast, slow, kind in ((12, 26, "sma"), (5, 13, "ema"), (5, 13, "kama"),
                               (3, 10, "t3"), (9, 20, "hma"))),
    # not hma: an HMA of volume can dip to ~0 and the percentage then amplifies
    # TA-Lib's own rounding beyond 1e-9
    *(_two("pvo", fast, slow, kind) for fast, slow, kind in ((12, 26, "ema"), (5, 13, "sma"),
                                                            (4, 9, "zlema"))),
    _macd("macdfix", {"signal": 9}, lambda d: talib.MACDFIX(d["close"], 9)),
    _macd("macdfix", {"signal": 1}, lambda d: talib.MACDFIX(d["close"], 1)),
    *(_macd("macdext", {"fast": f, "fast_ma": fm, "slow": s, "slow_ma": sm, "signal": g,
                        "signal_ma": gm},
            lambda d, f=f, fm=fm, s=s, sm=sm, g=g, gm=gm: talib.MACDEXT(
                d["close"], f, MA_TYPES[fm], s, MA_TYPES[sm], g, MA_TYPES[gm]))
      for f, fm, s, sm, g, gm in ((12, "sma", 26, "sma", 9, "sma"),
                                  (12, "ema", 26, "kama", 9, "t3"),
                                  (5, "t3", 20, "ema", 4, "rma"))),
    *(_hlc("stochf", {"k_period": k, "d_period": dp, "d_ma": dm}, ("k", "d"),
           lambda d, k=k, dp=dp, dm=dm: talib.STOCHF(d["high"], d["low"], d["close"], k, dp,
                                                     MA_TYPES[dm]))
      for k, dp, dm in ((5, 3, "sma"), (14, 5, "ema"), (9, 4, "t3"))),
    *(Case("stochrsi", {"period": n, "k_period": k, "d_period": dp, "d_ma": dm},
           {o: (lambda d, i=i, n=n, k=k, dp=dp, dm=dm: talib.STOCHRSI(
               d["close"], n, k, dp, MA_TYPES[dm])[i]) for i, o in enumerate(("k", "d"))},
           "oscillator")
      for n, k, dp, dm in ((14, 5, 3, "sma"), (10, 14, 4, "ema"), (14, 5, 3, "tema"))),
    *(_hlc("kdj", {"k_period": k, "k_smooth": ks, "k_ma": km, "d_period": dp, "d_ma": dm},
           ("k", "d", "j"),
           lambda d, k=k, ks=ks, km=km, dp=dp, dm=dm: talib.KDJ(
               d["high"], d["low"], d["close"], k, ks, MA_TYPES[km], dp, MA_TYPES[dm]))
      for k, ks, km, dp, dm in ((9, 3, "rma", 3, "rma"), (14, 3, "sma", 3, "ema"),
                                (5, 4, "hma", 2, "dema"))),
]

REFERENCES: list[Reference] = [
    Reference("dema", {"period": 20}, "value", "dema_20"),
    Reference("tema", {"period": 20}, "value", "tema_20"),
    Reference("trima", {"period": 20}, "value", "trima_20"),
    Reference("kama", {"period": 30}, "value", "kama_30"),
    Reference("t3", {"period": 5, "vfactor": 0.7}, "value", "t3_5"),
    Reference("stochf", {}, "k", "stochf_fastk", "oscillator"),
    Reference("stochf", {}, "d", "stochf_fastd", "oscillator"),
    Reference("stochrsi", {}, "k", "stochrsi_fastk", "oscillator"),
    Reference("stochrsi", {}, "d", "stochrsi_fastd", "oscillator"),
    # recorded with matype=0; our default is TA-Lib's (EMA), so SMA is asked for
    Reference("ppo", {"fast": 12, "slow": 26, "ma": "sma"}, "value", "ppo", "oscillator"),
    Reference("apo", {"fast": 12, "slow": 26, "ma": "sma"}, "value", "apo"),
]

test_equal_to_talib_on_random_walks = case_test(CASES)
test_equal_to_recorded_talib_reference = reference_test(REFERENCES)

PERIOD = st.integers(1, 40)
PARITY: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    **dict.fromkeys(("dema", "tema", "trima", "kama", "rma", "hma", "zlema"),
                    st.fixed_dictionaries({"period": PERIOD})),
    "t3": st.fixed_dictionaries({"period": st.integers(1, 20),
                                 "vfactor": st.floats(0.0, 1.0, allow_nan=False)}),
    "ma": st.fixed_dictionaries({"period": PERIOD, "ma": KINDS}),
    **dict.fromkeys(("apo", "ppo", "pvo"), st.tuples(st.integers(2, 20), st.integers(1, 20),
                                                    KINDS).map(
        lambda t: {"fast": t[0], "slow": t[0] + t[1], "ma": t[2]})),
    "macdfix": st.fixed_dictionaries({"signal": st.integers(1, 20)}),
    "macdext": st.tuples(st.integers(2, 15), st.integers(1, 15), st.integers(1, 10), KINDS,
                         KINDS, KINDS).map(
        lambda t: {"fast": t[0], "slow": t[0] + t[1], "signal": t[2], "fast_ma": t[3],
                   "slow_ma": t[4], "signal_ma": t[5]}),
    "stochf": st.fixed_dictionaries({"k_period": st.integers(1, 20),
                                     "d_period": st.integers(1, 10), "d_ma": KINDS}),
    "stochrsi": st.fixed_dictionaries({"period": st.integers(2, 20),
                                       "k_period": st.integers(1, 20),
                                       "d_period": st.integers(1, 10), "d_ma": KINDS}),
    "kdj": st.fixed_dictionaries({"k_period": st.integers(1, 20),
                                  "k_smooth": st.integers(1, 8), "k_ma": KINDS,
                                  "d_period": st.integers(1, 8), "d_ma": KINDS}),
}
test_incremental_equals_batch = parity_test(PARITY, max_examples=10)


# --- mavp: the frames get a per-bar `periods` column --------------------------------


def _periods(n: int, seed: int) -> np.ndarray:
    """Periods from below any minimum to above any maximum, with fractions (TA-Lib
    truncates them) and runs of one value, as a regime-switching input would give."""
    rng = np.random.default_rng(seed)
    values = rng.integers(-3, 45, n) + rng.random(n)
    runs = rng.random(n) < 0.7
    for i in range(1, n):
        if runs[i]:
            values[i] = values[i - 1]
    return values


def _with_periods(frame: pl.DataFrame, seed: int = 11) -> pl.DataFrame:
    return frame.with_columns(pl.Series("periods", _periods(frame.height, seed)))


def _mavp(low: int, high: int, kind: str) -> Case:
    return Case("mavp", {"min_period": low, "max_period": high, "ma": kind},
                {"value": lambda d: talib.MAVP(d["close"], d["periods"], low, high,
                                               MA_TYPES[kind])}, "price")


MAVP_CASES: list[Case] = [
    Case("mavp", {}, {"value": lambda d: talib.MAVP(d["close"], d["periods"])}, "price"),
    _mavp(5, 12, "ema"),
    _mavp(1, 7, "kama"),
    _mavp(2, 9, "t3"),
    _mavp(4, 25, "hma"),
    _mavp(3, 14, "zlema"),
    _mavp(2, 16, "trima"),
    _mavp(6, 10, "dema"),
    _mavp(2, 11, "wma"),
    _mavp(3, 8, "tema"),
    _mavp(2, 20, "rma"),
]
# not in case_test above: their frames need the `periods` column
CASES = CASES + MAVP_CASES


@pytest.mark.parametrize("frame_name", sorted(FRAMES))
@pytest.mark.parametrize("case", MAVP_CASES, ids=case_id)
def test_mavp_equal_to_talib(case: Case, frame_name: str) -> None:
    frame = _with_periods(FRAMES[frame_name])
    ref = talib_on(frame, case.outputs["value"])
    scale = float(frame["close"].abs().median())  # type: ignore[arg-type]
    for ours, form in ((batch_column("mavp", frame, "value", **case.params), "batch"),
                       (incremental_column("mavp", frame, "value", **case.params),
                        "incremental")):
        assert_close(ours, ref, scale, f"mavp {form} on {frame_name}")


def test_mavp_seeds_each_period_where_the_longest_starts() -> None:
    """TA-Lib's quirk, kept: an EMA of period 3 inside MAVP(max 10) is seeded on the
    3 bars ending at bar 9 (MAVP's first output), not on bars 0-2, so it differs
    from EMA(3) of the whole series."""
    close = np.array([1.0, 9.0, 2.0, 8.0, 3.0, 7.0, 4.0, 6.0, 5.0, 5.0, 10.0, 0.0])
    frame = pl.DataFrame({"close": close, "periods": np.full(12, 3.0)})
    # seed (6 + 5 + 5) / 3 = 16/3 at bar 9; then +0.5 (10 - v), +0.5 (0 - v)
    seed = 16.0 / 3.0
    expected = [seed, seed + 0.5 * (10.0 - seed), 0.5 * (seed + 0.5 * (10.0 - seed))]
    for form in (batch_column("mavp", frame, "value", max_period=10, ma="ema"),
                 incremental_column("mavp", frame, "value", max_period=10, ma="ema")):
        assert np.isnan(form[:9]).all()
        assert form[9:] == pytest.approx(expected, rel=1e-12)


def test_mavp_rejects_a_maximum_below_the_minimum() -> None:
    with pytest.raises(ConfigError) as info:
        batch_column("mavp", _with_periods(walk(40, seed=1)), "value", min_period=10,
                     max_period=5)
    assert "max_period (5) must be at least min_period (10)" in str(info.value)


MAVP_PARITY = st.tuples(st.integers(1, 12), st.integers(0, 20), KINDS).map(
    lambda t: {"min_period": t[0], "max_period": t[0] + t[1], "ma": t[2]})


@settings(max_examples=10, deadline=None)
@given(params=MAVP_PARITY, seed=st.integers(0, 2**16), flat=st.booleans(),
       scale=st.sampled_from([1e-4, 1.0, 100.0, 5e5]))
def test_mavp_incremental_equals_batch(params: dict[str, Any], seed: int, flat: bool,
                                       scale: float) -> None:
    frame = _with_periods(walk(300, seed=seed, flat=flat, scale=scale, gaps=True), seed)
    batch = batch_column("mavp", frame, "value", **params)
    step = incremental_column("mavp", frame, "value", **params)
    assert np.array_equal(np.isnan(batch), np.isnan(step))
    ok = ~np.isnan(batch)
    assert (np.abs(batch[ok] - step[ok]) <= np.maximum(REL * np.abs(batch[ok]),
                                                        REL * scale * 100)).all()


# checked by test_mavp_incremental_equals_batch (its frames need the `periods` column)
PARITY = {**PARITY, "mavp": MAVP_PARITY}
