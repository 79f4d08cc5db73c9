"""`runner.runtime.executor`: hand-made async feeds into a real `Session`.

Each test drives `Executor.run` with async generators of `BarEvent`/`TradeEvent`
and records every row the session is handed (a wrapper around `Session.on_bars`),
so the assertions are about what the strategy side saw: which bars, in which rows,
in which order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

import pytest

from runner.bars.ticks import Trade
from runner.engine.rows import Bar
from runner.plugins import Registry
from runner.runtime.executor import DropOldestQueue, Executor, RunStats
from runner.runtime.feeds import BarEvent, MarketEvent, TradeEvent
from runner.runtime.session import Session
from tests.unit.runtime.tiny import MINUTE, RISK_HALT, START_MS, validated, zigzag

Row = tuple[int, dict[str, Bar]]


def session_for(registry: Registry, tmp_path: Path, symbols: Sequence[str],
                **kw: str) -> tuple[Session, list[Row]]:
    """A journal-less session of the tiny strategy and the list its rows go to."""
    session = Session(validated(registry, tmp_path, symbols, **kw), registry, journal=None)
    seen: list[Row] = []
    step = session.on_bars

    def on_bars(open_ms: int, bars: Mapping[str, Bar], *, journal_bar: bool = True) -> None:
        seen.append((open_ms, dict(bars)))
        step(open_ms, bars, journal_bar=journal_bar)

    session.on_bars = on_bars  # type: ignore[method-assign]
    return session, seen


def executor(session: Session, *, lossless: bool = True, queue_size: int = 64,
             grace_ms: int = 0, stop: asyncio.Event | None = None,
             **kw: object) -> Executor:
    return Executor(session, base_tf="1m", closed="left", grace_ms=grace_ms,
                    lossless=lossless, stop=stop or asyncio.Event(), queue_size=queue_size,
                    **kw)  # type: ignore[arg-type]


def run(ex: Executor, feeds: Mapping[str, AsyncIterator[MarketEvent]],
        timeout: float = 20.0) -> RunStats:
    async def main() -> RunStats:
        return await asyncio.wait_for(ex.run(feeds), timeout)

    return asyncio.run(main())


def bar_at(minute: int, symbol_offset: float = 0.0) -> Bar:
    """A distinct, valid bar for minute `minute` (the zigzag's, shifted per symbol)."""
    o, h, lo, c, v = zigzag(minute + 1)[minute]
    return (o + symbol_offset, h + symbol_offset, lo + symbol_offset, c + symbol_offset, v)


async def bar_feed(symbol: str, minutes: Sequence[int], *, offset: float = 0.0,
                   pause_every: int = 0, sleep_s: float = 0.0) -> AsyncIterator[MarketEvent]:
    """Bars at `minutes`; every `pause_every` bars it awaits `asyncio.sleep(sleep_s)`
    (0: never awaits, a burst)."""
    for k, m in enumerate(minutes):
        if pause_every and k % pause_every == 0:
            await asyncio.sleep(sleep_s)
        yield BarEvent(symbol, START_MS + m * MINUTE, bar_at(m, offset))


async def endless(symbol: str, offset: float = 0.0) -> AsyncIterator[MarketEvent]:
    """A bar a minute forever, yielding to the loop before each."""
    m = 0
    while True:
        await asyncio.sleep(0)
        yield BarEvent(symbol, START_MS + m * MINUTE, bar_at(m % 50, offset))
        m += 1


def expected_rows(by_symbol: Mapping[str, tuple[Sequence[int], float]]) -> list[Row]:
    """Rows as the clock should build them: one per distinct time, with exactly the
    instruments that have a bar then."""
    times = sorted({m for minutes, _ in by_symbol.values() for m in minutes})
    return [(START_MS + m * MINUTE,
             {s: bar_at(m, off) for s, (minutes, off) in by_symbol.items() if m in minutes})
            for m in times]


def test_rows_merge_instruments_in_timestamp_order(registry: Registry,
                                                   tmp_path: Path) -> None:
    """Three instruments, each at its own rate and with its own gaps and pauses: the
    session gets one row per time, in time order, each with exactly that time's bars."""
    plan = {"AAA": (list(range(60)), 0.0),
            "BBB": ([m for m in range(60) if m % 3 != 1], 1000.0),
            "CCC": (list(range(7, 60, 5)), 2000.0)}
    session, seen = session_for(registry, tmp_path, list(plan))
    feeds = {"AAA": bar_feed("AAA", plan["AAA"][0], pause_every=1),
             "BBB": bar_feed("BBB", plan["BBB"][0], offset=1000.0),  # a burst
             "CCC": bar_feed("CCC", plan["CCC"][0], offset=2000.0, pause_every=2,
                             sleep_s=0.001)}
    stats = run(executor(session, queue_size=4), feeds)
    want = expected_rows(plan)
    assert seen == want
    assert [t for t, _ in seen] == sorted(t for t, _ in seen)
    assert stats.rows == session.bars == len(want) == 60
    assert stats.events == stats.bars == sum(len(m) for m, _ in plan.values())
    assert stats.errors == [] and stats.dropped == 0 and stats.late == 0


def test_busy_instrument_cannot_starve_a_quiet_one(registry: Registry,
                                                   tmp_path: Path) -> None:
    """AAA bursts 1000 bars with no await; BBB yields one bar in ten, yielding to the
    loop between each. Every row still comes in time order with both instruments'
    bars, and AAA never runs more than its bounded queues ahead of the clock."""
    queue_size = 8
    plan = {"AAA": (list(range(1000)), 0.0), "BBB": (list(range(0, 1000, 10)), 500.0)}
    session, seen = session_for(registry, tmp_path, list(plan))
    produced = {"AAA": 0}
    ahead: list[int] = []

    async def busy() -> AsyncIterator[MarketEvent]:
        async for event in bar_feed("AAA", plan["AAA"][0]):
            produced["AAA"] += 1
            ahead.append(produced["AAA"] - len(seen))
            yield event

    async def quiet() -> AsyncIterator[MarketEvent]:
        for m in plan["BBB"][0]:
            for _ in range(3):
                await asyncio.sleep(0)
            yield BarEvent("BBB", START_MS + m * MINUTE, bar_at(m, 500.0))

    stats = run(executor(session, queue_size=queue_size), {"AAA": busy(), "BBB": quiet()})
    assert seen == expected_rows(plan)
    assert stats.rows == 1000
    # market-data queue + bar queue + the one item each task holds
    assert max(ahead) <= 2 * queue_size + 4


def test_failing_feed_is_isolated(registry: Registry, tmp_path: Path) -> None:
    """AAA's feed raises after 5 bars: one error line naming it, `on_error` called
    with it, and every BBB bar still reaches the session in order."""
    session, seen = session_for(registry, tmp_path, ["AAA", "BBB"])
    calls: list[tuple[str, str]] = []

    async def failing() -> AsyncIterator[MarketEvent]:
        async for event in bar_feed("AAA", range(5), pause_every=1):
            yield event
        raise ConnectionError("socket closed")

    ex = executor(session, on_error=lambda s, line: calls.append((s, line)))
    stats = run(ex, {"AAA": failing(), "BBB": bar_feed("BBB", range(20), offset=50.0)})
    assert len(stats.errors) == 1
    assert stats.errors[0] == "AAA: feed: ConnectionError: socket closed"
    assert calls == [("AAA", stats.errors[0])]
    assert seen == expected_rows({"AAA": (range(5), 0.0), "BBB": (range(20), 50.0)})


def test_failing_bar_building_is_isolated(registry: Registry, tmp_path: Path) -> None:
    """A trade the bar builder cannot take ends only that instrument's stream
    (stage `bars`); the other's rows are all processed."""
    session, seen = session_for(registry, tmp_path, ["AAA", "BBB"])

    async def bad_trades() -> AsyncIterator[MarketEvent]:
        yield TradeEvent("AAA", Trade(START_MS + 1000, 100.0, 1.0))
        yield TradeEvent("AAA", Trade(START_MS + 2000, None, 1.0))  # type: ignore[arg-type]

    stats = run(executor(session), {"AAA": bad_trades(),
                                    "BBB": bar_feed("BBB", range(10), offset=50.0)})
    assert len(stats.errors) == 1 and stats.errors[0].startswith("AAA: bars: TypeError")
    assert [t for t, _ in seen] == [START_MS + m * MINUTE for m in range(10)]
    assert all("BBB" in bars for _, bars in seen)


def test_drop_oldest_queue() -> None:
    async def main() -> None:
        queue = DropOldestQueue(3)
        events = [BarEvent("AAA", START_MS + m * MINUTE, bar_at(m)) for m in range(5)]
        for event in events:
            # never waits, even when full
            await asyncio.wait_for(queue.put(event), timeout=0.5)
        assert queue.qsize() == 3 and queue.dropped == 2
        assert [await queue.get() for _ in range(3)] == events[2:]
        queue.put_nowait(None)
        assert queue.dropped == 2 and await queue.get() is None

    asyncio.run(main())


def test_live_run_drops_oldest_and_bounds_depth(registry: Registry,
                                                tmp_path: Path) -> None:
    """A live feed bursting 500 bars into a stalled consumer: the clock waits for a
    silent instrument until the row's end plus grace, an hour away, so the bar queue
    fills and the market-data queue behind it drops its oldest, counted, never
    holding more than its size."""
    queue_size = 16
    session, seen = session_for(registry, tmp_path, ["AAA", "BBB"])
    stop = asyncio.Event()
    ahead = (time.time_ns() // 1_000_000 // MINUTE + 60) * MINUTE  # an hour from now

    async def burst() -> AsyncIterator[MarketEvent]:
        for m in range(500):
            yield BarEvent("AAA", ahead + m * MINUTE, bar_at(m))
        asyncio.get_running_loop().call_later(0.3, stop.set)
        await asyncio.Event().wait()  # the socket stays open

    async def silent() -> AsyncIterator[MarketEvent]:
        await asyncio.Event().wait()
        yield BarEvent("BBB", ahead, bar_at(0))  # pragma: no cover

    stats = run(executor(session, lossless=False, queue_size=queue_size, stop=stop),
                {"AAA": burst(), "BBB": silent()})
    assert stats.events == 500
    assert stats.dropped > 400
    assert stats.max_depth <= queue_size
    assert stats.dropped + stats.bars <= stats.events
    assert seen == []  # the clock never had a complete row


def test_trades_become_bars_and_late_trades_are_counted(registry: Registry,
                                                        tmp_path: Path) -> None:
    """Trades build 1m bars by exchange time; one a second late (within the 1 s grace)
    still joins its bar, one after its bar was final is counted late and ignored."""
    session, seen = session_for(registry, tmp_path, ["AAA"])
    s = 1000
    trades = [
        (10 * s, 100.0, 1.0), (30 * s, 102.0, 2.0), (50 * s, 99.0, 0.5),   # minute 0
        (61 * s, 101.0, 1.0), (120 * s + 300, 103.0, 1.0),                 # 1, 2
        (119 * s + 500, 98.0, 4.0),   # minute 1, 0.8 s after its end: within grace
        (125 * s, 104.0, 1.0), (190 * s, 105.0, 1.0),                      # 2, 3
        (100 * s, 50.0, 9.0),         # minute 1 again, long after it was final: late
        (200 * s, 106.0, 3.0),                                             # 3
    ]

    async def feed() -> AsyncIterator[MarketEvent]:
        for t, price, amount in trades:
            yield TradeEvent("AAA", Trade(START_MS + t, price, amount))

    stats = run(executor(session, grace_ms=1000), {"AAA": feed()})
    assert stats.late == 1
    assert stats.events == len(trades) and stats.bars == stats.rows == 4
    assert seen == [
        (START_MS, {"AAA": (100.0, 102.0, 99.0, 99.0, 3.5)}),
        (START_MS + MINUTE, {"AAA": (101.0, 101.0, 98.0, 98.0, 5.0)}),
        (START_MS + 2 * MINUTE, {"AAA": (103.0, 104.0, 103.0, 104.0, 2.0)}),
        (START_MS + 3 * MINUTE, {"AAA": (105.0, 106.0, 105.0, 106.0, 4.0)}),
    ]


@pytest.mark.parametrize("lossless", [True, False], ids=["replay", "live"])
def test_stop_ends_the_run_between_rows(registry: Registry, tmp_path: Path,
                                        lossless: bool) -> None:
    """`stop` set while rows flow ends `run()` promptly: the session has taken only
    whole rows, and the endless feeds (one of them silent) are cancelled."""
    session, seen = session_for(registry, tmp_path, ["AAA", "BBB"])
    stop = asyncio.Event()
    step = session.on_bars
    states: list[tuple[int, int]] = []
    stopped_at: list[float] = []

    def on_bars(open_ms: int, bars: Mapping[str, Bar], *, journal_bar: bool = True) -> None:
        step(open_ms, bars, journal_bar=journal_bar)
        states.append((len(seen), session.bars))
        if len(seen) == 5:
            stop.set()
            stopped_at.append(time.monotonic())

    session.on_bars = on_bars  # type: ignore[method-assign]

    async def silent() -> AsyncIterator[MarketEvent]:
        await asyncio.Event().wait()
        yield BarEvent("BBB", START_MS, bar_at(0))  # pragma: no cover

    # a replay waits for every instrument, so there the second one flows too
    feeds = {"AAA": endless("AAA"), "BBB": endless("BBB", 10.0) if lossless else silent()}
    stats = run(executor(session, lossless=lossless, stop=stop), feeds, timeout=10)
    # the clock yields to the loop every few ms of rows, and the stop takes effect then
    assert time.monotonic() - stopped_at[0] < 1.0
    assert 5 <= len(seen) < 5 + 1000
    assert stats.rows == len(seen) == session.bars
    assert all(n == bars for n, bars in states)  # every row was stepped whole


def test_halt_stops_a_live_run(registry: Registry, tmp_path: Path) -> None:
    """With `halt_stops` (a live feed) the run ends at the row where the risk gate
    halts, not at the end of the feed."""
    session, seen = session_for(registry, tmp_path, ["AAA"], extra=RISK_HALT)
    stats = run(executor(session, halt_stops=True), {"AAA": bar_feed("AAA", range(200))})
    assert session.halted
    assert 0 < stats.rows == len(seen) < 200


def test_end_ms_ends_the_run_before_that_row(registry: Registry, tmp_path: Path) -> None:
    session, seen = session_for(registry, tmp_path, ["AAA"])
    stats = run(executor(session, end_ms=START_MS + 10 * MINUTE),
                {"AAA": bar_feed("AAA", range(30))})
    assert stats.rows == 10 and seen[-1][0] == START_MS + 9 * MINUTE


def test_a_live_bar_is_emitted_at_its_end_plus_grace_with_no_trade_after_it(
        registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A quiet market after a trade: the bar still reaches the session when the wall
    clock passes its end + grace (the builder sleeps until then, it does not poll).
    The wall clock is shifted so that a minute ends 300 ms into the test."""
    import runner.runtime.executor as executor_module

    real = executor_module._wall_ms
    now = real()
    shift = (now // MINUTE + 1) * MINUTE - 300 - now
    monkeypatch.setattr(executor_module, "_wall_ms", lambda: real() + shift)
    window_end = (now + shift) // MINUTE * MINUTE + MINUTE
    session, seen = session_for(registry, tmp_path, ["AAA"])
    stop = asyncio.Event()
    arrived: list[int] = []
    step = session.on_bars

    def on_bars(open_ms: int, bars: Mapping[str, Bar], *, journal_bar: bool = True) -> None:
        step(open_ms, bars, journal_bar=journal_bar)
        arrived.append(real() + shift)
        stop.set()

    session.on_bars = on_bars  # type: ignore[method-assign]

    async def one_trade_then_silence() -> AsyncIterator[MarketEvent]:
        yield TradeEvent("AAA", Trade(window_end - 1000, 100.0, 1.0))
        await asyncio.Event().wait()

    run(executor(session, lossless=False, grace_ms=50, stop=stop),
        {"AAA": one_trade_then_silence()}, timeout=10)
    assert [open_ms for open_ms, _ in seen] == [window_end - MINUTE]
    assert window_end + 50 <= arrived[0] < window_end + 50 + 150
