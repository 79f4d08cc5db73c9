"""`FakeBinance`: Binance's REST and websocket protocol around a `FakeVenue`, for tests.

Built on `runner.testing.fake_server.FakeExchange` (real aiohttp + websockets servers on
127.0.0.1, port 0, with its fault injection). It speaks Binance's shapes — the ones in
the recorded payloads of ../shared/data/binance — for spot (`/api/v3`) or USD-M
futures (`/fapi`), and checks what a real server checks:

- SIGNED routes need `X-MBX-APIKEY` (-2015 otherwise), a valid HMAC-SHA256
  `signature` of the query string + body (-1022), and a `timestamp` within
  `recvWindow` of the server clock, which `faults.clock_skew_ms` moves (-1021);
- every response carries `X-MBX-USED-WEIGHT-1M` (the request count of the minute);
- errors are Binance error bodies `{"code": -NNNN, "msg": ...}`: -2013 "Order does not
  exist.", -2011 "Unknown order sent.", -2010 with the matching-engine message
  ("Duplicate order sent.", "Account has insufficient balance for requested action."),
  -1013 "Filter failure: NAME", futures -4116 for a reused client order id; injected
  429/418 get -1003 and 5xx get -1001.

Websockets: `/stream?streams=a/b/c` serves combined market streams from the venue's
prints (`trade`, `aggTrade`, `bookTicker`, `depth`, and `kline_<tf>` closed bars when a
print opens a new window); `/ws/<listenKey>` serves the user-data stream
(`executionReport` or `ORDER_TRADE_UPDATE`). `push(stream, data)` sends any payload
(a recorded one, say) to the sockets subscribed to `stream`; `expire_listen_key()`
sends `listenKeyExpired` and forgets the key.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote

from aiohttp import web
from websockets.exceptions import ConnectionClosed

from runner.testing.fake_server import FakeExchange, FakeSocket, Faults
from runner.testing.fake_venue import DuplicateOrder, FakeVenue
from runner.venue.contract import OrderRejected, OrderRequest, OrderState, VenueFill
from runner_binance.filters import format_decimal, to_decimal
from runner_binance.history import interval_ms
from runner_binance.signing import sign

_SPOT_TYPES = {"MARKET": "market", "LIMIT": "limit", "LIMIT_MAKER": "limit",
               "STOP_LOSS": "stop", "STOP_LOSS_LIMIT": "stop_limit"}
_FUTURES_TYPES = {"MARKET": "market", "LIMIT": "limit", "STOP_MARKET": "stop",
                  "STOP": "stop_limit"}
_STATUS = {"new": "NEW", "partially_filled": "PARTIALLY_FILLED", "filled": "FILLED",
           "canceled": "CANCELED", "rejected": "REJECTED", "expired": "EXPIRED"}
_FILTER_CODES = {"lot-size": "LOT_SIZE", "tick-size": "PRICE_FILTER",
                 "min-notional": "NOTIONAL"}


def _dec(x: float | None) -> str:
    return "0" if x is None else format_decimal(to_decimal(x))


class BinanceApiError(Exception):
    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


class FakeBinance(FakeExchange):
    """Binance spot or USD-M futures over a `FakeVenue` (module docstring)."""

    def __init__(self, venue: FakeVenue, *, market: Literal["spot", "futures"] = "spot",
                 api_key: str = "test-key", api_secret: str = "test-secret",
                 faults: Faults | None = None, max_recv_window_ms: int = 60_000) -> None:
        super().__init__(venue, faults=faults)
        self.market = market
        self.api_key = api_key
        self.api_secret = api_secret
        self.max_recv_window_ms = max_recv_window_ms
        self.listen_keys: set[str] = set()
        self.keepalives = 0
        self.signature_failures = 0
        self._weight: tuple[int, int] = (0, 0)
        self._kind: dict[str, str] = {}
        """client id → Binance order type it was placed with."""
        self._algo: set[str] = set()
        self.prefix = "/api/v3" if market == "spot" else "/fapi/v1"
        self.update_id = 0
        """The book's update id: one per print, shared by depth snapshots and diffs."""
        self._print_ids: dict[int, int] = {}
        venue.on_trade(self._count_print)

    def _count_print(self, event: Any) -> None:
        self.update_id += 1
        self._print_ids[id(event.trade)] = self.update_id

    # -- routes -------------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        p = self.prefix
        self.faults.exempt.add(f"{p}/time")
        app.on_response_prepare.append(self._weight_header)
        route = app.router.add_route
        route("GET", f"{p}/time", self._wrap(self.server_time))
        route("GET", f"{p}/exchangeInfo", self._wrap(self.exchange_info))
        route("GET", f"{p}/klines", self._wrap(self.klines))
        route("GET", f"{p}/depth", self._wrap(self.depth_snapshot))
        for method in ("POST", "GET", "DELETE"):
            route(method, f"{p}/order", self._wrap(self.order, signed=True))
        route("GET", f"{p}/openOrders", self._wrap(self.open_orders, signed=True))
        route("GET", f"{p}/allOrders", self._wrap(self.all_orders, signed=True))
        trades = "myTrades" if self.market == "spot" else "userTrades"
        route("GET", f"{p}/{trades}", self._wrap(self.my_trades, signed=True))
        key_path = f"{p}/userDataStream" if self.market == "spot" else f"{p}/listenKey"
        for method in ("POST", "PUT", "DELETE"):
            route(method, key_path, self._wrap(self.listen_key, key_only=True))
        if self.market == "spot":
            route("GET", f"{p}/account", self._wrap(self.account, signed=True))
        else:
            route("GET", "/fapi/v2/balance", self._wrap(self.futures_balance, signed=True))
            route("GET", "/fapi/v2/positionRisk", self._wrap(self.position_risk, signed=True))
            for method in ("POST", "GET", "DELETE"):
                route(method, f"{p}/algoOrder", self._wrap(self.algo_order, signed=True))
            route("GET", f"{p}/openAlgoOrders", self._wrap(self.open_algo_orders,
                                                           signed=True))

    def error_body(self, status: int) -> dict[str, Any]:
        if status in (418, 429):
            return {"code": -1003, "msg": "Too much request weight used; current limit is "
                    "6000 request weight per 1 MINUTE."}
        return {"code": -1001, "msg": "Internal error; unable to process your request. "
                "Please try again."}

    async def _weight_header(self, request: web.Request, response: web.StreamResponse
                             ) -> None:
        minute = self.now_ms() // 60_000
        count = self._weight[1] + 1 if self._weight[0] == minute else 1
        self._weight = (minute, count)
        response.headers["X-MBX-USED-WEIGHT-1M"] = str(count)

    def _wrap(self, handler: Any, *, signed: bool = False, key_only: bool = False) -> Any:
        async def route(request: web.Request) -> web.StreamResponse:
            try:
                params = await self._params(request, signed=signed, key_only=key_only)
                body = await handler(request.method, params)
            except BinanceApiError as exc:
                return web.json_response({"code": exc.code, "msg": exc.msg}, status=exc.status)
            return web.json_response(body)
        return route

    async def _params(self, request: web.Request, *, signed: bool, key_only: bool
                      ) -> dict[str, str]:
        raw_query = request.rel_url.raw_query_string
        body = await request.text() if request.can_read_body else ""
        params = dict(parse_qsl(raw_query, keep_blank_values=True))
        params.update(parse_qsl(body, keep_blank_values=True))
        if (signed or key_only) and request.headers.get("X-MBX-APIKEY") != self.api_key:
            raise BinanceApiError(401, -2015,
                                  "Invalid API-key, IP, or permissions for action.")
        if not signed:
            return params
        payload, _, signature = raw_query.rpartition("&signature=")
        if not signature:
            payload, signature = raw_query, params.get("signature", "")
        expected = sign(self.api_secret, payload, body)
        if not hmac.compare_digest(expected, unquote(signature)):
            self.signature_failures += 1
            raise BinanceApiError(400, -1022, "Signature for this request is not valid.")
        try:
            timestamp = int(params["timestamp"])
        except (KeyError, ValueError):
            raise BinanceApiError(400, -1102, "Mandatory parameter 'timestamp' was not sent, "
                                  "was empty/null, or malformed.") from None
        window = int(params.get("recvWindow", 5000))
        if window > self.max_recv_window_ms:
            raise BinanceApiError(400, -1131, "recvWindow must be less than 60000")
        now = self.now_ms()
        if timestamp >= now + 1000 or now - timestamp > window:
            raise BinanceApiError(400, -1021, "Timestamp for this request is outside of the "
                                  "recvWindow.")
        return params

    # -- public ---------------------------------------------------------------------------
    async def server_time(self, method: str, params: Mapping[str, str]) -> Any:
        return {"serverTime": self.now_ms()}

    async def exchange_info(self, method: str, params: Mapping[str, str]) -> Any:
        symbols = []
        for name, meta in self.venue.instruments.items():
            base = meta.base_asset or name[:-4]
            quote = meta.quote_asset or name[-4:]
            filters: list[dict[str, Any]] = [
                {"filterType": "PRICE_FILTER", "minPrice": _dec(meta.tick_size),
                 "maxPrice": "1000000", "tickSize": _dec(meta.tick_size)},
                {"filterType": "LOT_SIZE", "minQty": _dec(meta.min_quantity or meta.lot_size),
                 "maxQty": _dec(meta.max_quantity or 9000), "stepSize": _dec(meta.lot_size)},
            ]
            if meta.market_lot_size:
                filters.append({"filterType": "MARKET_LOT_SIZE", "minQty": "0",
                                "maxQty": _dec(meta.max_quantity or 9000),
                                "stepSize": _dec(meta.market_lot_size)})
            if self.market == "spot":
                filters.append({"filterType": "NOTIONAL", "minNotional": _dec(meta.min_notional),
                                "applyMinToMarket": True, "maxNotional": "9000000",
                                "applyMaxToMarket": False, "avgPriceMins": 5})
                types = ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT",
                         "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"]
            else:
                filters.append({"filterType": "MIN_NOTIONAL", "notional": _dec(meta.min_notional)})
                types = ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT",
                         "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"]
            symbols.append({"symbol": name, "status": "TRADING", "baseAsset": base,
                            "quoteAsset": quote, "orderTypes": types, "filters": filters})
        return {"timezone": "UTC", "serverTime": self.now_ms(), "rateLimits": [],
                "exchangeFilters": [], "symbols": symbols}

    async def klines(self, method: str, params: Mapping[str, str]) -> Any:
        symbol, interval = params["symbol"], params["interval"]
        step = interval_ms(interval)
        start = int(params.get("startTime", 0))
        end = int(params.get("endTime", self.now_ms())) + 1
        limit = int(params.get("limit", 500))
        bars = self.venue.bars(symbol, interval, start, end, closed_only=False)[:limit]
        return [[b.open_ms, _dec(b.bar[0]), _dec(b.bar[1]), _dec(b.bar[2]), _dec(b.bar[3]),
                 _dec(b.bar[4] or 0), b.open_ms + step - 1, "0", 0, "0", "0", "0"]
                for b in bars]

    async def depth_snapshot(self, method: str, params: Mapping[str, str]) -> Any:
        bids: dict[float, float] = {}
        asks: dict[float, float] = {}
        for o in self.venue.open_orders(params["symbol"]):
            if o.type == "limit" and o.price is not None:
                book = bids if o.side == "buy" else asks
                book[o.price] = book.get(o.price, 0.0) + o.quantity - o.filled_quantity
        return {"lastUpdateId": self.update_id,
                "bids": [[_dec(p), _dec(q)] for p, q in sorted(bids.items(), reverse=True)],
                "asks": [[_dec(p), _dec(q)] for p, q in sorted(asks.items())]}

    # -- orders ---------------------------------------------------------------------------
    def _order_json(self, state: OrderState) -> dict[str, Any]:
        kind = self._kind.get(state.client_id) or ("MARKET" if state.type == "market"
                                                   else "LIMIT")
        body: dict[str, Any] = {
            "symbol": state.symbol, "orderId": int(state.venue_order_id),
            "clientOrderId": state.client_id, "price": _dec(state.price),
            "origQty": _dec(state.quantity), "executedQty": _dec(state.filled_quantity),
            "status": _STATUS[state.status], "timeInForce": "GTC", "type": kind,
            "side": state.side.upper(), "stopPrice": _dec(state.stop_price),
            "time": state.time_ms, "updateTime": state.time_ms,
        }
        if self.market == "spot":
            body.update(orderListId=-1, cummulativeQuoteQty="0", transactTime=state.time_ms,
                        workingTime=state.time_ms, selfTradePreventionMode="NONE")
        else:
            body.update(avgPrice="0", cumQuote="0", reduceOnly=False, closePosition=False,
                        positionSide="BOTH", origType=kind, workingType="CONTRACT_PRICE")
        return body

    def _request(self, params: Mapping[str, str], client_id: str) -> OrderRequest:
        kind = params["type"]
        table = _SPOT_TYPES if self.market == "spot" else _FUTURES_TYPES
        if kind not in table:
            raise BinanceApiError(400, -1116, "Invalid orderType.")
        tif = params.get("timeInForce", "GTC")
        stop = params.get("stopPrice") or params.get("triggerPrice")
        return OrderRequest(
            client_id=client_id, symbol=params["symbol"],
            side="buy" if params["side"] == "BUY" else "sell", type=table[kind],  # type: ignore[arg-type]
            quantity=float(params["quantity"]),
            price=float(params["price"]) if "price" in params else None,
            stop_price=float(stop) if stop else None,
            time_in_force="gtc" if tif in ("GTC", "GTX") else tif.lower(),  # type: ignore[arg-type]
            reduce_only=params.get("reduceOnly") == "true",
            post_only=kind == "LIMIT_MAKER" or tif == "GTX")

    def _place(self, params: Mapping[str, str], client_id: str) -> OrderState:
        if params.get("symbol") not in self.venue.instruments:
            raise BinanceApiError(400, -1121, "Invalid symbol.")
        try:
            state = self.venue.submit(self._request(params, client_id))
        except DuplicateOrder:
            if self.market == "futures":
                raise BinanceApiError(400, -4116, "ClientOrderId is duplicated.") from None
            raise BinanceApiError(400, -2010, "Duplicate order sent.") from None
        except OrderRejected as exc:
            name = _FILTER_CODES.get(str(exc.code))
            if name is not None:
                raise BinanceApiError(400, -1013, f"Filter failure: {name}") from None
            msg = "Account has insufficient balance for requested action." \
                if exc.code == "insufficient-balance" else str(exc)
            raise BinanceApiError(400, -2010, msg) from None
        self._kind[client_id] = params["type"]
        return state

    async def order(self, method: str, params: Mapping[str, str]) -> Any:
        if method == "POST":
            client_id = params.get("newClientOrderId") or secrets.token_hex(11)
            return self._order_json(self._place(params, client_id))
        client_id = params.get("origClientOrderId", "")
        state = self.venue.order(client_id)
        if method == "GET":
            if state is None:
                raise BinanceApiError(400, -2013, "Order does not exist.")
            return self._order_json(state)
        if state is None or state.final:
            raise BinanceApiError(400, -2011, "Unknown order sent.")
        body = self._order_json(self.venue.cancel(client_id))
        if self.market == "spot":
            body["origClientOrderId"] = client_id
            body["clientOrderId"] = secrets.token_hex(11)
        return body

    async def open_orders(self, method: str, params: Mapping[str, str]) -> Any:
        return [self._order_json(s) for s in self.venue.open_orders(params.get("symbol"))
                if s.client_id not in self._algo]

    async def all_orders(self, method: str, params: Mapping[str, str]) -> Any:
        start = int(params.get("startTime", 0))
        return [self._order_json(s) for s in self.venue.orders()
                if s.symbol == params["symbol"] and s.time_ms >= start]

    async def my_trades(self, method: str, params: Mapping[str, str]) -> Any:
        fills = self.venue.fills(params["symbol"], int(params.get("startTime", 0)))
        if "fromId" in params:
            fills = [f for f in fills if int(f.trade_id) >= int(params["fromId"])]
        fills = fills[: int(params.get("limit", 500))]
        rows = []
        for f in fills:
            row: dict[str, Any] = {
                "symbol": f.symbol, "id": int(f.trade_id), "orderId": int(f.venue_order_id),
                "price": _dec(f.price), "qty": _dec(f.quantity),
                "quoteQty": _dec(f.price * f.quantity), "commission": _dec(f.fee),
                "commissionAsset": f.fee_asset, "time": f.time_ms}
            if self.market == "spot":
                row.update(orderListId=-1, isBuyer=f.side == "buy", isMaker=f.maker,
                           isBestMatch=True)
            else:
                row.update(side=f.side.upper(), buyer=f.side == "buy", maker=f.maker,
                           realizedPnl="0", marginAsset=f.fee_asset, positionSide="BOTH")
            rows.append(row)
        return rows

    async def algo_order(self, method: str, params: Mapping[str, str]) -> Any:
        client_id = params.get("clientAlgoId", "")
        if method == "POST":
            if params.get("algoType") != "CONDITIONAL":
                raise BinanceApiError(400, -1102, "algoType is mandatory.")
            placed = self._place(params, client_id)
            self._algo.add(client_id)
            return self._algo_json(placed)
        state = self.venue.order(client_id) if client_id in self._algo else None
        if state is None:
            raise BinanceApiError(400, -2013, "Order does not exist.")
        if method == "GET":
            return self._algo_json(state)
        if state.final:
            raise BinanceApiError(400, -2011, "Unknown order sent.")
        state = self.venue.cancel(client_id)
        return {"algoId": int(state.venue_order_id), "clientAlgoId": client_id,
                "code": "200", "msg": "success"}

    def _algo_json(self, state: OrderState) -> dict[str, Any]:
        status = {"new": "NEW", "partially_filled": "TRIGGERED", "filled": "FINISHED",
                  "canceled": "CANCELED", "expired": "EXPIRED", "rejected": "REJECTED"}
        return {"algoId": int(state.venue_order_id), "clientAlgoId": state.client_id,
                "algoType": "CONDITIONAL", "orderType": self._kind.get(state.client_id, "STOP"),
                "symbol": state.symbol, "side": state.side.upper(), "positionSide": "BOTH",
                "timeInForce": "GTC", "quantity": _dec(state.quantity),
                "algoStatus": status[state.status], "triggerPrice": _dec(state.stop_price),
                "price": _dec(state.price), "executedQty": _dec(state.filled_quantity),
                "workingType": "CONTRACT_PRICE", "reduceOnly": False,
                "createTime": state.time_ms, "updateTime": state.time_ms}

    async def open_algo_orders(self, method: str, params: Mapping[str, str]) -> Any:
        return [self._algo_json(s) for s in self.venue.open_orders(params.get("symbol"))
                if s.client_id in self._algo]

    # -- account ----------------------------------------------------------------------------
    async def account(self, method: str, params: Mapping[str, str]) -> Any:
        return {"makerCommission": 10, "takerCommission": 10, "canTrade": True,
                "updateTime": self.now_ms(), "accountType": "SPOT", "permissions": ["SPOT"],
                "balances": [{"asset": b.asset, "free": _dec(b.free), "locked": _dec(b.locked)}
                             for b in self.venue.balances()]}

    async def futures_balance(self, method: str, params: Mapping[str, str]) -> Any:
        return [{"accountAlias": "fake", "asset": b.asset, "balance": _dec(b.free + b.locked),
                 "crossWalletBalance": _dec(b.free + b.locked), "crossUnPnl": "0",
                 "availableBalance": _dec(b.free), "maxWithdrawAmount": _dec(b.free),
                 "marginAvailable": True, "updateTime": self.now_ms()}
                for b in self.venue.balances()]

    async def position_risk(self, method: str, params: Mapping[str, str]) -> Any:
        return [{"symbol": p.symbol, "positionAmt": _dec(p.quantity),
                 "entryPrice": _dec(p.entry_price), "markPrice": _dec(p.entry_price),
                 "unRealizedProfit": "0", "liquidationPrice": "0", "leverage": "10",
                 "marginType": "cross", "positionSide": "BOTH", "updateTime": self.now_ms()}
                for p in self.venue.positions()]

    async def listen_key(self, method: str, params: Mapping[str, str]) -> Any:
        if method == "POST":
            key = secrets.token_urlsafe(45)[:60]
            self.listen_keys.add(key)
            return {"listenKey": key}
        key = params.get("listenKey") or next(iter(self.listen_keys), "")
        if key not in self.listen_keys:
            raise BinanceApiError(400, -1125, "This listenKey does not exist.")
        if method == "PUT":
            self.keepalives += 1
        else:
            self.listen_keys.discard(key)
        return {}

    async def expire_listen_key(self) -> None:
        """Send `listenKeyExpired` on every user stream and forget their keys."""
        for sock in list(self.sockets):
            if sock.path.startswith("/ws/") and not sock.closed:
                key = sock.path[4:]
                self.listen_keys.discard(key)
                with contextlib.suppress(ConnectionClosed):
                    await sock.send({"e": "listenKeyExpired", "E": self.now_ms(),
                                     "listenKey": key})

    # -- websockets -------------------------------------------------------------------------
    @staticmethod
    def stream_names(path: str) -> list[str]:
        _, _, query = path.partition("?")
        return [n for k, v in parse_qsl(query) if k == "streams" for n in v.split("/") if n]

    async def push(self, stream: str, data: Mapping[str, Any]) -> int:
        """Send `{"stream", "data"}` to every socket subscribed to `stream`."""
        sent = 0
        for sock in list(self.sockets):
            if stream in self.stream_names(sock.path) and not sock.closed:
                with contextlib.suppress(ConnectionClosed):
                    await sock.send({"stream": stream, "data": data})
                    sent += 1
        return sent

    async def on_websocket(self, ws: FakeSocket, path: str) -> None:
        if path.startswith("/ws/"):
            if path[4:] not in self.listen_keys:
                await ws.close(1008, "invalid listenKey")
                return
            await self._serve_user(ws)
        elif path.startswith("/stream"):
            await self._serve_market(ws, self.stream_names(path))
        else:
            await ws.close(1008, "unknown path")

    async def _serve_market(self, ws: FakeSocket, names: list[str]) -> None:
        by_symbol: dict[str, list[str]] = {}
        for name in names:
            by_symbol.setdefault(name.split("@", 1)[0].upper(), []).append(name)
        queue = self.venue.subscribe_trades(list(by_symbol))
        # a connection opened during a bar gets that bar's close, as Binance's kline
        # stream does: the window of the symbol's last print is the bar in progress
        bar_open: dict[tuple[str, str], int] = {}
        for symbol, streams in by_symbol.items():
            tape = self.venue.tape(symbol) if symbol in self.venue.instruments else []
            for name in streams:
                kind = name.split("@", 1)[1]
                if tape and kind.startswith("kline_"):
                    tf = kind[len("kline_"):]
                    step = interval_ms(tf)
                    last = tape[-1].time_ms
                    bar_open[(symbol, tf)] = last - last % step
        seq = 0
        try:
            reader = asyncio.ensure_future(self._drain(ws))
            while not reader.done():
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getter, reader},
                                             return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    break
                event = getter.result()
                seq += 1
                t = event.trade
                for name in by_symbol.get(event.symbol, []):
                    kind = name.split("@", 1)[1]
                    for data in self._market_messages(event.symbol, kind, t, seq, bar_open):
                        await ws.send({"stream": name, "data": data})
        except ConnectionClosed:
            pass
        finally:
            self.venue.unsubscribe(queue)

    @staticmethod
    async def _drain(ws: FakeSocket) -> None:
        async for _ in ws:
            pass

    def _market_messages(self, symbol: str, kind: str, t: Any, seq: int,
                         bar_open: dict[tuple[str, str], int]) -> list[dict[str, Any]]:
        now = self.now_ms()
        if kind == "trade":
            return [{"e": "trade", "E": now, "s": symbol, "t": seq, "p": _dec(t.price),
                     "q": _dec(t.amount), "T": t.time_ms, "m": False, "M": True}]
        if kind == "aggTrade":
            return [{"e": "aggTrade", "E": now, "s": symbol, "a": seq, "p": _dec(t.price),
                     "q": _dec(t.amount), "f": seq, "l": seq, "T": t.time_ms, "m": False}]
        if kind == "bookTicker":
            tick = self.venue.instruments[symbol].tick_size
            return [{"u": seq, "s": symbol, "b": _dec(t.price - tick), "B": "1",
                     "a": _dec(t.price + tick), "A": "1"}]
        if kind.startswith("depth"):
            uid = self._print_ids.get(id(t), seq)
            return [{"e": "depthUpdate", "E": now, "s": symbol, "U": uid, "u": uid,
                     "b": [[_dec(t.price), _dec(t.amount)]], "a": []}]
        if kind.startswith("kline_"):
            tf = kind[len("kline_"):]
            step = interval_ms(tf)
            window = t.time_ms - t.time_ms % step
            previous = bar_open.get((symbol, tf))
            bar_open[(symbol, tf)] = window
            if previous is None or previous == window:
                return []
            out = []
            for b in self._bars(symbol, tf, previous, window):
                out.append({"e": "kline", "E": now, "s": symbol, "k": {
                    "t": b.open_ms, "T": b.open_ms + step - 1, "s": symbol, "i": tf,
                    "o": _dec(b.bar[0]), "h": _dec(b.bar[1]), "l": _dec(b.bar[2]),
                    "c": _dec(b.bar[3]), "v": _dec(b.bar[4] or 0), "x": True}})
            return out
        return []

    def _bars(self, symbol: str, tf: str, start_ms: int, end_ms: int) -> list[Any]:
        """The bars opening in [start_ms, end_ms), built from those prints only (the
        venue's `bars` rebuilds the whole tape, which a long run cannot afford per
        kline)."""
        from runner.bars.ticks import BarBuilder
        from runner.market import BarEvent

        builder = BarBuilder([tf], grace_ms=0)
        builder.add_all(self.venue.tape(symbol, start_ms, end_ms))
        return [BarEvent(symbol, b.open_ms, (b.open, b.high, b.low, b.close, b.volume))
                for b in builder.flush() if start_ms <= b.open_ms < end_ms]

    async def _serve_user(self, ws: FakeSocket) -> None:
        queue = self.venue.subscribe_user()
        try:
            reader = asyncio.ensure_future(self._drain(ws))
            while not reader.done():
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getter, reader},
                                             return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    break
                message = self.user_message(getter.result())
                if message is not None:
                    await ws.send(message)
        except ConnectionClosed:
            pass
        finally:
            self.venue.unsubscribe(queue)

    def user_message(self, event: OrderState | VenueFill) -> dict[str, Any] | None:
        """The Binance user-stream event of a venue event: a fill becomes a TRADE report
        carrying the order's state; an order update with fills is left out (its TRADE
        report said it)."""
        if isinstance(event, VenueFill):
            state = self.venue.order(event.client_id)
            if state is None:
                return None
            return self._report(state, "TRADE", event)
        if event.status in ("partially_filled", "filled"):
            return None
        exec_type = {"new": "NEW", "canceled": "CANCELED", "expired": "EXPIRED",
                     "rejected": "REJECTED"}[event.status]
        return self._report(event, exec_type, None)

    def _report(self, s: OrderState, exec_type: str, fill: VenueFill | None
                ) -> dict[str, Any]:
        kind = self._kind.get(s.client_id, "LIMIT")
        now = self.now_ms()
        fields = {"s": s.symbol, "c": s.client_id, "S": s.side.upper(), "o": kind,
                  "f": "GTC", "q": _dec(s.quantity), "p": _dec(s.price), "x": exec_type,
                  "X": _STATUS[s.status], "i": int(s.venue_order_id),
                  "l": _dec(fill.quantity if fill else 0), "z": _dec(s.filled_quantity),
                  "L": _dec(fill.price if fill else 0), "n": _dec(fill.fee if fill else 0),
                  "N": fill.fee_asset if fill else None,
                  "T": fill.time_ms if fill else s.time_ms,
                  "t": int(fill.trade_id) if fill else -1, "m": bool(fill and fill.maker)}
        if self.market == "spot":
            return {"e": "executionReport", "E": now, "P": _dec(s.stop_price), "C": "",
                    "r": "NONE", "w": True, "O": s.time_ms, "Z": "0", **fields}
        fields.update(sp=_dec(s.stop_price), ot=kind, ap=_dec(fill.price if fill else 0),
                      R=False, ps="BOTH", wt="CONTRACT_PRICE")
        return {"e": "ORDER_TRADE_UPDATE", "E": now, "T": now, "o": fields}


__all__ = ["BinanceApiError", "FakeBinance"]
