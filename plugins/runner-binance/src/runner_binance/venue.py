"""`BinanceVenue`: the adapter contract (`runner.venue.contract.Venue`) for Binance spot
and USD-M futures.

Symbols: a strategy may name an instrument `BTCUSDT`, `BTC/USDT` or `BTC/USDT:USDT`;
Binance's name is the part before `:` without separators, upper-cased. Events come back
under the strategy's name once the venue has seen it (in `instruments`, a stream or an
order).

Orders: rounded and checked against the symbol's exchangeInfo filters before sending
(`filters.prepare_order`); sent with `newClientOrderId` = the runner's client id
(`ids.binance_client_id`). A submit whose outcome is unknown (timeout, 5xx, dropped
connection, -1006/-1007) asks for the order by `origClientOrderId` before it sends again,
and a resend that Binance answers "Duplicate order sent." returns the order that exists:
either way one runner order is at most one Binance order. Futures stops go to the Algo
Service (`/fapi/v1/algoOrder`, `clientAlgoId`), where Binance has placed conditional
orders since December 2025.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from runner.market import BarEvent, MarketEvent
from runner.venue.contract import (
    Balance,
    Credentials,
    DepthUpdate,
    InstrumentMeta,
    OrderRejected,
    OrderRequest,
    OrderState,
    Position,
    Quote,
    RateLimited,
    Unsupported,
    UserEvent,
    Venue,
    VenueError,
    VenueFill,
    VenueTransient,
)
from runner_binance.filters import (
    SymbolRules,
    format_decimal,
    prepare_order,
    rules_from_exchange_info,
)
from runner_binance.history import PAGE_LIMIT, interval_ms, read_klines
from runner_binance.ids import binance_client_id
from runner_binance.payloads import (
    DUPLICATE_ORDER_MESSAGE,
    FUTURES_ALGO_TYPES,
    NO_SUCH_ORDER_CODES,
    Market,
    parse_account_trade,
    parse_book_ticker,
    parse_depth_snapshot,
    parse_depth_update,
    parse_futures_balances,
    parse_kline,
    parse_order,
    parse_position_risk,
    parse_spot_balances,
    parse_spot_positions,
    parse_trade,
    parse_user_message,
    to_binance_type,
    unwrap,
)
from runner_binance.plugin import BinanceParams
from runner_binance.rest import BinanceRest, Sleep
from runner_binance.streams import ListenKeyApi, StreamClient, UserDataStream, combined_url

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Endpoints:
    time: str
    exchange_info: str
    klines: str
    depth: str
    order: str
    open_orders: str
    all_orders: str
    trades: str
    account: str
    listen_key: str
    position_risk: str = ""
    balance: str = ""
    algo_order: str = ""
    open_algo_orders: str = ""


SPOT = Endpoints("/api/v3/time", "/api/v3/exchangeInfo", "/api/v3/klines", "/api/v3/depth",
                 "/api/v3/order", "/api/v3/openOrders", "/api/v3/allOrders",
                 "/api/v3/myTrades", "/api/v3/account", "/api/v3/userDataStream")
FUTURES = Endpoints("/fapi/v1/time", "/fapi/v1/exchangeInfo", "/fapi/v1/klines",
                    "/fapi/v1/depth", "/fapi/v1/order", "/fapi/v1/openOrders",
                    "/fapi/v1/allOrders", "/fapi/v1/userTrades", "/fapi/v2/account",
                    "/fapi/v1/listenKey", "/fapi/v2/positionRisk", "/fapi/v2/balance",
                    "/fapi/v1/algoOrder", "/fapi/v1/openAlgoOrders")
FUTURES_DUPLICATE_CODE = -4116
"""USD-M futures: "ClientOrderId is duplicated"."""
USER_SINCE_MARGIN_MS = 60_000
"""How far before its own start `user_events` reads fills on its first connect: our
estimate of the server clock (local clock + offset) may be ahead of the server's,
and a fill stamped before the estimate would be missed for good; repeats are
dropped by trade id."""


def venue_symbol(symbol: str) -> str:
    """Binance's name of a strategy symbol (module docstring)."""
    return symbol.split(":", 1)[0].replace("/", "").replace("-", "").replace("_", "").upper()


class BinanceVenue(Venue, ListenKeyApi):
    """One Binance account (or public market data only, without credentials)."""

    name = "binance"

    def __init__(self, params: BinanceParams, credentials: Credentials | None = None, *,
                 sleep: Sleep = asyncio.sleep, rng: Callable[[], float] = random.random,
                 stream_options: dict[str, Any] | None = None) -> None:
        self.params = params
        self.market: Market = params.market
        self.credentials = credentials
        self.endpoints = SPOT if params.market == "spot" else FUTURES
        self.rest_url, self.ws_url = params.urls()
        self.sleep = sleep
        self.rng = rng
        self.stream_options: dict[str, Any] = {"silence_s": params.stream_silence_s,
                                               **(stream_options or {})}
        self.rest = BinanceRest(
            self.rest_url, credentials=credentials, time_path=self.endpoints.time,
            recv_window_ms=params.recv_window_ms, timeout_s=params.timeout_s,
            max_attempts=params.max_retries + 1, max_wait_s=params.max_wait_s,
            weight_limit=params.weight_limit, sleep=sleep, rng=rng)
        self.rules: dict[str, SymbolRules] = {}
        self.streams: list[StreamClient] = []
        """Every market/user stream client opened (tests read their counters)."""
        self._names: dict[str, str] = {}
        self._client_ids: dict[str, str] = {}
        self._order_clients: dict[tuple[str, str], str] = {}
        self._algo: set[str] = set()
        self._last_price: dict[str, float] = {}
        self.account_updates: list[Any] = []
        self._working: dict[str, str] = {}
        """Runner client id → symbol of the orders the user stream last saw working."""
        self._user_fills: set[tuple[str, str]] = set()
        self.user_backfills = 0
        """How many times the user stream read over REST what a (re)connect missed."""
        self.listen_key_keepalive_s = 1800.0
        """Balance/position events of the user stream (`payloads.AccountUpdate`, ...)."""

    # -- life -------------------------------------------------------------------------
    async def open(self) -> None:
        await self.rest.open(sync_time=True)

    async def close(self) -> None:
        await self.rest.close()

    # -- names ------------------------------------------------------------------------
    def _vs(self, symbol: str) -> str:
        vs = venue_symbol(symbol)
        self._names.setdefault(vs, symbol)
        return vs

    def _ours(self, vs: str) -> str:
        return self._names.get(vs, vs)

    def _runner_id(self, binance_id: str) -> str:
        return self._client_ids.get(binance_id, binance_id)

    def _state(self, state: OrderState) -> OrderState:
        if state.venue_order_id:
            self._order_clients[(state.symbol, state.venue_order_id)] = state.client_id
        ours = replace(state, symbol=self._ours(state.symbol),
                       client_id=self._runner_id(state.client_id))
        self._track_working(ours)
        return ours

    def _fill(self, fill: VenueFill) -> VenueFill:
        client = fill.client_id or self._order_clients.get(
            (fill.symbol, fill.venue_order_id), "")
        return replace(fill, symbol=self._ours(fill.symbol), client_id=self._runner_id(client))

    # -- metadata ---------------------------------------------------------------------
    async def _load_rules(self) -> None:
        info = await self.rest.get(self.endpoints.exchange_info)
        self.rules = rules_from_exchange_info(info)

    async def _rules(self, vs: str) -> SymbolRules:
        if vs not in self.rules:
            await self._load_rules()
        try:
            return self.rules[vs]
        except KeyError:
            raise KeyError(f"binance {self.market} has no symbol {vs!r}") from None

    def now_ms(self) -> int:
        """The server's clock as the REST client estimates it (offset, never behind a
        time the server sent)."""
        return self.rest.now_ms()

    async def instruments(self, symbols: Sequence[str]) -> dict[str, InstrumentMeta]:
        out = {}
        for symbol in symbols:
            rules = await self._rules(self._vs(symbol))
            out[symbol] = rules.meta(symbol)
        return out

    # -- market data ------------------------------------------------------------------
    def _stream(self, names: Sequence[str], on_connect: Any = None) -> StreamClient:
        client = StreamClient(combined_url(self.ws_url, names), sleep=self.sleep, rng=self.rng,
                              on_connect=on_connect, **self.stream_options)
        self.streams.append(client)
        return client

    async def trades(self, symbols: Sequence[str]) -> AsyncIterator[MarketEvent]:
        kind = self.params.trade_stream
        client = self._stream([f"{self._vs(s).lower()}@{kind}" for s in symbols])
        async for message in client.messages():
            _, data = unwrap(message)
            self.rest.observe(data.get("E"))
            if data.get("e") in ("trade", "aggTrade"):
                event = parse_trade(data)
                self._last_price[event.symbol] = event.trade.price
                yield replace(event, symbol=self._ours(event.symbol))

    async def bars(self, symbols: Sequence[str], timeframe: str) -> AsyncIterator[BarEvent]:
        """Closed klines; after a reconnect, the bars missed meanwhile are read over
        REST and yielded first (oldest first, each bar once)."""
        step = interval_ms(timeframe)
        last_open: dict[str, int] = {}
        gaps: list[int] = []

        async def on_connect(n: int) -> None:
            if n > 1:
                gaps.append(n)

        client = self._stream([f"{self._vs(s).lower()}@kline_{timeframe}" for s in symbols],
                              on_connect)
        async for message in client.messages():
            _, data = unwrap(message)
            self.rest.observe(data.get("E"))
            if data.get("e") == "kline" and data["k"].get("x"):
                self.rest.observe(int(data["k"]["T"]) + 1)  # a closed bar: its end passed
            if gaps:
                gaps.clear()
                for vs, opened in list(last_open.items()):
                    for missed in await self.klines(vs, timeframe, opened + step,
                                                    self.rest.now_ms()):
                        last_open[vs] = missed.open_ms
                        yield replace(missed, symbol=self._ours(vs))
            if data.get("e") != "kline":
                continue
            bar = parse_kline(data)
            if bar is None or bar.open_ms <= last_open.get(bar.symbol, -1):
                continue
            last_open[bar.symbol] = bar.open_ms
            yield replace(bar, symbol=self._ours(bar.symbol))

    async def quotes(self, symbols: Sequence[str]) -> AsyncIterator[Quote]:
        client = self._stream([f"{self._vs(s).lower()}@bookTicker" for s in symbols])
        async for message in client.messages():
            _, data = unwrap(message)
            if "b" in data and "a" in data and "s" in data and "u" in data:
                quote = parse_book_ticker(data, self.rest.now_ms())
                yield replace(quote, symbol=self._ours(quote.symbol))

    async def depth(self, symbols: Sequence[str]) -> AsyncIterator[DepthUpdate]:
        """On every (re)connect a REST snapshot per symbol (`snapshot=True`), then the
        diffs newer than it (Binance's documented way to keep a local book)."""
        speed = self.params.depth_speed_ms
        suffix = "@depth" if speed == 1000 else f"@depth@{speed}ms"
        fresh: list[int] = []

        async def on_connect(n: int) -> None:
            fresh.append(n)

        vss = [self._vs(s) for s in symbols]
        client = self._stream([f"{vs.lower()}{suffix}" for vs in vss], on_connect)
        last_id: dict[str, int] = {}
        async for message in client.messages():
            if fresh:
                fresh.clear()
                for vs in vss:
                    body = await self.rest.get(self.endpoints.depth,
                                               {"symbol": vs, "limit": 1000})
                    snap = parse_depth_snapshot(vs, body, self.rest.now_ms())
                    last_id[vs] = snap.last_id or 0
                    yield replace(snap, symbol=self._ours(vs))
            _, data = unwrap(message)
            if data.get("e") != "depthUpdate":
                continue
            update = parse_depth_update(data)
            if update.last_id is not None and update.last_id <= last_id.get(update.symbol, -1):
                continue
            yield replace(update, symbol=self._ours(update.symbol))

    async def klines(self, symbol: str, timeframe: str, start_ms: int,
                     end_ms: int) -> list[BarEvent]:
        vs = self._vs(symbol)
        bars = await read_klines(self.rest.get, self.endpoints.klines, vs, timeframe, start_ms,
                                 end_ms, now_ms=self.rest.now_ms(),
                                 limit=PAGE_LIMIT[self.market])
        return [replace(b, symbol=self._ours(vs)) for b in bars]

    # -- broker -----------------------------------------------------------------------
    def _order_params(self, order: OrderRequest, rules: SymbolRules) -> tuple[str, dict[str, Any]]:
        if self.market == "spot" and order.reduce_only and order.side == "buy":
            # spot cannot be short, so a reduce-only buy has nothing to reduce; a
            # reduce-only sell is a plain sell: it can never open a position there
            raise Unsupported("binance spot has no reduce-only buys (no shorting; "
                              "market: futures has)")
        btype = to_binance_type(order.type, self.market, order.post_only)
        checked = prepare_order(rules, btype, order.quantity, order.price, order.stop_price,
                                reference_price=self._last_price.get(rules.symbol))
        cid = binance_client_id(order.client_id)
        self._client_ids[cid] = order.client_id
        params: dict[str, Any] = {"symbol": rules.symbol, "side": order.side.upper(),
                                  "type": btype, "quantity": format_decimal(checked.quantity)}
        if checked.price is not None:
            params["price"] = format_decimal(checked.price)
        if btype in ("LIMIT", "STOP_LOSS_LIMIT", "STOP"):
            tif = order.time_in_force.upper()
            params["timeInForce"] = "GTX" if (self.market == "futures" and order.post_only) \
                else tif
        if self.market == "futures" and order.reduce_only:
            params["reduceOnly"] = True
        if self.market == "futures" and btype in FUTURES_ALGO_TYPES:
            self._algo.add(cid)
            assert checked.stop_price is not None
            params.update(algoType="CONDITIONAL", clientAlgoId=cid,
                          triggerPrice=format_decimal(checked.stop_price))
            return self.endpoints.algo_order, params
        if checked.stop_price is not None:
            params["stopPrice"] = format_decimal(checked.stop_price)
        params["newClientOrderId"] = cid
        if self.market == "spot":
            params["newOrderRespType"] = "RESULT"
        return self.endpoints.order, params

    async def submit(self, order: OrderRequest) -> OrderState:
        vs = self._vs(order.symbol)
        rules = await self._rules(vs)
        path, params = self._order_params(order, rules)
        cid = binance_client_id(order.client_id)
        fallback = OrderState(cid, "", vs, order.side, order.type, "new", order.quantity, 0.0,
                              order.price, order.stop_price, self.rest.now_ms())
        attempts = self.params.max_retries + 1
        for attempt in range(1, attempts + 1):
            try:
                body = await self.rest.request("POST", path, params, signed=True,
                                               idempotent=False)
                return self._state(parse_order(body, self.market, fallback))
            except RateLimited:
                raise
            except OrderRejected as exc:
                if DUPLICATE_ORDER_MESSAGE in str(exc) or exc.code == FUTURES_DUPLICATE_CODE:
                    existing = await self.order(order.symbol, order.client_id)
                    if existing is not None:
                        return existing
                raise
            except VenueTransient:
                # the order may or may not exist: ask before sending it again
                existing = await self.order(order.symbol, order.client_id)
                if existing is not None:
                    return existing
                if attempt == attempts:
                    raise
                await self.sleep(self.rest._backoff(attempt))
        raise AssertionError("unreachable")

    async def order(self, symbol: str, client_id: str) -> OrderState | None:
        vs = self._vs(symbol)
        cid = binance_client_id(client_id)
        self._client_ids.setdefault(cid, client_id)
        if self.market == "futures" and cid in self._algo:
            return await self._algo_order(vs, cid)
        try:
            body = await self.rest.request("GET", self.endpoints.order,
                                           {"symbol": vs, "origClientOrderId": cid},
                                           signed=True)
        except VenueError as exc:
            if exc.code not in NO_SUCH_ORDER_CODES:
                raise
            return await self._algo_order(vs, cid) if self.market == "futures" else None
        return self._state(parse_order(body, self.market))

    async def _algo_order(self, vs: str, cid: str) -> OrderState | None:
        try:
            body = await self.rest.request("GET", self.endpoints.algo_order,
                                           {"clientAlgoId": cid}, signed=True)
        except VenueError as exc:
            if exc.code in NO_SUCH_ORDER_CODES or exc.status == 400:
                return None
            raise
        self._algo.add(cid)
        return self._state(parse_order(body, self.market))

    async def cancel(self, symbol: str, client_id: str) -> OrderState:
        vs = self._vs(symbol)
        cid = binance_client_id(client_id)
        self._client_ids.setdefault(cid, client_id)
        algo = self.market == "futures" and cid in self._algo
        path, key = (self.endpoints.algo_order, "clientAlgoId") if algo \
            else (self.endpoints.order, "origClientOrderId")
        params = {key: cid} if algo else {"symbol": vs, key: cid}
        try:
            body = await self.rest.request("DELETE", path, params, signed=True)
        except VenueError as exc:
            if exc.code not in NO_SUCH_ORDER_CODES:
                raise
            existing = await self.order(symbol, client_id)
            if existing is None:
                raise OrderRejected(f"binance has no order {client_id!r} on {vs}",
                                    code=exc.code, status=exc.status) from exc
            if existing.final:
                return existing
            raise
        if algo:  # the Algo Service answers a cancel with an id and a code only
            found = await self._algo_order(vs, cid)
            if found is not None:
                return found
        return self._state(parse_order(body, self.market))

    async def open_orders(self, symbols: Sequence[str]) -> list[OrderState]:
        out: list[OrderState] = []
        for symbol in symbols:
            vs = self._vs(symbol)
            rows = await self.rest.get(self.endpoints.open_orders, {"symbol": vs}, signed=True)
            out.extend(self._state(parse_order(r, self.market)) for r in rows)
            if self.market == "futures":
                algo = await self.rest.get(self.endpoints.open_algo_orders, {"symbol": vs},
                                           signed=True)
                for row in algo:
                    self._algo.add(str(row["clientAlgoId"]))
                    out.append(self._state(parse_order(row, self.market)))
        return out

    async def fills(self, symbol: str, since_ms: int) -> list[VenueFill]:
        vs = self._vs(symbol)
        rows: list[dict[str, Any]] = []
        query: dict[str, Any] = {"symbol": vs, "startTime": since_ms, "limit": 1000}
        while True:
            page = await self.rest.get(self.endpoints.trades, query, signed=True)
            rows.extend(page)
            if len(page) < 1000:
                break
            query = {"symbol": vs, "fromId": int(page[-1]["id"]) + 1, "limit": 1000}
        if any((vs, str(r["orderId"])) not in self._order_clients for r in rows):
            orders = await self.rest.get(self.endpoints.all_orders,
                                         {"symbol": vs, "startTime": since_ms, "limit": 1000},
                                         signed=True)
            for o in orders:
                self._order_clients[(vs, str(o["orderId"]))] = str(o["clientOrderId"])
        fills = [self._fill(parse_account_trade(r)) for r in rows]
        return sorted((f for f in fills if f.time_ms >= since_ms),
                      key=lambda f: (f.time_ms, int(f.trade_id)))

    async def positions(self, symbols: Sequence[str]) -> list[Position]:
        vss = {self._vs(s): s for s in symbols}
        if self.market == "futures":
            rows = await self.rest.get(self.endpoints.position_risk, signed=True)
            return [replace(p, symbol=self._ours(p.symbol)) for p in parse_position_risk(rows)
                    if p.symbol in vss]
        account = await self.rest.get(self.endpoints.account, signed=True)
        assets = {vs: (await self._rules(vs)).base_asset for vs in vss}
        return [replace(p, symbol=self._ours(p.symbol))
                for p in parse_spot_positions(parse_spot_balances(account), assets)]

    async def balances(self) -> list[Balance]:
        if self.market == "futures":
            return parse_futures_balances(await self.rest.get(self.endpoints.balance,
                                                              signed=True))
        return parse_spot_balances(await self.rest.get(self.endpoints.account, signed=True))

    # -- user stream ------------------------------------------------------------------
    async def create_listen_key(self) -> str:
        body = await self.rest.request("POST", self.endpoints.listen_key, api_key=True,
                                       idempotent=True)
        return str(body["listenKey"])

    async def keepalive_listen_key(self, key: str) -> None:
        await self.rest.request("PUT", self.endpoints.listen_key,
                                {"listenKey": key} if self.market == "spot" else None,
                                api_key=True)

    async def close_listen_key(self, key: str) -> None:
        await self.rest.request("DELETE", self.endpoints.listen_key,
                                {"listenKey": key} if self.market == "spot" else None,
                                api_key=True)

    def user_stream(self, **options: Any) -> UserDataStream:
        options = {"keepalive_s": self.listen_key_keepalive_s, **self.stream_options,
                   **options}
        stream = UserDataStream(self, self.ws_url, sleep=self.sleep, rng=self.rng, **options)
        self.streams.append(stream.client)
        return stream

    async def user_events(self) -> AsyncIterator[UserEvent]:
        """Order updates and fills from the listenKey stream. Whatever happened while
        the stream was not connected (before its first connect, or during a drop) is
        read over REST on each connect and yielded too: the fills since the last one
        seen (or since this call, less `USER_SINCE_MARGIN_MS`) of every symbol this
        venue has met, and the state of every order last seen working. Repeats are the
        consumer's to drop (by trade id and cumulative quantity), as with the stream's
        own."""
        if self.credentials is None:
            raise Unsupported("binance: the user stream needs API credentials")
        queue: asyncio.Queue[UserEvent | BaseException] = asyncio.Queue()
        since = [self.rest.now_ms() - USER_SINCE_MARGIN_MS]

        async def caught_up(n: int) -> None:
            for item in await self._missed_user_events(since[0]):
                queue.put_nowait(item)

        stream = self.user_stream(on_connect=caught_up)

        async def pump() -> None:
            try:
                async for message in stream.events():
                    _, data = unwrap(message)
                    self.rest.observe(data.get("E"))
                    for item in parse_user_message(message):
                        if isinstance(item, OrderState):
                            queue.put_nowait(self._state(item))
                        elif isinstance(item, VenueFill):
                            queue.put_nowait(self._fill(item))
                        else:
                            self.account_updates.append(item)
            except Exception as exc:  # handed to the consumer, as a stream error
                queue.put_nowait(exc)

        task = asyncio.create_task(pump())
        try:
            while True:
                event = await queue.get()
                if isinstance(event, BaseException):
                    raise event
                if isinstance(event, VenueFill):
                    since[0] = max(since[0], event.time_ms)
                    self._user_fills.add((event.symbol, event.trade_id))
                yield event
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _track_working(self, state: OrderState) -> None:
        if state.final:
            self._working.pop(state.client_id, None)
        else:
            self._working[state.client_id] = state.symbol

    async def _missed_user_events(self, since_ms: int) -> list[UserEvent]:
        """What a (re)connected user stream may have missed (`user_events`). A REST
        failure here is logged and skipped: the stream itself goes on."""
        out: list[UserEvent] = []
        try:
            symbols = sorted(set(self._names.values()) | set(self._working.values()))
            for symbol in symbols:
                out.extend(f for f in await self.fills(symbol, since_ms)
                           if (f.symbol, f.trade_id) not in self._user_fills)
            for client_id, symbol in list(self._working.items()):
                state = await self.order(symbol, client_id)
                if state is not None:
                    out.append(state)
        except (VenueError, Unsupported) as exc:
            log.info("binance user stream: could not read what a reconnect missed (%s)",
                     exc)
        self.user_backfills += 1
        return out

    def is_transient(self, exc: BaseException) -> bool:
        return super().is_transient(exc) or isinstance(exc, asyncio.TimeoutError)

__all__ = ["FUTURES", "SPOT", "BinanceVenue", "Endpoints", "venue_symbol"]
