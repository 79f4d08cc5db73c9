"""Historical klines: pagination, closed bars only, and the parquet export that the
built-in `parquet` data source reads."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from binance_data import make_fake, make_venue
from runner_binance.history import fetch_klines_to_parquet, read_klines


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20))


def print_minutes(fake: Any, base: int, n: int) -> None:
    for i in range(n):
        fake.venue.trade("BTCUSDT", 100.0 + i, 1.0, base + i * 60_000 + 5_000)


def test_klines_are_paginated_and_only_closed() -> None:
    async def main() -> None:
        async with make_fake() as fake, make_venue(fake) as venue:
            now = venue.rest.now_ms()
            base = (now // 60_000 - 6) * 60_000
            print_minutes(fake, base, 7)  # the 7th bar is still open
            bars = await read_klines(venue.rest.get, "/api/v3/klines", "BTCUSDT", "1m",
                                     base, now + 60_000, now_ms=now, limit=2)
            assert [b.open_ms - base for b in bars] == [i * 60_000 for i in range(6)]
            pages = [r for r in fake.requests if r.path == "/api/v3/klines"]
            assert len(pages) == 4
            via_venue = await venue.klines("BTCUSDT", "1m", base + 60_000, base + 180_000)
            assert [b.bar[0] for b in via_venue] == [101.0, 102.0]
    run(main())


def test_fetch_klines_to_parquet_reads_back_through_the_parquet_source(tmp_path: Path) -> None:
    from runner.data.load import load_bars

    async def main() -> Path:
        async with make_fake() as fake:
            base = (fake.now_ms() // 60_000 - 10) * 60_000
            print_minutes(fake, base, 5)
            params = {"market": "spot", "rest_url": fake.http_url, "ws_url": fake.ws_url}
            start = datetime.fromtimestamp(base / 1000, UTC)
            return await fetch_klines_to_parquet(params, "BTCUSDT", "1m", start,
                                                 base + 5 * 60_000,
                                                 tmp_path / "BTCUSDT-1m.parquet")

    out = run(main())
    loaded = load_bars(str(tmp_path / "{symbol}-1m.parquet"), "BTCUSDT", source="parquet",
                       timeframe_seconds=60)
    frame = getattr(loaded, "frame", loaded)
    assert out.exists()
    assert frame["close"].to_list() == [100.0, 101.0, 102.0, 103.0, 104.0]
    assert str(frame.schema["time"]) == "Datetime(time_unit='ms', time_zone='UTC')"
