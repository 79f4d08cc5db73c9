"""Binance JSON → the runtime's venue-neutral types (pure functions, no I/O).

Every parser takes the decoded JSON of one message and returns runner types with the
*Binance* symbol in `symbol` (the venue maps it back to the strategy's name). Prices
and quantities arrive as decimal strings and are converted with `float(str)`, which is
exact to the last printed digit.

Envelopes: a market stream message is raw or `{"stream": ..., "data": {...}}` (combined
stream); a user-data event is raw (listenKey stream), `{"stream": ..., "data": ...}`, or
`{"subscriptionId": N, "event": {...}}` (WebSocket-API subscription). `unwrap` removes
any of them.

Order types (runner → Binance; `to_runner_type` is the inverse):

| runner     | spot            | USD-M futures                  |
|------------|-----------------|--------------------------------|
| market     | MARKET          | MARKET                         |
| limit      | LIMIT (post_only: LIMIT_MAKER) | LIMIT (post_only: timeInForce GTX) |
| stop       | STOP_LOSS       | STOP_MARKET (Algo Service)     |
| stop_limit | STOP_LOSS_LIMIT | STOP (Algo Service)            |
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from runner.market import Bar, BarEvent, Trade, TradeEvent
from runner.venue.contract import (
    Balance,
    DepthUpdate,
    OrderRejected,
    OrderState,
    OrderStatus,
    OrderType,
    Position,
    Quote,
    RateLimited,
    Side,
    VenueError,
    VenueFill,
    VenueTransient,
)

Market = Literal["spot", "futures"]
Json = Mapping[str, Any]


# -- envelopes and numbers ------------------------------------------------------------
def unwrap(message: Json) -> tuple[str | None, Json]:
    """(stream name or None, the event itself) of any Binance envelope."""
    if "data" in message and isinstance(message["data"], Mapping) and "stream" in message:
        return str(message["stream"]), message["data"]
    if "event" in message and isinstance(message["event"], Mapping):
        return None, message["event"]
    return None, message


def num(value: Any, default: float = 0.0) -> float:
    """A Binance decimal string (or number, or null) as float."""
    if value is None or value == "":
        return default
    return float(value)


def opt_price(value: Any) -> float | None:
    """A price field where 0 (or null) means "none"."""
    price = num(value)
    return price if price != 0 else None


def side_of(value: str) -> Side:
    if value == "BUY":
        return "buy"
    if value == "SELL":
        return "sell"
    raise ValueError(f"unknown Binance side {value!r}")


# -- order types and statuses ---------------------------------------------------------
_SPOT_TYPES: dict[str, OrderType] = {
    "MARKET": "market", "LIMIT": "limit", "LIMIT_MAKER": "limit",
    "STOP_LOSS": "stop", "TAKE_PROFIT": "stop",
    "STOP_LOSS_LIMIT": "stop_limit", "TAKE_PROFIT_LIMIT": "stop_limit",
}
_FUTURES_TYPES: dict[str, OrderType] = {
    "MARKET": "market", "LIMIT": "limit", "LIQUIDATION": "market", "ADL": "market",
    "STOP_MARKET": "stop", "TAKE_PROFIT_MARKET": "stop", "TRAILING_STOP_MARKET": "stop",
    "STOP": "stop_limit", "TAKE_PROFIT": "stop_limit",
}
SPOT_ORDER_TYPES: dict[str, str] = {"market": "MARKET", "limit": "LIMIT",
                                    "stop": "STOP_LOSS", "stop_limit": "STOP_LOSS_LIMIT"}
FUTURES_ORDER_TYPES: dict[str, str] = {"market": "MARKET", "limit": "LIMIT",
                                       "stop": "STOP_MARKET", "stop_limit": "STOP"}
FUTURES_ALGO_TYPES = frozenset({"STOP_MARKET", "STOP", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                                "TRAILING_STOP_MARKET"})
"""Conditional futures types, placed through the Algo Service (/fapi/v1/algoOrder)."""


def to_runner_type(binance_type: str, market: Market) -> OrderType:
    table = _SPOT_TYPES if market == "spot" else _FUTURES_TYPES
    try:
        return table[binance_type]
    except KeyError:
        raise ValueError(f"unknown Binance {market} order type {binance_type!r}") from None


def to_binance_type(order_type: str, market: Market, post_only: bool = False) -> str:
    if market == "spot" and order_type == "limit" and post_only:
        return "LIMIT_MAKER"
    table = SPOT_ORDER_TYPES if market == "spot" else FUTURES_ORDER_TYPES
    return table[order_type]


_STATUSES: dict[str, OrderStatus] = {
    "NEW": "new", "PENDING_NEW": "new", "PARTIALLY_FILLED": "partially_filled",
    "FILLED": "filled", "CANCELED": "canceled", "REJECTED": "rejected",
    "EXPIRED": "expired", "EXPIRED_IN_MATCH": "expired",
}


def to_status(binance_status: str, quantity: float, filled: float) -> OrderStatus:
    """The runner status of an order status. PENDING_CANCEL and the futures liquidation
    statuses NEW_INSURANCE / NEW_ADL are read from the cumulative fill."""
    status = _STATUSES.get(binance_status)
    if status is not None:
        return status
    if quantity > 0 and filled >= quantity:
        return "filled"
    return "partially_filled" if filled > 0 else "new"


# -- market data ----------------------------------------------------------------------
def parse_trade(data: Json) -> TradeEvent:
    """A `trade` or `aggTrade` event."""
    return TradeEvent(str(data["s"]), Trade(int(data["T"]), num(data["p"]), num(data["q"])))


def parse_kline(data: Json) -> BarEvent | None:
    """A `kline` event as a BarEvent when the bar is closed (`k.x`), else None."""
    k = data["k"]
    if not k.get("x"):
        return None
    bar: Bar = (num(k["o"]), num(k["h"]), num(k["l"]), num(k["c"]), num(k["v"]))
    return BarEvent(str(k.get("s", data.get("s"))), int(k["t"]), bar)


def parse_book_ticker(data: Json, received_ms: int = 0) -> Quote:
    """A `bookTicker` event; spot's has no time, so `received_ms` stands in."""
    time_ms = int(data.get("T") or data.get("E") or received_ms)
    return Quote(str(data["s"]), time_ms, num(data["b"]), num(data["B"]), num(data["a"]),
                 num(data["A"]))


def _levels(rows: Sequence[Sequence[Any]]) -> tuple[tuple[float, float], ...]:
    return tuple((num(p), num(q)) for p, q, *_ in rows)


def parse_depth_update(data: Json) -> DepthUpdate:
    """A diff-depth `depthUpdate` (U..u; futures also `pu`)."""
    return DepthUpdate(str(data["s"]), int(data.get("T") or data["E"]), _levels(data["b"]),
                       _levels(data["a"]), first_id=int(data["U"]), last_id=int(data["u"]))


def parse_depth_snapshot(symbol: str, data: Json, received_ms: int = 0) -> DepthUpdate:
    """A REST `/depth` response (or partial-depth stream) as a snapshot."""
    last = int(data["lastUpdateId"])
    time_ms = int(data.get("T") or data.get("E") or received_ms)
    return DepthUpdate(symbol, time_ms, _levels(data["bids"]), _levels(data["asks"]),
                       first_id=last, last_id=last, snapshot=True)


def parse_klines(symbol: str, rows: Sequence[Sequence[Any]]) -> list[BarEvent]:
    """A REST `/klines` array: [open time, o, h, l, c, volume, close time, ...]."""
    return [BarEvent(symbol, int(r[0]), (num(r[1]), num(r[2]), num(r[3]), num(r[4]),
                                         num(r[5]))) for r in rows]


# -- user data: orders and fills ------------------------------------------------------
def _fill_price(last_price: float, cum_quote: float, cum_qty: float, order_price: float
                ) -> float:
    """The execution price: `L`, or when an event carries L=0 (seen in recorded spot
    reports) the average `Z / z`, or the order price."""
    if last_price > 0:
        return last_price
    if cum_qty > 0 and cum_quote > 0:
        return cum_quote / cum_qty
    return order_price


def parse_execution_report(data: Json) -> list[OrderState | VenueFill]:
    """A spot `executionReport`: the order's state, then a fill when it traded."""
    quantity, filled = num(data["q"]), num(data["z"])
    client_id = str(data.get("C") or data["c"]) if data.get("X") == "CANCELED" \
        else str(data["c"])
    state = OrderState(
        client_id=client_id,
        venue_order_id=str(data["i"]),
        symbol=str(data["s"]),
        side=side_of(str(data["S"])),
        type=to_runner_type(str(data["o"]), "spot"),
        status=to_status(str(data["X"]), quantity, filled),
        quantity=quantity,
        filled_quantity=filled,
        price=opt_price(data.get("p")),
        stop_price=opt_price(data.get("P")),
        time_ms=int(data.get("T") or data["E"]),
        reason=_reason(data),
    )
    events: list[OrderState | VenueFill] = [state]
    last_qty = num(data.get("l"))
    trade_id = int(data.get("t", -1) or -1)
    if data.get("x") == "TRADE" and last_qty > 0 and trade_id >= 0:
        events.append(VenueFill(
            trade_id=str(trade_id), client_id=client_id, venue_order_id=str(data["i"]),
            symbol=state.symbol, side=state.side, quantity=last_qty,
            price=_fill_price(num(data.get("L")), num(data.get("Z")), filled,
                              num(data.get("p"))),
            fee=num(data.get("n")), fee_asset=str(data.get("N") or ""),
            time_ms=state.time_ms, maker=bool(data.get("m")),
        ))
    return events


def _reason(data: Json) -> str:
    reason = str(data.get("r") or "")
    if reason == "NONE":
        reason = ""
    expiry = str(data.get("eR") or "")
    if expiry and expiry != "NONE":
        reason = f"{reason}; {expiry}" if reason else expiry
    return reason


def parse_order_trade_update(data: Json) -> list[OrderState | VenueFill]:
    """A futures `ORDER_TRADE_UPDATE`: the order's state, then a fill when it traded
    (execution type TRADE, or CALCULATED for liquidation/ADL closes)."""
    o = data["o"]
    quantity, filled = num(o["q"]), num(o["z"])
    state = OrderState(
        client_id=str(o["c"]),
        venue_order_id=str(o["i"]),
        symbol=str(o["s"]),
        side=side_of(str(o["S"])),
        type=to_runner_type(str(o.get("ot") or o["o"]), "futures"),
        status=to_status(str(o["X"]), quantity, filled),
        quantity=quantity,
        filled_quantity=filled,
        price=opt_price(o.get("p")),
        stop_price=opt_price(o.get("sp")),
        time_ms=int(o.get("T") or data["E"]),
        reason=str(o.get("er") or "") if o.get("X") in ("EXPIRED", "REJECTED") else "",
    )
    events: list[OrderState | VenueFill] = [state]
    last_qty = num(o.get("l"))
    trade_id = int(o.get("t") or 0)
    if o.get("x") in ("TRADE", "CALCULATED") and last_qty > 0 and trade_id > 0:
        events.append(VenueFill(
            trade_id=str(trade_id), client_id=state.client_id,
            venue_order_id=state.venue_order_id, symbol=state.symbol, side=state.side,
            quantity=last_qty,
            price=_fill_price(num(o.get("L")), 0.0, filled, num(o.get("ap") or o.get("p"))),
            fee=num(o.get("n")), fee_asset=str(o.get("N") or ""), time_ms=state.time_ms,
            maker=bool(o.get("m")),
        ))
    return events


_ALGO_STATUSES: dict[str, OrderStatus] = {
    "NEW": "new", "TRIGGERING": "new", "TRIGGERED": "new", "CANCELED": "canceled",
    "EXPIRED": "expired", "REJECTED": "rejected",
}


def _algo_status(status: str, quantity: float, executed: float) -> OrderStatus:
    if status == "FINISHED":
        # the triggered order ended: filled as far as it executed, else it was canceled
        if quantity > 0 and executed >= quantity:
            return "filled"
        return "canceled" if executed == 0 else "partially_filled"
    return _ALGO_STATUSES.get(status, "new")


def parse_algo_order(o: Json, time_ms: int = 0) -> OrderState:
    """A futures Algo Service conditional order: an `ALGO_UPDATE` event's `o`, or an
    entry of `/fapi/v1/openAlgoOrders` / `/fapi/v1/algoOrder` (long field names)."""
    if "caid" in o:
        quantity, executed = num(o.get("q")), num(o.get("aq"))
        return OrderState(
            client_id=str(o["caid"]), venue_order_id=str(o["aid"]), symbol=str(o["s"]),
            side=side_of(str(o["S"])), type=to_runner_type(str(o["o"]), "futures"),
            status=_algo_status(str(o["X"]), quantity, executed), quantity=quantity,
            filled_quantity=executed, price=opt_price(o.get("p")),
            stop_price=opt_price(o.get("tp")), time_ms=time_ms,
            reason=str(o.get("rm") or "") if o.get("X") in ("REJECTED", "EXPIRED") else "")
    quantity, executed = num(o.get("quantity")), num(o.get("executedQty"))
    return OrderState(
        client_id=str(o["clientAlgoId"]), venue_order_id=str(o["algoId"]),
        symbol=str(o["symbol"]), side=side_of(str(o["side"])),
        type=to_runner_type(str(o.get("orderType") or o["type"]), "futures"),
        status=_algo_status(str(o.get("algoStatus", "NEW")), quantity, executed),
        quantity=quantity, filled_quantity=executed, price=opt_price(o.get("price")),
        stop_price=opt_price(o.get("triggerPrice")),
        time_ms=int(o.get("updateTime") or o.get("createTime") or time_ms))


def parse_algo_update(data: Json) -> OrderState:
    return parse_algo_order(data["o"], int(data.get("T") or data["E"]))


# -- user data: account ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AccountUpdate:
    """Balances and positions an account event reports (only what changed)."""

    time_ms: int
    balances: tuple[Balance, ...] = ()
    positions: tuple[Position, ...] = ()
    reason: str = ""


@dataclass(frozen=True, slots=True)
class BalanceDelta:
    """A spot `balanceUpdate`: a deposit, withdrawal or transfer of `delta`."""

    asset: str
    delta: float
    time_ms: int


@dataclass(frozen=True, slots=True)
class StreamEnded:
    """The server ends a stream: `listenKeyExpired`, `eventStreamTerminated`,
    `serverShutdown`. The stream client reconnects (with a new listenKey when the
    old one expired)."""

    event: str
    time_ms: int


def parse_account_update(data: Json) -> AccountUpdate:
    """A futures `ACCOUNT_UPDATE`: wallet balances (`wb`, cross wallet `cw` as free) and
    positions (`pa` signed amount, `ep` entry). Hedge-mode LONG/SHORT legs of one
    symbol are netted into one position, as the contract's Position is net."""
    a = data["a"]
    balances = tuple(Balance(str(b["a"]), num(b.get("cw", b["wb"])),
                             max(num(b["wb"]) - num(b.get("cw", b["wb"])), 0.0))
                     for b in a.get("B", ()))
    return AccountUpdate(int(data.get("T") or data["E"]), balances,
                         tuple(_net_positions(
                             (str(p["s"]), num(p["pa"]), num(p["ep"])) for p in a.get("P", ())
                         )), str(a.get("m", "")))


def _net_positions(legs: Any) -> list[Position]:
    net: dict[str, tuple[float, float]] = {}
    for symbol, amount, entry in legs:
        qty, cost = net.get(symbol, (0.0, 0.0))
        net[symbol] = (qty + amount, cost + amount * entry)
    return [Position(s, q, (c / q) if q else 0.0) for s, (q, c) in net.items()]


def parse_outbound_account_position(data: Json) -> AccountUpdate:
    """A spot `outboundAccountPosition`: the balances that changed."""
    return AccountUpdate(int(data.get("u") or data["E"]), tuple(
        Balance(str(b["a"]), num(b["f"]), num(b["l"])) for b in data.get("B", ())))


def parse_balance_update(data: Json) -> BalanceDelta:
    return BalanceDelta(str(data["a"]), num(data["d"]), int(data.get("T") or data["E"]))


UserMessage = OrderState | VenueFill | AccountUpdate | BalanceDelta | StreamEnded


def parse_user_message(message: Json) -> list[UserMessage]:
    """Any user-data stream message (any envelope) → what it reports; [] for events
    the adapter does not consume (`TRADE_LITE` repeats the fill of the
    ORDER_TRADE_UPDATE that always follows it, without its fee; `listStatus`;
    `MARGIN_CALL`, ...)."""
    _, data = unwrap(message)
    kind = data.get("e")
    if kind == "executionReport":
        return list(parse_execution_report(data))
    if kind == "ORDER_TRADE_UPDATE":
        return list(parse_order_trade_update(data))
    if kind == "ALGO_UPDATE":
        return [parse_algo_update(data)]
    if kind == "ACCOUNT_UPDATE":
        return [parse_account_update(data)]
    if kind == "outboundAccountPosition":
        return [parse_outbound_account_position(data)]
    if kind == "balanceUpdate":
        return [parse_balance_update(data)]
    if kind in ("listenKeyExpired", "eventStreamTerminated", "serverShutdown"):
        return [StreamEnded(str(kind), int(data.get("E") or 0))]
    return []


# -- REST: orders, trades, account ----------------------------------------------------
def parse_order(data: Json, market: Market, fallback: OrderState | None = None) -> OrderState:
    """An order from new-order (ACK/RESULT/FULL), cancel, query, openOrders or allOrders
    (spot or futures; futures Algo Service orders go to `parse_algo_order`). An ACK has
    no state: `fallback` (built from the request) fills it in as a new order."""
    if "clientAlgoId" in data:
        return parse_algo_order(data)
    time_ms = int(data.get("updateTime") or data.get("transactTime") or data.get("time")
                  or (fallback.time_ms if fallback else 0))
    if "status" not in data:
        if fallback is None:
            raise ValueError("an ACK order response needs the request as fallback")
        return OrderState(str(data["clientOrderId"]), str(data["orderId"]), str(data["symbol"]),
                          fallback.side, fallback.type, "new", fallback.quantity, 0.0,
                          fallback.price, fallback.stop_price, time_ms)
    quantity, filled = num(data["origQty"]), num(data["executedQty"])
    # a cancel response names the cancel request's id in clientOrderId
    client_id = str(data.get("origClientOrderId") or data["clientOrderId"])
    return OrderState(
        client_id=client_id, venue_order_id=str(data["orderId"]), symbol=str(data["symbol"]),
        side=side_of(str(data["side"])),
        type=to_runner_type(str(data.get("origType") or data["type"]), market),
        status=to_status(str(data["status"]), quantity, filled), quantity=quantity,
        filled_quantity=filled, price=opt_price(data.get("price")),
        stop_price=opt_price(data.get("stopPrice")), time_ms=time_ms)


def parse_order_fills(data: Json, state: OrderState) -> list[VenueFill]:
    """The `fills` of a spot FULL new-order response (no per-fill time or maker flag:
    the order's transact time and taker, which an immediate fill is)."""
    return [VenueFill(str(f["tradeId"]), state.client_id, state.venue_order_id, state.symbol,
                      state.side, num(f["qty"]), num(f["price"]), num(f["commission"]),
                      str(f["commissionAsset"]), state.time_ms, False)
            for f in data.get("fills", ())]


def parse_account_trade(data: Json, client_id: str = "") -> VenueFill:
    """One of spot `myTrades` or futures `userTrades`. Neither carries the client order
    id: the caller passes it (looked up by `orderId`)."""
    if "side" in data:
        side = side_of(str(data["side"]))
    else:
        side = "buy" if data.get("isBuyer") else "sell"
    maker = data.get("isMaker") if "isMaker" in data else data.get("maker")
    return VenueFill(str(data["id"]), client_id, str(data["orderId"]), str(data["symbol"]),
                     side, num(data["qty"]), num(data["price"]), num(data["commission"]),
                     str(data["commissionAsset"]), int(data["time"]), bool(maker))


def parse_spot_balances(account: Json) -> list[Balance]:
    return [Balance(str(b["asset"]), num(b["free"]), num(b["locked"]))
            for b in account.get("balances", ())]


def parse_futures_balances(rows: Sequence[Json]) -> list[Balance]:
    """`/fapi/v2/balance` (or v3): free = availableBalance, locked = the rest."""
    out = []
    for b in rows:
        total, free = num(b["balance"]), num(b.get("availableBalance", b["balance"]))
        out.append(Balance(str(b["asset"]), free, max(total - free, 0.0)))
    return out


def parse_position_risk(rows: Sequence[Json]) -> list[Position]:
    """`/fapi/v2/positionRisk` (or v3): net position per symbol (hedge legs summed)."""
    return _net_positions((str(p["symbol"]), num(p["positionAmt"]), num(p["entryPrice"]))
                          for p in rows)


def parse_spot_positions(balances: Sequence[Balance], assets: Mapping[str, str]
                         ) -> list[Position]:
    """Spot has no positions: the base-asset balance (free + locked) of each symbol
    (`assets` maps symbol → base asset) stands in, with entry price 0 (unknown)."""
    by_asset = {b.asset: b.free + b.locked for b in balances}
    return [Position(symbol, by_asset.get(base, 0.0), 0.0) for symbol, base in assets.items()]


# -- errors ---------------------------------------------------------------------------
ERROR_NAMES: dict[int, str] = {
    -1000: "UNKNOWN", -1001: "DISCONNECTED", -1003: "TOO_MANY_REQUESTS",
    -1006: "UNEXPECTED_RESP", -1007: "TIMEOUT", -1008: "SERVER_BUSY",
    -1013: "INVALID_MESSAGE", -1015: "TOO_MANY_ORDERS", -1016: "SERVICE_SHUTTING_DOWN",
    -1021: "INVALID_TIMESTAMP", -1022: "INVALID_SIGNATURE", -1002: "UNAUTHORIZED",
    -1100: "ILLEGAL_CHARS", -1102: "MANDATORY_PARAM_EMPTY_OR_MALFORMED",
    -1111: "BAD_PRECISION", -1121: "BAD_SYMBOL", -1125: "INVALID_LISTEN_KEY",
    -2010: "NEW_ORDER_REJECTED", -2011: "CANCEL_REJECTED", -2013: "NO_SUCH_ORDER",
    -2014: "BAD_API_KEY_FMT", -2015: "REJECTED_MBX_KEY",
}
"""The spot error codes the adapter acts on (names as errors.md gives them)."""

TRANSIENT_CODES = frozenset({-1000, -1001, -1006, -1007, -1008, -1016})
"""Server-side trouble: the outcome of an order call is unknown, a read may be retried."""
RATE_LIMIT_CODES = frozenset({-1003, -1015})
ORDER_REJECT_CODES = frozenset({-1013, -1100, -1102, -1106, -1111, -1115, -1116, -1117,
                                -1121, -2010})
NO_SUCH_ORDER_CODES = frozenset({-2011, -2013})
UNKNOWN_ORDER_MESSAGE = "Unknown order sent."
DUPLICATE_ORDER_MESSAGE = "Duplicate order sent."


def error_from_response(status: int, body: Any, retry_after: float | None = None
                        ) -> VenueError:
    """The exception for a non-2xx response (body: decoded JSON or text)."""
    code: int | None = None
    message = ""
    if isinstance(body, Mapping):
        raw_code = body.get("code")
        code = int(raw_code) if isinstance(raw_code, int | str) and str(raw_code).lstrip(
            "-").isdigit() else None
        message = str(body.get("msg", ""))
    elif body:
        message = str(body)[:200]
    name = ERROR_NAMES.get(code, "") if code is not None else ""
    text = f"Binance HTTP {status}" + (f" code {code}" if code is not None else "") + \
        (f" {name}" if name else "") + (f": {message}" if message else "")
    if status in (418, 429) or code in RATE_LIMIT_CODES:
        return RateLimited(text, retry_after=retry_after, code=code, status=status,
                           banned=status == 418)
    if status >= 500 or code in TRANSIENT_CODES:
        return VenueTransient(text, code=code, status=status)
    if code in ORDER_REJECT_CODES or (code is not None and -5100 < code <= -2000
                                      and code not in NO_SUCH_ORDER_CODES
                                      and code not in (-2014, -2015)):
        return OrderRejected(text, code=code, status=status)
    return VenueError(text, code=code, status=status)


__all__ = [
    "FUTURES_ALGO_TYPES", "AccountUpdate", "BalanceDelta", "Market", "StreamEnded",
    "UserMessage", "error_from_response", "num", "parse_account_trade",
    "parse_account_update", "parse_algo_order", "parse_algo_update", "parse_balance_update",
    "parse_book_ticker", "parse_depth_snapshot", "parse_depth_update",
    "parse_execution_report", "parse_futures_balances", "parse_kline", "parse_klines",
    "parse_order", "parse_order_fills", "parse_order_trade_update",
    "parse_outbound_account_position", "parse_position_risk", "parse_spot_balances",
    "parse_spot_positions", "parse_trade", "parse_user_message", "to_binance_type",
    "to_runner_type", "to_status", "unwrap",
]
