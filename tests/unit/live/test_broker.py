"""`runner.live.broker.VenueBroker`: the stepper's broker calls over venue events.

No venue here: the tests play the venue's part by handing `on_venue` the order
updates and fills a venue would send, duplicated and out of order where it matters.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from runner.live.broker import VenueBroker, client_order_id, client_prefix
from runner.sim.orders import Bar, InstrumentSpec, Order
from runner.venue.contract import OrderState, VenueFill

T0 = datetime(2024, 1, 1, tzinfo=UTC)
PREFIX = client_prefix("demo", "main")


def broker() -> VenueBroker:
    return VenueBroker({"BTCUSDT": InstrumentSpec(tick_size=0.5, lot_size=0.001)},
                       prefix=PREFIX, quote_assets={"BTCUSDT": "USDT"},
                       base_assets={"BTCUSDT": "BTC"})


def bar(k: int, close: float = 100.0) -> Bar:
    return Bar("BTCUSDT", close, close + 1, close - 1, close, T0 + timedelta(minutes=k),
               T0 + timedelta(minutes=k + 1))


def state(b: VenueBroker, order_id: str, status: str, filled: float, qty: float = 1.0,
          t: int = 0) -> OrderState:
    return OrderState(client_order_id(b.prefix, order_id), f"v-{order_id}", "BTCUSDT", "buy",
                      "market", status, qty, filled, None, None, t)  # type: ignore[arg-type]


def fill(b: VenueBroker, order_id: str, trade: str, qty: float, price: float,
         side: str = "buy", fee: float = 0.1, asset: str = "USDT", t: int = 1) -> VenueFill:
    return VenueFill(trade, client_order_id(b.prefix, order_id), f"v-{order_id}", "BTCUSDT",
                     side, qty, price, fee, asset, t, False)  # type: ignore[arg-type]


def test_client_ids_are_deterministic_and_fit_the_venue_limit() -> None:
    assert PREFIX == client_prefix("demo", "main") != client_prefix("demo", "other")
    assert client_order_id(PREFIX, "BTCUSDT-0-12") == f"{PREFIX}BTCUSDT-0-12"
    long = client_order_id(PREFIX, "VERYLONGSYMBOLNAME/USDT:USDT-12-123456:trail")
    assert len(long) <= 36 and long == client_order_id(
        PREFIX, "VERYLONGSYMBOLNAME/USDT:USDT-12-123456:trail")


def test_a_submit_is_a_command_and_fills_count_once_whatever_their_order() -> None:
    b = broker()
    b.on_bar(bar(0), 0)
    assert b.submit(Order("BTCUSDT-0-0", "BTCUSDT", "buy", 1.0)).accepted
    (command,) = b.outbox
    assert command.kind == "submit" and command.request is not None
    assert command.request.client_id == client_order_id(PREFIX, "BTCUSDT-0-0")
    assert b.is_working("BTCUSDT-0-0") and b.working_symbols() == {"BTCUSDT"}
    for event in (fill(b, "BTCUSDT-0-0", "t2", 0.6, 101.0, t=2),
                  state(b, "BTCUSDT-0-0", "partially_filled", 0.4),
                  fill(b, "BTCUSDT-0-0", "t1", 0.4, 100.0, t=1),
                  fill(b, "BTCUSDT-0-0", "t2", 0.6, 101.0, t=2),  # the stream repeats
                  state(b, "BTCUSDT-0-0", "filled", 1.0),
                  state(b, "BTCUSDT-0-0", "partially_filled", 0.4)):  # late, stale
        b.on_venue(event)
    fills = b.on_bar(bar(1), 1)
    assert [(f.price, f.quantity, f.bar_index) for f in fills] == [(100.0, 0.4, 1),
                                                                  (101.0, 0.6, 1)]
    assert not b.is_working("BTCUSDT-0-0") and b.outcome["BTCUSDT-0-0"] == ("filled", "")
    assert b.on_bar(bar(2), 2) == [] and not b.has_orders()


def test_fees_are_booked_in_quote_currency() -> None:
    b = broker()
    b.submit(Order("BTCUSDT-0-0", "BTCUSDT", "buy", 3.0))
    b.on_venue(fill(b, "BTCUSDT-0-0", "a", 1.0, 200.0, fee=0.5))
    b.on_venue(fill(b, "BTCUSDT-0-0", "b", 1.0, 200.0, fee=0.001, asset="BTC"))
    b.on_venue(fill(b, "BTCUSDT-0-0", "c", 1.0, 200.0, fee=0.01, asset="BNB"))
    assert [f.fee for f in b.on_bar(bar(0), 0)] == [0.5, 0.2, 0.0]
    assert b.unconverted_fees == 1


def test_exits_are_placed_for_the_filled_quantity_and_cancel_each_other() -> None:
    b = broker()
    entry = Order("BTCUSDT-0-0", "BTCUSDT", "buy", 2.0,
                  exits=lambda price: (price - 10.2, price + 20.2, None))
    b.submit(entry)
    b.outbox.clear()
    b.on_venue(fill(b, "BTCUSDT-0-0", "a", 2.0, 100.0))
    b.on_bar(bar(0), 0)
    sl, tp = b.outbox
    assert sl.request is not None and tp.request is not None
    assert (sl.request.type, sl.request.side, sl.request.stop_price, sl.request.quantity,
            sl.request.reduce_only) == ("stop", "sell", 89.5, 2.0, True)  # rounded down
    assert (tp.request.type, tp.request.price) == ("limit", 120.5)  # rounded up
    b.outbox.clear()
    b.on_venue(fill(b, "BTCUSDT-0-0:tp", "b", 2.0, 120.5, side="sell"))
    b.on_bar(bar(1), 1)
    (cancel,) = b.outbox
    assert (cancel.kind, cancel.client_id) == ("cancel",
                                               client_order_id(PREFIX, "BTCUSDT-0-0:sl"))
    b.on_venue(state(b, "BTCUSDT-0-0:sl", "canceled", 0.0, qty=2.0))
    assert b.outcome["BTCUSDT-0-0:sl"] == ("cancelled", "oco: BTCUSDT-0-0:tp filled")
    assert not b.has_orders()


def test_expiry_cancels_and_is_reported_as_expired() -> None:
    b = broker()
    b.on_bar(bar(0), 0)
    b.submit(Order("BTCUSDT-0-0", "BTCUSDT", "buy", 1.0, type="limit", limit_price=90.0,
                   expire_after=2))
    b.outbox.clear()
    b.on_bar(bar(1), 1)
    b.on_bar(bar(2), 2)
    assert not b.outbox
    b.on_bar(bar(3), 3)
    (cancel,) = b.outbox
    assert cancel.kind == "cancel"
    b.on_venue(state(b, "BTCUSDT-0-0", "canceled", 0.0))
    assert b.outcome["BTCUSDT-0-0"] == ("expired", "expired")
    assert [e.kind for e in b.drain_events()] == ["expired"]


def test_rejections_and_replays() -> None:
    b = broker()
    b.submit(Order("BTCUSDT-0-0", "BTCUSDT", "buy", 1.0))
    b.rejected(client_order_id(PREFIX, "BTCUSDT-0-0"), "insufficient balance")
    assert b.outcome["BTCUSDT-0-0"] == ("rejected", "insufficient balance")
    assert not b.is_working("BTCUSDT-0-0")
    b.outbox.clear()
    b.replaying = True  # restoring from the journal: decisions again, nothing sent
    b.submit(Order("BTCUSDT-0-1", "BTCUSDT", "buy", 1.0))
    assert not b.outbox and b.is_working("BTCUSDT-0-1")
    assert [c.client_id for c in b.unsent()] == [client_order_id(PREFIX, "BTCUSDT-0-1")]


def test_an_order_is_settled_only_with_every_fill_its_state_counts() -> None:
    """A `filled` update can overtake its fills: the stop waits for them."""
    b = broker()
    b.submit(Order("BTCUSDT-0-0", "BTCUSDT", "buy", 1.0))
    assert not b.settled()
    b.on_venue(state(b, "BTCUSDT-0-0", "filled", 1.0))
    assert not b.settled()
    b.on_venue(fill(b, "BTCUSDT-0-0", "a", 0.4, 100.0))
    assert not b.settled()
    b.on_venue(fill(b, "BTCUSDT-0-0", "b", 0.6, 100.0))
    assert b.settled()
