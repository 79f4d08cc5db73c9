"""The catalogue-wide contract: every implemented indicator has a parity property
and, when TA-Lib defines it, a TA-Lib comparison; plus the API's own behaviour
(missing bars, param errors, named outputs)."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import numpy as np
import polars as pl
import pytest

import tests.unit.indicators as family_tests
from runner.errors import ConfigError
from runner.indicators.api import compute, incremental
from runner.plugins import load_registry
from tests.unit.indicators.oracle import as_array, batch_column, incremental_column, walk

REGISTRY = load_registry(autoload=False)
BUILTIN = {n: d for n, d in REGISTRY.indicators.items()
           if REGISTRY.owners.get(("indicators", n)) == "runner.indicators"}


def _family_modules() -> list[ModuleType]:
    return [importlib.import_module(f"{family_tests.__name__}.{m.name}")
            for m in pkgutil.iter_modules(family_tests.__path__) if m.name.startswith("test_")]


def test_every_builtin_indicator_has_both_forms_and_a_parity_property() -> None:
    covered = {name for module in _family_modules() for name in getattr(module, "PARITY", {})}
    missing_forms = sorted(n for n, d in BUILTIN.items()
                           if d.batch is None or d.incremental is None)
    assert not missing_forms, f"without a batch or incremental form: {missing_forms}"
    assert not sorted(set(BUILTIN) - covered), "no parity property for these"


def test_every_talib_indicator_is_compared_with_talib() -> None:
    compared = {case.name for module in _family_modules() for case in getattr(module, "CASES", [])}
    talib_defined = {n for n, d in BUILTIN.items() if (d.reference or "").startswith("TA-Lib")}
    assert sorted(talib_defined - compared) == []


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


def test_an_indicator_of_an_indicator_equals_talib_chained() -> None:
    """Pipelines: an EMA over RSI output starts where the RSI does (its warm-up nulls
    are bars the EMA never saw), which is also how TA-Lib treats leading NaNs."""
    import talib

    frame = walk(500, seed=9)
    rsi = compute("rsi", frame, period=14)["value"]
    chained = compute("ema", pl.DataFrame({"close": rsi}), period=10)["value"]
    expected = talib.EMA(talib.RSI(frame["close"].to_numpy(), 14), 10)
    ours = as_array(chained.to_list())
    assert np.array_equal(np.isnan(ours), np.isnan(expected))
    assert np.allclose(ours, expected, rtol=1e-12, equal_nan=True)
    step_rsi = incremental("rsi", period=14)
    step_ema = incremental("ema", period=10)
    steps = [step_ema.update({"close": step_rsi.update(bar)["value"]})["value"]
             for bar in frame.iter_rows(named=True)]
    assert np.allclose(as_array(steps), expected, rtol=1e-12, equal_nan=True)


def test_bad_frames_get_errors_not_tracebacks() -> None:
    with pytest.raises(ConfigError) as info:
        compute("atr", walk(10, seed=1).drop("high"))
    assert "the frame has no column high" in str(info.value)
    with pytest.raises(ConfigError) as info:
        compute("sma", pl.DataFrame({"close": ["1", "2"]}))
    assert "indicator inputs must be numeric: close (String)" in str(info.value)
    empty = compute("macd", walk(10, seed=1).head(0))
    assert empty.columns == ["macd", "signal", "hist"] and empty.height == 0
    short = compute("sma", walk(3, seed=1), period=10)
    assert short["value"].null_count() == 3


@pytest.mark.parametrize("rows", [0, 1, 2, 5])
def test_every_indicator_survives_frames_shorter_than_its_warm_up(rows: int) -> None:
    """Kernels index without bounds checks: frames shorter than any window must give
    all-null columns of the right length, in both forms, not garbage or a crash."""
    frame = walk(max(rows, 1), seed=3).head(rows).with_columns(
        time=pl.int_range(0, pl.len()).cast(pl.Float64) * 3_600_000.0,
        benchmark=pl.col("open"), other=pl.col("open"), periods=pl.lit(5.0))
    for name, d in sorted(BUILTIN.items()):
        out = compute(name, frame)
        assert out.columns == list(d.outputs) and out.height == rows, name
        warm = d.lookback(d.params.model_validate({}))
        if rows <= warm:
            assert all(out[c].null_count() == rows for c in out.columns), name
        ind = incremental(name)
        for bar in frame.iter_rows(named=True):
            assert set(ind.update(bar)) == set(d.outputs), name
