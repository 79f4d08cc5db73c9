"""Helpers of the live-mode tests against FakeBinance (a plain module, like
`binance_data`, so its name is unique in a pytest session).

- `MarketThread`: a `FakeBinance` (spot, BTCUSDT) over a `FakeVenue` whose clock is a
  `ManualClock`, served from its own event loop in a background thread, so a runner
  can run in the test's thread (`run_live`) or in a subprocess.
- `Driver`: an accelerated market. Bar window k (1m) gets a few prints, stamped in
  simulated time and printed all at once; the first of them closes bar k-1 on the
  kline stream. Lockstep: before it prints window k+1, the driver waits until the
  venue has been quiet (no HTTP request, no websocket message, no submit) for
  `quiet_s` and the runner's market and user streams are connected, so the runner
  has acted on bar k-1 (a market order fills at the last print of window k, which
  is known before the runner can send it) and taken in the venue's answers. The
  clock stands still while the runner acts: prices, fills and their times depend
  on the prints only.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
from runner_binance.testing import FakeBinance

from runner.testing.fake_venue import FakeVenue, ManualClock
from runner.venue.contract import InstrumentMeta

T = TypeVar("T")
SYMBOL = "BTCUSDT"
MINUTE = 60_000
START_MS = 1_700_000_040_000 - 1_700_000_040_000 % MINUTE  # a minute boundary
OFFSETS = (1_000, 21_000, 41_000)
"""Where in its minute each of a window's prints is stamped."""


def instruments() -> dict[str, InstrumentMeta]:
    return {SYMBOL: InstrumentMeta(SYMBOL, SYMBOL, 0.01, 0.001, min_quantity=0.001,
                                   max_quantity=100.0, min_notional=5.0, base_asset="BTC",
                                   quote_asset="USDT")}


def strategy_yaml(fake: FakeBinance, *, name: str = "bnlive", account: str = "main",
                  extra_params: str = "") -> str:
    """Always in or out: buy 0.01 BTC at market when flat, close when long (an order
    at every bar after the first). `heartbeat` is far above any wall-time pause of
    the driver: the bar path must not depend on the wall clock."""
    return f"""\
version: 1
name: {name}
venue:
  exchange: binance
  account: {account}
  params: {{rest_url: "{fake.http_url}", ws_url: "{fake.ws_url}"{extra_params}}}
instruments: [{SYMBOL}]
timeframes: [1m]
indicators:
  fast: {{type: sma, period: 2}}
orders:
  - when: position == 0 and fast > 0
    side: buy
    type: market
    size: {{quantity: 0.01}}
  - when: position > 0
    action: close
live: {{heartbeat: 3600, warmup: 5}}
backtest: {{cash: 1000000}}
"""


class MarketThread:
    """FakeBinance in a loop of its own, in a daemon thread (module docstring)."""

    def __init__(self, *, api_key: str = "test-key", api_secret: str = "test-secret",
                 market: str = "spot") -> None:
        self.clock = ManualClock(START_MS)
        self.venue = FakeVenue(instruments(), balances={"USDT": 10_000_000.0, "BTC": 0.0},
                               clock_ms=self.clock, shorting=market == "futures")
        self.fake = FakeBinance(self.venue, market=market,  # type: ignore[arg-type]
                                api_key=api_key, api_secret=api_secret)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                        name="fake-binance")

    def __enter__(self) -> MarketThread:
        self._thread.start()
        self.run(self.fake.start(), timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.run(self.fake.stop(), timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coro` in the fake's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, fn: Callable[[], T], timeout: float = 10) -> T:
        """Call `fn` in the fake's loop (the venue is not thread-safe)."""
        async def inner() -> T:
            return fn()
        return self.run(inner(), timeout)


def walk(seed: int, windows: int, start_price: float = 50_000.0
         ) -> list[list[tuple[int, float, float]]]:
    """Per window, its prints (offset in the minute, price, amount): a seeded random
    walk, on the 0.01 tick, amounts large enough to fill any order of the strategy."""
    rng = random.Random(seed)
    price = start_price
    out = []
    for _ in range(windows):
        prints = []
        for offset in OFFSETS:
            price = max(1000.0, price * math.exp(rng.gauss(0, 0.002)))
            prints.append((offset, round(price, 2), round(1 + rng.random(), 3)))
        out.append(prints)
    return out


class Driver:
    """Prints windows in lockstep with the runner (module docstring). Every method
    runs in the fake's loop (`MarketThread.run`)."""

    def __init__(self, market: MarketThread, windows: list[list[tuple[int, float, float]]],
                 *, quiet_s: float = 0.02, max_wait_s: float = 30.0) -> None:
        self.market = market
        self.windows = windows
        self.quiet_s = quiet_s
        self.max_wait_s = max_wait_s
        self.next = 0
        """The next window to print."""
        self.waited_s = 0.0

    def print_window(self) -> None:
        k = self.next
        t0 = START_MS + k * MINUTE
        prints = self.windows[k]
        self.market.clock.set(t0 + prints[-1][0])
        for offset, price, amount in prints:
            self.market.venue.trade(SYMBOL, price, amount, t0 + offset)
        self.next += 1

    def history(self, n: int) -> None:
        """Print `n` windows with nobody listening (the warm-up the runner reads)."""
        for _ in range(n):
            self.print_window()

    def _activity(self) -> tuple[int, ...]:
        fake = self.market.fake
        return (len(fake.requests), fake.connections, len(self.market.venue.attempts),
                sum(s.sent for s in fake.sockets), len(fake.sockets))

    def streams_up(self) -> bool:
        """The runner's kline stream and user stream are both connected."""
        paths = [s.path for s in self.market.fake.sockets if not s.closed]
        return any(p.startswith("/stream") for p in paths) and \
            any(p.startswith("/ws/") for p in paths)

    async def settle(self, extra: Callable[[], bool] | None = None) -> bool:
        """Wait until the venue was quiet for `quiet_s` with both streams up; False
        after `max_wait_s`, or as soon as `extra()` (if given) is False."""
        start = time.monotonic()
        last = self._activity()
        since = time.monotonic()
        while time.monotonic() - start < self.max_wait_s:
            await asyncio.sleep(0.001)
            if extra is not None and not extra():
                break
            now = self._activity()
            if now != last:
                last, since = now, time.monotonic()
                continue
            if time.monotonic() - since >= self.quiet_s and self.streams_up():
                self.waited_s += time.monotonic() - start
                return True
        self.waited_s += time.monotonic() - start
        return False

    async def step(self, extra: Callable[[], bool] | None = None) -> bool:
        """Settle, then print the next window; False when the runner did not settle."""
        if not await self.settle(extra):
            return False
        self.print_window()
        return True


# -- what a run left ---------------------------------------------------------------------

def journal_payloads(path: Path, kind: str) -> list[dict[str, Any]]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [json.loads(p) for (p,) in db.execute(
            "SELECT payload FROM events WHERE kind = ? ORDER BY seq", (kind,))]
    finally:
        db.close()


def iso(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def csv_fills(out: Path) -> list[tuple[str, datetime, float, float]]:
    frame = pl.read_csv(out / "fills.csv", try_parse_dates=True)
    times = [t if isinstance(t, datetime) else datetime.fromisoformat(str(t))
             for t in frame["time"].to_list()]
    return sorted(zip(frame["side"].to_list(), [t.astimezone(UTC) for t in times],
                      frame["price"].to_list(), frame["quantity"].to_list(), strict=True))


def venue_fill_rows(venue: FakeVenue) -> list[tuple[str, datetime, float, float]]:
    return sorted((f.side, iso(f.time_ms), f.price, f.quantity) for f in venue.fills(SYMBOL))


def assert_books_agree(venue: FakeVenue, journal: Path, out: Path) -> None:
    """The venue's fills, the journal's `venue_fill` events and fills.csv are the same
    fills (trade ids, prices, quantities, times), and no order was sent twice."""
    fills = venue.fills(SYMBOL)
    journaled = journal_payloads(journal, "venue_fill")
    by_id = {p["trade_id"]: p for p in journaled}
    assert len(by_id) == len(journaled), "a venue fill was journaled twice"
    assert sorted(by_id) == sorted(f.trade_id for f in fills)
    for f in fills:
        p = by_id[f.trade_id]
        assert (p["client_id"], p["side"], p["price"], p["quantity"], p["time_ms"]) == \
            (f.client_id, f.side, f.price, f.quantity, f.time_ms), f.trade_id
    assert csv_fills(out) == venue_fill_rows(venue)
    ids = [r.client_id for r in venue.submitted]
    assert len(ids) == len(set(ids)), "an order was sent twice"


def assert_bars_contiguous(journal: Path) -> list[int]:
    """The journal's `bar` events: consecutive 1m opens from the first to the last."""
    opens = [int(p["t"]) for p in journal_payloads(journal, "bar")]
    assert opens, "no bar journaled"
    assert opens == list(range(opens[0], opens[-1] + MINUTE, MINUTE)), \
        "a bar is missing or repeated"
    return opens
