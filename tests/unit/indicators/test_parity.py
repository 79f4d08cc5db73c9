"""Property: feeding bars one at a time through the incremental form gives exactly
the batch column, for random params within their valid ranges. This is what makes
paper and live trade the backtest's strategy."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.errors import ConfigError
from runner.indicators.api import compute, incremental
from runner.plugins import load_registry
from tests.unit.indicators.oracle import as_array, batch_column, incremental_column, walk

REGISTRY = load_registry(autoload=False)
IMPLEMENTED = sorted(n for n, d in REGISTRY.indicators.items()
                     if d.batch is not None and d.incremental is not None)
PERIOD = st.integers(2, 60)
PARAMS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
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


def test_every_implemented_indicator_has_a_parity_strategy() -> None:
    assert set(IMPLEMENTED) <= set(PARAMS)


@pytest.mark.parametrize("name", IMPLEMENTED)
@settings(max_examples=25, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**16), flat=st.booleans(),
       scale=st.sampled_from([1e-4, 1.0, 100.0, 5e5]))
def test_incremental_equals_batch(name: str, data: st.DataObject, seed: int, flat: bool,
                                  scale: float) -> None:
    params = data.draw(PARAMS[name])
    frame = walk(300, seed=seed, flat=flat, scale=scale)
    for output in REGISTRY.indicators[name].outputs:
        batch = batch_column(name, frame, output, **params)
        step = incremental_column(name, frame, output, **params)
        assert np.array_equal(np.isnan(batch), np.isnan(step)), (output, params)
        ok = ~np.isnan(batch)
        tol = np.maximum(1e-9 * np.abs(batch[ok]), 1e-9 * scale * 100)
        assert (np.abs(batch[ok] - step[ok]) <= tol).all(), (output, params)


def test_a_missing_bar_is_skipped_by_both_forms() -> None:
    frame = walk(60, seed=5)
    holed = frame.with_columns(
        pl.when(pl.int_range(0, pl.len()) == 30).then(None).otherwise(pl.col("close"))
        .alias("close"))
    batch = batch_column("sma", holed, "value", period=5)
    step = incremental_column("sma", holed, "value", period=5)
    assert np.isnan(batch[30]) and np.isnan(step[30])
    without = frame.filter(pl.int_range(0, pl.len()) != 30)
    expected = as_array(compute("sma", without, period=5)["value"].to_list())
    assert np.allclose(np.delete(batch, 30), expected, equal_nan=True, rtol=1e-12)
    assert np.allclose(np.delete(step, 30), expected, equal_nan=True, rtol=1e-12)


def test_params_are_validated_with_the_validators_messages() -> None:
    with pytest.raises(ConfigError) as info:
        compute("sma", walk(10, seed=1), period=1)
    assert "must be >= 2, got 1" in str(info.value)
    with pytest.raises(ConfigError) as info:
        incremental("macd", fast=26, slow=12)
    assert "slow (12) must be longer than fast (26)" in str(info.value)
    with pytest.raises(ConfigError) as info:
        incremental("smaa")
    assert 'did you mean "sma"' in str(info.value.diagnostics[0].hint)
    with pytest.raises(ConfigError) as info:
        compute("sma", walk(10, seed=1), perod=3)
    assert 'unknown key "perod"' in str(info.value)


def test_incremental_update_returns_named_outputs() -> None:
    macd = incremental("macd", fast=3, slow=5, signal=2)
    outs = [macd.update({"close": float(c)}) for c in range(1, 10)]
    assert set(outs[0]) == {"macd", "signal", "hist"}
    assert outs[0]["macd"] is None and outs[-1]["macd"] is not None
