"""Benchmark the indicator library against TA-Lib.

    python -m runner.bench.indicators [--bars 1000000] [--out bench/indicators.json]
                                      [--only sma,ema] [--incremental-bars 200000]

For every built-in indicator: the batch form's time over `--bars` bars (through the
public `compute`, so the cost a backtest pays) next to TA-Lib's on the same numpy
arrays, as a ratio, and the incremental form's cost per bar (through
`IncrementalIndicator.update`, so the cost paper and live pay). Each indicator runs
with its default params, which are TA-Lib's. Times are the best of `--repeat` runs.
Targets (issue 3): median ratio <= 1.5, none above 5, and <= 5 us per bar for the
incremental sma/ema/rsi/atr/macd/bbands. Needs the `ta-lib` wheel (a dev dependency).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from runner.definitions import IndicatorDef
from runner.indicators.api import compute, incremental
from runner.plugins import load_registry

ROOT = Path(__file__).resolve().parents[2]
TARGETS = {"median_ratio": 1.5, "max_ratio": 5.0, "incremental_us_per_bar": 5.0}
INCREMENTAL_TARGETS = ("sma", "ema", "rsi", "atr", "macd", "bbands")


def synthetic_bars(n: int, seed: int = 1) -> pl.DataFrame:
    """A geometric random walk with OHLCV and 1-minute times."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    wick = np.abs(rng.normal(0, 0.004, n))
    return pl.DataFrame({
        "time": 1_700_000_000_000.0 + 60_000.0 * np.arange(n),
        "open": open_,
        "high": np.maximum(open_, close) * (1 + wick),
        "low": np.minimum(open_, close) * (1 - wick),
        "close": close,
        "volume": rng.integers(1, 1000, n).astype(float),
        # second series for two-input statistics, and per-bar periods for MAVP
        "benchmark": open_, "other": open_,
        "periods": rng.integers(2, 30, n).astype(float),
    })


def _best(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _talib_call(d: IndicatorDef, arrays: dict[str, np.ndarray]) -> Callable[[], Any] | None:
    """TA-Lib's function for `d` with its default params, or None if TA-Lib has none."""
    reference = d.reference or ""
    if not reference.startswith("TA-Lib "):
        return None
    fname = reference.removeprefix("TA-Lib ").split()[0]
    from talib import abstract

    try:
        fn = abstract.Function(fname)  # type: ignore[attr-defined]
    except Exception:  # TA-Lib raises a bare Exception for an unknown name
        return None
    names = dict(fn.input_names)
    inputs: dict[str, np.ndarray] = {**arrays}
    if "price0" in names:  # BETA, CORREL: two real series
        fn.input_names = {"price0": "close", "price1": "benchmark"}
    if "periods" in names:
        fn.input_names = {"price": "close", "periods": "periods"}
    return lambda: fn(inputs)


def bench_batch(d: IndicatorDef, frame: pl.DataFrame, arrays: dict[str, np.ndarray],
                repeat: int, registry: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"name": d.name, "group": d.group, "reference": d.reference}
    row["batch_s"] = _best(lambda: compute(d.name, frame, registry=registry), repeat)
    talib_fn = _talib_call(d, arrays)
    if talib_fn is not None:
        row["talib_s"] = _best(talib_fn, repeat)
        row["ratio"] = row["batch_s"] / row["talib_s"] if row["talib_s"] > 0 else None
    return row


def bench_incremental(d: IndicatorDef, frame: pl.DataFrame, registry: Any) -> float:
    """Microseconds per `update(bar)`, bars given as dicts the way a feed delivers them."""
    ind = incremental(d.name, registry=registry)
    bars = frame.select(d.inputs).to_dicts()
    update = ind.update
    start = time.perf_counter()
    for bar in bars:
        update(bar)
    return (time.perf_counter() - start) / len(bars) * 1e6


def _print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'indicator':<20} {'batch ms':>9} {'TA-Lib ms':>9} {'ratio':>6} {'incr us/bar':>11}")
    for r in rows:
        talib_ms = f"{r['talib_s'] * 1e3:9.2f}" if "talib_s" in r else f"{'-':>9}"
        ratio = f"{r['ratio']:6.2f}" if r.get("ratio") is not None else f"{'-':>6}"
        print(f"{r['name']:<20} {r['batch_s'] * 1e3:9.2f} {talib_ms} {ratio} "
              f"{r['incremental_us_per_bar']:11.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runner.bench.indicators")
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--incremental-bars", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated indicator names")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "indicators.json")
    args = parser.parse_args(argv)

    registry = load_registry(autoload=False)
    only = {n for n in args.only.split(",") if n}
    defs = [d for n, d in sorted(registry.indicators.items()) if not only or n in only]
    frame = synthetic_bars(args.bars)
    arrays = {c: frame[c].to_numpy() for c in frame.columns}
    small = frame.head(args.incremental_bars)

    rows = []
    for i, d in enumerate(defs, 1):
        print(f"[{i}/{len(defs)}] {d.name}", file=sys.stderr, flush=True)
        row = bench_batch(d, frame, arrays, args.repeat, registry)
        row["incremental_us_per_bar"] = bench_incremental(d, small, registry)
        rows.append(row)
    _print_table(rows)

    ratios = [r["ratio"] for r in rows if r.get("ratio") is not None]
    summary: dict[str, Any] = {
        "indicators": len(rows),
        "compared_with_talib": len(ratios),
        "median_ratio": statistics.median(ratios) if ratios else None,
        "max_ratio": max(ratios) if ratios else None,
        "above_max_ratio": sorted(r["name"] for r in rows
                                  if (r.get("ratio") or 0) > TARGETS["max_ratio"]),
        "incremental_targets_us_per_bar": {r["name"]: r["incremental_us_per_bar"] for r in rows
                                           if r["name"] in INCREMENTAL_TARGETS},
    }
    incr = summary["incremental_targets_us_per_bar"].values()
    summary["targets_met"] = bool(
        ratios and summary["median_ratio"] <= TARGETS["median_ratio"]
        and summary["max_ratio"] <= TARGETS["max_ratio"]
        and all(v <= TARGETS["incremental_us_per_bar"] for v in incr))
    print(json.dumps(summary, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "bars": args.bars, "incremental_bars": args.incremental_bars, "repeat": args.repeat,
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "polars": pl.__version__, "polars_threads": pl.thread_pool_size()},
        "targets": TARGETS, "summary": summary, "indicators": rows}, indent=2) + "\n",
        encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
