"""SimVenue: the sim exchange's connect factory, its random walk and streams."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from runner.market import TradeEvent
from runner.sim import SIM, SimParams
from runner.sim.venue import DEFAULT_LOT, DEFAULT_TICK, SimVenue
from runner.testing.eventually import eventually
from runner.testing.plugin import run_async
from runner.venue.contract import OrderRequest


def test_connect_factory_and_capabilities() -> None:
    assert SIM.connect is not None
    venue = SIM.connect(SimParams(seed=3), None)
    assert isinstance(venue, SimVenue) and venue.params.seed == 3
    caps = SIM.capabilities
    assert caps.trading and caps.history and not caps.amend
    assert caps.streams == frozenset({"trades", "bars", "quotes"})


def test_registering_sim_imports_no_network_stack() -> None:
    code = ("import sys; from runner.plugins import load_registry; "
            "load_registry(autoload=False); "
            "print(sorted(m for m in ('aiohttp', 'websockets', 'runner.sim.venue') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_walk_streams_trades_and_fills_market_orders() -> None:
    async def go() -> None:
        params = SimParams(seed=1, start_price=50.0, trades_per_second=500)
        async with SimVenue(params) as venue:
            meta = (await venue.instruments(["BTC/USDT"]))["BTC/USDT"]
            assert (meta.tick_size, meta.lot_size, meta.quote_asset) == \
                (DEFAULT_TICK, DEFAULT_LOT, "USDT")
            seen: list[TradeEvent] = []

            async def read() -> None:
                async for event in venue.trades(["BTC/USDT"]):
                    assert isinstance(event, TradeEvent)
                    seen.append(event)
            task = asyncio.create_task(read())
            await eventually(lambda: len(seen) >= 10)
            task.cancel()
            assert all(30 < e.trade.price < 80 for e in seen)
            state = await venue.submit(OrderRequest("m1", "BTC/USDT", "buy", "market", 0.5))
            assert state.status == "filled"
            [pos] = await venue.positions(["BTC/USDT"])
            assert pos.quantity == 0.5
            now = venue.fake.clock_ms()
            assert await venue.klines("BTC/USDT", "1m", now - 600_000, now) is not None
        assert venue._walkers == {}
    run_async(go(), timeout=10)
