"""`runner data fetch`: a venue's history into the parquet file a backtest reads.

Against the sim venue, whose history is its own tape, so the test knows every bar
it must get; the file is then read back through the `parquet` data source.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from runner.data.fetch import fetch_history
from runner.errors import UsageError
from runner.plugins import Registry
from runner.sim import SimParams
from runner.sim.venue import SimVenue
from runner.testing.fake_venue import FakeVenue

START = datetime(2024, 1, 1, tzinfo=UTC)
START_MS = int(START.timestamp() * 1000)


def test_a_fetch_writes_every_closed_bar_in_range(registry: Registry, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeVenue({}, balances={})

    async def tape() -> None:
        await SimVenue(SimParams(), fake=fake, walk=False).instruments(["AAA"])
        for k in range(25 * 60):  # one print every 2 s for 50 minutes
            fake.trade("AAA", 100.0 + (k % 7), 1.0, START_MS + 2000 * k)

    asyncio.run(tape())
    import dataclasses

    import runner.data.fetch as fetch_module

    sim = registry.exchanges["sim"]
    shared = dataclasses.replace(registry, exchanges={**registry.exchanges, "sim": (
        dataclasses.replace(sim, connect=lambda p, c: SimVenue(p, fake=fake, walk=False)))})
    monkeypatch.setattr(fetch_module, "CHUNK_BARS", 7)  # several chunks, progress each
    seen: list[tuple[int, int]] = []
    out = tmp_path / "data" / "AAA-5m.parquet"
    count = fetch_history(shared, "sim", "AAA", "5m", START, datetime(2024, 1, 1, 0, 40),
                          out, progress=lambda done, total: seen.append((done, total)))
    assert count == 8 and seen[-1] == (8, 8) and len(seen) == 2
    frame = pl.read_parquet(out)
    assert frame.columns == ["time", "open", "high", "low", "close", "volume"]
    expected = fake.bars("AAA", "5m", START_MS, START_MS + 40 * 60_000)
    assert frame["time"].dt.epoch("ms").to_list() == [b.open_ms for b in expected]
    assert frame["close"].to_list() == [b.bar[3] for b in expected]
    assert not list(out.parent.glob("*.partial"))


def test_bad_requests_are_usage_errors(registry: Registry, tmp_path: Path) -> None:
    out = tmp_path / "x.parquet"
    with pytest.raises(UsageError, match='no exchange plugin named "nope"'):
        fetch_history(registry, "nope", "AAA", "1m", START, START, out)
    with pytest.raises(UsageError, match="must be after"):
        fetch_history(registry, "sim", "AAA", "1m", START, START, out)
    with pytest.raises(UsageError, match="not a timeframe"):
        fetch_history(registry, "sim", "AAA", "7x", START, datetime(2024, 2, 1), out)
    with pytest.raises(UsageError, match="venue params"):
        fetch_history(registry, "sim", "AAA", "1m", START, datetime(2024, 2, 1), out,
                      params={"seed": "not a number"})
    assert not out.exists()


def test_the_cli_fetches_binance_klines_from_a_local_fake(tmp_path: Path) -> None:
    """`runner data fetch binance ...` in a subprocess against FakeBinance on
    127.0.0.1 (its own event loop in a thread); the file is what `parquet` reads."""
    import os
    import subprocess
    import sys
    import threading

    testing = pytest.importorskip("runner_binance.testing",
                                  reason="the runner-binance plugin is not installed")
    from runner.data.load import load_bars
    from runner.testing.fake_venue import make_instruments

    venue = FakeVenue(make_instruments(["BTCUSDT"], tick_size=0.01, lot_size=1e-5),
                      balances={"USDT": 1000.0})
    fake = testing.FakeBinance(venue, market="spot")
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    done = asyncio.Event()

    async def serve() -> None:
        async with fake:
            base = (fake.now_ms() // 60_000 - 30) * 60_000
            for i in range(20):
                venue.trade("BTCUSDT", 100.0 + i, 1.0, base + i * 60_000 + 1_000)
            serve.base = base  # type: ignore[attr-defined]
            ready.set()
            await done.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    try:
        assert ready.wait(10)
        base: int = serve.base  # type: ignore[attr-defined]
        start = datetime.fromtimestamp(base / 1000, UTC).isoformat()
        end = datetime.fromtimestamp((base + 10 * 60_000) / 1000, UTC).isoformat()
        out = tmp_path / "BTCUSDT-1m.parquet"
        env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNER_")}
        run = subprocess.run([sys.executable, "-m", "runner", "data", "fetch", "binance",
                              "BTCUSDT", "1m", "--from", start, "--to", end,
                              "--param", f"rest_url={fake.http_url}",
                              "--param", f"ws_url={fake.ws_url}", "--out", str(out)],
                             env=env, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == f"{out} (10 bars)"
        bars = load_bars(str(tmp_path / "{symbol}-1m.parquet"), "BTCUSDT", source="parquet",
                         timeframe_seconds=60)
        frame = getattr(bars, "frame", bars)
        assert frame["close"].to_list() == [100.0 + i for i in range(10)]
    finally:
        loop.call_soon_threadsafe(done.set)
        thread.join(10)
