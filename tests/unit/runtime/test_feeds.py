"""`runner.runtime.feeds`: trades files, the pacer and the sim venue's random walk."""

from __future__ import annotations

import asyncio
import gzip
import json
import math
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from runner.errors import UsageError
from runner.runtime.feeds import Pacer, TradeEvent, is_trades, load_trades, random_walk
from tests.unit.runtime.tiny import START_MS, write_parquet, zigzag

TIMES = [START_MS + 1_500, START_MS + 2_000, START_MS + 61_250]
PRICES = [100.5, 101.0, 99.25]
AMOUNTS = [0.5, 1.0, 2.0]
EXPECTED = pl.DataFrame({"time_ms": TIMES, "price": PRICES, "amount": AMOUNTS},
                        schema={"time_ms": pl.Int64, "price": pl.Float64,
                                "amount": pl.Float64})


def _parquet(path: Path) -> None:
    """Trades with datetime times (no zone: UTC) and a `qty` column."""
    pl.DataFrame({
        "time": [datetime.fromtimestamp(t / 1000, UTC).replace(tzinfo=None) for t in TIMES],
        "price": PRICES, "qty": AMOUNTS, "side": ["buy", "sell", "buy"],
    }).with_columns(pl.col("time").cast(pl.Datetime("ms"))).write_parquet(path)


def _csv(path: Path) -> None:
    """Trades with epoch-ms times and an `amount` column."""
    lines = ["timestamp,price,amount"] + [
        f"{t},{p},{a}" for t, p, a in zip(TIMES, PRICES, AMOUNTS, strict=True)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _freqtrade(path: Path) -> None:
    """freqtrade's dump: `[timestamp_ms, id, type, side, price, amount, cost]`."""
    rows = [[t, str(k), None, "buy", p, a, p * a]
            for k, (t, p, a) in enumerate(zip(TIMES, PRICES, AMOUNTS, strict=True))]
    with gzip.open(path, "wt") as fh:
        json.dump(rows, fh)


@pytest.mark.parametrize(("name", "write"), [
    ("t.parquet", _parquet), ("t.csv", _csv), ("t.json.gz", _freqtrade)])
def test_trades_files(tmp_path: Path, name: str, write: object) -> None:
    path = tmp_path / name
    write(path)  # type: ignore[operator]
    assert is_trades(path)
    frame = load_trades(path)
    assert frame.equals(EXPECTED), frame
    after = load_trades(path, after_ms=TIMES[0])
    assert after["time_ms"].to_list() == TIMES[1:]


def test_a_bars_file_is_not_trades(tmp_path: Path) -> None:
    path = tmp_path / "bars.parquet"
    write_parquet(path, zigzag(5))
    assert not is_trades(path)


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(("name", "content", "message"), [
    ("t.xlsx", b"x", "unknown format"),
    ("t.parquet", b"not a parquet file", "cannot read it"),
    ("t.csv", b"", "cannot read it"),
    ("t.csv", b"price,amount\n1,2\n", "needs a time column"),
    ("t.csv", b"time,price,amount\nnoon,1,2\n", "must hold epoch milliseconds or datetimes"),
    ("t.csv", b"time,price,amount\n1,,2\n", "trades with empty fields"),
    ("t.json", b"[[1, 2, 3]]", "not a freqtrade trades dump"),
    ("t.json", b'[{"timestamp": 1}]', "not a freqtrade trades dump"),
    ("t.json", b"[[1, 2", "not a freqtrade trades dump"),
    ("t.json.gz", b"not gzip", "not a freqtrade trades dump"),
    ("t.json.gz", gzip.compress(b'{"a": 1}'), "not a freqtrade trades dump"),
])
def test_bad_trades_files_are_usage_errors(tmp_path: Path, name: str, content: bytes,
                                           message: str) -> None:
    """Every unreadable file is a one-line usage error naming it, never a traceback
    of the reader underneath."""
    path = _write(tmp_path / name, content)
    with pytest.raises(UsageError) as info:
        if is_trades(path):
            load_trades(path)
    text = str(info.value)
    assert text.startswith(f"--replay {path}: ") and message in text
    assert "\n" not in text


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """Every `asyncio.sleep` delay asked for (the sleep itself only yields)."""
    asked: list[float] = []
    real = asyncio.sleep

    async def fake(delay: float, result: object = None) -> object:
        asked.append(delay)
        return await real(0, result)

    monkeypatch.setattr(asyncio, "sleep", fake)
    yield asked


def test_pacer_zero_never_sleeps(sleeps: list[float]) -> None:
    """Speed 0 ignores event time (a year of events in no time) and only yields to
    the loop now and then."""
    pacer = Pacer(0)

    async def main() -> None:
        for k in range(1000):
            await pacer.wait(START_MS + k * 3_600_000 * 9)

    began = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - began < 2
    assert sleeps and all(d == 0 for d in sleeps)


def test_pacer_paces_event_time() -> None:
    """At 2000x, 200 s of events take at least about 0.1 s, and two feeds sharing the
    pacer come out in event-time order whatever order they ask in."""
    pacer = Pacer(2000)
    order: list[int] = []

    async def feed(times: list[int]) -> None:
        for t in times:
            await pacer.wait(START_MS + t)
            order.append(t)

    async def main() -> None:
        await pacer.wait(START_MS)  # the anchor
        await asyncio.gather(feed(list(range(20_000, 200_001, 20_000))),
                             feed(list(range(10_000, 190_001, 20_000))))

    began = time.monotonic()
    asyncio.run(main())
    elapsed = time.monotonic() - began
    assert 0.08 <= elapsed < 5
    assert order == sorted(order) and len(order) == 20


@pytest.mark.parametrize("speed", [-1, math.nan, math.inf])
def test_pacer_refuses_a_bad_speed(speed: float) -> None:
    with pytest.raises(UsageError, match="--speed"):
        Pacer(speed)


def _walk(symbol: str, seed: int, n: int, volatility: float = 0.03
          ) -> tuple[list[TradeEvent], list[float]]:
    ticks = iter(range(10**9))
    delays: list[float] = []

    async def main() -> list[TradeEvent]:
        out: list[TradeEvent] = []
        walk = random_walk(symbol, seed=seed, start_price=50.0, volatility=volatility,
                           trades_per_second=1000, clock_ms=lambda: START_MS + next(ticks))
        async for event in walk:
            assert isinstance(event, TradeEvent)
            out.append(event)
            if len(out) == n:
                break
        await walk.aclose()  # type: ignore[attr-defined]
        return out

    real = asyncio.sleep

    async def fake(delay: float, result: object = None) -> object:
        delays.append(delay)
        return await real(0, result)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(asyncio, "sleep", fake)
        return asyncio.run(main()), delays


def test_random_walk_is_deterministic_per_seed_and_symbol() -> None:
    a, delays_a = _walk("AAA", 7, 300)
    again, delays_again = _walk("AAA", 7, 300)
    assert a == again and delays_a == delays_again
    assert [e.trade.price for e in _walk("BBB", 7, 300)[0]] != [e.trade.price for e in a]
    assert [e.trade.price for e in _walk("AAA", 8, 300)[0]] != [e.trade.price for e in a]
    assert all(e.symbol == "AAA" for e in a)
    assert [e.trade.time_ms for e in a] == [START_MS + k for k in range(300)]
    assert all(d > 0 for d in delays_a)


def test_random_walk_prices_stay_positive() -> None:
    events, _ = _walk("AAA", 1, 3000, volatility=50.0)
    prices = [e.trade.price for e in events]
    assert all(p > 0 and math.isfinite(p) for p in prices)
    assert len(set(prices)) > 100  # it does move
    assert all(e.trade.amount > 0 for e in events)


def test_a_venue_stream_is_split_into_one_feed_per_instrument() -> None:
    """Each instrument's feed gets its own events in stream order; an instrument the run
    does not trade is counted and ignored; a failing stream ends every feed with its
    error, after what each already holds."""
    from runner.market import MarketEvent, TradeEvent
    from runner.market import Trade as MarketTrade
    from runner.runtime.feeds import Demultiplexer

    closed: list[bool] = []

    async def stream() -> AsyncIterator[MarketEvent]:
        try:
            for k in range(6):
                yield TradeEvent("AAA" if k % 2 else "BBB", MarketTrade(k, 1.0 + k, 1.0))
                yield TradeEvent("ZZZ", MarketTrade(k, 1.0, 1.0))
            raise ConnectionError("socket gone")
        finally:
            closed.append(True)

    async def main() -> tuple[dict[str, list[int]], dict[str, str], int]:
        split = Demultiplexer(stream(), ["AAA", "BBB"])
        got: dict[str, list[int]] = {"AAA": [], "BBB": []}
        errors: dict[str, str] = {}

        async def drain(symbol: str, feed: AsyncIterator[MarketEvent]) -> None:
            try:
                async for event in feed:
                    assert isinstance(event, TradeEvent)
                    got[symbol].append(event.trade.time_ms)
            except ConnectionError as exc:
                errors[symbol] = str(exc)

        async with asyncio.TaskGroup() as group:
            for symbol, feed in split.feeds().items():
                group.create_task(drain(symbol, feed))
        return got, errors, split.unknown

    got, errors, unknown = asyncio.run(main())
    assert got == {"AAA": [1, 3, 5], "BBB": [0, 2, 4]}
    assert errors == {"AAA": "socket gone", "BBB": "socket gone"}
    assert unknown == 6 and closed == [True]
