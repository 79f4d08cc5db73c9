"""pytest fixtures of the test kit, registered through the `pytest11` entry point
(`[project.entry-points.pytest11] runner = "runner.testing.plugin"`), so any package
installed next to `runner` gets them without a conftest:

- `fake_clock` — a `ManualClock` (epoch ms, moved by hand);
- `fake_venue` — a `FakeVenue` trading `BTC/USDT` and `ETH/USDT` on the `sim` grid,
  100 000 USDT and 10 BTC / 100 ETH, shorting allowed, on `fake_clock`;
- `eventually` — the async `runner.testing.eventually.eventually`;
- `run_async` — runs a coroutine to completion on a fresh event loop, so a plain
  sync test can drive servers and clients without pytest-asyncio:

      def test_it(run_async, fake_venue):
          async def go():
              async with MyFake(fake_venue) as fake: ...
          run_async(go(), timeout=10)

Servers start inside the coroutine (a port-0 server belongs to its event loop), so
there is no server fixture: `async with FakeExchange(fake_venue)` is the one line.
Heavy imports happen when a fixture is used, not when pytest starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    from runner.testing.fake_venue import FakeVenue, ManualClock

T = TypeVar("T")

FAKE_SYMBOLS = ("BTC/USDT", "ETH/USDT")


def run_async(coro: Coroutine[Any, Any, T], timeout: float | None = 30.0) -> T:
    """Run `coro` on a fresh event loop (failing after `timeout` seconds)."""
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded() if timeout is not None else coro)


@pytest.fixture(name="run_async")
def run_async_fixture() -> Callable[..., Any]:
    return run_async


@pytest.fixture(name="eventually")
def eventually_fixture() -> Callable[..., Awaitable[Any]]:
    from runner.testing.eventually import eventually
    return eventually


@pytest.fixture
def fake_clock() -> ManualClock:
    from runner.testing.fake_venue import ManualClock
    return ManualClock()


@pytest.fixture
def fake_venue(fake_clock: ManualClock) -> FakeVenue:
    from runner.testing.fake_venue import FakeVenue, make_instruments
    return FakeVenue(make_instruments(FAKE_SYMBOLS),
                     balances={"USDT": 100_000.0, "BTC": 10.0, "ETH": 100.0},
                     clock_ms=fake_clock)


__all__ = ["FAKE_SYMBOLS", "run_async"]
