"""The adapter conformance suite against the built-in `sim` venue (in process: the
network cases skip themselves). One `FakeVenue` is shared by every connection of a
case, so a restart meets the same exchange; the random walk is off so that the suite
prints every trade itself."""

from __future__ import annotations

import pytest

from runner.definitions import ExchangeDef
from runner.sim import SIM, SimParams
from runner.sim.venue import SimVenue
from runner.testing.conformance import FakeControls, VenueConformance
from runner.testing.fake_venue import FakeVenue
from runner.venue.contract import Venue


class SimHarness:
    exchange: ExchangeDef = SIM
    symbols = ("BTC/USDT", "ETH/USDT")

    def __init__(self) -> None:
        self.fake = FakeVenue({}, balances={})
        self.controls = FakeControls(self.fake)

    async def start(self) -> None:
        # instruments exist before the suite prints (as on a real venue)
        await SimVenue(fake=self.fake, walk=False).instruments(self.symbols)

    async def stop(self) -> None:
        return None

    def connect(self) -> Venue:
        return SimVenue(SimParams(), fake=self.fake, walk=False)


class TestSimConformance(VenueConformance):
    @pytest.fixture
    def harness(self) -> SimHarness:
        return SimHarness()
