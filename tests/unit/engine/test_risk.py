"""Golden tests of `RiskGate`: one per limit, per on_breach action, and the Chicago
day boundary across both 2024 DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from runner.config.models import DayStart, Risk, TradingHours
from runner.engine.portfolio import Portfolio
from runner.engine.risk import RiskGate, TradingDay, closing_orders, in_trading_hours
from runner.sim.orders import Fill, InstrumentSpec, Order, Side

T0 = datetime(2024, 1, 2, 12, 0, tzinfo=UTC)


def order(side: Side, qty: float, symbol: str = "BTC", reduce_only: bool = False) -> Order:
    return Order("o", symbol, side, qty, reduce_only=reduce_only)


def book(p: Portfolio, side: Side, qty: float, price: float, symbol: str = "BTC") -> None:
    p.apply(Fill("f", symbol, side, 0, price, qty, 0.0, "taker", 0))
    p.mark(symbol, price)


def gate(**kw: Any) -> RiskGate:
    return RiskGate(Risk(**kw))


def test_allow_short() -> None:
    p = Portfolio(10_000)
    g = gate()
    d = g.check(order("sell", 1), T0, 100, p)
    assert (d.action, d.limit) == ("reject", "allow_short")
    assert "allow_short" in d.reason
    assert gate(allow_short=True).check(order("sell", 1), T0, 100, p).accepted
    book(p, "buy", 1, 100)
    assert g.check(order("sell", 1), T0, 100, p).accepted          # an exit
    assert g.check(order("sell", 2), T0, 100, p).limit == "allow_short"   # a flip
    assert not g.halted                                            # a rule, not a limit


def test_trading_hours() -> None:
    p = Portfolio(10_000)
    g = gate(trading_hours=TradingHours(start="08:30", end="15:00", tz="America/Chicago"),
             on_breach="halt")
    # 2024-01-02 14:00 UTC is 08:00 CST: closed; 15:00 UTC is 09:00 CST: open
    d = g.check(order("buy", 1), T0.replace(hour=14), 100, p)
    assert (d.action, d.limit) == ("reject", "trading_hours")
    assert g.check(order("buy", 1), T0.replace(hour=15), 100, p).accepted
    book(p, "buy", 1, 100)
    assert g.check(order("sell", 1), T0.replace(hour=14), 100, p).accepted   # exit
    assert not g.halted


def test_in_trading_hours_overnight_and_days() -> None:
    h = TradingHours(start="17:00", end="16:00", tz="America/Chicago", days=["sun", "mon"])
    # Sun 2024-01-07 23:30 UTC = 17:30 CST Sunday: in
    assert in_trading_hours(h, datetime(2024, 1, 7, 23, 30, tzinfo=UTC))
    # Mon 2024-01-08 21:30 UTC = 15:30 CST Monday, Sunday's session: in
    assert in_trading_hours(h, datetime(2024, 1, 8, 21, 30, tzinfo=UTC))
    # Mon 16:30 CST: the daily break
    assert not in_trading_hours(h, datetime(2024, 1, 8, 22, 30, tzinfo=UTC))
    # Tue 2024-01-09 23:30 UTC = Tue 17:30 CST: a Tuesday session, not listed
    assert not in_trading_hours(h, datetime(2024, 1, 9, 23, 30, tzinfo=UTC))


def test_max_position() -> None:
    p = Portfolio(10_000)
    book(p, "buy", 0.4, 100)
    g = gate(max_position={"BTC": 0.5})
    assert g.check(order("buy", 0.1), T0, 100, p).accepted        # 0.5 is not over 0.5
    d = g.check(order("buy", 0.2), T0, 100, p)                     # 0.6 > 0.5
    assert (d.action, d.limit) == ("reject", "max_position")
    assert g.check(order("buy", 5, "ETH"), T0, 100, p).accepted   # ETH unlimited


def test_max_position_flip() -> None:
    p = Portfolio(10_000)
    book(p, "buy", 0.4, 100)
    g = gate(max_position=1, allow_short=True)
    assert g.check(order("sell", 1.4), T0, 100, p).accepted       # to -1.0
    assert g.check(order("sell", 1.5), T0, 100, p).limit == "max_position"   # to -1.1


def test_max_gross_exposure() -> None:
    p = Portfolio(100_000)
    book(p, "buy", 10, 2000, "ETH")                                # 20000
    g = gate(max_gross_exposure=50_000)
    assert g.check(order("buy", 0.7), T0, 40_000, p).accepted     # 28000 + 20000
    d = g.check(order("buy", 0.8), T0, 40_000, p)                  # 32000 + 20000
    assert (d.limit, d.action) == ("max_gross_exposure", "reject")
    assert "52000" in d.reason
    g = gate(max_gross_exposure={"BTC": 30_000})
    assert g.check(order("buy", 0.7), T0, 40_000, p).accepted     # 28000, ETH ignored
    assert g.check(order("buy", 0.8), T0, 40_000, p).limit == "max_gross_exposure"
    es = Portfolio(1_000_000, {"ES": InstrumentSpec(multiplier=50)})
    g = gate(max_gross_exposure=300_000)
    assert g.check(order("buy", 1, "ES"), T0, 5000, es).accepted  # 250000
    assert not g.check(order("buy", 2, "ES"), T0, 5000, es).accepted  # 500000


def test_max_positions() -> None:
    p = Portfolio(10_000)
    book(p, "buy", 1, 100)
    g = gate(max_positions=1)
    assert g.check(order("buy", 1, "ETH"), T0, 10, p).limit == "max_positions"
    assert g.check(order("buy", 1), T0, 100, p).accepted          # adding is fine


def test_max_open_orders() -> None:
    p = Portfolio(10_000)
    g = gate(max_open_orders=2)
    assert g.check(order("buy", 1), T0, 100, p, {"BTC": 1, "ETH": 1}).limit == "max_open_orders"
    assert g.check(order("buy", 1), T0, 100, p, {"BTC": 1}).accepted
    g = gate(max_open_orders={"BTC": 1})
    assert g.check(order("buy", 1), T0, 100, p, {"BTC": 1}).limit == "max_open_orders"
    assert g.check(order("buy", 1, "ETH"), T0, 100, p, {"BTC": 1, "ETH": 5}).accepted


def test_max_orders_per_minute() -> None:
    p = Portfolio(10_000)
    g = gate(max_orders_per_minute=2)
    s = timedelta(seconds=1)
    assert g.check(order("buy", 1), T0, 100, p).accepted
    assert g.check(order("buy", 1), T0 + 10 * s, 100, p).accepted
    assert g.check(order("buy", 1), T0 + 20 * s, 100, p).limit == "max_orders_per_minute"
    # at T0+60s the T0 order has left the window; the rejected one never counted
    assert g.check(order("buy", 1), T0 + 60 * s, 100, p).accepted
    assert g.check(order("buy", 1), T0 + 61 * s, 100, p).limit == "max_orders_per_minute"
    g = gate(max_orders_per_minute={"ETH": 1})
    assert g.check(order("buy", 1, "ETH"), T0, 100, p).accepted
    assert not g.check(order("buy", 1, "ETH"), T0, 100, p).accepted
    assert g.check(order("buy", 1), T0, 100, p).accepted


def test_max_daily_trades_resets_at_day_start() -> None:
    p = Portfolio(10_000)
    g = gate(max_daily_trades=2)
    assert g.check(order("buy", 1), T0, 100, p).accepted
    book(p, "buy", 1, 100)
    assert g.check(order("sell", 1), T0, 100, p).accepted          # exits do not count
    assert g.check(order("buy", 1), T0, 100, p).accepted
    assert g.check(order("buy", 1), T0, 100, p).limit == "max_daily_trades"
    midnight = datetime(2024, 1, 3, tzinfo=UTC)
    assert g.check(order("buy", 1), midnight - timedelta(seconds=1), 100, p).limit \
        == "max_daily_trades"
    assert g.check(order("buy", 1), midnight, 100, p).accepted


def test_max_daily_loss_portfolio_and_per_instrument() -> None:
    p = Portfolio(10_000)
    book(p, "buy", 10, 100)
    g = gate(max_daily_loss=100)
    assert g.update(T0, p) is None                                 # baseline 10000
    p.mark("BTC", 95)                                              # loss 50
    assert g.check(order("buy", 1), T0, 95, p).accepted
    p.mark("BTC", 90)                                              # loss 100
    d = g.check(order("buy", 1), T0, 90, p)
    assert (d.action, d.limit) == ("reject", "max_daily_loss")
    assert g.check(order("sell", 5), T0, 90, p).accepted           # exits pass
    g.update(T0 + timedelta(days=1), p)                            # new baseline 9900
    assert g.check(order("buy", 1), T0 + timedelta(days=1), 90, p).accepted

    p = Portfolio(10_000)
    book(p, "buy", 10, 100)
    g = gate(max_daily_loss={"BTC": 100})
    g.update(T0, p)
    p.mark("BTC", 90)
    assert g.check(order("buy", 1), T0, 90, p).limit == "max_daily_loss"
    assert g.check(order("buy", 1, "ETH"), T0, 10, p).accepted


def test_max_drawdown() -> None:
    p = Portfolio(10_000)
    book(p, "buy", 100, 100)
    g = gate(max_drawdown=0.1)
    p.mark("BTC", 110)
    g.update(T0, p)                                                # peak 11000
    p.mark("BTC", 100)                                             # dd 1/11 = 0.0909
    assert g.check(order("buy", 1), T0, 100, p).accepted
    p.mark("BTC", 99)                                              # dd 1 - 9900/11000 = 0.1
    d = g.check(order("buy", 1), T0, 99, p)
    assert (d.action, d.limit) == ("reject", "max_drawdown")


def test_on_breach_halt() -> None:
    p = Portfolio(10_000)
    book(p, "buy", 1, 100)
    g = gate(max_position=2, on_breach="halt")
    d = g.check(order("buy", 2), T0, 100, p)
    assert (d.action, d.limit) == ("halt", "max_position")
    assert g.halted
    d = g.check(order("buy", 0.5), T0, 100, p)                     # fine but halted
    assert (d.action, d.limit) == ("reject", "halted")
    assert "max_position" in d.reason
    assert g.check(order("sell", 1), T0, 100, p).accepted          # exits allowed
    g.update(T0 + timedelta(days=1), p)
    assert g.halted                                                # not lifted by a new day
    g.resume()
    assert g.check(order("buy", 0.5), T0, 100, p).accepted


def test_on_breach_halt_from_update() -> None:
    p = Portfolio(10_000)
    book(p, "buy", 100, 100)
    g = gate(max_drawdown=0.1, on_breach="halt")
    assert g.update(T0, p) is None
    p.mark("BTC", 90)                                              # dd 0.1
    d = g.update(T0, p)
    assert d is not None and (d.action, d.limit) == ("halt", "max_drawdown")
    assert g.update(T0, p) is None                                 # already halted
    assert g.check(order("buy", 1), T0, 90, p).limit == "halted"


def test_on_breach_flatten() -> None:
    p = Portfolio(10_000)
    book(p, "buy", 10, 100)
    book(p, "sell", 2, 50, "ETH")
    g = gate(max_daily_loss=100, on_breach="flatten", allow_short=True)
    g.update(T0, p)
    p.mark("BTC", 91)                                              # loss 90
    assert g.update(T0, p) is None
    p.mark("ETH", 55)                                              # loss 90 + 10
    d = g.update(T0, p)
    assert d is not None and (d.action, d.limit) == ("flatten", "max_daily_loss")
    assert g.halted
    closes = closing_orders(p)
    assert [(o.symbol, o.side, o.quantity, o.reduce_only) for o in closes] == [
        ("BTC", "sell", 10, True), ("ETH", "buy", 2, True)]
    assert all(g.check(o, T0, 100, p).accepted for o in closes)
    # a breach found by check also flattens
    g2 = gate(max_position=1, on_breach="flatten")
    assert g2.check(order("buy", 5), T0, 100, p).action == "flatten"


CHICAGO_17 = DayStart(time="17:00", tz="America/Chicago")


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


def test_trading_day_chicago_across_dst() -> None:
    days = TradingDay(CHICAGO_17)
    # DST starts Sun 2024-03-10: 17:00 is 23:00 UTC before (CST), 22:00 UTC after (CDT)
    assert days.starts_at(date(2024, 3, 8)) == utc(2024, 3, 8, 23)
    assert days.starts_at(date(2024, 3, 9)) == utc(2024, 3, 9, 23)
    assert days.starts_at(date(2024, 3, 10)) == utc(2024, 3, 10, 22)
    assert days.of(utc(2024, 3, 8, 22, 59)) == date(2024, 3, 7)
    assert days.of(utc(2024, 3, 8, 23, 0)) == date(2024, 3, 8)
    assert days.of(utc(2024, 3, 10, 21, 59)) == date(2024, 3, 9)
    assert days.of(utc(2024, 3, 10, 22, 0)) == date(2024, 3, 10)
    # DST ends Sun 2024-11-03: 17:00 is 22:00 UTC on the 2nd (CDT), 23:00 UTC on the 3rd
    assert days.starts_at(date(2024, 11, 2)) == utc(2024, 11, 2, 22)
    assert days.starts_at(date(2024, 11, 3)) == utc(2024, 11, 3, 23)
    assert days.of(utc(2024, 11, 3, 22, 30)) == date(2024, 11, 2)  # 16:30 CST
    assert days.of(utc(2024, 11, 3, 23, 0)) == date(2024, 11, 3)
    assert days.of(datetime(2024, 11, 3, 23, 0)) == date(2024, 11, 3)   # naive is UTC


def test_gate_daily_reset_at_chicago_17_after_spring_forward() -> None:
    p = Portfolio(10_000)
    g = gate(max_daily_trades=1, day_starts=CHICAGO_17)
    assert g.check(order("buy", 1), utc(2024, 3, 10, 21, 30), 100, p).accepted   # 16:30 CDT
    assert not g.check(order("buy", 1), utc(2024, 3, 10, 21, 59), 100, p).accepted
    # 22:00 UTC is 17:00 CDT: a new trading day (a fixed 23:00 UTC boundary would
    # still reject here)
    assert g.check(order("buy", 1), utc(2024, 3, 10, 22, 0), 100, p).accepted


def test_gate_daily_loss_baseline_at_chicago_17_after_fall_back() -> None:
    p = Portfolio(10_000)
    book(p, "buy", 10, 100)
    g = gate(max_daily_loss=50, day_starts=CHICAGO_17)
    g.update(utc(2024, 11, 3, 21, 0), p)                           # 15:00 CST, day Nov 2
    p.mark("BTC", 94)                                              # loss 60
    g.update(utc(2024, 11, 3, 22, 0), p)                           # 16:00 CST: same day
    assert g.check(order("buy", 1), utc(2024, 11, 3, 22, 30), 94, p).limit == "max_daily_loss"
    g.update(utc(2024, 11, 3, 23, 0), p)                           # 17:00 CST: new day
    assert g.check(order("buy", 1), utc(2024, 11, 3, 23, 0), 94, p).accepted
    p.mark("BTC", 89)                                              # 50 more
    assert not g.check(order("buy", 1), utc(2024, 11, 3, 23, 5), 89, p).accepted


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_reduce_only_always_passes(side: Side) -> None:
    g = gate(max_open_orders=1, on_breach="halt")
    g.halted = True
    assert g.check(order(side, 3, reduce_only=True), T0, 100, Portfolio(1), {"BTC": 9}).accepted
