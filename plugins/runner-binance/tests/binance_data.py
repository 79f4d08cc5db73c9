"""Helpers of the runner-binance tests: the recorded Binance payloads in
../shared/data/binance (skipped with a reason when that checkout is absent) and a
`load` helper (a plain module, not conftest, so its name is unique in a session)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

BINANCE_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "binance"


def load(relative: str) -> Any:
    """One recorded payload, parsed; skips the test when ../shared is absent."""
    path = BINANCE_DATA / relative
    if not BINANCE_DATA.is_dir():
        pytest.skip(f"recorded Binance payloads not found at {BINANCE_DATA} "
                    "(the ../shared/data checkout is absent)")
    return json.loads(path.read_text(encoding="utf-8"))


def instruments() -> dict[str, Any]:
    from runner.venue.contract import InstrumentMeta

    return {"BTCUSDT": InstrumentMeta("BTCUSDT", "BTCUSDT", 0.01, 0.001, min_quantity=0.001,
                                      max_quantity=100.0, min_notional=5.0, base_asset="BTC",
                                      quote_asset="USDT")}


def make_fake(market: str = "spot", **venue_options: Any) -> Any:
    """A FakeBinance over a fresh FakeVenue with BTCUSDT at 50000 (not started)."""
    from runner_binance.testing import FakeBinance

    from runner.testing.fake_venue import FakeVenue

    venue = FakeVenue(instruments(), balances={"USDT": 100_000.0, "BTC": 10.0},
                      shorting=market == "futures", **venue_options)
    venue.set_price("BTCUSDT", 50_000.0)
    return FakeBinance(venue, market=market)  # type: ignore[arg-type]


def make_venue(fake: Any, **params: Any) -> Any:
    """A BinanceVenue pointed at a started fake, with the fake's credentials."""
    from runner_binance.plugin import BinanceParams
    from runner_binance.venue import BinanceVenue

    from runner.venue.contract import Credentials

    model = BinanceParams(market=fake.market, rest_url=fake.http_url, ws_url=fake.ws_url,
                          **params)
    venue = BinanceVenue(model, Credentials(fake.api_key, fake.api_secret),
                         stream_options={"backoff_base_s": 0.01, "backoff_max_s": 0.05})
    venue.rest.backoff_base_s = 0.01
    return venue
