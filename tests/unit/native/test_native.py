"""The kernels compiled ahead of time (`runner.native`) compute exactly what numba's JIT
computes from the same source, are used only for arguments of their exact types, are
ignored when stale, and spare a backtest importing numba at all."""

from __future__ import annotations

import hashlib
import importlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.config.models import Strategy
from runner.engine.fastpath import simulate_fast
from runner.native import loader
from runner.native.build import is_fresh, manifest_sources
from runner.native.exports import EXPORTS, Export
from runner.native.loader import Kernel, argument_check, compiled_kernels, sources_unchanged
from runner.plugins import Registry
from tests.unit.engine.test_fastpath import BASE, sim_inputs

ROOT = Path(__file__).resolve().parents[3]
BUILT = bool(compiled_kernels())
needs_build = pytest.mark.skipif(
    not BUILT, reason="the compiled kernels are not built or are stale (make setup runs "
    "`python -m runner.native.build`); every kernel runs through numba's JIT")
CORE = [e for e in EXPORTS if e.module == "runner.indicators.core.kernels"]
SERIES = [e for e in EXPORTS if e.name != "run_kernel"]  # arrays of one length and numbers


def jit(export: Export) -> Any:
    return getattr(importlib.import_module(export.module), export.name)


def same_bits(a: Any, b: Any) -> None:
    """Equal to the last bit (NaN payloads and signed zeros included)."""
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            same_bits(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes()
    else:
        assert type(a) is type(b) and (a == b or (a != a and b != b))


@st.composite
def series_arguments(draw: st.DrawFn, export: Export) -> tuple[Any, ...]:
    """Arguments of an indicator's or a sum's exported types: price-like arrays of one
    length (some NaN, some repeated values), periods within and beyond that length."""
    n = draw(st.integers(0, 60))
    walk = 100.0 + np.cumsum(np.array(draw(st.lists(
        st.sampled_from([-1.5, -0.25, 0.0, 0.0, 0.25, 1.0, 3.0]), min_size=n, max_size=n))))
    args: list[Any] = []
    for spec in export.args:
        if spec == "f8[::1]":
            noise = np.array(draw(st.lists(st.floats(-0.5, 0.5), min_size=n, max_size=n)))
            values = np.ascontiguousarray(walk + noise, dtype=np.float64)
            if n and draw(st.booleans()):
                values[draw(st.integers(0, n - 1))] = np.nan
            args.append(values)
        elif spec == "i8":
            args.append(draw(st.integers(1, 70)))
        else:
            assert spec == "f8", spec
            args.append(draw(st.sampled_from([0.5, 1.0, 2.0, 2.0 / 11.0])))
    return tuple(args)


@needs_build
def test_every_export_is_built_and_fresh() -> None:
    assert is_fresh()
    assert set(compiled_kernels()) == {(e.module, e.name) for e in EXPORTS}


@needs_build
@pytest.mark.parametrize("export", SERIES, ids=lambda e: e.name)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_series_kernels_equal_the_jit(export: Export, data: st.DataObject) -> None:
    args = data.draw(series_arguments(export))
    compiled = compiled_kernels()[(export.module, export.name)]
    try:
        expected = jit(export)(*args)
    except Exception as exc:
        with pytest.raises(type(exc)):
            compiled(*args)
        return
    same_bits(compiled(*args), expected)


@pytest.fixture(scope="module")
def base_strategy(registry: Registry) -> Strategy:
    from runner.config.validate import validate_text

    validated = validate_text(BASE, "fast.yaml", registry)
    assert validated.strategy is not None
    return validated.strategy


@needs_build
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fast_path_kernel_equals_the_jit(base_strategy: Strategy, data: st.DataObject,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path's whole result with the compiled `run_kernel`, then with the JIT's
    (the compiled kernels hidden), on the random inputs `test_fastpath` uses."""
    inp = data.draw(sim_inputs(base_strategy))
    compiled = simulate_fast(inp)
    with monkeypatch.context() as patch:
        patch.setattr(loader, "compiled_kernels", dict)
        jitted = simulate_fast(inp)
    for name in ("orders", "fills", "trades"):
        assert getattr(compiled.tables, name).to_dicts() == getattr(jitted.tables, name).to_dicts()
    for name in ("equity", "cash", "in_position"):
        same_bits(getattr(compiled.tables, name), getattr(jitted.tables, name))
    assert (compiled.log, compiled.visited) == (jitted.log, jitted.visited)


def test_argument_checks_accept_only_the_exact_types() -> None:
    vector, matrix = argument_check("f8[::1]"), argument_check("b1[:, ::1]")
    assert vector(np.zeros(3))
    readonly = np.zeros(3)
    readonly.flags.writeable = False
    assert vector(readonly)  # what polars hands out; exported kernels never write inputs
    assert not vector(np.zeros(6)[::2])  # strided: the compiled code would misread it
    assert not vector(np.zeros(3, dtype=np.float32))
    assert not vector(np.zeros((3, 1)))
    assert not vector([0.0, 1.0])
    assert matrix(np.zeros((2, 3), dtype=np.bool_))
    assert not matrix(np.zeros((2, 3), dtype=np.bool_).T)
    integer, real, flag = argument_check("i8"), argument_check("f8"), argument_check("b1")
    assert integer(3) and integer(np.int64(3)) and not integer(True) and not integer(3.0)
    assert real(3.0) and real(np.float64(3)) and not real(3)
    assert flag(True) and flag(np.bool_(False)) and not flag(1)
    with pytest.raises(ValueError, match="C-contiguous"):
        argument_check("f8[:]")


def test_other_arguments_go_to_the_jit() -> None:
    """A strided or float32 array, or an int where a float is declared, is computed by
    the JIT (what the module itself gives), never misread by the compiled code."""
    export = next(e for e in CORE if e.name == "seeded_ewm")
    calls: list[tuple[Any, ...]] = []

    def compiled(*args: Any) -> Any:
        calls.append(args)
        return jit(export)(*args)

    kernel = Kernel(export, compiled)
    x = np.linspace(1.0, 2.0, 40)
    kernel(x, 5, 0.5, 0)
    assert len(calls) == 1
    for args in ((x[::2], 5, 0.5, 0), (x.astype(np.float32), 5, 0.5, 0), (x, 5, 1, 0)):
        same_bits(kernel(*args), jit(export)(*args))
    assert len(calls) == 1


def test_stale_or_missing_sources_load_nothing(tmp_path: Path) -> None:
    rel = "runner/native/exports.py"
    digest = hashlib.sha256((ROOT / rel).read_bytes()).hexdigest()
    assert sources_unchanged({rel: digest})
    assert not sources_unchanged({rel: "0" * 64})
    assert not sources_unchanged({"runner/native/gone.py": digest})


def test_the_manifest_covers_every_source_of_the_kernels() -> None:
    sources = set(manifest_sources())
    assert {"runner/native/exports.py", "runner/indicators/core/kernels.py",
            "runner/indicators/statistic/kernels.py",  # imported by the core kernels
            "runner/engine/fastpath_kernel.py", "runner/engine/fastpath_codes.py",
            "runner/engine/exact_sum_kernel.py"} <= sources


def test_disabled_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(loader.DISABLE_ENV, "0")
    assert loader.compiled_kernels.__wrapped__() == {}


@needs_build
def test_a_backtest_never_imports_numba(tmp_path: Path) -> None:
    """The point of it all: an SMA cross on the fast path runs without numba."""
    strategy = tmp_path / "s.yaml"
    strategy.write_text(
        "version: 1\nname: native\nvenue: {exchange: sim}\ninstruments: [BTCUSDT]\n"
        f"data: {{source: parquet, path: '{ROOT}/examples/data/{{symbol}}-1m.parquet', "
        "timeframe: 1m}\ntimeframes: [1m]\n"
        "indicators:\n  fast: {type: sma, period: 10}\n  slow: {type: ema, period: 30}\n"
        "signals:\n  enter: crosses_above(fast, slow)\n  exit: crosses_below(fast, slow)\n"
        "orders:\n  - {when: enter, side: buy, size: {quantity: 1}}\n"
        "  - {when: exit, action: close}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != loader.DISABLE_ENV}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "runner", "run", str(strategy),
         "--mode", "backtest", "--out", str(tmp_path / "out"), "--no-report"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {line.rpartition("|")[2].strip() for line in done.stderr.splitlines()
                if line.startswith("import time:")}
    assert "runner.native.loader" in imported
    # numba is imported by any JIT kernel: none ran
    assert not {m for m in imported if m.split(".")[0] == "numba"}
    assert (tmp_path / "out" / "trades.csv").is_file()
