"""Golden tests of `Portfolio`: numbers worked out by hand in the comments."""

from __future__ import annotations

import pytest

from runner.engine.portfolio import Portfolio
from runner.sim.orders import Fill, InstrumentSpec, Side


def fill(side: Side, qty: float, price: float, fee: float = 0.0, t: int = 0,
         symbol: str = "BTC") -> Fill:
    return Fill("o", symbol, side, t, price, qty, fee, "taker", t)


def test_open_add_partial_close_and_close() -> None:
    p = Portfolio(10_000.0)
    p.apply(fill("buy", 2, 100, fee=1, t=1))            # cash 9999
    p.apply(fill("buy", 1, 130, fee=0.5, t=2))          # avg (200+130)/3 = 110
    pos = p.position("BTC")
    assert pos.quantity == 3
    assert pos.avg_price == pytest.approx(110)
    assert pos.entry_time == 1
    assert p.cash == pytest.approx(9998.5)
    p.mark("BTC", 120)                                  # 3 * (120-110) = 30
    assert p.unrealized_pnl() == pytest.approx(30)
    assert p.equity() == pytest.approx(10028.5)
    assert p.exposure() == pytest.approx(360)

    assert p.apply(fill("sell", 1, 140, fee=0.5, t=3)) == pytest.approx(30)
    assert pos.quantity == 2
    assert pos.avg_price == pytest.approx(110)          # reducing keeps the average
    assert p.cash == pytest.approx(10028)               # 9998.5 + 30 - 0.5
    assert p.trades == []                               # a partial close is not a trip

    assert p.apply(fill("sell", 2, 90, fee=1, t=4), "stop_loss") == pytest.approx(-40)
    assert pos.is_flat and pos.avg_price == 0
    assert p.cash == pytest.approx(9987)                # 10028 - 40 - 1
    assert p.realized_pnl == pytest.approx(-10)
    assert p.fees == pytest.approx(3)
    (t,) = p.trades
    assert (t.instrument, t.side, t.quantity) == ("BTC", "long", 3)
    assert (t.entry_time, t.exit_time, t.exit_reason) == (1, 4, "stop_loss")
    assert t.entry_price == pytest.approx(110)
    assert t.exit_price == pytest.approx((140 + 2 * 90) / 3)
    assert t.gross_pnl == pytest.approx(-10)
    assert t.fees == pytest.approx(3)
    assert t.pnl == pytest.approx(-13)                  # = cash change over the trip


def test_flip_with_multiplier_splits_fee() -> None:
    p = Portfolio(100_000.0, {"ES": InstrumentSpec(tick_size=0.25, multiplier=50)})
    p.apply(fill("buy", 2, 5000, fee=2, t=1, symbol="ES"))
    # sell 5: closes 2 (+2 * 10 * 50 = 1000, fee 5 * 2/5 = 2), opens 3 short (fee 3)
    assert p.apply(fill("sell", 5, 5010, fee=5, t=2, symbol="ES"), "reverse") == 1000
    pos = p.position("ES")
    assert pos.quantity == -3 and pos.avg_price == 5010 and pos.entry_time == 2
    assert p.cash == pytest.approx(100_993)             # 100000 - 2 - 5 + 1000
    t1 = p.trades[0]
    assert (t1.side, t1.quantity, t1.entry_price, t1.exit_price) == ("long", 2, 5000, 5010)
    assert t1.gross_pnl == 1000 and t1.fees == pytest.approx(4) and t1.pnl == pytest.approx(996)
    assert t1.exit_reason == "reverse"

    p.mark("ES", 5000)                                  # -3 * (5000 - 5010) * 50 = 1500
    assert p.unrealized_pnl("ES") == pytest.approx(1500)
    assert p.equity() == pytest.approx(102_493)
    assert p.exposure("ES") == pytest.approx(3 * 5000 * 50)

    # cover at 4990: 3 * 20 * 50 = 3000
    assert p.apply(fill("buy", 3, 4990, fee=3, t=3, symbol="ES"), "target") == 3000
    t2 = p.trades[1]
    assert (t2.side, t2.quantity, t2.entry_price, t2.exit_price) == ("short", 3, 5010, 4990)
    assert t2.fees == pytest.approx(6) and t2.pnl == pytest.approx(2994)
    assert (t2.entry_time, t2.exit_time) == (2, 3)
    assert p.cash == pytest.approx(103_990)             # 100000 + 996 + 2994
    assert p.instrument_pnl("ES") == pytest.approx(3990)


def test_short_partial_close_and_add() -> None:
    p = Portfolio(1_000.0)
    p.apply(fill("sell", 4, 50, t=1))
    assert p.apply(fill("buy", 1, 45, t=2)) == pytest.approx(5)   # 1 * (50-45)
    p.apply(fill("sell", 1, 60, t=3))                   # avg (3*50 + 60)/4 = 52.5
    pos = p.position("BTC")
    assert pos.quantity == -4 and pos.avg_price == pytest.approx(52.5)
    p.mark("BTC", 55)
    assert p.unrealized_pnl() == pytest.approx(-10)     # -4 * (55 - 52.5)
    assert p.equity() == pytest.approx(995)
    p.apply(fill("buy", 4, 52, t=4))                    # 4 * 0.5 = 2
    (t,) = p.trades
    assert t.side == "short" and t.quantity == 5 and t.entry_price == pytest.approx(52.5)
    assert t.exit_price == pytest.approx((45 + 4 * 52) / 5)
    assert t.pnl == pytest.approx(7)
    assert p.cash == pytest.approx(1007)


def test_equity_curve_drawdown() -> None:
    p = Portfolio(1_000.0)
    p.apply(fill("buy", 10, 100))
    p.mark("BTC", 110)
    a = p.record_equity(1)
    p.mark("BTC", 99)
    b = p.record_equity(2)
    assert (a.equity, a.cash, a.drawdown) == (1100, 1000, 0)
    assert b.equity == pytest.approx(990)
    assert b.drawdown == pytest.approx(0.1)             # 1 - 990/1100
    assert p.equity_curve == [a, b]


def test_float_noise_closes_flat_and_unmarked_is_zero_unrealized() -> None:
    p = Portfolio(100.0)
    p.apply(fill("buy", 0.1, 10))
    p.apply(fill("buy", 0.2, 10))
    assert p.unrealized_pnl() == 0
    p.apply(fill("sell", 0.3, 11))
    assert p.position("BTC").is_flat
    assert len(p.trades) == 1 and p.trades[0].pnl == pytest.approx(0.3)
    assert p.open_positions() == []
