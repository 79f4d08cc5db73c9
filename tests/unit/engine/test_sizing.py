"""Golden tests of `size_order`, one per sizing mode (hand-computed)."""

from __future__ import annotations

import math

import pytest

from runner.config.models import Size
from runner.engine.sizing import SizeSpec, size_order
from runner.sim.orders import InstrumentSpec

SPOT = InstrumentSpec(tick_size=0.01, lot_size=0.00001, min_notional=5)
ES = InstrumentSpec(tick_size=0.25, lot_size=1, multiplier=50)


def test_quantity_rounds_down_to_lot() -> None:
    spec = InstrumentSpec(lot_size=0.001)
    assert size_order(SizeSpec("quantity", 1.23456), 0, 100, None, spec) == 1.234


def test_notional() -> None:
    # 1000 / 30000 = 0.0333333.. -> 0.03333 lots of 0.00001
    assert size_order(SizeSpec("notional", 1000), 10_000, 30_000, None, SPOT) == 0.03333
    # 600000 / (5000 * 50) = 2.4 -> 2 contracts
    assert size_order(SizeSpec("notional", 600_000), 0, 5000, None, ES) == 2


def test_equity_pct() -> None:
    # 10000 * 50% / 200 = 25
    assert size_order(SizeSpec("equity_pct", 50), 10_000, 200, None, InstrumentSpec()) == 25
    # with multiplier 5: 5000 / (200 * 5) = 5
    spec = InstrumentSpec(multiplier=5)
    assert size_order(SizeSpec("equity_pct", 50), 10_000, 200, None, spec) == 5


def test_risk_pct() -> None:
    # 10000 * 1% / |100 - 95| = 20
    assert size_order(SizeSpec("risk_pct", 1), 10_000, 100, 95, InstrumentSpec()) == 20
    # a short's stop above entry: same distance
    assert size_order(SizeSpec("risk_pct", 1), 10_000, 100, 105, InstrumentSpec()) == 20
    # ES: 100000 * 1.5% / (10 points * 50) = 3; 1.2% -> 2.4 -> 2
    assert size_order(SizeSpec("risk_pct", 1.5), 100_000, 5000, 4990, ES) == 3
    assert size_order(SizeSpec("risk_pct", 1.2), 100_000, 5000, 4990, ES) == 2


def test_drops_with_reasons() -> None:
    # 0.04 * 100 = 4 < min_notional 5
    r = size_order(SizeSpec("quantity", 0.04), 0, 100, None, SPOT)
    assert isinstance(r, str) and "min_notional" in r
    r = size_order(SizeSpec("quantity", 0.4), 0, 100, None, ES)
    assert r == "quantity rounds down to zero lots"
    for bad in (
        size_order(SizeSpec("risk_pct", 1), 10_000, 100, None, SPOT),
        size_order(SizeSpec("risk_pct", 1), 10_000, 100, 100, SPOT),
        size_order(SizeSpec("equity_pct", 10), 0, 100, None, SPOT),
        size_order(SizeSpec("notional", 100), 0, 0, None, SPOT),
        size_order(SizeSpec("quantity", -1), 0, 100, None, SPOT),
        size_order(SizeSpec("quantity", math.nan), 0, 100, None, SPOT),
    ):
        assert isinstance(bad, str)


def test_from_model() -> None:
    assert SizeSpec.from_model(Size(risk_pct="1.5"), float) == SizeSpec("risk_pct", 1.5)
    assert SizeSpec.from_model(Size(notional="2 * 50"), lambda e: 100.0).mode == "notional"
    with pytest.raises(ValueError):
        SizeSpec.from_model(Size(), float)
