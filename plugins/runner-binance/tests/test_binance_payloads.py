"""Every recorded payload shape the adapter consumes parses, with its values.

Files: ../shared/data/binance/{spot_docs, nautilus_rust, nautilus_python} (PROVENANCE §3).
"""

from __future__ import annotations

import pytest
from binance_data import load
from runner_binance import payloads as p

from runner.market import BarEvent, TradeEvent
from runner.venue.contract import (
    OrderRejected,
    OrderState,
    RateLimited,
    VenueError,
    VenueFill,
    VenueTransient,
)

NP = "nautilus_python/ws_messages/"
NPH = "nautilus_python/http_responses/"
RS = "nautilus_rust/spot/"
RF = "nautilus_rust/futures/"


def one_state(events: list[object]) -> OrderState:
    assert isinstance(events[0], OrderState)
    return events[0]


# -- market streams -------------------------------------------------------------------
@pytest.mark.parametrize("name", [
    "spot_docs/ws_trade.json", RF + "market_data_json/trade_stream.json",
                                  NP + "ws_spot_trade.json"])
def test_trade(name: str) -> None:
    raw = load(name)
    _, data = p.unwrap(raw)
    event = p.parse_trade(data)
    assert event == TradeEvent(data["s"], event.trade)
    assert (event.trade.time_ms, event.trade.price, event.trade.amount) == \
        (data["T"], float(data["p"]), float(data["q"]))


@pytest.mark.parametrize("name", ["spot_docs/ws_aggTrade.json",
                                  RF + "market_data_json/agg_trade_stream.json",
                                  NP + "ws_spot_agg_trade.json"])
def test_agg_trade(name: str) -> None:
    stream, data = p.unwrap(load(name))
    event = p.parse_trade(data)
    assert data["e"] == "aggTrade"
    assert event.symbol == data["s"] and event.trade.price == float(data["p"])
    assert event.trade.amount == float(data["q"]) and event.trade.time_ms == data["T"]
    if stream is not None:
        assert stream == "ethusdt@aggTrade"


def test_kline_open_bar_is_not_emitted_and_closed_bar_is() -> None:
    assert p.parse_kline(load("spot_docs/ws_kline.json")) is None
    assert p.parse_kline(load(RF + "market_data_json/kline_stream_open.json")) is None
    closed = load(RF + "market_data_json/kline_stream_closed.json")
    assert p.parse_kline(closed) == BarEvent("BTCUSDT", 1638747660000,
                                             (0.001, 0.0025, 0.001, 0.002, 1000.0))


@pytest.mark.parametrize("name", ["spot_docs/ws_bookTicker.json", NP + "ws_spot_ticker_book.json",
                                  NP + "ws_futures_book_ticker.json",
                                  RF + "market_data_json/book_ticker_stream.json"])
def test_book_ticker(name: str) -> None:
    _, data = p.unwrap(load(name))
    quote = p.parse_book_ticker(data, received_ms=42)
    assert (quote.symbol, quote.bid, quote.bid_size, quote.ask, quote.ask_size) == \
        (data["s"], float(data["b"]), float(data["B"]), float(data["a"]), float(data["A"]))
    assert quote.time_ms == (data.get("T") or data.get("E") or 42)


@pytest.mark.parametrize("name", [
    "spot_docs/ws_depthUpdate.json", NP + "ws_futures_depth_update.json",
                                  NP + "ws_futures_depth_diff_update.json",
                                  RF + "market_data_json/depth_update_stream.json"])
def test_depth_update(name: str) -> None:
    data = load(name)
    update = p.parse_depth_update(data)
    assert update.symbol == data["s"] and not update.snapshot
    assert (update.first_id, update.last_id) == (data["U"], data["u"])
    assert update.bids == tuple((float(a), float(b)) for a, b in data["b"])
    assert update.asks == tuple((float(a), float(b)) for a, b in data["a"])


def test_depth_snapshot_from_rest_and_partial_stream() -> None:
    for name in ("spot_docs/rest_depth.json", "spot_docs/ws_partialDepth.json",
                 NPH + "http_spot_market_depth.json"):
        data = load(name)
        snap = p.parse_depth_snapshot("X", data, 7)
        assert snap.snapshot and snap.last_id == data["lastUpdateId"]
        assert snap.bids == tuple((float(r[0]), float(r[1])) for r in data["bids"])


def test_server_shutdown_raw_and_combined() -> None:
    for name in ("spot_docs/ws_serverShutdown_raw.json",
                 "spot_docs/ws_serverShutdown_combined.json"):
        assert p.parse_user_message(load(name)) == [p.StreamEnded("serverShutdown",
                                                                  1770123456789)]


# -- spot executionReport -------------------------------------------------------------
def test_execution_report_new_docs_subscription_envelope() -> None:
    events = p.parse_user_message(load("spot_docs/user_executionReport.json"))
    assert events == [OrderState("mUvoqJxFIILMdfAW5iGSOW", "4293153", "ETHBTC", "buy", "limit",
                                 "new", 1.0, 0.0, 0.1026441, None, 1499405658657)]


def test_execution_report_trade_gives_state_and_fill() -> None:
    state, fill = p.parse_user_message(load(RS + "user_data_json/execution_report_trade.json"))
    assert isinstance(state, OrderState) and state.status == "filled"
    assert state.filled_quantity == 1.0 and state.client_id == "x-TD67BGP9-T0000000000000"
    assert fill == VenueFill("98765432", "x-TD67BGP9-T0000000000000", "12345678", "ETHUSDT",
                             "buy", 1.0, 2500.0, 0.001, "ETH", 1709654401000, True)


@pytest.mark.parametrize("name, status, reason", [
    (RS + "user_data_json/execution_report_new.json", "new", ""),
    (RS + "user_data_json/execution_report_canceled.json", "canceled", ""),
    (RS + "user_data_json/execution_report_expired.json", "expired", "INSUFFICIENT_LIQUIDITY"),
    (NP + "ws_spot_execution_report_new.json", "new", ""),
    (NP + "ws_spot_execution_report_canceled.json", "canceled", ""),
    (NP + "ws_spot_execution_report_expired.json", "expired", ""),
    (NP + "ws_spot_execution_report_rejected.json", "rejected", "GTX_ORDER_REJECT"),
    (NP + "ws_spot_execution_report_pending_cancel.json", "partially_filled", ""),
    (NP + "ws_spot_execution_report_trade_prevention.json", "expired", "SELF_TRADE_PREVENTION"),
    (NP + "ws_spot_execution_report_trade_l_zero_canceled.json", "canceled", ""),
    (NP + "ws_spot_execution_report_trade_l_zero_expired.json", "expired", ""),
    (NP + "ws_spot_execution_report_trade_l_zero_new.json", "new", ""),
    (NP + "ws_spot_execution_report_new_price_match.json", "new", ""),
])
def test_execution_report_states_without_fill(name: str, status: str, reason: str) -> None:
    raw = load(name)
    _, data = p.unwrap(raw)
    events = p.parse_user_message(raw)
    assert len(events) == 1
    state = one_state(events)
    assert (state.status, state.reason) == (status, reason)
    assert state.venue_order_id == str(data["i"]) and state.symbol == data["s"]
    assert state.quantity == float(data["q"]) and state.filled_quantity == float(data["z"])


@pytest.mark.parametrize("name, kind, stop", [
    (RS + "user_data_json/execution_report_stop_loss.json", "stop_limit", 2450.0),
    (NP + "ws_spot_execution_report_new_stop_limit_price_match.json", "stop_limit", 2400.0),
    (NP + "ws_spot_execution_report_new_limit_if_touched_price_match.json", "stop_limit", 2500.0),
])
def test_execution_report_stop_types(name: str, kind: str, stop: float) -> None:
    state = one_state(p.parse_user_message(load(name)))
    assert (state.type, state.stop_price) == (kind, stop)


@pytest.mark.parametrize("name", [
    NP + "ws_spot_execution_report_trade.json",
    NP + "ws_spot_execution_report_custom_client_id.json",
    NP + "ws_spot_execution_report_empty_client_id.json",
    NP + "ws_spot_execution_report_binance_us.json",
    NP + "ws_spot_execution_report_calculated.json",
])
def test_execution_report_trades(name: str) -> None:
    raw = load(name)
    _, data = p.unwrap(raw)
    events = p.parse_user_message(raw)
    if data["x"] == "CALCULATED":  # spot "calculated" is not a trade of ours
        assert len(events) == 1
        return
    state, fill = events
    assert isinstance(fill, VenueFill)
    assert fill.trade_id == str(data["t"]) and fill.quantity == float(data["l"])
    assert fill.price == float(data["L"]) and fill.fee == float(data["n"])
    assert fill.fee_asset == data["N"] and fill.maker == data["m"]
    assert fill.client_id == data["c"] == one_state([state]).client_id


def test_execution_report_l_zero_edge_cases() -> None:
    # last price 0 with a quantity: the fill takes the order price (Z is 0 too)
    _state, fill = p.parse_user_message(load(NP + "ws_spot_execution_report_trade_l_zero.json"))
    assert isinstance(fill, VenueFill) and fill.price == 2500.0 and fill.quantity == 0.001
    # last quantity 0: no fill, the cumulative quantity still moves the state
    events = p.parse_user_message(load(NP + "ws_spot_execution_report_trade_l_zero_partial.json"))
    assert len(events) == 1 and one_state(events).filled_quantity == 0.5


def test_execution_report_wrapped_forms() -> None:
    wrapped = p.parse_user_message(load(RS + "user_data_json/execution_report_wrapped.json"))
    assert one_state(wrapped).client_id == "mUvoqJxFIILMdfAW5iGSOW"


# -- futures ORDER_TRADE_UPDATE / ALGO_UPDATE / TRADE_LITE ------------------------------
def test_order_trade_update_trade() -> None:
    state, fill = p.parse_user_message(load(RF + "user_data_json/order_update_trade.json"))
    assert one_state([state]) == OrderState("TEST", "8886774", "BTCUSDT", "buy", "limit",
                                            "partially_filled", 0.001, 0.001, 7100.5, None,
                                            1568879465651)
    assert fill == VenueFill("12345678", "TEST", "8886774", "BTCUSDT", "buy", 0.001, 7100.5,
                             0.01, "USDT", 1568879465651, True)


@pytest.mark.parametrize("name, status, kind, fills", [
    (RF + "user_data_json/order_update_new.json", "new", "stop", 0),
    (RF + "user_data_json/order_update_trade_partial.json", "partially_filled", "limit", 1),
    (RF + "user_data_json/order_update_calculated.json", "filled", "limit", 1),
    (RF + "user_data_json/order_update_calculated_pending.json", "new", "limit", 0),
    (RF + "user_data_json/order_update_adl.json", "filled", "limit", 1),
    (RF + "user_data_json/order_update_insurance.json", "filled", "limit", 1),
    (RF + "user_data_json/order_update_delivery.json", "filled", "limit", 1),
    (RF + "user_data_json/order_update_settlement.json", "filled", "limit", 1),
    (NP + "ws_futures_order_update_adl.json", "filled", "market", 1),
    (NP + "ws_futures_order_update_adl_filled.json", "filled", "market", 1),
    (NP + "ws_futures_order_update_liquidation.json", "filled", "market", 1),
    (NP + "ws_futures_order_update_liquidation_zero_qty.json", "filled", "market", 0),
    (NP + "ws_futures_order_update_new_limit_if_touched_price_match.json", "new", "stop_limit", 0),
    (NP + "ws_futures_order_update_new_price_match.json", "new", "limit", 0),
    (NP + "ws_futures_order_update_new_reduce_only_qty.json", "new", "limit", 0),
    (NP + "ws_futures_order_update_new_stop_limit_price_match.json", "new", "stop_limit", 0),
    (NP + "ws_futures_order_update_settlement.json", "filled", "market", 1),
    (NP + "ws_futures_order_update_trade_reduce_only_qty.json", "filled", "limit", 1),
])
def test_order_trade_updates(name: str, status: str, kind: str, fills: int) -> None:
    raw = load(name)
    _, data = p.unwrap(raw)
    o = data["o"]
    events = p.parse_user_message(raw)
    state = one_state(events)
    assert (state.status, state.type, len(events) - 1) == (status, kind, fills)
    assert state.client_id == o["c"] and state.venue_order_id == str(o["i"])
    if fills:
        fill = events[1]
        assert isinstance(fill, VenueFill)
        assert fill.trade_id == str(o["t"]) and fill.quantity == float(o["l"])
        assert fill.price == float(o["L"]) and fill.fee == p.num(o.get("n"))


@pytest.mark.parametrize("name, status", [
    (RF + "user_data_json/algo_update_new.json", "new"),
    (RF + "user_data_json/algo_update_canceled.json", "canceled"),
    (NP + "ws_futures_algo_update_triggering.json", "new"),
    (NP + "ws_futures_algo_update_triggered.json", "new"),
    (NP + "ws_futures_algo_update_finished.json", "filled"),
    (NP + "ws_futures_algo_update_finished_canceled.json", "canceled"),
])
def test_algo_updates(name: str, status: str) -> None:
    raw = load(name)
    _, data = p.unwrap(raw)
    state = one_state(p.parse_user_message(raw))
    assert state.status == status and state.client_id == data["o"]["caid"]
    assert state.stop_price == float(data["o"]["tp"])


@pytest.mark.parametrize("name", [RF + "user_data_json/trade_lite.json",
                                  NP + "ws_futures_trade_lite.json",
                                  RS + "user_data_json/list_status_wrapped.json",
                                  NP + "ws_spot_ticker_24hr.json"])
def test_events_not_consumed_are_ignored(name: str) -> None:
    assert p.parse_user_message(load(name)) == []


# -- account events -------------------------------------------------------------------
def test_account_update_nets_hedge_legs() -> None:
    (update,) = p.parse_user_message(load(RF + "user_data_json/account_update.json"))
    assert isinstance(update, p.AccountUpdate) and update.reason == "ORDER"
    assert update.balances[0].asset == "USDT" and update.balances[0].free == 100.12345678
    (pos,) = update.positions
    assert pos.symbol == "BTCUSDT" and pos.quantity == 10.0
    assert pos.entry_price == pytest.approx((20 * 6563.6 - 10 * 6563.8) / 10)
    (bnfcr,) = p.parse_user_message(load(RF + "user_data_json/account_update_bnfcr.json"))
    assert isinstance(bnfcr, p.AccountUpdate) and bnfcr.positions == ()


@pytest.mark.parametrize("name", ["spot_docs/user_outboundAccountPosition.json",
                                  RS + "user_data_json/account_position.json",
                                  RS + "user_data_json/account_position_wrapped.json"])
def test_outbound_account_position(name: str) -> None:
    raw = load(name)
    _, data = p.unwrap(raw)
    (update,) = p.parse_user_message(raw)
    assert isinstance(update, p.AccountUpdate)
    assert [(b.asset, b.free, b.locked) for b in update.balances] == \
        [(b["a"], float(b["f"]), float(b["l"])) for b in data["B"]]


@pytest.mark.parametrize("name", ["spot_docs/user_balanceUpdate.json",
                                  RS + "user_data_json/balance_update.json",
                                  RS + "user_data_json/balance_update_wrapped.json"])
def test_balance_update(name: str) -> None:
    raw = load(name)
    _, data = p.unwrap(raw)
    assert p.parse_user_message(raw) == [p.BalanceDelta(data["a"], float(data["d"]), data["T"])]


def test_stream_termination_events() -> None:
    assert p.parse_user_message(load("spot_docs/user_eventStreamTerminated.json")) == \
        [p.StreamEnded("eventStreamTerminated", 1728973001334)]
    assert p.parse_user_message({"e": "listenKeyExpired", "E": 5, "listenKey": "k"}) == \
        [p.StreamEnded("listenKeyExpired", 5)]


# -- REST -----------------------------------------------------------------------------
def test_new_order_ack_result_full() -> None:
    fallback = OrderState("", "", "BTCUSDT", "sell", "market", "new", 10.0, 0.0, None, None, 1)
    ack = p.parse_order(load("spot_docs/rest_order_new_ACK.json"), "spot", fallback)
    assert (ack.client_id, ack.venue_order_id, ack.status, ack.time_ms) == \
        ("6gCrw2kRUAF9CvJDGP16IP", "28", "new", 1507725176595)
    result = p.parse_order(load("spot_docs/rest_order_new_RESULT.json"), "spot")
    assert (result.status, result.type, result.side, result.filled_quantity) == \
        ("filled", "market", "sell", 10.0)
    for name in ("spot_docs/rest_order_new_FULL.json",
                 RS + "http_json/new_order_full_response.json"):
        data = load(name)
        full = p.parse_order(data, "spot")
        fills = p.parse_order_fills(data, full)
        assert [f.trade_id for f in fills] == [str(f["tradeId"]) for f in data["fills"]]
        assert sum(f.quantity for f in fills) == full.filled_quantity == 10.0
        assert fills[1].price == 3999.0 and fills[1].fee == 19.995


def test_cancel_response_names_the_original_client_id() -> None:
    state = p.parse_order(load("spot_docs/rest_order_cancel.json"), "spot")
    assert (state.client_id, state.status, state.price) == ("myOrder1", "canceled", 2.0)
    assert p.parse_order(load(RS + "http_json/cancel_order_response.json"), "spot").status == \
        "canceled"


@pytest.mark.parametrize("name, market", [
    ("spot_docs/rest_order_query.json", "spot"), (RS + "http_json/order_response.json", "spot"),
    ("spot_docs/rest_openOrders.json", "spot"), ("spot_docs/rest_allOrders.json", "spot"),
    (RS + "http_json/open_orders_response.json", "spot"),
    (RS + "http_json/all_orders_response.json", "spot"),
    (RF + "http_json/order_response.json", "futures"),
    (NPH + "http_futures_account_orders.json", "futures"),
    (RF + "http_json/open_algo_orders.json", "futures"),
])
def test_order_queries(name: str, market: p.Market) -> None:
    data = load(name)
    rows = data if isinstance(data, list) else [data]
    for row in rows:
        state = p.parse_order(row, market)
        assert state.client_id == row.get("clientOrderId", row.get("clientAlgoId"))
        assert state.quantity == float(row.get("origQty", row.get("quantity")))
        assert state.symbol == row["symbol"]


def test_algo_order_rest_shape() -> None:
    (row,) = load(RF + "http_json/open_algo_orders.json")
    state = p.parse_order(row, "futures")
    assert (state.type, state.stop_price, state.status, state.venue_order_id) == \
        ("stop", 45000.0, "new", "123456789")


@pytest.mark.parametrize("name", ["spot_docs/rest_myTrades.json",
                                  RS + "http_json/account_trades_response.json",
                                  NPH + "http_futures_account_trades.json"])
def test_account_trades(name: str) -> None:
    for row in load(name):
        fill = p.parse_account_trade(row, "cid")
        assert fill.trade_id == str(row["id"]) and fill.venue_order_id == str(row["orderId"])
        assert fill.quantity == float(row["qty"]) and fill.price == float(row["price"])
        assert fill.side == ("buy" if row.get("isBuyer", row.get("buyer")) else "sell")
        assert fill.maker == row.get("isMaker", row.get("maker"))


@pytest.mark.parametrize("name", [
    "spot_docs/rest_account.json", RS + "http_json/account_response.json",
                                  NPH + "http_spot_wallet_account.json"])
def test_spot_account_balances(name: str) -> None:
    data = load(name)
    assert [(b.asset, b.free, b.locked) for b in p.parse_spot_balances(data)] == \
        [(b["asset"], float(b["free"]), float(b["locked"])) for b in data["balances"]]


def test_futures_balance_and_positions() -> None:
    (usdt,) = p.parse_futures_balances(load(RF + "http_json/balance.json"))
    assert (usdt.asset, usdt.free, usdt.locked) == ("USDT", 122.12345678, 0.0)
    (pos,) = p.parse_position_risk(load(RF + "http_json/position_risk.json"))
    assert (pos.symbol, pos.quantity, pos.entry_price) == ("BTCUSDT", 0.001, 50000.0)
    one_way = p.parse_position_risk(load(NPH + "http_futures_account_positions_one_way.json"))
    assert one_way[0].quantity == 0.0
    hedge = p.parse_position_risk(load(NPH + "http_futures_account_positions_hedge.json"))
    assert {x.symbol for x in hedge} == {"BTCUSDT"}


@pytest.mark.parametrize("name", [
    "spot_docs/rest_klines.json", NPH + "http_spot_market_klines.json",
                                  NPH + "http_futures_market_klines.json",
                                  RS + "http_json/klines_response.json"])
def test_rest_klines(name: str) -> None:
    rows = load(name)
    bars = p.parse_klines("S", rows)
    assert [b.open_ms for b in bars] == [r[0] for r in rows]
    assert bars[0].bar == tuple(float(x) for x in rows[0][1:6])


def test_server_time() -> None:
    for name in ("spot_docs/rest_time.json", RS + "http_json/server_time_response.json",
                 NPH + "http_spot_market_time.json"):
        assert isinstance(load(name)["serverTime"], int)


# -- errors ---------------------------------------------------------------------------
def test_error_names_match_the_documented_table() -> None:
    documented = {c["code"]: c["name"] for c in load("spot_docs/errors.json")["codes"]}
    for code, name in p.ERROR_NAMES.items():
        assert documented[code] == name


def test_error_mapping() -> None:
    body = load("spot_docs/rest_error_payload.json")
    err = p.error_from_response(400, body)
    assert isinstance(err, OrderRejected) and err.code == -1121 and "Invalid symbol." in str(err)
    cancel = p.error_from_response(400, load("spot_docs/rest_order_cancel_error_-2011.json"))
    assert type(cancel) is VenueError and cancel.code == -2011
    limited = p.error_from_response(429, {"code": -1003, "msg": "Too many"}, retry_after=3)
    assert isinstance(limited, RateLimited) and limited.retry_after == 3 and not limited.banned
    banned = p.error_from_response(418, {"code": -1003, "msg": "banned"}, retry_after=120)
    assert isinstance(banned, RateLimited) and banned.banned
    assert isinstance(p.error_from_response(503, ""), VenueTransient)
    assert isinstance(p.error_from_response(400, {"code": -1007, "msg": "Timeout"}),
                      VenueTransient)
    stamp = p.error_from_response(400, {"code": -1021, "msg": "outside recvWindow"})
    assert type(stamp) is VenueError and stamp.code == -1021
    for message in load("spot_docs/errors.json")["filter_failure_messages_for_-1013"]:
        err = p.error_from_response(400, {"code": -1013, "msg": message["message"]})
        assert isinstance(err, OrderRejected)
