"""Live mode end to end against FakeBinance (spot) with faults all through the run.

`run_live` runs in the test's thread; FakeBinance serves 127.0.0.1 from a thread of
its own, its market driven in simulated time (`live_market.Driver`: 1m bars, a few
prints each, lockstep with the runner). Faults: a websocket drop after every 200th
message of a connection, 5% of HTTP requests answered 503, a burst of 429s with
Retry-After, every user event sent twice with probability 0.2, and a partial fill
every 25 bars. What must hold: the venue's fills, the journal's `venue_fill` events
and fills.csv are the same fills; no order was sent twice; the session stepped every
bar (the journal's `bar` events are contiguous 1m opens).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from pathlib import Path
from typing import Any

import pytest
from live_market import (
    Driver,
    MarketThread,
    assert_bars_contiguous,
    assert_books_agree,
    journal_payloads,
    strategy_yaml,
    walk,
)

from runner.config.validate import Validated, validate_text
from runner.live.binding import LiveOptions, LiveOutcome, run_live
from runner.plugins import Registry, load_registry


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry(autoload=False, extra=["runner_binance.plugin"])


BARS = int(os.environ.get("RUNNER_BINANCE_E2E_BARS", "2000"))
HISTORY = 10


def fast_backoff(registry: Registry) -> Registry:
    """The registry with `binance` connecting as usual, then with test-sized back-off
    (REST 10 ms base, stream reconnect 10-50 ms): CI time, same code paths."""
    binance = registry.exchanges["binance"]
    assert binance.connect is not None
    connect = binance.connect

    def quick(params: Any, credentials: Any = None) -> Any:
        venue = connect(params, credentials)
        venue.rest.backoff_base_s = 0.01
        venue.stream_options.update(backoff_base_s=0.01, backoff_max_s=0.05)
        return venue

    return dataclasses.replace(registry, exchanges={
        **registry.exchanges, "binance": dataclasses.replace(binance, connect=quick)})


def validated(registry: Registry, text: str, tmp_path: Path) -> Validated:
    path = tmp_path / "live.yaml"
    path.write_text(text, encoding="utf-8")
    result = validate_text(text, str(path), registry)
    assert not result.errors, [d.message for d in result.errors]
    return result


@dataclasses.dataclass
class Measured:
    bars: int = 0
    seconds: float = 0.0
    outcome: LiveOutcome | None = None
    counts: dict[str, int] = dataclasses.field(default_factory=dict)


def run_with_faults(registry: Registry, tmp_path: Path, bars: int, *, seed: int = 11,
                    api_key: str = "test-key", api_secret: str = "test-secret",
                    ) -> tuple[Measured, MarketThread, Path]:
    """One faulted live run of `bars` bars (module docstring); the market is left
    running for the caller to inspect (exit the MarketThread after)."""
    market = MarketThread(api_key=api_key, api_secret=api_secret)
    market.__enter__()
    windows = walk(seed, HISTORY + bars + 50)
    driver = Driver(market, windows, quiet_s=0.01)
    market.call(lambda: driver.history(HISTORY))
    strategy = validated(registry, strategy_yaml(market.fake), tmp_path)
    fake, venue = market.fake, market.venue
    stop_driving = asyncio.Event()

    async def drive() -> None:
        fake.faults.drop_every(200)
        fake.faults.error_rate(0.05, 503, seed=seed)
        venue.user_faults.set(duplicate_rate=0.2, seed=seed)
        k = 0
        while not stop_driving.is_set():
            if k == bars // 2:
                fake.faults.rate_limit(3, 0.2)  # one burst: 3 answers of 429
            if k % 25 == 7:
                venue.partial_fill_next(0.5)
            if not await driver.step(lambda: not stop_driving.is_set()):
                return
            k += 1

    env = {"RUNNER_BINANCE_MAIN_API_KEY": fake.api_key,
           "RUNNER_BINANCE_MAIN_API_SECRET": fake.api_secret}
    out = tmp_path / "run"
    driving = market.submit(drive())
    started = time.monotonic()
    try:
        outcome = run_live(strategy, fast_backoff(registry), LiveOptions(
            out_dir=out, journal_dir=tmp_path, environ=env, max_bars=bars))
    finally:
        market.loop.call_soon_threadsafe(stop_driving.set)
        driving.result(30)
    measured = Measured(outcome.stats.rows, time.monotonic() - started, outcome)
    requests = market.call(lambda: list(fake.requests))
    measured.counts = {
        "ws_connections": market.call(lambda: fake.connections),
        "http_requests": len(requests),
        "http_5xx_injected": sum(r.fault == "error_rate" for r in requests),
        "http_429": sum(r.status == 429 for r in requests),
        "router_retries": outcome.retries,
        "orders_sent": outcome.sent,
        "submit_attempts": len(venue.attempts),
        "venue_fills": len(venue.fills()),
        "gap_warnings": sum("gap" in p for p in journal_payloads(outcome.journal, "warning")),
    }
    return measured, market, out


def test_a_faulted_live_run_books_exactly_the_venues_fills(registry: Registry,
                                                            tmp_path: Path) -> None:
    measured, market, out = run_with_faults(registry, tmp_path, BARS)
    try:
        outcome = measured.outcome
        assert outcome is not None and outcome.stopped and not outcome.halted
        assert not outcome.stats.errors, outcome.stats.errors
        assert outcome.stats.rows >= BARS
        counts = measured.counts
        print(f"\nlive e2e: {measured.bars} bars in {measured.seconds:.1f} s; {counts}")
        venue = market.venue
        market.call(lambda: assert_books_agree(venue, outcome.journal, out))
        opens = assert_bars_contiguous(outcome.journal)
        assert len(opens) >= BARS
        # the faults did happen, and were lived through
        assert counts["ws_connections"] >= 2 + 2 * (BARS // 400)  # dropped and reconnected
        assert counts["http_5xx_injected"] > 0 and counts["http_429"] == 3
        assert counts["venue_fills"] > BARS // 3
        assert any(f.quantity < 0.01 for f in venue.fills()), "no partial fill happened"
        assert all(o.final for o in market.call(venue.orders))  # cancelled at the stop
    finally:
        market.__exit__(None, None, None)
