"""runner's adapter conformance suite against FakeBinance, spot and USD-M futures."""

from __future__ import annotations

from typing import Any

import pytest
from binance_data import make_fake, make_venue
from runner_binance.plugin import BINANCE

from runner.testing.conformance import FakeControls, VenueConformance


class BinanceHarness:
    def __init__(self, market: str = "spot") -> None:
        self.server = make_fake(market)
        self.exchange, self.symbols = BINANCE, ["BTCUSDT"]
        self.controls = FakeControls(self.server.venue, self.server)

    async def start(self) -> None:
        await self.server.start()

    async def stop(self) -> None:
        await self.server.stop()

    def connect(self) -> Any:
        return make_venue(self.server)


class TestBinanceConformance(VenueConformance):
    """Spot (`/api/v3`, executionReport)."""

    @pytest.fixture
    def harness(self) -> BinanceHarness:
        return BinanceHarness("spot")


class TestBinanceFuturesConformance(VenueConformance):
    """USD-M futures (`/fapi`, ORDER_TRADE_UPDATE, stops through the Algo Service)."""

    @pytest.fixture
    def harness(self) -> BinanceHarness:
        return BinanceHarness("futures")
