"""Benchmark `runner run --mode backtest` end to end, next to vectorbt when available.

    python -m runner.bench.backtest [--sizes 1000000,10000000] [--instruments 100x100000]
                                    [--out bench/backtest.json] [--vectorbt-python PATH]

The strategy of issue 4: SMA(10)/SMA(30) cross, long-only, market orders at the next
open, one instrument, from the YAML and a parquet file to `trades.csv`. The data is a
seeded geometric random walk of 1-minute bars written once to `bench/data/` (not
shipped: regenerated on demand).

For every case it measures:
- `first_process_s`: the first fresh `python -m runner run ...` process, which may
  include compiling numba kernels into their on-disk cache (once per install);
- `cold_wall_s`: the median of `--runs` (5) more fresh processes (imports and data cold,
  bytecode and compiled kernels cached), wall time, and the peak RSS (`os.wait4`'s
  `ru_maxrss`): what a user waits for on every later run;
- `in_process_s` / `in_process_bars_per_s`: `run_backtest` called twice in this
  process, the second timed (imports and caches warm), split into `phases_s`: `load`
  (reading and checking the parquet file), `engine` (indicators, signals, candidate
  bars, the simulation and its tables: the bars in memory, what vectorbt's
  `compute_s` measures), `prepare` (load + indicators + signals), `simulate` and
  `write` (metrics and every DESIGN §6 file); `engine_bars_per_s` is bars / engine.
Also 100 instruments x 100k bars, reported per (bar x instrument) next to the
single-instrument cost per bar.

vectorbt, when `--vectorbt-python` names an interpreter that has it (`pip install
vectorbt "plotly<7"`), runs the same strategy on the same file (`from_signals` on the
next bar's open with the same fees and slippage): cold wall time in fresh processes,
the warm time of a whole run (read the parquet, compute, write the trades) and of its
computation alone (`compute_s`: the moving averages, the crosses, `from_signals` and
the trade records), and its trade count next to runner's. Both start with 1e9 cash:
vectorbt's cash limits what it can buy and runner's margin-style cash does not, so
with little cash their trades part ways once the price outgrows it.

Targets (issue 4): 1M bars cold <= 1.2 s, in-process >= 10M bars/s, 10M bars cold
<= 6 s with peak RSS < 2 GiB, 100 x 100k within 2x the single-instrument time per bar.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "bench" / "data"
TARGETS = {"cold_1m_s": 1.2, "in_process_bars_per_s": 10_000_000, "cold_10m_s": 6.0,
           "rss_10m_gib": 2.0, "multi_per_bar_ratio": 2.0}

STRATEGY = """\
version: 1
name: bench-sma-cross
venue: {{exchange: sim}}
instruments: [{symbols}]
data: {{source: parquet, path: "{path}", timeframe: 1m}}
timeframes: [1m]
indicators:
  fast: {{type: sma, period: 10}}
  slow: {{type: sma, period: 30}}
signals:
  enter: crosses_above(fast, slow)
  exit: crosses_below(fast, slow)
orders:
  - when: enter
    side: buy
    size: {{quantity: 1}}
  - when: exit
    action: close
backtest: {{cash: 1000000000, fees: {{maker: 0.0002, taker: 0.0004}}, slippage_bps: 1,
           fill: next_open}}
"""

VECTORBT = """\
import sys, time
t0 = time.perf_counter()
import pandas as pd
import vectorbt as vbt
path, out, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
def run():
    df = pd.read_parquet(path)
    t1 = time.perf_counter()
    close, open_ = df["close"], df["open"]
    fast = vbt.MA.run(close, 10).ma
    slow = vbt.MA.run(close, 30).ma
    # decided at bar t's close, executed at bar t+1's open
    entries = fast.vbt.crossed_above(slow).shift(1, fill_value=False)
    exits = fast.vbt.crossed_below(slow).shift(1, fill_value=False)
    pf = vbt.Portfolio.from_signals(close, entries, exits, price=open_, size=1.0,
                                    fees=0.0004, slippage=0.0001, init_cash=1_000_000_000,
                                    freq="1min")
    records = pf.trades.records_readable
    compute = time.perf_counter() - t1
    records.to_csv(out)
    return pf, compute
pf, _ = run()
cold = time.perf_counter() - t0
warm, compute = [], []
for _ in range(repeat):
    t1 = time.perf_counter(); pf, c = run(); warm.append(time.perf_counter() - t1)
    compute.append(c)
print(cold, min(warm) if warm else float("nan"), min(compute) if compute else float("nan"),
      pf.trades.count())
"""


def write_bars(path: Path, n: int, seed: int) -> None:
    """`n` 1-minute bars of a geometric random walk (deterministic per seed)."""
    if path.exists():
        return
    rng = np.random.default_rng(seed)
    close = 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0008, n)))
    open_ = np.concatenate([[30_000.0], close[:-1]])
    wick = np.abs(rng.normal(0.0, 0.0005, n)) * close
    start = 1_704_067_200_000  # 2024-01-01 UTC
    frame = pl.DataFrame({
        "time": pl.Series(start + 60_000 * np.arange(n, dtype=np.int64)).cast(
            pl.Datetime("ms", "UTC")),
        "open": open_, "high": np.maximum(open_, close) + wick,
        "low": np.minimum(open_, close) - wick, "close": close,
        "volume": rng.lognormal(1.0, 0.5, n),
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    frame.write_parquet(tmp)
    tmp.replace(path)


def write_strategy(folder: Path, symbols: list[str], path_template: str) -> Path:
    file = folder / "bench_sma_cross.yaml"
    file.write_text(STRATEGY.format(symbols=", ".join(symbols), path=path_template),
                    encoding="utf-8")
    return file


def child_env() -> dict[str, str]:
    """The environment of the timed processes: this one's, but with bytecode caching
    on, as in any installed Python (a sandbox's PYTHONDONTWRITEBYTECODE would make every
    cold process compile every module from source, for vectorbt as for runner)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed_process(args: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (GiB) and stdout of a child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=child_env())
    assert proc.stdout is not None and proc.stderr is not None
    out = proc.stdout.read().decode()
    err = proc.stderr.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{args[:4]}... exited {proc.returncode}: {err.strip()[-500:]}")
    return wall, usage.ru_maxrss / 2**20, out


def cold_runs(command: list[str], runs: int, out: Path | None = None,
              ) -> tuple[float, float, list[float]]:
    """The median wall time of `runs` fresh processes (a 2-core VM's timings wander
    by tens of percent), the largest peak RSS, and every wall time.

    With `out`, each process writes into a new folder `out/<k>` (`--out` is appended to
    `command`), as a run does by default (`runs/<name>/<timestamp>/`), and the folders
    are deleted after the last run: at 10M bars a run writes ~0.8 GB, and overwriting
    or deleting that (the filesystem discards the freed blocks) is not the run's work."""
    walls, peak = [], 0.0
    for k in range(runs):
        args = command if out is None else [*command, "--out", str(out / str(k))]
        wall, rss, _ = timed_process(args)
        walls.append(round(wall, 3))
        peak = max(peak, rss)
        if k + 1 < runs:
            time.sleep(1.0)  # let the disk write back the previous run's files first
    if out is not None:
        shutil.rmtree(out, ignore_errors=True)
    return statistics.median(walls), peak, walls


def runner_case(file: Path, data: str, out: Path, runs: int) -> dict[str, Any]:
    """Cold processes, then warm in-process timing, split into phases."""
    from runner.config.validate import validate_file
    from runner.engine import frames
    from runner.engine.backtest import run_backtest
    from runner.plugins import load_registry

    command = [sys.executable, "-m", "runner", "run", str(file), "--mode", "backtest",
               "--data", data, "--no-report"]
    first, _, _ = timed_process([*command, "--out", str(out / "first")])
    shutil.rmtree(out / "first", ignore_errors=True)
    cold, rss, walls = cold_runs(command, runs, out / "cold")
    registry = load_registry()
    validated = validate_file(file, registry)
    run_backtest(validated, registry, out_dir=out / "warm0", data_path=data)
    shutil.rmtree(out / "warm0", ignore_errors=True)
    time.sleep(1.0)
    log: dict[str, Any] = {}
    loading = [0.0]
    real_load = vars(frames)["load_bars"]

    def timed_load(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return real_load(*args, **kwargs)
        finally:
            loading[0] += time.perf_counter() - start

    vars(frames)["load_bars"] = timed_load  # bench-only instrumentation
    try:
        start = time.perf_counter()
        summary = run_backtest(validated, registry, out_dir=out / "warm", data_path=data,
                               log=log)
        warm = time.perf_counter() - start
    finally:
        vars(frames)["load_bars"] = real_load
    seconds = log["seconds"]
    # the engine: indicators, signals, the simulation and its tables, bars in memory
    engine = seconds["prepare"] - loading[0] + seconds["simulate"]
    phases = {"load": loading[0], "engine": engine, **seconds}
    return {"first_process_s": round(first, 3), "cold_wall_s": round(cold, 3),
            "cold_walls_s": walls, "peak_rss_gib": round(rss, 3),
            "in_process_s": round(warm, 3),
            "phases_s": {k: round(v, 3) for k, v in phases.items()},
            "bars": summary["bars"], "trades": summary["trades"]}


def vectorbt_case(python: str, data: Path, out: Path, runs: int) -> dict[str, Any]:
    script = out / "vbt.py"
    script.write_text(VECTORBT, encoding="utf-8")
    once = [python, str(script), str(data), str(out / "vbt.csv"), "0"]
    first, _, _ = timed_process(once)
    wall, rss, walls = cold_runs(once, runs)
    _, _, text = timed_process([*once[:-1], "2"])  # two more runs in one process: warm
    _, warm, compute, trades = text.split()
    # trades: vectorbt counts a position still open at the end, runner's trades.csv not
    return {"first_process_s": round(first, 3), "cold_wall_s": round(wall, 3),
            "cold_walls_s": walls, "peak_rss_gib": round(rss, 3),
            "warm_s": round(float(warm), 3), "compute_s": round(float(compute), 3),
            "trades": int(trades)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--instruments", default="100x100000",
                        help="COUNTxBARS for the multi-instrument case ('' to skip)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "backtest.json"))
    parser.add_argument("--vectorbt-python", default=os.environ.get("VECTORBT_PYTHON"))
    parser.add_argument("--data-dir", default=str(DATA),
                        help="where the generated bars are kept (default bench/data)")
    parser.add_argument("--runs", type=int, default=5,
                        help="cold processes per case; their median is reported")
    args = parser.parse_args(argv)
    data_dir = Path(args.data_dir)

    results: dict[str, Any] = {"machine": {"python": platform.python_version(),
                                           "cpus": os.cpu_count()},
                               "targets": TARGETS, "single": {}, "vectorbt": {}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for size in [int(s) for s in args.sizes.split(",") if s]:
            data = data_dir / f"SMA{size}-1m.parquet"
            write_bars(data, size, seed=size % 1000 + 7)
            template = str(data_dir / "{symbol}-1m.parquet")
            file = write_strategy(work, [f"SMA{size}"], template)
            case = runner_case(file, template, work / str(size), args.runs)
            case["in_process_bars_per_s"] = round(case["bars"] / case["in_process_s"])
            case["engine_bars_per_s"] = round(case["bars"] / case["phases_s"]["engine"])
            results["single"][str(size)] = case
            phases = ", ".join(f"{k} {v:.3f}" for k, v in case["phases_s"].items())
            print(f"runner   {size:>10,} bars: first {case['first_process_s']:.2f} s, "
                  f"cold {case['cold_wall_s']:.2f} s (median of {case['cold_walls_s']}), "
                  f"rss {case['peak_rss_gib']:.2f} GiB, in-process {case['in_process_s']:.2f} s"
                  f" ({case['in_process_bars_per_s']:,} bars/s; {phases}; engine "
                  f"{case['engine_bars_per_s']:,} bars/s), {case['trades']} trades",
                  flush=True)
            if args.vectorbt_python:
                vbt = vectorbt_case(args.vectorbt_python, data, work / str(size), args.runs)
                vbt["compute_bars_per_s"] = round(size / vbt["compute_s"])
                results["vectorbt"][str(size)] = vbt
                print(f"vectorbt {size:>10,} bars: first {vbt['first_process_s']:.2f} s, "
                      f"cold {vbt['cold_wall_s']:.2f} s (median of {vbt['cold_walls_s']}), "
                      f"rss {vbt['peak_rss_gib']:.2f} GiB, warm {vbt['warm_s']:.2f} s, "
                      f"compute {vbt['compute_s']:.3f} s ({vbt['compute_bars_per_s']:,} "
                      f"bars/s), {vbt['trades']} trades", flush=True)
        if args.instruments:
            count, bars = (int(x) for x in args.instruments.split("x"))
            symbols = [f"M{bars}X{k:03d}" for k in range(count)]
            for k, sym in enumerate(symbols):
                write_bars(data_dir / f"{sym}-1m.parquet", bars, seed=1000 + k)
            template = str(data_dir / "{symbol}-1m.parquet")
            file = write_strategy(work, symbols, template)
            case = runner_case(file, template, work / "multi", args.runs)
            per_bar = case["in_process_s"] / (bars * count)
            single = results["single"].get(str(bars * count)) or next(
                iter(results["single"].values()), None)
            case["instruments"] = count
            case["per_bar_instrument_us"] = round(per_bar * 1e6, 4)
            if single:
                case["ratio_to_single_per_bar"] = round(
                    per_bar / (single["in_process_s"] / single["bars"]), 2)
            results["multi"] = case
            print(f"runner   {count} x {bars:,} bars: cold {case['cold_wall_s']:.2f} s, "
                  f"rss {case['peak_rss_gib']:.2f} GiB, in-process "
                  f"{case['in_process_s']:.2f} s, {case['per_bar_instrument_us']} us per "
                  f"bar x instrument (x{case.get('ratio_to_single_per_bar')} single)",
                  flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
