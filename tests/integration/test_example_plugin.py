"""The third-party proof: examples/runner-example-plugin is a separate distribution,
found through its entry point like any pip-installed plugin, and its indicator and
function reach every surface a built-in does."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from runner.indicators.api import compute, incremental
from runner.plugins import load_registry
from tests.unit.indicators.oracle import as_array, walk

ROOT = Path(__file__).resolve().parents[2]
STRATEGY = ROOT / "examples" / "runner-example-plugin" / "strategy.yaml"


def _installed() -> None:
    names = {ep.name for ep in metadata.entry_points(group="runner")}
    if "example" not in names:
        pytest.fail("runner-example-plugin is not installed: run `make setup` "
                    "(it installs examples/*/ in editable mode)")


def _runner(*args: str) -> subprocess.CompletedProcess[str]:
    """The console entry point in a fresh process, with entry-point autoload on, the
    way a user who pip-installed the plugin runs it."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("RUNNER_DISABLE_PLUGIN_AUTOLOAD", "RUNNER_PLUGINS")}
    return subprocess.run([str(Path(sys.executable).parent / "runner"), *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, check=False, timeout=120)


def test_listed_by_runner_plugins_under_its_distribution() -> None:
    _installed()
    out = _runner("plugins")
    assert out.returncode == 0, out.stderr
    assert "example 0.1.0  (entry point of runner-example-plugin)" in out.stdout
    assert "indicators: chop" in out.stdout and "functions: clamp" in out.stdout


def test_listed_and_described_by_runner_indicators() -> None:
    _installed()
    listing = _runner("indicators")
    assert listing.returncode == 0, listing.stderr
    assert any(line.startswith("chop ") and line.endswith("[example]")
               for line in listing.stdout.splitlines())
    one = _runner("indicators", "chop")
    assert one.returncode == 0, one.stderr
    assert "provided by: example" in one.stdout
    assert "period: integer  (default 14; >= 2, <= 10000)" in one.stdout
    assert "chop = 100 * log10(sum(TR, n)" in one.stdout


def test_in_the_schema_with_its_params(tmp_path: Path) -> None:
    _installed()
    out = _runner("schema", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    schema = json.loads((tmp_path / "strategy.schema.json").read_text(encoding="utf-8"))
    chop = [alt for alt in schema["definitions"]["Indicator"]["oneOf"]
            if alt["properties"]["type"].get("const") == "chop"]
    assert len(chop) == 1
    assert chop[0]["properties"]["period"]["anyOf"][0]["minimum"] == 2


def test_a_strategy_using_its_indicator_and_function_validates() -> None:
    _installed()
    out = _runner("validate", str(STRATEGY))
    assert out.returncode == 0, out.stdout + out.stderr


def test_its_function_is_type_checked_like_a_builtin(tmp_path: Path) -> None:
    _installed()
    text = STRATEGY.read_text(encoding="utf-8")
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(text.replace("clamp(2 * atr, 0.001 * close, 0.05 * close)",
                                  "clamp(2 * atr, 0.001 * close)"), encoding="utf-8")
    out = _runner("validate", str(wrong))
    assert out.returncode == 1
    assert "clamp" in out.stdout and "wrong.yaml:" in out.stdout


def test_its_indicator_computes_in_both_forms_alike() -> None:
    _installed()
    registry = load_registry(autoload=True)
    frame = walk(200, seed=7)
    batch = as_array(compute("chop", frame, registry=registry, period=5)["value"].to_list())
    ind = incremental("chop", registry=registry, period=5)
    step = as_array(ind.update(row)["value"] for row in frame.iter_rows(named=True))
    assert np.isnan(batch[:4]).all() and not np.isnan(batch[4:]).any()
    assert np.allclose(batch, step, rtol=1e-12, equal_nan=True)


def test_its_indicator_on_a_hand_checked_vector() -> None:
    _installed()
    registry = load_registry(autoload=True)
    import polars as pl

    frame = pl.DataFrame({"high": [11.0, 12.0, 13.0], "low": [9.0, 10.0, 10.0],
                          "close": [10.0, 11.0, 12.0]})
    # TR: 2 (first bar: high - low), max(12, 10) - min(10, 10) = 2, 13 - 10 = 3
    # window range over 3 bars: 13 - 9 = 4; chop = 100 * log10(7 / 4) / log10(3)
    out = compute("chop", frame, registry=registry, period=3)["value"].to_list()
    assert out[:2] == [None, None]
    assert out[2] == pytest.approx(100 * math.log10(7 / 4) / math.log10(3), rel=1e-12)
