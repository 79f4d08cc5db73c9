"""exchangeInfo filters on the recorded files: metadata, rounding, each rejection."""

from __future__ import annotations

from decimal import Decimal

import pytest
from binance_data import load
from runner_binance.filters import (
    prepare_order,
    round_to_step,
    rules_from_exchange_info,
    rules_from_symbol,
)

from runner.venue.contract import OrderRejected

SPOT_INFO = "nautilus_python/http_responses/http_spot_market_exchange_info.json"
FUTURES_INFO = "nautilus_python/http_responses/http_futures_market_exchange_info.json"


def test_spot_exchange_info_to_instrument_meta() -> None:
    rules = rules_from_exchange_info(load(SPOT_INFO))["BTCUSDT"]
    meta = rules.meta("BTC/USDT")
    assert (meta.symbol, meta.venue_symbol, meta.tick_size, meta.lot_size) == \
        ("BTC/USDT", "BTCUSDT", 0.01, 0.00001)
    assert (meta.min_quantity, meta.max_quantity, meta.min_notional) == (0.00001, 9000.0, 10.0)
    assert (meta.base_asset, meta.quote_asset, meta.market_lot_size) == ("BTC", "USDT", None)
    assert "STOP_LOSS_LIMIT" in rules.order_types and rules.min_notional_filter == "MIN_NOTIONAL"


def test_futures_exchange_info_to_instrument_meta() -> None:
    rules = rules_from_exchange_info(load(FUTURES_INFO))["BTCUSDT"]
    meta = rules.meta()
    assert (meta.tick_size, meta.lot_size, meta.min_quantity, meta.min_notional) == \
        (0.1, 0.001, 0.001, 10.0)
    assert meta.market_lot_size == 0.001 and rules.min_price == Decimal("402")


def test_rust_exchange_info_without_filters() -> None:
    rules = rules_from_exchange_info(load(
        "nautilus_rust/spot/http_json/exchange_info_response.json"))
    assert rules["ETHBTC"].lot is None and rules["ETHBTC"].meta().lot_size == 0.0


def test_rounding_is_decimal_exact() -> None:
    assert round_to_step(Decimal("0.30000000000000004"), Decimal("0.00001"), "down") == \
        Decimal("0.30000")
    rules = rules_from_exchange_info(load(SPOT_INFO))["BTCUSDT"]
    checked = prepare_order(rules, "LIMIT", 0.1 + 0.2, 60000.004999)
    assert checked.quantity == Decimal("0.30000") and checked.price == Decimal("60000.00")
    checked = prepare_order(rules, "LIMIT", 0.00029999, 60000.0049)
    assert checked.quantity == Decimal("0.00029") and checked.price == Decimal("60000.00")
    # a futures price grid starts at minPrice 402 with tick 0.1
    fut = rules_from_exchange_info(load(FUTURES_INFO))["BTCUSDT"]
    assert prepare_order(fut, "LIMIT", 0.0015, 30000.06).price == Decimal("30000.1")


def docs_rules(*names: str) -> dict[str, object]:
    filters = load("spot_docs/filters_by_type.json")["filters"]
    return {"symbol": "T", "filters": [filters[n] for n in names]}


def test_price_filter_rejections() -> None:
    rules = rules_from_symbol(docs_rules("PRICE_FILTER"))
    for price in (0.0000001, 100001, -1):
        with pytest.raises(OrderRejected) as info:
            prepare_order(rules, "LIMIT", 1, price)
        assert info.value.code == "PRICE_FILTER" and "PRICE_FILTER" in str(info.value)


def test_lot_size_rejections() -> None:
    rules = rules_from_symbol(docs_rules("LOT_SIZE"))
    for qty in (0.0009, 100001):
        with pytest.raises(OrderRejected) as info:
            prepare_order(rules, "LIMIT", qty, 1)
        assert info.value.code == "LOT_SIZE"


def test_market_lot_size_applies_to_market_orders_only() -> None:
    spec = docs_rules("LOT_SIZE", "MARKET_LOT_SIZE")
    spec["filters"][1] = {**spec["filters"][1], "maxQty": "5"}  # type: ignore[index]
    rules = rules_from_symbol(spec)
    prepare_order(rules, "LIMIT", 6, 1)
    with pytest.raises(OrderRejected) as info:
        prepare_order(rules, "MARKET", 6)
    assert info.value.code == "MARKET_LOT_SIZE"


def test_min_notional_rejection_and_apply_to_market() -> None:
    rules = rules_from_exchange_info(load(SPOT_INFO))["BTCUSDT"]
    with pytest.raises(OrderRejected) as info:
        prepare_order(rules, "LIMIT", 0.0001, 60000)  # 6 USDT < 10
    assert info.value.code == "MIN_NOTIONAL"
    with pytest.raises(OrderRejected):
        prepare_order(rules, "MARKET", 0.0001, reference_price=60000)
    prepare_order(rules, "MARKET", 0.0001)  # no reference price: Binance decides


def test_notional_min_max_and_market_flags() -> None:
    rules = rules_from_symbol(docs_rules("NOTIONAL"))
    with pytest.raises(OrderRejected) as info:
        prepare_order(rules, "LIMIT", 1, 9.99)
    assert info.value.code == "NOTIONAL"
    with pytest.raises(OrderRejected) as info:
        prepare_order(rules, "LIMIT", 1, 10000.01)
    assert info.value.code == "NOTIONAL" and "maxNotional" in str(info.value)
    # applyMinToMarket / applyMaxToMarket are false in the docs' example
    prepare_order(rules, "MARKET", 1, reference_price=5)
    prepare_order(rules, "MARKET", 1, reference_price=20000)


def test_futures_min_notional_uses_the_notional_key() -> None:
    fut = rules_from_exchange_info(load(FUTURES_INFO))["BTCUSDT"]
    with pytest.raises(OrderRejected) as info:
        prepare_order(fut, "LIMIT", 0.001, 9000)
    assert info.value.code == "MIN_NOTIONAL"


def test_order_type_not_listed_is_refused() -> None:
    rules = rules_from_exchange_info(load(SPOT_INFO))["BTCUSDT"]
    with pytest.raises(OrderRejected) as info:
        prepare_order(rules, "STOP_LOSS", 1, stop_price=50000)
    assert info.value.code == "ORDER_TYPE"
