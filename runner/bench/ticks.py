"""Benchmark building bars from trades (`runner.bars.ticks.BarBuilder`), as paper and
live mode will: many instruments, a steady stream, memory that must stay flat.

    python -m runner.bench.ticks [--trades 10000000] [--instruments 100]
                                 [--timeframes 1m,5m,1h] [--out bench/ticks.json]

Trades are generated in batches of 10,000 (a random instrument each, exchange times
advancing ~1 ms per trade with jitter, some out of order); only `add` and the
clock's `advance` after each batch are timed. Reports trades/s and the process RSS
after the first million trades and at the end: the growth between them is what a
long session accumulates. Targets (issue 5): >= 200,000 trades/s across 100
instruments, RSS growth < 50 MB over 10M trades.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from runner.bars.ticks import BarBuilder, Trade

ROOT = Path(__file__).resolve().parents[2]
BATCH = 10_000


def rss_mb() -> float:
    """Resident set size of this process now, in MB (Linux /proc)."""
    with open("/proc/self/statm", encoding="ascii") as fh:
        pages = int(fh.read().split()[1])
    return pages * 4096 / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=10_000_000)
    parser.add_argument("--instruments", type=int, default=100)
    parser.add_argument("--timeframes", default="1m,5m,1h")
    parser.add_argument("--out", default=str(ROOT / "bench" / "ticks.json"))
    args = parser.parse_args(argv)
    timeframes = args.timeframes.split(",")
    builders = [BarBuilder(timeframes) for _ in range(args.instruments)]
    rng = np.random.default_rng(5)
    clock = 1_704_067_200_000
    busy = 0.0
    done = 0
    bars = 0
    rss_after_first_million: float | None = None
    while done < args.trades:
        n = min(BATCH, args.trades - done)
        who = rng.integers(0, args.instruments, n).tolist()
        times = (clock + np.cumsum(rng.integers(0, 3, n)) - rng.integers(0, 50, n)).tolist()
        prices = (100.0 + rng.standard_normal(n)).tolist()
        amounts = rng.random(n).tolist()
        clock = max(times)
        start = time.perf_counter()
        for k in range(n):
            builders[who[k]].add(Trade(times[k], prices[k], amounts[k]))
        for builder in builders:
            bars += len(builder.advance(clock))
        busy += time.perf_counter() - start
        done += n
        if rss_after_first_million is None and done >= 1_000_000:
            rss_after_first_million = rss_mb()
    final_rss = rss_mb()
    late = sum(b.late for b in builders)
    result = {
        "machine": {"python": platform.python_version()},
        "trades": done, "instruments": args.instruments, "timeframes": timeframes,
        "trades_per_s": round(done / busy), "bars_emitted": bars, "late_trades": late,
        "rss_mb_after_1m_trades": round(rss_after_first_million or final_rss, 1),
        "rss_mb_at_end": round(final_rss, 1),
        "rss_growth_mb": round(final_rss - (rss_after_first_million or final_rss), 1),
        "targets": {"trades_per_s": 200_000, "rss_growth_mb": 50},
    }
    print(f"{done:,} trades into {args.instruments} instruments x {timeframes}: "
          f"{result['trades_per_s']:,} trades/s, {bars:,} bars, {late:,} late; RSS "
          f"{result['rss_mb_after_1m_trades']} MB after 1M trades, {final_rss:.1f} MB at "
          f"the end (growth {result['rss_growth_mb']} MB)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
