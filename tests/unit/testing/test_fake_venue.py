"""FakeVenue: validation, matching, partial fills, tif, reduce-only, user events."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from runner.testing.fake_venue import (
    DuplicateOrder,
    FakeVenue,
    ManualClock,
    UnknownOrder,
    make_instruments,
    walk_trades,
)
from runner.venue.contract import InstrumentMeta, OrderRejected, OrderRequest, VenueFill

SYM = "BTC/USDT"


def req(cid: str, side: str = "buy", type_: str = "market", qty: float = 1.0,
        **kw: object) -> OrderRequest:
    return OrderRequest(cid, SYM, side, type_, qty, **kw)  # type: ignore[arg-type]


@pytest.fixture
def venue(fake_clock: ManualClock) -> FakeVenue:
    metas = make_instruments([SYM], tick_size=0.01, lot_size=0.001, min_notional=10.0)
    return FakeVenue(metas, balances={"USDT": 10_000.0}, clock_ms=fake_clock)


def test_market_fills_at_last_price_and_books_accounts(venue: FakeVenue) -> None:
    venue.trade(SYM, 100.0, 5.0)
    state = venue.submit(req("a", qty=2.0))
    assert state.status == "filled" and state.filled_quantity == 2.0
    [fill] = venue.fills(SYM, 0)
    assert (fill.price, fill.quantity, fill.maker, fill.client_id) == (100.0, 2.0, False, "a")
    assert venue.position(SYM) == 2.0
    bal = {b.asset: b.free for b in venue.balances()}
    assert bal == {"BTC": 2.0, "USDT": 9_800.0}
    assert [r.client_id for r in venue.submitted] == ["a"]


def test_market_without_a_price_is_rejected(venue: FakeVenue) -> None:
    with pytest.raises(OrderRejected) as caught:
        venue.submit(req("a"))
    assert caught.value.code == "no-price"
    assert venue.submitted == [] and len(venue.attempts) == 1


@pytest.mark.parametrize(("order", "code"), [
    (dict(qty=1.0005), "lot-size"),
    (dict(type_="limit", price=99.999), "tick-size"),
    (dict(type_="limit"), "invalid-order"),
    (dict(qty=0.05), "min-notional"),
    (dict(type_="limit", price=101.0, post_only=True), "post-only"),
    (dict(side="sell", reduce_only=True), "reduce-only"),
])
def test_validation_rejects_with_a_code(venue: FakeVenue, order: dict[str, object],
                                        code: str) -> None:
    venue.set_price(SYM, 100.0)
    with pytest.raises(OrderRejected) as caught:
        venue.submit(req("x", **order))  # type: ignore[arg-type]
    assert caught.value.code == code
    assert venue.order("x") is None


def test_duplicate_client_id_raises_and_keeps_the_original(venue: FakeVenue) -> None:
    venue.set_price(SYM, 100.0)
    venue.submit(req("a", type_="limit", price=90.0))
    with pytest.raises(DuplicateOrder):
        venue.submit(req("a"))
    assert venue.order("a").status == "new"  # type: ignore[union-attr]
    assert [r.client_id for r in venue.submitted] == ["a"]
    assert [r.client_id for r in venue.attempts] == ["a", "a"]


def test_reject_next_then_normal(venue: FakeVenue) -> None:
    venue.set_price(SYM, 100.0)
    venue.reject_next("insufficient balance", code=-2010)
    with pytest.raises(OrderRejected) as caught:
        venue.submit(req("a"))
    assert (str(caught.value), caught.value.code) == ("insufficient balance", -2010)
    assert venue.submit(req("b")).status == "filled"


def test_limit_rests_then_fills_at_its_price_in_parts(venue: FakeVenue) -> None:
    venue.trade(SYM, 100.0, 1.0)
    assert venue.submit(req("l", type_="limit", price=99.0, qty=3.0)).status == "new"
    venue.trade(SYM, 99.5, 10.0)  # does not reach
    assert venue.order("l").filled_quantity == 0  # type: ignore[union-attr]
    venue.trade(SYM, 98.0, 1.0)  # reaches it, but prints only 1
    state = venue.order("l")
    assert state is not None
    assert (state.status, state.filled_quantity) == ("partially_filled", 1.0)
    venue.trade(SYM, 99.0, 5.0)
    assert venue.order("l").status == "filled"  # type: ignore[union-attr]
    assert [(f.price, f.quantity, f.maker) for f in venue.fills(SYM)] == \
        [(99.0, 1.0, True), (99.0, 2.0, True)]
    assert venue.open_orders() == []


def test_print_amount_is_shared_between_orders(venue: FakeVenue) -> None:
    venue.set_price(SYM, 100.0)
    venue.submit(req("a", type_="limit", price=99.0))
    venue.submit(req("b", type_="limit", price=99.0))
    venue.trade(SYM, 99.0, 1.5)
    assert venue.order("a").filled_quantity == 1.0  # type: ignore[union-attr]
    assert venue.order("b").filled_quantity == 0.5  # type: ignore[union-attr]


def test_partial_fill_next(venue: FakeVenue) -> None:
    venue.set_price(SYM, 100.0)
    venue.partial_fill_next(0.25)
    state = venue.submit(req("m", qty=2.0))
    assert (state.status, state.filled_quantity) == ("partially_filled", 0.5)
    venue.trade(SYM, 101.0, 10.0)  # the market remainder takes the next print
    assert venue.order("m").status == "filled"  # type: ignore[union-attr]
    assert [f.price for f in venue.fills(SYM)] == [100.0, 101.0]


def test_stop_and_stop_limit_trigger_on_prints(venue: FakeVenue) -> None:
    venue.set_price(SYM, 100.0)
    venue.submit(req("s", type_="stop", stop_price=105.0))
    venue.submit(req("sl", side="buy", type_="stop_limit", stop_price=105.0, price=105.5))
    venue.trade(SYM, 104.0, 10.0)
    assert {o.client_id for o in venue.open_orders()} == {"s", "sl"}
    venue.trade(SYM, 106.0, 10.0)  # triggers both; above the stop-limit's limit
    assert venue.order("s").status == "filled"  # type: ignore[union-attr]
    assert venue.order("sl").status == "new"  # type: ignore[union-attr]
    venue.trade(SYM, 105.2, 10.0)
    assert venue.order("sl").status == "filled"  # type: ignore[union-attr]
    assert [f.price for f in venue.fills(SYM)] == [106.0, 105.5]


def test_ioc_and_fok(venue: FakeVenue) -> None:
    venue.set_price(SYM, 100.0)
    state = venue.submit(req("i", type_="limit", price=99.0, time_in_force="ioc"))
    assert (state.status, state.filled_quantity) == ("expired", 0.0)
    venue.partial_fill_next(0.5)
    state = venue.submit(req("i2", type_="limit", price=101.0, qty=2.0, time_in_force="ioc"))
    assert (state.status, state.filled_quantity) == ("expired", 1.0)
    venue.partial_fill_next(0.5)
    state = venue.submit(req("f", type_="limit", price=101.0, qty=2.0, time_in_force="fok"))
    assert (state.status, state.filled_quantity) == ("expired", 0.0)
    state = venue.submit(req("f2", type_="limit", price=101.0, qty=2.0, time_in_force="fok"))
    assert (state.status, state.filled_quantity) == ("filled", 2.0)


def test_reduce_only_is_clipped_to_the_position(venue: FakeVenue) -> None:
    venue.set_price(SYM, 100.0)
    venue.submit(req("long", qty=1.0))
    venue.submit(req("exit", side="sell", type_="limit", price=110.0, qty=3.0,
                     reduce_only=True))
    venue.trade(SYM, 110.0, 10.0)
    state = venue.order("exit")
    assert state is not None and state.filled_quantity == 1.0 and state.status == "expired"
    assert venue.position(SYM) == 0.0


def test_spot_mode_checks_balances() -> None:
    metas = make_instruments([SYM])
    venue = FakeVenue(metas, balances={"USDT": 1_000.0}, shorting=False)
    venue.set_price(SYM, 100.0)
    with pytest.raises(OrderRejected) as caught:
        venue.submit(req("s", side="sell"))
    assert caught.value.code == "insufficient-balance"
    venue.submit(req("l", type_="limit", price=90.0, qty=5.0))
    assert {b.asset: b.locked for b in venue.balances()}["USDT"] == 450.0
    with pytest.raises(OrderRejected):
        venue.submit(req("b", qty=6.0))


def test_cancel(venue: FakeVenue) -> None:
    venue.set_price(SYM, 100.0)
    venue.submit(req("l", type_="limit", price=90.0))
    assert venue.cancel("l").status == "canceled"
    assert venue.cancel("l").status == "canceled"
    with pytest.raises(UnknownOrder):
        venue.cancel("nope")


def test_positions_average_and_flip(venue: FakeVenue) -> None:
    venue.set_price(SYM, 100.0)
    venue.submit(req("a", qty=1.0))
    venue.set_price(SYM, 110.0)
    venue.submit(req("b", qty=1.0))
    [pos] = venue.positions()
    assert (pos.quantity, pos.entry_price) == (2.0, 105.0)
    venue.submit(req("c", side="sell", qty=3.0))
    [pos] = venue.positions()
    assert (pos.quantity, pos.entry_price) == (-1.0, 110.0)


def test_user_events_in_order_and_with_faults(venue: FakeVenue) -> None:
    async def go() -> None:
        clean = venue.subscribe_user()
        venue.set_price(SYM, 100.0)
        venue.submit(req("a"))
        kinds = []
        while not clean.empty():
            e = clean.get_nowait()
            kinds.append("fill" if isinstance(e, VenueFill) else e.status)
        assert kinds == ["new", "fill", "filled"]
        venue.user_faults.set(duplicate_rate=1.0, reorder=True, seed=3)
        faulty = venue.subscribe_user()
        venue.submit(req("b"))
        got = [faulty.get_nowait() for _ in range(faulty.qsize())]
        new, fill, filled = venue.user_log[-3:]
        assert isinstance(fill, VenueFill)
        # each event twice; the fill and its order update swapped
        assert got == [new, new, filled, filled, fill, fill]
    asyncio.run(go())


def test_trade_subscribers_and_bars(venue: FakeVenue, fake_clock: ManualClock) -> None:
    async def go() -> None:
        q = venue.subscribe_trades([SYM])
        t0 = 1_700_000_040_000 // 60_000 * 60_000
        for k, price in enumerate([100.0, 102.0, 99.0, 101.0]):
            venue.trade(SYM, price, 1.0, t0 + k * 1000)
        venue.trade(SYM, 100.0, 2.0, t0 + 60_000)
        assert q.qsize() == 5
        fake_clock.set(t0 + 60_500)  # the second bar is still open
        bars = venue.bars(SYM, "1m", t0, t0 + 120_000)
        assert [(b.open_ms, b.bar) for b in bars] == [(t0, (100.0, 102.0, 99.0, 101.0, 4.0))]
        fake_clock.set(t0 + 120_000)
        assert len(venue.bars(SYM, "1m", t0, t0 + 120_000)) == 2
    asyncio.run(go())


def test_walk_is_seeded_and_prints(venue: FakeVenue) -> None:
    a = [t for _, t in zip(range(50), walk_trades(SYM, seed=1, start_ms=0), strict=False)]
    b = [t for _, t in zip(range(50), walk_trades(SYM, seed=1, start_ms=0), strict=False)]
    assert a == b and all(x.time_ms <= y.time_ms for x, y in itertools.pairwise(a))
    printed = venue.walk(SYM, start_ms=0, end_ms=60_000, seed=1, trades_per_second=10)
    assert 400 < len(printed) < 800 and venue.tape(SYM) == printed


def test_run_tape_prints_at_wall_pace(venue: FakeVenue) -> None:
    n = asyncio.run(venue.run_tape(SYM, trades_per_second=2000, count=20))
    assert n == 20 and len(venue.tape(SYM)) == 20


def test_add_instrument(venue: FakeVenue) -> None:
    venue.add_instrument(InstrumentMeta("ETH/BTC", "ETHBTC", 1e-5, 1e-3), balance=5.0)
    venue.set_price("ETH/BTC", 0.05)
    venue.submit(OrderRequest("e", "ETH/BTC", "buy", "market", 1.0))
    assert {b.asset: b.free for b in venue.balances()}["BTC"] == pytest.approx(4.95)
