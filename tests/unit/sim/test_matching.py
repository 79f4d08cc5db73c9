"""Golden tests of the simulated matching engine: every expected fill is computed by
hand from DESIGN §3 and the decisions documented in `runner.sim.matching`."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.config.models import Backtest
from runner.sim.matching import MatchingEngine
from runner.sim.orders import (
    Bar,
    Fill,
    FillModel,
    InstrumentSpec,
    Order,
    OrderType,
    conform,
    min_notional_reason,
    round_price,
    round_quantity,
)

S = "BTCUSDT"


def bar(i: int, o: float, h: float, lo: float, c: float, symbol: str = S) -> Bar:
    """Bar `i` covers [60*i, 60*(i+1))."""
    return Bar(symbol, o, h, lo, c, 60 * i, 60 * (i + 1))


def approx(x: float) -> Any:
    """`pytest.approx`, typed so that it compares with floats inside tuples."""
    return pytest.approx(x)


def engine(**model: object) -> MatchingEngine:
    e = MatchingEngine(FillModel(**model))  # type: ignore[arg-type]
    e.on_bar(bar(0, 100, 101, 99, 100))  # bar 0: orders below are placed at its close
    return e


def kinds(e: MatchingEngine) -> list[tuple[str, str, str]]:
    return [(ev.order_id, ev.kind, ev.reason) for ev in e.drain_events()]


# -- rounding and types ---------------------------------------------------------------


@pytest.mark.parametrize(("price", "tick", "mode", "expected"), [
    (100.004, 0.01, "nearest", 100.0),
    (100.005, 0.5, "nearest", 100.0),
    (100.25, 0.5, "nearest", 100.5),
    (100.74, 0.5, "down", 100.5),
    (100.51, 0.5, "up", 101.0),
    (0.3, 0.1, "down", 0.3),   # 0.3 / 0.1 = 2.9999999999999996 steps: still 3
    (0.3, 0.1, "up", 0.3),
    (123.456, None, "nearest", 123.456),
])
def test_round_price(price: float, tick: float | None, mode: str, expected: float) -> None:
    assert round_price(price, tick, mode) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("qty", "lot", "expected"), [
    (0.123456, 0.001, 0.123), (0.3, 0.1, 0.3), (0.0999, 0.1, 0.0), (7.0, 2.0, 6.0),
    (1.5, None, 1.5),
])
def test_round_quantity_is_down_to_lot(qty: float, lot: float | None, expected: float) -> None:
    assert round_quantity(qty, lot) == expected


def test_min_notional_reason() -> None:
    spec = InstrumentSpec(min_notional=5.0, multiplier=1.0)
    assert min_notional_reason(100.0, 0.05, spec) is None          # 5.0 exactly
    assert min_notional_reason(100.0, 0.04, spec) == "notional 4 is under min_notional 5"
    assert min_notional_reason(100.0, 0.0, spec) == "quantity rounds down to zero lots"
    assert min_notional_reason(10.0, 0.1, InstrumentSpec(min_notional=5, multiplier=5)) is None


def test_conform_rounds_passively_and_drops_small_orders() -> None:
    spec = InstrumentSpec(tick_size=0.01, lot_size=0.001, min_notional=5.0)
    buy = Order("a", S, "buy", 0.12345, "limit", limit_price=100.006,
                stop_loss=95.004, take_profit=110.004)
    out = conform(buy, spec, 100.0)
    assert isinstance(out, Order)
    assert (out.quantity, out.limit_price, out.stop_loss, out.take_profit) == \
        (0.123, 100.0, 95.0, 110.01)
    sell = Order("b", S, "sell", 1.0, "stop_limit", limit_price=99.991, trigger_price=99.999)
    out = conform(sell, spec, 100.0)
    assert isinstance(out, Order)
    assert (out.limit_price, out.trigger_price) == (100.0, 99.99)
    assert conform(Order("c", S, "buy", 0.0409), spec, 100.0) == \
        "notional 4 is under min_notional 5"
    assert conform(Order("d", S, "buy", 0.0004), spec, 100.0) == \
        "quantity rounds down to zero lots"


def test_fill_model_from_backtest_and_slippage() -> None:
    bt = Backtest.model_validate({"fees": {"maker": 0.0002, "taker": 0.0004},
                                  "slippage_bps": 5, "fill": "close",
                                  "intrabar": "target_first"})
    m = FillModel.from_backtest(bt)
    assert m == FillModel("close", 5.0, 0.0002, 0.0004, "target_first")
    assert m.slipped(100.0, "buy") == approx(100.05)
    assert m.slipped(100.0, "sell") == approx(99.95)
    assert FillModel().intrabar == "stop_first"


# -- market orders --------------------------------------------------------------------


def test_market_fills_at_next_open_plus_slippage_with_taker_fee() -> None:
    e = engine(slippage_bps=10, taker_fee=0.001, maker_fee=0.0002)
    assert e.submit(Order("m", S, "buy", 2.0)).accepted
    assert e.on_bar(bar(1, 101, 103, 100, 102)) == [
        Fill("m", S, "buy", 60, approx(101.101), 2.0,
             approx(0.202202), "taker", 1)]
    assert e.position(S) == 2.0
    assert e.submit(Order("s", S, "sell", 2.0)).accepted
    (f,) = e.on_bar(bar(2, 102, 102, 99, 100))
    assert (f.price, f.time, f.bar_index) == (approx(101.898), 120, 2)
    assert e.position(S) == 0.0


def test_market_with_fill_close_fills_at_placement_bars_close() -> None:
    e = engine(fill="close", slippage_bps=10, taker_fee=0.001)
    r = e.submit(Order("m", S, "sell", 1.0))
    assert r.accepted
    (f,) = r.fills
    assert (f.price, f.time, f.bar_index, f.liquidity) == (approx(99.9), 60, 0, "taker")
    assert f.fee == approx(0.0999)
    assert e.on_bar(bar(1, 100, 100, 100, 100)) == []
    assert e.position(S) == -1.0


def test_fill_close_before_any_bar_is_rejected() -> None:
    e = MatchingEngine(FillModel(fill="close"))
    r = e.submit(Order("m", S, "buy", 1.0))
    assert not r.accepted and r.reason == "fill: close needs a bar to fill at; none seen yet"


# -- limit orders ---------------------------------------------------------------------


def test_buy_limit_fills_at_first_bar_whose_low_reaches_it_as_maker() -> None:
    e = engine(slippage_bps=10, maker_fee=0.0002, taker_fee=0.001)
    e.submit(Order("l", S, "buy", 1.0, "limit", limit_price=99.0))
    assert e.on_bar(bar(1, 100, 101, 99.5, 100)) == []
    (f,) = e.on_bar(bar(2, 100, 100.5, 98.5, 99.5))
    assert (f.price, f.time, f.liquidity, f.bar_index) == (99.0, 180, "maker", 2)
    assert f.fee == approx(99.0 * 0.0002)   # maker: no slippage


def test_limit_gap_fills_at_open_stamped_open_time() -> None:
    e = engine(slippage_bps=10)
    e.submit(Order("b", S, "buy", 1.0, "limit", limit_price=99.0))
    e.submit(Order("s", S, "sell", 1.0, "limit", limit_price=101.0))
    (f,) = e.on_bar(bar(1, 98, 99.5, 97, 98))
    assert (f.order_id, f.price, f.time) == ("b", 98.0, 60)
    (f,) = e.on_bar(bar(2, 103, 104, 102, 103))
    assert (f.order_id, f.price, f.time) == ("s", 103.0, 120)


def test_sell_limit_mirrors() -> None:
    e = engine()
    e.submit(Order("s", S, "sell", 1.0, "limit", limit_price=102.0))
    assert e.on_bar(bar(1, 100, 101.99, 99, 101)) == []
    (f,) = e.on_bar(bar(2, 101, 102.5, 100, 102))
    assert (f.price, f.time, f.liquidity) == (102.0, 180, "maker")


def test_limit_only_fills_from_the_bar_after_placement() -> None:
    e = MatchingEngine()
    e.on_bar(bar(0, 100, 101, 95, 100))     # bar 0 reached 96 but the order is placed after it
    e.submit(Order("l", S, "buy", 1.0, "limit", limit_price=96.0))
    assert e.on_bar(bar(1, 100, 101, 97, 100)) == []
    assert [o.id for o in e.open_orders()] == ["l"]


# -- stop and stop_limit --------------------------------------------------------------


def test_buy_stop_triggers_on_high_and_fills_at_max_open_trigger_plus_slippage() -> None:
    e = engine(slippage_bps=10, taker_fee=0.001)
    e.submit(Order("st", S, "buy", 1.0, "stop", trigger_price=102.0))
    assert e.on_bar(bar(1, 100, 101.9, 99, 101)) == []
    (f,) = e.on_bar(bar(2, 101, 103, 100, 102))
    assert (f.price, f.time, f.liquidity) == (approx(102.102), 180, "taker")
    assert f.fee == approx(102.102 * 0.001)


def test_stops_gap_fill_at_open() -> None:
    e = engine(slippage_bps=10)
    e.submit(Order("b", S, "buy", 1.0, "stop", trigger_price=102.0))
    e.submit(Order("s", S, "sell", 1.0, "stop", trigger_price=97.0))
    (f,) = e.on_bar(bar(1, 104, 105, 103, 104))
    assert (f.order_id, f.price, f.time) == ("b", approx(104.104), 60)
    (f,) = e.on_bar(bar(2, 96, 97, 95, 96))
    assert (f.order_id, f.price, f.time) == ("s", approx(95.904), 120)


def test_sell_stop_mirrors() -> None:
    e = engine()
    e.submit(Order("s", S, "sell", 1.0, "stop", trigger_price=98.0))
    assert e.on_bar(bar(1, 100, 101, 98.01, 99)) == []
    (f,) = e.on_bar(bar(2, 99, 99.5, 97, 97.5))
    assert (f.price, f.time, f.liquidity) == (98.0, 180, "taker")


def test_stop_limit_marketable_at_trigger_fills_as_taker_capped_at_limit() -> None:
    e = engine(slippage_bps=10)
    e.submit(Order("a", S, "buy", 1.0, "stop_limit", trigger_price=102.0, limit_price=102.5))
    e.submit(Order("b", S, "buy", 1.0, "stop_limit", trigger_price=102.0, limit_price=102.05))
    fa, fb = e.on_bar(bar(1, 101, 103, 100, 102))
    assert (fa.order_id, fa.price, fa.liquidity, fa.time) == ("a", approx(102.102),
                                                              "taker", 120)
    assert (fb.order_id, fb.price) == ("b", 102.05)    # slippage capped at the limit


def test_stop_limit_gapping_past_its_limit_rests_as_a_maker_limit() -> None:
    e = engine(slippage_bps=10)
    e.submit(Order("a", S, "buy", 1.0, "stop_limit", trigger_price=102.0, limit_price=102.5))
    e.drain_events()
    assert e.on_bar(bar(1, 103, 104, 102.6, 103.5)) == []
    assert kinds(e) == [("a", "triggered", "trigger 102 reached")]
    (f,) = e.on_bar(bar(2, 103, 103.5, 102.4, 102.8))
    assert (f.price, f.liquidity, f.time) == (102.5, "maker", 180)


# -- time in force and expiry ---------------------------------------------------------


@pytest.mark.parametrize("tif", ["ioc", "fok"])
def test_ioc_fok_live_one_bar(tif: str) -> None:
    e = engine()
    e.submit(Order("x", S, "buy", 1.0, "limit", limit_price=99.0,
                   time_in_force=tif))  # type: ignore[arg-type]
    e.submit(Order("y", S, "buy", 1.0, "limit", limit_price=99.6,
                   time_in_force=tif))  # type: ignore[arg-type]
    e.drain_events()
    (f,) = e.on_bar(bar(1, 100, 101, 99.5, 100))
    assert f.order_id == "y"
    assert kinds(e) == [("x", "expired", f"{tif}: not filled on the bar after placement")]
    assert e.open_orders() == []


def test_expire_after_n_bars() -> None:
    e = engine()
    e.submit(Order("x", S, "buy", 1.0, "limit", limit_price=98.0, expire_after=2))
    e.submit(Order("y", S, "buy", 1.0, "limit", limit_price=99.0, expire_after=2))
    e.drain_events()
    assert e.on_bar(bar(1, 100, 101, 99.5, 100)) == []
    assert kinds(e) == []
    (f,) = e.on_bar(bar(2, 100, 101, 98.5, 100))      # last bar of both
    assert f.order_id == "y"
    assert kinds(e) == [("x", "expired", "expire_after 2 bars")]
    assert e.open_orders() == []


def test_expire_after_zero_expires_at_placement() -> None:
    e = engine()
    assert e.submit(Order("x", S, "buy", 1.0, "limit", limit_price=99.0, expire_after=0)).accepted
    assert kinds(e) == [("x", "accepted", ""), ("x", "expired", "expire_after 0 bars")]
    assert e.open_orders() == []


# -- post_only, reduce_only, validation -----------------------------------------------


def test_post_only() -> None:
    e = engine()   # last close 100
    r = e.submit(Order("a", S, "buy", 1.0, "limit", limit_price=100.0, post_only=True))
    assert not r.accepted
    assert r.reason == "post_only buy limit 100 would cross the last close 100"
    r = e.submit(Order("b", S, "sell", 1.0, "limit", limit_price=99.5, post_only=True))
    assert r.reason == "post_only sell limit 99.5 would cross the last close 100"
    assert e.submit(Order("c", S, "buy", 1.0, "limit", limit_price=99.9, post_only=True)).accepted
    r = e.submit(Order("d", S, "buy", 1.0, post_only=True))
    assert r.reason == "post_only needs a limit order, not market"
    (f,) = e.on_bar(bar(1, 99, 100, 98, 99))   # gapped below the limit: still maker
    assert (f.order_id, f.price, f.liquidity) == ("c", 99.0, "maker")


def test_reduce_only_is_clipped_never_flips_and_cancels_without_position() -> None:
    e = engine()
    e.submit(Order("r0", S, "sell", 1.0, reduce_only=True))
    e.drain_events()
    assert e.on_bar(bar(1, 100, 101, 99, 100)) == []
    assert kinds(e) == [("r0", "cancelled", "reduce_only: no position to reduce")]
    e.set_position(S, 1.5)
    e.submit(Order("r1", S, "sell", 3.0, reduce_only=True))
    e.submit(Order("r2", S, "buy", 1.0, reduce_only=True))        # same side as the position
    e.drain_events()
    (f,) = e.on_bar(bar(2, 100, 101, 99, 100))
    assert (f.order_id, f.quantity) == ("r1", 1.5)
    assert e.position(S) == 0.0
    assert kinds(e) == [("r2", "cancelled", "reduce_only: no position to reduce")]


def test_fok_reduce_only_is_cancelled_rather_than_clipped() -> None:
    e = engine()
    e.set_position(S, -1.0)
    e.submit(Order("f", S, "buy", 2.0, reduce_only=True, time_in_force="fok"))
    e.submit(Order("i", S, "buy", 2.0, reduce_only=True, time_in_force="ioc"))
    e.drain_events()
    (f,) = e.on_bar(bar(1, 100, 101, 99, 100))
    assert (f.order_id, f.quantity) == ("i", 1.0)
    assert kinds(e) == [("f", "cancelled", "fok: reduce_only would clip the quantity")]


@pytest.mark.parametrize(("order", "reason"), [
    (Order("z", S, "buy", 0.0), "quantity must be positive, got 0.0"),
    (Order("z", S, "buy", 1.0, "limit"), "a limit order needs a limit price"),
    (Order("z", S, "buy", 1.0, "stop"), "a stop order needs a trigger price"),
    (Order("z", S, "buy", 1.0, "stop_limit", trigger_price=1.0),
     "a stop_limit order needs a limit price"),
    (Order("z", S, "buy", 1.0, limit_price=1.0), "a market order takes no limit price"),
    (Order("z", S, "buy", 1.0, "limit", limit_price=-1.0),
     "limit price must be positive, got -1.0"),
    (Order("z", S, "buy", 1.0, "limit", limit_price=1.0, trail=1.0),
     "trail is only valid on a stop order"),
    (Order("dup", S, "buy", 1.0), "duplicate order id 'dup'"),
])
def test_rejections(order: Order, reason: str) -> None:
    e = engine()
    e.submit(Order("dup", S, "buy", 1.0))
    e.drain_events()
    r = e.submit(order)
    assert (r.accepted, r.reason) == (False, reason)
    assert kinds(e) == [(order.id, "rejected", reason)]


def test_cancel_and_cancel_all_and_other_symbols_are_untouched() -> None:
    e = engine()
    e.on_bar(bar(0, 10, 10, 10, 10, "ETHUSDT"))
    e.submit(Order("a", S, "buy", 1.0, "limit", limit_price=90.0))
    e.submit(Order("b", S, "buy", 1.0, "limit", limit_price=91.0))
    e.submit(Order("c", "ETHUSDT", "buy", 1.0, "limit", limit_price=9.0))
    assert e.cancel("a") and not e.cancel("a")
    assert e.on_bar(bar(1, 100, 100, 95, 96)) == []    # a bar of BTC: ETH's order waits
    assert e.on_bar(bar(1, 10, 10, 10, 10, "ETHUSDT")) == []
    assert e.cancel_all(S) == ["b"]
    assert [o.id for o in e.open_orders()] == ["c"]


# -- brackets -------------------------------------------------------------------------


def entry(e: MatchingEngine, **kw: float) -> None:
    assert e.submit(Order("e", S, "buy", 1.0, **kw)).accepted  # type: ignore[arg-type]


def test_bracket_take_profit_fills_and_cancels_the_stop() -> None:
    e = engine()
    entry(e, stop_loss=95.0, take_profit=110.0)
    (f,) = e.on_bar(bar(1, 100, 105, 97, 104))
    assert (f.order_id, f.price) == ("e", 100.0)
    assert {(o.id, o.type, o.side, o.reduce_only) for o in e.open_orders()} == {
        ("e:sl", "stop", "sell", True), ("e:tp", "limit", "sell", True)}
    e.drain_events()
    (f,) = e.on_bar(bar(2, 104, 111, 103, 110))
    assert (f.order_id, f.price, f.liquidity, f.time) == ("e:tp", 110.0, "maker", 180)
    assert kinds(e) == [("e:sl", "cancelled", "oco: e:tp filled")]
    assert e.position(S) == 0.0 and e.open_orders() == []


@pytest.mark.parametrize(("rule", "winner", "price", "liquidity"), [
    ("stop_first", "e:sl", 95.0, "taker"), ("target_first", "e:tp", 110.0, "maker")])
def test_intrabar_rule_when_stop_and_target_are_both_inside_one_bar(
        rule: str, winner: str, price: float, liquidity: str) -> None:
    e = engine(intrabar=rule)
    entry(e, stop_loss=95.0, take_profit=110.0)
    e.on_bar(bar(1, 100, 105, 97, 104))
    (f,) = e.on_bar(bar(2, 104, 111, 94, 100))
    assert (f.order_id, f.price, f.liquidity) == (winner, price, liquidity)
    assert e.open_orders() == []


def test_a_gap_through_one_exit_beats_the_intrabar_rule() -> None:
    e = engine(intrabar="stop_first")
    entry(e, stop_loss=95.0, take_profit=110.0)
    e.on_bar(bar(1, 100, 105, 97, 104))
    (f,) = e.on_bar(bar(2, 112, 113, 94, 100))     # opens above the target
    assert (f.order_id, f.price, f.time) == ("e:tp", 112.0, 120)


def test_exits_of_an_entry_filled_at_the_open_can_fill_on_the_same_bar() -> None:
    e = engine(slippage_bps=10)
    entry(e, stop_loss=95.0, take_profit=110.0)
    fe, fs = e.on_bar(bar(1, 100, 101, 94, 96))
    assert (fe.order_id, fe.price, fe.time) == ("e", approx(100.1), 60)
    assert (fs.order_id, fs.price, fs.time) == ("e:sl", approx(94.905), 120)
    assert e.position(S) == 0.0 and e.open_orders() == []


def test_exits_of_an_entry_filled_inside_a_bar_start_on_the_next_bar() -> None:
    e = engine()
    entry(e, type="limit", limit_price=99.0, stop_loss=97.0)  # type: ignore[arg-type]
    (f,) = e.on_bar(bar(1, 100, 100, 96, 98))         # low 96 is below the stop: not yet active
    assert (f.order_id, f.price) == ("e", 99.0)
    (f,) = e.on_bar(bar(2, 98, 99, 96.5, 97))
    assert (f.order_id, f.price, f.quantity) == ("e:sl", 97.0, 1.0)


def test_closing_the_position_cancels_the_brackets() -> None:
    e = engine()
    entry(e, stop_loss=95.0, take_profit=110.0)
    e.on_bar(bar(1, 100, 105, 97, 104))
    e.submit(Order("x", S, "sell", 1.0))
    e.drain_events()
    (f,) = e.on_bar(bar(2, 104, 105, 103, 104))
    assert f.order_id == "x"
    assert kinds(e) == [("e:sl", "cancelled", "position closed"),
                        ("e:tp", "cancelled", "position closed")]


def test_short_bracket_mirrors() -> None:
    e = engine(intrabar="stop_first")
    e.submit(Order("e", S, "sell", 2.0, stop_loss=105.0, take_profit=90.0))
    e.on_bar(bar(1, 100, 104, 96, 97))
    (f,) = e.on_bar(bar(2, 97, 106, 89, 100))
    assert (f.order_id, f.side, f.price, f.quantity) == ("e:sl", "buy", 105.0, 2.0)
    assert e.position(S) == 0.0


def test_trailing_stop_follows_the_high_without_intrabar_lookahead() -> None:
    e = engine()
    entry(e, trailing_stop=5.0)
    (f,) = e.on_bar(bar(1, 100, 104, 99, 103))       # entry at 100: trigger 95, then 99
    assert f.order_id == "e"
    assert [o.trigger_price for o in e.open_orders()] == [99.0]
    assert e.on_bar(bar(2, 103, 106, 99.5, 105)) == []   # 99.5 > 99; then trigger 101
    assert e.on_bar(bar(3, 105, 105.5, 101.5, 102)) == []  # lower high: trigger stays 101
    assert [o.trigger_price for o in e.open_orders()] == [101.0]
    (f,) = e.on_bar(bar(4, 102, 102, 100, 100))
    assert (f.order_id, f.price, f.liquidity) == ("e:trail", 101.0, "taker")


def test_standalone_trailing_stop_starts_from_the_last_close() -> None:
    e = engine()     # last close 100
    e.set_position(S, -1.0)
    e.submit(Order("t", S, "buy", 1.0, "stop", trail=2.0, reduce_only=True))
    assert [o.trigger_price for o in e.open_orders()] == [102.0]
    assert e.on_bar(bar(1, 100, 101, 97, 98)) == []      # then trigger min(102, 97 + 2) = 99
    (f,) = e.on_bar(bar(2, 98, 99.5, 97.5, 99))
    assert (f.price, f.quantity) == (99.0, 1.0)


# -- determinism and invariants -------------------------------------------------------


prices = st.floats(min_value=50, max_value=150, allow_nan=False)


@st.composite
def bars_st(draw: st.DrawFn) -> list[Bar]:
    out = []
    for i in range(draw(st.integers(1, 12))):
        o, c, a, b = draw(prices), draw(prices), draw(prices), draw(prices)
        out.append(bar(i + 1, o, max(o, c, a, b), min(o, c, a, b), c))
    return out


@st.composite
def orders_st(draw: st.DrawFn) -> list[Order]:
    out = []
    for i in range(draw(st.integers(0, 8))):
        kind: OrderType = draw(st.sampled_from(["market", "limit", "stop", "stop_limit"]))
        p, q = draw(prices), draw(prices)
        out.append(Order(
            f"o{i}", S, draw(st.sampled_from(["buy", "sell"])), draw(st.sampled_from([1.0, 2.0])),
            kind, limit_price=p if kind in ("limit", "stop_limit") else None,
            trigger_price=q if kind in ("stop", "stop_limit") else None,
            time_in_force=draw(st.sampled_from(["gtc", "ioc", "fok"])),
            reduce_only=draw(st.booleans()),
            stop_loss=draw(st.none() | prices), take_profit=draw(st.none() | prices)))
    return out


def simulate(orders: list[Order], bars: list[Bar], rule: str) -> tuple[list[Fill], list[float]]:
    e = engine(intrabar=rule, slippage_bps=0)
    fills: list[Fill] = []
    positions: list[float] = []
    for o in orders:
        e.submit(o)
    for b in bars:
        before = e.position(S)
        got = e.on_bar(b)
        pos = before
        for f in got:
            o_reduce = f.order_id.endswith((":sl", ":tp")) or next(
                (o.reduce_only for o in orders if o.id == f.order_id), False)
            new = pos + f.quantity if f.side == "buy" else pos - f.quantity
            if o_reduce:   # never increases or flips
                assert abs(new) <= abs(pos) + 1e-9 and new * pos >= -1e-12
            pos = new
            assert b.low - 1e-9 <= f.price <= b.high + 1e-9
        fills.extend(got)
        positions.append(e.position(S))
    return fills, positions


@settings(max_examples=200, deadline=None)
@given(orders_st(), bars_st(), st.sampled_from(["stop_first", "target_first"]))
def test_invariants_and_determinism(orders: list[Order], bars: list[Bar], rule: str) -> None:
    first = simulate(orders, bars, rule)
    assert simulate(orders, bars, rule) == first


def test_fill_close_entry_exits_start_on_the_next_bar_and_run_feeds_bars() -> None:
    e = engine(fill="close")
    r = e.submit(Order("e", S, "buy", 1.0, stop_loss=99.5, take_profit=101.0))
    assert [(f.price, f.time) for f in r.fills] == [(100.0, 60)]
    assert [o.id for o in e.open_orders()] == ["e:sl", "e:tp"]
    fills = e.run([bar(1, 100, 100.9, 99.6, 100), bar(2, 100, 100.5, 99, 99.2)])
    assert [(f.order_id, f.price, f.bar_index) for f in fills] == [("e:sl", 99.5, 2)]


def test_open_fills_come_before_intrabar_fills_in_a_bar() -> None:
    e = engine()
    e.submit(Order("l", S, "sell", 1.0, "limit", limit_price=100.5))   # submitted first
    e.submit(Order("m", S, "buy", 1.0))
    fills = e.on_bar(bar(1, 100, 101, 99, 100))
    assert [(f.order_id, f.time) for f in fills] == [("m", 60), ("l", 120)]
