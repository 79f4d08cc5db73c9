"""exchangeInfo symbol filters: instrument metadata, Decimal rounding, pre-send checks.

Binance refuses an order that breaks a symbol filter with -1013 "Filter failure: NAME".
We check the same filters before sending, so a bad order fails fast, costs no request
weight and names the filter: `OrderRejected(code="LOT_SIZE")`. All arithmetic is in
`Decimal` built from the shortest repr of a float, so 0.1 + 0.2 never becomes a lot of
0.30000000000000004 (the tick and step strings from exchangeInfo are exact already).

Filters checked (as filters.md defines them; a zero bound means "not enforced"):

| filter          | rule                                                                  |
|-----------------|-----------------------------------------------------------------------|
| PRICE_FILTER    | minPrice <= price <= maxPrice, (price - minPrice) % tickSize == 0     |
| LOT_SIZE        | minQty <= qty <= maxQty, (qty - minQty) % stepSize == 0               |
| MARKET_LOT_SIZE | the same for MARKET orders, with its own bounds                       |
| MIN_NOTIONAL    | price * qty >= minNotional (futures: `notional`); market orders only |
|                 | when applyToMarket, at the reference price                            |
| NOTIONAL        | minNotional <= price * qty <= maxNotional, applyMin/MaxToMarket       |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_UP, Decimal
from typing import Any, Literal

from runner.venue.contract import InstrumentMeta, OrderRejected

ZERO = Decimal(0)
Rounding = Literal["nearest", "down", "up"]
_MODES = {"nearest": ROUND_HALF_EVEN, "down": ROUND_DOWN, "up": ROUND_UP}


def to_decimal(value: float | int | str | Decimal) -> Decimal:
    """Exact Decimal of a value; a float goes through its shortest repr."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def format_decimal(value: Decimal) -> str:
    """Plain notation without trailing zeros (Binance rejects exponents): `0.00001`."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def round_to_step(value: Decimal, step: Decimal, mode: Rounding = "nearest",
                  origin: Decimal = ZERO) -> Decimal:
    """`value` on the grid `origin + k * step`; unchanged when step is 0."""
    if step <= 0:
        return value
    units = ((value - origin) / step).quantize(Decimal(1), rounding=_MODES[mode])
    return origin + units * step


def _on_grid(value: Decimal, step: Decimal, origin: Decimal) -> bool:
    return step <= 0 or (value - origin) % step == 0


@dataclass(frozen=True, slots=True)
class LotRule:
    min_qty: Decimal
    max_qty: Decimal
    step: Decimal


@dataclass(frozen=True, slots=True)
class SymbolRules:
    """The filters of one exchangeInfo symbol, as Decimals."""

    symbol: str
    status: str
    base_asset: str
    quote_asset: str
    tick_size: Decimal = ZERO
    min_price: Decimal = ZERO
    max_price: Decimal = ZERO
    lot: LotRule | None = None
    market_lot: LotRule | None = None
    min_notional: Decimal = ZERO
    min_notional_filter: str = ""
    """The filter the minimum comes from: MIN_NOTIONAL or NOTIONAL ('' when none)."""
    min_notional_market: bool = True
    max_notional: Decimal = ZERO
    max_notional_market: bool = False
    order_types: frozenset[str] = frozenset()
    contract_size: Decimal = Decimal(1)

    def meta(self, symbol: str | None = None) -> InstrumentMeta:
        lot = self.lot
        market_step = self.market_lot.step if self.market_lot else ZERO
        return InstrumentMeta(
            symbol=symbol or self.symbol,
            venue_symbol=self.symbol,
            tick_size=float(self.tick_size),
            lot_size=float(lot.step) if lot else 0.0,
            min_quantity=float(lot.min_qty) if lot else 0.0,
            max_quantity=float(lot.max_qty) if lot and lot.max_qty > 0 else None,
            min_notional=float(self.min_notional),
            multiplier=float(self.contract_size),
            base_asset=self.base_asset,
            quote_asset=self.quote_asset,
            market_lot_size=float(market_step) if market_step > 0 else None,
        )


def _dec(raw: Mapping[str, Any], key: str) -> Decimal:
    value = raw.get(key)
    return ZERO if value in (None, "") else Decimal(str(value))


def _lot(raw: Mapping[str, Any]) -> LotRule:
    return LotRule(_dec(raw, "minQty"), _dec(raw, "maxQty"), _dec(raw, "stepSize"))


def rules_from_symbol(info: Mapping[str, Any]) -> SymbolRules:
    """SymbolRules from one entry of exchangeInfo `symbols` (spot or USD-M futures)."""
    fields: dict[str, Any] = {}
    minimum: tuple[Decimal, str, bool] = (ZERO, "", True)
    for raw in info.get("filters", ()):
        kind = raw.get("filterType")
        if kind == "PRICE_FILTER":
            fields.update(tick_size=_dec(raw, "tickSize"), min_price=_dec(raw, "minPrice"),
                          max_price=_dec(raw, "maxPrice"))
        elif kind == "LOT_SIZE":
            fields["lot"] = _lot(raw)
        elif kind == "MARKET_LOT_SIZE":
            fields["market_lot"] = _lot(raw)
        elif kind == "MIN_NOTIONAL":
            value = _dec(raw, "minNotional") or _dec(raw, "notional")
            if value >= minimum[0]:
                minimum = (value, "MIN_NOTIONAL", bool(raw.get("applyToMarket", True)))
        elif kind == "NOTIONAL":
            value = _dec(raw, "minNotional")
            if value >= minimum[0]:
                minimum = (value, "NOTIONAL", bool(raw.get("applyMinToMarket", True)))
            fields.update(max_notional=_dec(raw, "maxNotional"),
                          max_notional_market=bool(raw.get("applyMaxToMarket", False)))
    contract = info.get("contractSize")
    return SymbolRules(
        symbol=str(info["symbol"]),
        status=str(info.get("status", info.get("contractStatus", "TRADING"))),
        base_asset=str(info.get("baseAsset", "")),
        quote_asset=str(info.get("quoteAsset", "")),
        min_notional=minimum[0], min_notional_filter=minimum[1],
        min_notional_market=minimum[2],
        order_types=frozenset(str(t) for t in info.get("orderTypes", ())),
        contract_size=Decimal(str(contract)) if contract else Decimal(1),
        **fields,
    )


def rules_from_exchange_info(payload: Mapping[str, Any]) -> dict[str, SymbolRules]:
    """Every symbol of an exchangeInfo response, by Binance symbol."""
    return {str(s["symbol"]): rules_from_symbol(s) for s in payload.get("symbols", ())}


def _reject(name: str, detail: str) -> OrderRejected:
    return OrderRejected(f"Filter failure: {name}: {detail}", code=name)


@dataclass(frozen=True, slots=True)
class CheckedOrder:
    quantity: Decimal
    price: Decimal | None
    stop_price: Decimal | None


def prepare_order(rules: SymbolRules, binance_type: str, quantity: float | Decimal,
                  price: float | Decimal | None = None,
                  stop_price: float | Decimal | None = None,
                  reference_price: float | Decimal | None = None) -> CheckedOrder:
    """Round quantity down to its step and prices to the nearest tick, then check every
    filter; `OrderRejected(code=FILTER)` for the first one broken. `reference_price`
    (a last or mark price) lets market orders be checked against notional filters."""
    market = binance_type in ("MARKET", "STOP_LOSS", "TAKE_PROFIT", "STOP_MARKET",
                              "TAKE_PROFIT_MARKET")
    if rules.order_types and binance_type not in rules.order_types:
        raise OrderRejected(f"{rules.symbol} does not accept {binance_type} orders "
                            f"(it accepts {', '.join(sorted(rules.order_types))})",
                            code="ORDER_TYPE")
    lot = rules.market_lot if market and rules.market_lot and rules.market_lot.step > 0 \
        else rules.lot
    qty = to_decimal(quantity)
    if lot is not None:
        # the grid starts at minQty; below it rounding must not lift the quantity
        origin = lot.min_qty if ZERO < lot.min_qty <= qty else ZERO
        qty = round_to_step(qty, lot.step, "down", origin)
    px = None if price is None else _round_price(rules, to_decimal(price))
    stop = None if stop_price is None else _round_price(rules, to_decimal(stop_price))
    for value, label in ((px, "price"), (stop, "stopPrice")):
        if value is not None:
            _check_price(rules, value, label)
    if rules.lot is not None:
        _check_lot("LOT_SIZE", rules.lot, qty)
    if market and rules.market_lot is not None:
        _check_lot("MARKET_LOT_SIZE", rules.market_lot, qty)
    at = px if px is not None else stop if stop is not None else (
        None if reference_price is None else to_decimal(reference_price))
    if at is not None:
        _check_notional(rules, qty * at, market and px is None)
    return CheckedOrder(qty, px, stop)


def _round_price(rules: SymbolRules, price: Decimal) -> Decimal:
    return round_to_step(price, rules.tick_size, "nearest",
                         rules.min_price if rules.min_price > 0 else ZERO)


def _check_price(rules: SymbolRules, value: Decimal, label: str) -> None:
    if value <= 0:
        raise _reject("PRICE_FILTER", f"{label} {format_decimal(value)} is not positive")
    if rules.min_price > 0 and value < rules.min_price:
        raise _reject("PRICE_FILTER", f"{label} {format_decimal(value)} is below minPrice "
                      f"{format_decimal(rules.min_price)}")
    if rules.max_price > 0 and value > rules.max_price:
        raise _reject("PRICE_FILTER", f"{label} {format_decimal(value)} is above maxPrice "
                      f"{format_decimal(rules.max_price)}")
    origin = rules.min_price if rules.min_price > 0 else ZERO
    if not _on_grid(value, rules.tick_size, origin):
        raise _reject("PRICE_FILTER", f"{label} {format_decimal(value)} is not a multiple of "
                      f"tickSize {format_decimal(rules.tick_size)}")


def _check_lot(name: str, lot: LotRule, qty: Decimal) -> None:
    if qty <= 0 or (lot.min_qty > 0 and qty < lot.min_qty):
        raise _reject(name, f"quantity {format_decimal(qty)} is below minQty "
                      f"{format_decimal(lot.min_qty)}")
    if lot.max_qty > 0 and qty > lot.max_qty:
        raise _reject(name, f"quantity {format_decimal(qty)} is above maxQty "
                      f"{format_decimal(lot.max_qty)}")
    origin = lot.min_qty if lot.min_qty > 0 else ZERO
    if not _on_grid(qty, lot.step, origin):
        raise _reject(name, f"quantity {format_decimal(qty)} is not a multiple of stepSize "
                      f"{format_decimal(lot.step)}")


def _check_notional(rules: SymbolRules, notional: Decimal, market: bool) -> None:
    if rules.min_notional > 0 and (rules.min_notional_market or not market) \
            and notional < rules.min_notional:
        raise _reject(rules.min_notional_filter, f"notional {format_decimal(notional)} is "
                      f"below {format_decimal(rules.min_notional)}")
    if rules.max_notional > 0 and (rules.max_notional_market or not market) \
            and notional > rules.max_notional:
        raise _reject("NOTIONAL", f"notional {format_decimal(notional)} is above maxNotional "
                      f"{format_decimal(rules.max_notional)}")


__all__ = ["CheckedOrder", "LotRule", "SymbolRules", "format_decimal", "prepare_order",
           "round_to_step", "rules_from_exchange_info", "rules_from_symbol", "to_decimal"]
