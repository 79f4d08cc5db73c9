"""Benchmark the backtest report on a 1M-bar run: file size and render time.

    python -m runner.bench.report [--bars 1000000] [--loads 3] [--out bench/report.json]

The run is issue 4's SMA(10)/SMA(30) cross over 1-minute bars (the data of
`runner.bench.backtest`, generated into `bench/data/` once). It measures:

- `run_s` / `run_no_report_s`: a cold `python -m runner run ... --mode backtest` with
  the report (the default) and with `--no-report`; their difference is what writing
  `report_data/` and `report.html` costs;
- `rerender_s`: a cold `python -m runner report RUN_DIR`;
- `size_mb`: report.html's size (target < 15 MB);
- `render_s`: headless Chromium (offline) from navigation until every chart is drawn,
  the median of `--loads` page loads (target < 3 s), with the console errors and the
  trade markers drawn next to the trades (`markers == 2 x trades`).
Writes `bench/report.json`. Without Chromium the browser numbers are null, with why.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from runner.bench.backtest import DATA, ROOT, write_bars, write_strategy
from runner.report.browser import find_chromium, load_in_chromium

TARGETS = {"render_s": 3.0, "size_mb": 15.0}


def _timed(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:5])}... exited {done.returncode}: "
                           f"{done.stderr.strip()[-500:]}")
    return wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--loads", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "bench" / "report.json"))
    parser.add_argument("--data-dir", default=str(DATA))
    args = parser.parse_args(argv)
    data_dir = Path(args.data_dir)
    symbol = f"SMA{args.bars}"
    write_bars(data_dir / f"{symbol}-1m.parquet", args.bars, seed=args.bars % 1000 + 7)
    template = str(data_dir / "{symbol}-1m.parquet")
    result: dict[str, Any] = {"machine": {"python": platform.python_version(),
                                          "cpus": os.cpu_count()},
                              "targets": TARGETS, "bars": args.bars}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        file = write_strategy(work, [symbol], template)
        base = [sys.executable, "-m", "runner", "run", str(file), "--mode", "backtest",
                "--data", template, "--json"]
        _timed([*base, "--out", str(work / "warmup"), "--no-report"])  # numba cache
        result["run_no_report_s"] = round(_timed([*base, "--out", str(work / "plain"),
                                                  "--no-report"]), 3)
        run_dir = work / "run"
        result["run_s"] = round(_timed([*base, "--out", str(run_dir)]), 3)
        result["report_cost_s"] = round(result["run_s"] - result["run_no_report_s"], 3)
        result["rerender_s"] = round(_timed([sys.executable, "-m", "runner", "report",
                                             str(run_dir)]), 3)
        page = run_dir / "report.html"
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        result["trades"] = summary["trades"]
        result["size_mb"] = round(page.stat().st_size / 1e6, 2)
        chromium = find_chromium()
        if chromium is None:
            result.update(render_s=None, browser="no chromium found (apt-get install chromium)")
        else:
            loads = [load_in_chromium(page, screenshot=ROOT / "bench" / "report.png"
                                      if k == 0 else None, chromium=chromium)
                     for k in range(max(1, args.loads))]
            result.update(render_s=round(statistics.median(x.render_s for x in loads), 3),
                          render_runs_s=[round(x.render_s, 3) for x in loads],
                          console_errors=loads[0].errors, markers=loads[0].markers,
                          markers_ok=loads[0].markers == 2 * summary["trades"],
                          browser=chromium)
    result["ok"] = (result["size_mb"] < TARGETS["size_mb"] and result.get("render_s") is not None
                    and result["render_s"] < TARGETS["render_s"]
                    and not result.get("console_errors"))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"report of {args.bars:,} bars ({result['trades']:,} trades): "
          f"{result['size_mb']} MB, render {result.get('render_s')} s in Chromium, "
          f"written in {result['report_cost_s']} s (re-render {result['rerender_s']} s)")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
