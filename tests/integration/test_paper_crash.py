"""Crash safety: a paper replay killed with SIGKILL at 24 different points and
restarted each time ends with the `fills.csv`, `trades.csv` and `orders.csv` of an
uninterrupted run — nothing lost, nothing twice — and a journal holding exactly the
uninterrupted run's events.

The runs are real processes (`python -m runner run ... --mode paper --replay`): the
kill lands wherever the process is (reading, stepping, inside a journal commit,
restoring after the previous kill). Kill points are spread over the replay by
watching the journal grow (read-only, as another process would), each a different
number of journaled bars.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl

from runner.config.validate import validate_file
from runner.plugins import load_registry
from runner.runtime.paper import PaperOptions, run_paper

ROOT = Path(__file__).resolve().parents[2]
BARS = 12_000
KILLS = 24
STRATEGY = """\
version: 1
name: crash-test
instruments:
  AAAUSD: {{tick_size: 0.01}}
  BBBUSD: {{tick_size: 0.01}}
data: {{source: parquet, path: "{data}", timeframe: 1m}}
timeframes: [1m, 5m]
indicators:
  fast: {{type: ema, period: 4}}
  slow: {{type: sma, period: 12}}
signals:
  up: crosses_above(fast, slow)
  down: crosses_below(fast, slow) or close < close@5m * 0.997
orders:
  - when: up and position == 0
    side: buy
    type: limit
    price: close * 0.9995
    expire_after: 3 bars
    size: {{equity_pct: 20}}
    stop_loss: entry_price * 0.995
    take_profit: entry_price * 1.006
  - when: down and position > 0
    action: close
backtest: {{cash: 100000, fees: {{maker: 0.0002, taker: 0.0005}}, slippage_bps: 1}}
"""


def _write_bars(folder: Path) -> str:
    rng = np.random.default_rng(11)
    start = 1_717_200_000_000  # 2024-06-01 00:00 UTC
    for k, symbol in enumerate(("AAAUSD", "BBBUSD")):
        steps = rng.normal(0.0, 0.0008, (BARS, 4))
        path = (100.0 + 50 * k) * np.exp(np.cumsum(steps.ravel())).reshape(BARS, 4)
        prices = np.round(path, 2)
        keep = rng.random(BARS) > 0.02  # each instrument misses a few bars
        frame = pl.DataFrame({
            "time": pl.Series(start + np.arange(BARS) * 60_000).cast(pl.Datetime("ms"))
            .dt.replace_time_zone("UTC"),
            "open": prices[:, 0], "high": prices.max(axis=1), "low": prices.min(axis=1),
            "close": prices[:, -1], "volume": np.ones(BARS)}).filter(pl.Series(keep))
        frame.write_parquet(folder / f"{symbol}-1m.parquet")
    return str(folder / "{symbol}-1m.parquet")


def _journaled_bars(journal: Path) -> int:
    if not journal.exists():
        return 0
    try:
        db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=0.2)
        try:
            return int(db.execute("SELECT count(*) FROM events WHERE kind = 'bar'")
                       .fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0  # not created yet, or locked for a moment


def _events(journal: Path) -> tuple[Counter[str], list[str]]:
    db = sqlite3.connect(journal)
    try:
        kinds = Counter(k for (k,) in db.execute("SELECT kind FROM events"))
        orders = [p for (p,) in db.execute(
            "SELECT json_extract(payload, '$.id') FROM events WHERE kind = 'order' "
            "ORDER BY seq")]
        return kinds, orders
    finally:
        db.close()


def test_sigkill_at_24_points_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    data = _write_bars(tmp_path)
    strategy = tmp_path / "strategy.yaml"
    strategy.write_text(STRATEGY.format(data=data), encoding="utf-8")
    registry = load_registry(autoload=False)
    validated = validate_file(strategy, registry)
    assert validated.ok, [str(d) for d in validated.errors]

    clean = tmp_path / "clean"
    outcome = run_paper(validated, registry, PaperOptions(out_dir=clean, replay=data,
                                                          journal_dir=clean))
    assert outcome.summary is not None
    total = _journaled_bars(clean / "state.sqlite")
    assert total > 10_000

    crashed = tmp_path / "crashed"
    journal = crashed / "state.sqlite"
    command = [sys.executable, "-m", "runner", "run", str(strategy), "--mode", "paper",
               "--replay", data, "--speed", "0", "--out", str(crashed)]
    env = {**os.environ, "RUNNER_DISABLE_PLUGIN_AUTOLOAD": "1"}
    rng = random.Random(5)
    killed_at: list[int] = []
    for k in range(KILLS):
        # each kill after more journaled bars than the last one (restored ones included)
        done = killed_at[-1] if killed_at else 0
        room = (total * 9 // 10 - done) // (KILLS - k)
        target = done + rng.randint(max(1, room // 3), max(2, room * 3 // 2))
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while _journaled_bars(journal) < target and process.poll() is None:
            assert time.monotonic() < deadline, "the replay made no progress"
            time.sleep(0.005)
        assert process.poll() is None, process.stderr.read().decode() if process.stderr \
            else "ended before its kill"
        time.sleep(rng.random() * 0.05)  # land anywhere, not just after a commit
        process.send_signal(signal.SIGKILL)
        process.wait()
        killed_at.append(_journaled_bars(journal))
    assert len(set(killed_at)) == KILLS and killed_at[-1] < total, killed_at

    final = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=120, check=False)
    assert final.returncode == 0, final.stderr
    assert "resumed from" in final.stderr
    for name in ("fills.csv", "trades.csv", "orders.csv", "equity.csv"):
        assert (crashed / name).read_text(encoding="utf-8") == \
            (clean / name).read_text(encoding="utf-8"), name
    want_kinds, want_orders = _events(clean / "state.sqlite")
    got_kinds, got_orders = _events(journal)
    assert got_orders == want_orders  # every intent once, in order
    for kind in ("bar", "order", "fill", "signal", "risk", "dropped"):
        assert got_kinds[kind] == want_kinds[kind], kind
    assert got_kinds["resume"] >= KILLS - 1
    with sqlite3.connect(journal) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
