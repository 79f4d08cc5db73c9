"""Benchmark the streaming runtime (paper mode): replay throughput, bar-close → intent
latency, and trade ingestion across many instruments.

    python -m runner.bench.paper [--bars 200000] [--trades 10000000]
                                 [--instruments 100] [--out bench/paper.json]

- **replay**: the issue-4 SMA(10)/SMA(30) cross replayed from parquet with
  `run_paper(... --speed 0)` — feed, executor, row building, per-bar columns,
  stepper, journal, files — in bars/s; and the session alone (rows handed to
  `Session.on_bars`, no journal), the strategy side's own rate.
- **latency**: a strategy with 10 indicators whose rules place an order on every
  other bar, fed by the executor at a live-like pace (one bar per millisecond): the
  time from the moment a bar is final (the feed hands it over) to the order intent
  committed in the journal (before the order is submitted), p50/p99/max over every
  order; also the same inside the session alone (on_bars entry → intent).
- **ingestion**: `--instruments` feeds of trades, `--trades` in all (replay chunks
  through the executor's lossless queues, bars built per instrument, rows stepped by
  a session holding one indicator per instrument), in trades/s, with the deepest
  market-data queue and the process RSS after the first 10% of trades and at the end.

Targets (issue 5): p99 bar-close → intent < 1 ms; >= 200,000 trades/s across 100
instruments; RSS growth < 50 MB over 10M trades.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np

from runner.bars.ticks import Trade
from runner.bench.backtest import DATA, write_bars, write_strategy
from runner.bench.ticks import rss_mb
from runner.config.validate import Validated, validate_file
from runner.journal.store import Journal
from runner.plugins import Registry, load_registry
from runner.runtime.executor import Executor
from runner.runtime.feeds import BarEvent, MarketEvent, TradeBatch
from runner.runtime.paper import PaperOptions, run_paper
from runner.runtime.session import Session
from runner.sim.orders import Order

ROOT = Path(__file__).resolve().parents[2]
TARGETS = {"latency_p99_ms": 1.0, "trades_per_s": 200_000, "rss_growth_mb": 50.0}
START_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC

LATENCY_STRATEGY = """\
version: 1
name: bench-latency
instruments: [LATUSD]
data: {{source: parquet, path: "{path}", timeframe: 1m}}
timeframes: [1m, 5m]
indicators:
  sma_fast: {{type: sma, period: 10}}
  sma_slow: {{type: sma, period: 30}}
  ema_fast: {{type: ema, period: 12}}
  ema_slow: {{type: ema, period: 26}}
  rsi: {{type: rsi, period: 14}}
  atr: {{type: atr, period: 14}}
  macd: {{type: macd, fast: 12, slow: 26, signal: 9}}
  bb: {{type: bbands, period: 20}}
  adx: {{type: adx, period: 14}}
  trend: {{type: ema, period: 20, timeframe: 5m}}
signals:
  busy: sma_fast > 0 and ema_fast > 0 and rsi >= 0 and atr >= 0 and adx >= 0
  context: macd.hist > -1e9 and bb.upper > 0 and trend > 0 and sma_slow > 0 and ema_slow > 0
orders:
  - when: busy and context and position == 0
    side: buy
    size: {{quantity: 1}}
    stop_loss: close - 2 * atr
  - when: position > 0
    action: close
backtest: {{cash: 1000000, fees: {{taker: 0.0004}}}}
"""

INGEST_STRATEGY = """\
version: 1
name: bench-ingest
instruments: [{symbols}]
timeframes: [1m]
indicators:
  fast: {{type: sma, period: 10}}
signals:
  up: close > fast
backtest: {{cash: 1000000}}
"""


def _validated(path: Path, registry: Registry) -> Validated:
    validated = validate_file(path, registry)
    if not validated.ok:
        raise SystemExit("\n".join(str(d) for d in validated.errors))
    return validated


# -- replay ----------------------------------------------------------------------------

def bench_replay(bars: int, registry: Registry, work: Path) -> dict[str, Any]:
    symbol = f"SMA{bars}"
    data = DATA / f"{symbol}-1m.parquet"
    if not data.is_file():
        write_bars(data, bars, seed=1)
    template = str(DATA / "{symbol}-1m.parquet")
    validated = _validated(write_strategy(work, [symbol], template), registry)
    out = work / "replay"
    t0 = time.perf_counter()
    outcome = run_paper(validated, registry, PaperOptions(out_dir=out, replay=template,
                                                          journal_dir=out))
    wall = time.perf_counter() - t0
    assert outcome.summary is not None
    # the session alone: the same rows, no executor, no journal
    import polars as pl

    frame = pl.read_parquet(data)
    times = frame["time"].dt.epoch("ms").to_list()
    columns = [frame[c].to_list() for c in ("open", "high", "low", "close", "volume")]
    session = Session(validated, registry, journal=None)
    t1 = time.perf_counter()
    for k, t in enumerate(times):
        session.on_bars(t, {symbol: (columns[0][k], columns[1][k], columns[2][k],
                                     columns[3][k], columns[4][k])})
    alone = time.perf_counter() - t1
    return {"bars": bars, "trades": outcome.summary["trades"], "wall_s": round(wall, 3),
            "bars_per_s": round(bars / wall), "session_only_s": round(alone, 3),
            "session_only_bars_per_s": round(bars / alone)}


# -- latency ---------------------------------------------------------------------------

class _Timed(Session):
    """A session that notes when each order intent is journaled."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.intents: list[tuple[int, float]] = []
        self.current = 0

    def on_bars(self, open_ms: int, bars: Any, *, journal_bar: bool = True) -> None:
        self.current = open_ms
        self.entered = time.perf_counter()
        super().on_bars(open_ms, bars, journal_bar=journal_bar)

    def _hook(self, kind: str, obj: Any) -> None:
        super()._hook(kind, obj)  # records (and commits) the intent first
        if kind == "order" and isinstance(obj, Order):
            self.intents.append((self.current, time.perf_counter()))


def _quantiles(values_ms: list[float]) -> dict[str, float]:
    values_ms = sorted(values_ms)
    cut = statistics.quantiles(values_ms, n=100)
    return {"p50_ms": round(cut[49], 4), "p99_ms": round(cut[98], 4),
            "max_ms": round(values_ms[-1], 4), "samples": len(values_ms)}


def bench_latency(bars: int, registry: Registry, work: Path) -> dict[str, Any]:
    data = work / "LATUSD-1m.parquet"
    write_bars(data, bars, seed=3)
    strategy = work / "latency.yaml"
    strategy.write_text(LATENCY_STRATEGY.format(path=str(work / "{symbol}-1m.parquet")),
                        encoding="utf-8")
    validated = _validated(strategy, registry)
    import polars as pl

    frame = pl.read_parquet(data)
    times = frame["time"].dt.epoch("ms").to_list()
    columns = [frame[c].to_list() for c in ("open", "high", "low", "close", "volume")]
    handed: dict[int, float] = {}

    async def feed() -> AsyncIterator[MarketEvent]:
        for k, t in enumerate(times):
            await asyncio.sleep(0.001)  # live-like: the runtime is idle when a bar comes
            handed[t] = time.perf_counter()
            yield BarEvent("LATUSD", t, (columns[0][k], columns[1][k], columns[2][k],
                                         columns[3][k], columns[4][k]))

    journal = Journal.open(work / "latency.sqlite", fingerprint="bench", fresh=True,
                           background_checkpoints=True)  # as run_paper opens it
    session = _Timed(validated, registry, journal=journal)
    stop = asyncio.Event()
    executor = Executor(session, base_tf="1m", closed="left", grace_ms=0, lossless=True,
                        stop=stop)
    asyncio.run(executor.run({"LATUSD": feed()}))
    session.close(None)
    warm = times[200] if len(times) > 200 else times[0]
    through = [(t1 - handed[t]) * 1000 for t, t1 in session.intents if t >= warm]
    return {"bars": bars, "indicators": 10, "journal": "state.sqlite, intent committed",
            "feed_to_intent": _quantiles(through)}


def bench_latency_session(bars: int, registry: Registry, work: Path) -> dict[str, Any]:
    validated = _validated(work / "latency.yaml", registry)
    import polars as pl

    frame = pl.read_parquet(work / "LATUSD-1m.parquet")
    times = frame["time"].dt.epoch("ms").to_list()
    columns = [frame[c].to_list() for c in ("open", "high", "low", "close", "volume")]
    journal = Journal.open(work / "latency2.sqlite", fingerprint="bench", fresh=True,
                           background_checkpoints=True)
    session = _Timed(validated, registry, journal=journal)
    entered: dict[int, float] = {}
    for k, t in enumerate(times):
        session.on_bars(t, {"LATUSD": (columns[0][k], columns[1][k], columns[2][k],
                                       columns[3][k], columns[4][k])})
        entered[t] = session.entered
    session.close(None)
    warm = times[200] if len(times) > 200 else times[0]
    inside = [(t1 - entered[t]) * 1000 for t, t1 in session.intents if t >= warm]
    return _quantiles(inside)


# -- ingestion -------------------------------------------------------------------------

def bench_ingest(trades: int, instruments: int, registry: Registry,
                 work: Path) -> dict[str, Any]:
    symbols = [f"I{k:03d}USD" for k in range(instruments)]
    strategy = work / "ingest.yaml"
    strategy.write_text(INGEST_STRATEGY.format(symbols=", ".join(symbols)), encoding="utf-8")
    validated = _validated(strategy, registry)
    per = trades // instruments
    chunk = 512
    rng = np.random.default_rng(9)
    rss: dict[str, float] = {}
    fed = [0]

    async def feed(symbol: str, seed: int) -> AsyncIterator[MarketEvent]:
        local = np.random.default_rng(seed)
        clock = START_MS
        price = 100.0
        for start in range(0, per, chunk):
            n = min(chunk, per - start)
            steps = local.integers(1, 12, n)  # ~6 ms apart: ~10,000 trades per 1m bar
            t = (clock + np.cumsum(steps)).tolist()
            clock = t[-1]
            p = (price + np.cumsum(local.standard_normal(n) * 0.01)).tolist()
            price = p[-1]
            amounts = local.random(n).tolist()
            fed[0] += n
            if "first" not in rss and fed[0] >= trades // 10:
                rss["first"] = rss_mb()
            yield TradeBatch(symbol, tuple(Trade(a, b, c) for a, b, c in zip(t, p, amounts,
                                                                              strict=True)))

    session = Session(validated, registry, journal=None)
    stop = asyncio.Event()
    executor = Executor(session, base_tf="1m", closed="left", grace_ms=1000, lossless=True,
                        stop=stop)
    seeds = rng.integers(0, 2**31, instruments).tolist()
    t0 = time.perf_counter()
    stats = asyncio.run(executor.run({s: feed(s, seed) for s, seed in
                                      zip(symbols, seeds, strict=True)}))
    wall = time.perf_counter() - t0
    rss["end"] = rss_mb()
    return {"instruments": instruments, "trades": stats.trades, "bars": stats.bars,
            "rows": stats.rows, "wall_s": round(wall, 2),
            "trades_per_s": round(stats.trades / wall),
            "max_queue_depth": stats.max_depth, "queue_size": executor.queue_size // 64,
            "rss_mb_after_10pct": round(rss.get("first", 0.0), 1),
            "rss_mb_end": round(rss["end"], 1),
            "rss_growth_mb": round(rss["end"] - rss.get("first", rss["end"]), 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=200_000)
    parser.add_argument("--latency-bars", type=int, default=3_000)
    parser.add_argument("--trades", type=int, default=10_000_000)
    parser.add_argument("--instruments", type=int, default=100)
    parser.add_argument("--out", default=str(ROOT / "bench" / "paper.json"))
    args = parser.parse_args(argv)
    registry = load_registry(autoload=False)
    result: dict[str, Any] = {"machine": {"python": platform.python_version(),
                                          "platform": platform.platform()},
                              "targets": TARGETS}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        result["replay"] = bench_replay(args.bars, registry, work)
        print(f"replay: {result['replay']}", flush=True)
        result["latency"] = bench_latency(args.latency_bars, registry, work)
        result["latency"]["session_to_intent"] = bench_latency_session(
            args.latency_bars, registry, work)
        print(f"latency: {result['latency']}", flush=True)
        result["ingest"] = bench_ingest(args.trades, args.instruments, registry, work)
        print(f"ingest: {result['ingest']}", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
