"""The adapter conformance suite: one set of cases every venue adapter runs against its
own fake server, so "it works with Binance" means the same thing as "it works with sim".

An adapter package subclasses `VenueConformance` in its tests and gives it a `harness`
fixture (a fresh, unstarted `VenueHarness` per test):

    from runner.testing.conformance import FakeControls, VenueConformance

    class MyHarness:
        def __init__(self):
            self.server = FakeMyVenue(FakeVenue(...))
            self.exchange, self.symbols = MY_EXCHANGE_DEF, ["BTC/USDT"]
            self.controls = FakeControls(self.server.venue, self.server)
        async def start(self): await self.server.start()
        async def stop(self): await self.server.stop()
        def connect(self): return MyVenue(rest=self.server.http_url, ws=self.server.ws_url)

    class TestMyVenueConformance(VenueConformance):
        @pytest.fixture
        def harness(self): return MyHarness()

Each case runs in its own event loop (`asyncio.run`, no pytest-asyncio needed): start
the harness, connect, run, close, stop. A case skips itself (`pytest.skip`, with the
reason) when `harness.exchange.capabilities` lacks what it needs, or when it needs a
network and `controls.network` is False (the in-process `sim`).

Case ids (the test method names; stable — CI and adapter docs refer to them):

| id                               | needs                          |
|----------------------------------|--------------------------------|
| test_instruments                 | —                              |
| test_stream_trades               | streams: trades                |
| test_stream_bars                 | streams: bars                  |
| test_stream_quotes               | streams: quotes                |
| test_submit_market               | trading, market                |
| test_submit_limit                | trading, limit                 |
| test_submit_stop                 | trading, stop                  |
| test_submit_stop_limit           | trading, stop_limit            |
| test_cancel                      | trading, limit                 |
| test_partial_fill                | trading, limit                 |
| test_reject                      | trading, market                |
| test_user_events                 | trading, market                |
| test_duplicate_user_events       | trading, market                |
| test_reconnect_and_resubscribe   | network, streams: trades       |
| test_backfill_after_gap          | history                        |
| test_klines_pages                | history                        |
| test_rate_limit_backoff          | network                        |
| test_ban_backoff                 | network                        |
| test_submit_unknown_outcome      | network, trading, market       |
| test_restart_reconciliation      | trading, limit, market         |

What a fake must do for the suite (a `FakeExchange` over a `FakeVenue` does it all):

- prints made by `controls.trade(symbol, price, amount, time_ms)` reach the venue's
  trade stream stamped with `time_ms`, match resting orders, and go on the tape that
  `klines` reads; a print in a later bar window closes the bars before it on the bar
  stream (the fake's tape is its clock);
- quantities and prices the suite sends are on the instrument's grid: it reads
  `instruments()` and sizes every order from the tick, lot and minimum notional, at
  prices around `VenueConformance.price`;
- market orders fill at the last print; a resting limit fills at its price when a
  print reaches it; a stop fills at the print that triggers it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

import pytest

from runner.market import BarEvent, MarketEvent, Trade, TradeBatch, TradeEvent
from runner.testing.eventually import eventually
from runner.venue.contract import (
    InstrumentMeta,
    OrderRejected,
    OrderRequest,
    OrderState,
    Quote,
    RateLimited,
    Unsupported,
    UserEvent,
    Venue,
    VenueError,
    VenueFill,
)

if TYPE_CHECKING:
    from runner.definitions import ExchangeDef
    from runner.testing.fake_server import FakeExchange
    from runner.testing.fake_venue import FakeVenue

T = TypeVar("T")


@runtime_checkable
class VenueControls(Protocol):
    """What the suite needs to drive a fake venue from outside the adapter."""

    @property
    def network(self) -> bool:
        """Whether the adapter talks to the fake over sockets (False: in process)."""

    def now_ms(self) -> int:
        """The fake venue's clock."""

    def trade(self, symbol: str, price: float, amount: float,
              time_ms: int | None = None) -> None:
        """Print a market trade."""

    def reject_next(self, reason: str) -> None:
        """Reject the next order submitted."""

    def partial_fill_next(self, fraction: float) -> None:
        """Make the next fill only `fraction` of what it would be."""

    def drop_streams(self) -> int:
        """Drop every open stream connection abruptly; returns how many."""

    def rate_limit(self, n: int, retry_after_s: float, status: int = 429) -> None:
        """Answer the next `n` requests with `status` and `Retry-After`."""

    def lose_next_response(self) -> None:
        """Carry out the next request, then answer it with a 503 (outcome unknown)."""

    def user_faults(self, *, duplicate_rate: float = 0.0, reorder: bool = False) -> None:
        """Duplicate / reorder later user events."""

    @property
    def connections(self) -> int:
        """Stream connections accepted so far."""

    @property
    def submitted(self) -> Sequence[OrderRequest]:
        """Every order the venue accepted, in order."""


class FakeControls:
    """`VenueControls` over a `FakeVenue`, and its `FakeExchange` when there is one
    (without a server, `network` is False and the network controls raise)."""

    def __init__(self, venue: FakeVenue, server: FakeExchange | None = None) -> None:
        self.venue = venue
        self.server = server

    @property
    def network(self) -> bool:
        return self.server is not None

    def _server(self) -> FakeExchange:
        if self.server is None:
            raise RuntimeError("an in-process venue has no network to fault")
        return self.server

    def now_ms(self) -> int:
        return self.venue.clock_ms()

    def trade(self, symbol: str, price: float, amount: float,
              time_ms: int | None = None) -> None:
        self.venue.trade(symbol, price, amount, time_ms)

    def reject_next(self, reason: str) -> None:
        self.venue.reject_next(reason)

    def partial_fill_next(self, fraction: float) -> None:
        self.venue.partial_fill_next(fraction)

    def drop_streams(self) -> int:
        return self._server().drop_sockets()

    def rate_limit(self, n: int, retry_after_s: float, status: int = 429) -> None:
        self._server().faults.rate_limit(n, retry_after_s, status=status)

    def lose_next_response(self) -> None:
        self._server().faults.fail_next(1, 503, after=True)

    def user_faults(self, *, duplicate_rate: float = 0.0, reorder: bool = False) -> None:
        self.venue.user_faults.set(duplicate_rate=duplicate_rate, reorder=reorder)

    @property
    def connections(self) -> int:
        return 0 if self.server is None else self.server.connections

    @property
    def submitted(self) -> Sequence[OrderRequest]:
        return self.venue.submitted


@runtime_checkable
class VenueHarness(Protocol):
    """An adapter's fake venue, ready for the suite: `connect()` returns a fresh,
    unopened `Venue` talking to the fake (call it more than once: a restart)."""

    exchange: ExchangeDef
    symbols: Sequence[str]
    controls: VenueControls

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def connect(self) -> Venue: ...


# -- helpers ----------------------------------------------------------------------------

def _flatten(event: MarketEvent) -> list[tuple[str, Trade]]:
    if isinstance(event, TradeEvent):
        return [(event.symbol, event.trade)]
    if isinstance(event, TradeBatch):
        return [(event.symbol, t) for t in event.trades]
    return []


class _Collector:
    """Reads an endless stream into `items` in a task, until `close()`."""

    def __init__(self, stream: AsyncIterator[Any]) -> None:
        self.stream = stream
        self.items: list[Any] = []
        self.error: BaseException | None = None
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for item in self.stream:
                self.items.append(item)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.error = exc

    def check(self) -> None:
        if self.error is not None:
            raise AssertionError(f"the stream failed: {self.error!r}") from self.error

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task
        close = getattr(self.stream, "aclose", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()


def _ceil_to(value: float, step: float) -> float:
    if step <= 0:
        return value
    decimals = max(0, -math.floor(math.log10(step))) + 2
    return round(math.ceil(value / step - 1e-9) * step, decimals)


def _floor_to(value: float, step: float) -> float:
    if step <= 0:
        return value
    decimals = max(0, -math.floor(math.log10(step))) + 2
    return round(math.floor(value / step + 1e-9) * step, decimals)


def _window(time_ms: int, tf_ms: int) -> int:
    return time_ms // tf_ms * tf_ms


@dataclass
class _Case:
    """One case's world: the harness, an open venue, the first symbol and its grid."""

    harness: VenueHarness
    venue: Venue
    symbol: str
    meta: InstrumentMeta
    price: float
    quantity: float
    seq: int = 0

    @property
    def controls(self) -> VenueControls:
        return self.harness.controls

    def cid(self, tag: str) -> str:
        self.seq += 1
        return f"conf{tag}{self.seq}{int(time.time() * 1000) % 100_000}"

    def px(self, factor: float) -> float:
        """A price `factor` times the reference, on the tick."""
        return _floor_to(self.price * factor, self.meta.tick_size)

    def request(self, tag: str, side: str = "buy", type_: str = "market", *,
                quantity: float | None = None, price: float | None = None,
                stop_price: float | None = None) -> OrderRequest:
        return OrderRequest(self.cid(tag), self.symbol, side, type_,  # type: ignore[arg-type]
                            quantity or self.quantity, price=price, stop_price=stop_price)

    def print_(self, price: float, amount: float | None = None,
               time_ms: int | None = None) -> None:
        self.controls.trade(self.symbol, price, amount or self.quantity * 100, time_ms)

    def sent(self, client_id: str) -> int:
        return sum(1 for r in self.controls.submitted if r.client_id == client_id)

    async def state(self, client_id: str) -> OrderState:
        state = await self.venue.order(self.symbol, client_id)
        assert state is not None, f"the venue has no order {client_id}"
        return state

    async def wait_status(self, client_id: str, *statuses: str,
                          timeout: float = 5.0) -> OrderState:
        async def check() -> OrderState | None:
            state = await self.venue.order(self.symbol, client_id)
            return state if state is not None and state.status in statuses else None
        try:
            found = await eventually(check, timeout=timeout, interval=0.02)
        except AssertionError:
            last = await self.venue.order(self.symbol, client_id)
            raise AssertionError(f"order {client_id} never reached {statuses}: {last}") \
                from None
        assert found is not None
        return found


class VenueConformance:
    """The cases (module docstring). Subclass it and provide a `harness` fixture;
    tune `price`, `timeframe` and `case_timeout` as class attributes if needed."""

    price: float = 100.0
    """The reference price around which the suite prints and places orders."""
    timeframe: str = "1m"
    timeframe_ms: int = 60_000
    case_timeout: float = 30.0
    notional_factor: float = 2.0
    """Orders are sized at this many times the minimum notional (or one lot)."""

    # -- running ------------------------------------------------------------------------
    def run(self, harness: VenueHarness, body: Callable[[_Case], Awaitable[None]], *,
            network: bool = False, trading: bool = False,
            order_types: Sequence[str] = (), streams: Sequence[str] = (),
            history: bool = False) -> None:
        caps = harness.exchange.capabilities
        if network and not harness.controls.network:
            pytest.skip(f"{harness.exchange.name}: in process, no network to fault")
        if trading and not caps.trading:
            pytest.skip(f"{harness.exchange.name}: no trading")
        missing = [t for t in order_types if t not in caps.order_types]
        if missing:
            pytest.skip(f"{harness.exchange.name}: no {', '.join(missing)} orders")
        missing = [s for s in streams if s not in caps.streams]
        if missing:
            pytest.skip(f"{harness.exchange.name}: no {', '.join(missing)} stream")
        if history and not caps.history:
            pytest.skip(f"{harness.exchange.name}: no historical bars")

        async def main() -> None:
            await harness.start()
            try:
                venue = harness.connect()
                async with venue:
                    case = await self._case(harness, venue)
                    await body(case)
            finally:
                await harness.stop()

        async def bounded() -> None:
            await asyncio.wait_for(main(), self.case_timeout)
        asyncio.run(bounded())

    async def _case(self, harness: VenueHarness, venue: Venue) -> _Case:
        symbol = harness.symbols[0]
        meta = (await venue.instruments([symbol]))[symbol]
        lot = meta.lot_size
        wanted = max(meta.min_quantity, lot,
                     self.notional_factor * meta.min_notional / (self.price * meta.multiplier))
        quantity = _ceil_to(max(wanted, 4 * lot), lot)
        return _Case(harness, venue, symbol, meta, self.price, quantity)

    # -- metadata ------------------------------------------------------------------------
    def test_instruments(self, harness: VenueHarness) -> None:
        async def body(c: _Case) -> None:
            metas = await c.venue.instruments(list(harness.symbols))
            assert set(metas) == set(harness.symbols)
            for symbol, meta in metas.items():
                assert meta.symbol == symbol
                assert meta.tick_size > 0 and meta.lot_size > 0 and meta.multiplier > 0
        self.run(harness, body)

    # -- market data ---------------------------------------------------------------------
    async def _flowing(self, c: _Case, seen: Callable[[float], bool], *,
                       time_ms: Callable[[int], int] | None = None,
                       timeout: float = 10.0) -> int:
        """Print marker trades until the stream shows one (a subscription is live);
        returns how many were printed."""
        deadline = time.monotonic() + timeout
        k = 0
        while True:
            k += 1
            amount = _ceil_to(c.quantity * (1000 + k), c.meta.lot_size)
            c.print_(c.price, amount, None if time_ms is None else time_ms(k))
            try:
                await eventually(functools.partial(seen, amount), timeout=0.25)
                return k
            except AssertionError:
                if time.monotonic() > deadline:
                    raise AssertionError("the stream never delivered a trade") from None

    def test_stream_trades(self, harness: VenueHarness) -> None:
        async def body(c: _Case) -> None:
            symbols = list(harness.symbols)
            stream = _Collector(c.venue.trades(symbols))
            try:
                def trades() -> list[tuple[str, Trade]]:
                    stream.check()
                    return [x for e in stream.items for x in _flatten(e)]
                await self._flowing(c, lambda a: any(t.amount == a for _, t in trades()))
                now = c.controls.now_ms()
                sent = [(c.px(1 + k / 1000), _ceil_to(c.quantity * (k + 1), c.meta.lot_size),
                         now + k) for k in range(3)]
                for price, amount, t in sent:
                    c.print_(price, amount, t)
                if len(symbols) > 1:
                    c.controls.trade(symbols[1], c.price, c.quantity, now + 5)
                want = len(sent) + (len(symbols) > 1)
                def arrived() -> list[tuple[str, Trade]]:
                    got = [x for x in trades() if x[1].time_ms >= now]
                    return got if len(got) >= want else []
                got = await eventually(arrived)
                mine = [(p.price, p.amount, p.time_ms) for s, p in got if s == c.symbol]
                assert mine == sent, f"trades out of order or changed: {mine} != {sent}"
                if len(symbols) > 1:
                    assert any(s == symbols[1] for s, _ in got)
            finally:
                await stream.close()
        self.run(harness, body, streams=("trades",))

    def test_stream_bars(self, harness: VenueHarness) -> None:
        tf = self.timeframe_ms

        async def body(c: _Case) -> None:
            stream = _Collector(c.venue.bars([c.symbol], self.timeframe))
            try:
                base = _window(c.controls.now_ms(), tf) + tf
                k = 0
                deadline = time.monotonic() + 10

                def bars() -> list[BarEvent]:
                    stream.check()
                    return list(stream.items)
                while not bars():  # one print per window until a bar closes
                    k += 1
                    c.print_(c.price, None, base + k * tf + 1)
                    with contextlib.suppress(AssertionError):
                        await eventually(bars, timeout=0.25)
                    if time.monotonic() > deadline:
                        raise AssertionError("the bar stream never delivered a bar")
                w = base + (k + 2) * tf
                q = c.meta.lot_size * 10
                rows = [(c.px(1.0), 1 * q, 5), (c.px(1.02), 2 * q, 10),
                        (c.px(0.97), 3 * q, 20), (c.px(1.01), 4 * q, 30)]
                for price, amount, offset in rows:
                    c.print_(price, amount, w + offset)
                c.print_(c.price, None, w + tf + 1)  # the next window: w is final
                got = await eventually(lambda: [b for b in bars() if b.open_ms == w])
                assert len(got) == 1, f"bar {w} delivered {len(got)} times"
                o, h, lo, cl, v = got[0].bar
                assert (o, h, lo, cl) == (c.px(1.0), c.px(1.02), c.px(0.97), c.px(1.01))
                assert v is not None and math.isclose(v, 10 * q, rel_tol=1e-9)
                assert got[0].symbol == c.symbol
            finally:
                await stream.close()
        self.run(harness, body, streams=("bars",))

    def test_stream_quotes(self, harness: VenueHarness) -> None:
        async def body(c: _Case) -> None:
            stream = _Collector(c.venue.quotes([c.symbol]))
            try:
                def quotes() -> list[Quote]:
                    stream.check()
                    return list(stream.items)
                await self._flowing(c, lambda _: bool(quotes()))
                q = quotes()[-1]
                assert q.symbol == c.symbol and 0 < q.bid <= q.ask
            finally:
                await stream.close()
        self.run(harness, body, streams=("quotes",))

    # -- orders ---------------------------------------------------------------------------
    def test_submit_market(self, harness: VenueHarness) -> None:
        async def body(c: _Case) -> None:
            since = c.controls.now_ms() - 1
            c.print_(c.price)
            req = c.request("mkt")
            state = await c.venue.submit(req)
            assert state.client_id == req.client_id and state.status != "rejected"
            final = await c.wait_status(req.client_id, "filled")
            assert math.isclose(final.filled_quantity, req.quantity, rel_tol=1e-9)
            fills = [f for f in await c.venue.fills(c.symbol, since)
                     if f.client_id == req.client_id]
            assert math.isclose(sum(f.quantity for f in fills), req.quantity, rel_tol=1e-9)
            assert all(f.price == c.price and f.side == "buy" for f in fills)
            assert c.sent(req.client_id) == 1
        self.run(harness, body, trading=True, order_types=("market",))

    def test_submit_limit(self, harness: VenueHarness) -> None:
        async def body(c: _Case) -> None:
            c.print_(c.price)
            limit = c.px(0.99)
            req = c.request("lim", type_="limit", price=limit)
            state = await c.venue.submit(req)
            assert state.status == "new" and state.price == limit
            assert req.client_id in {o.client_id for o in await c.venue.open_orders([c.symbol])}
            c.print_(c.px(0.995))  # above a buy limit: nothing happens
            assert (await c.state(req.client_id)).filled_quantity == 0
            c.print_(limit)
            final = await c.wait_status(req.client_id, "filled")
            assert math.isclose(final.filled_quantity, req.quantity, rel_tol=1e-9)
            fills = [f for f in await c.venue.fills(c.symbol, 0) if f.client_id == req.client_id]
            assert fills and all(f.price == limit for f in fills)
            assert req.client_id not in {o.client_id
                                         for o in await c.venue.open_orders([c.symbol])}
        self.run(harness, body, trading=True, order_types=("limit",))

    def test_submit_stop(self, harness: VenueHarness) -> None:
        async def body(c: _Case) -> None:
            c.print_(c.price)
            stop = c.px(1.01)
            req = c.request("stp", type_="stop", stop_price=stop)
            assert (await c.venue.submit(req)).status == "new"
            c.print_(c.px(1.005))
            assert (await c.state(req.client_id)).status == "new"
            through = c.px(1.012)
            c.print_(through)
            final = await c.wait_status(req.client_id, "filled")
            assert math.isclose(final.filled_quantity, req.quantity, rel_tol=1e-9)
            fills = [f for f in await c.venue.fills(c.symbol, 0) if f.client_id == req.client_id]
            assert fills and all(f.price >= stop for f in fills)
        self.run(harness, body, trading=True, order_types=("stop",))

    def test_submit_stop_limit(self, harness: VenueHarness) -> None:
        async def body(c: _Case) -> None:
            c.print_(c.price)
            stop, limit = c.px(1.01), c.px(1.02)
            req = c.request("stl", type_="stop_limit", stop_price=stop, price=limit)
            assert (await c.venue.submit(req)).status == "new"
            c.print_(c.px(1.005))
            assert (await c.state(req.client_id)).status == "new"
            c.print_(stop)
            with contextlib.suppress(AssertionError):  # a venue may trigger, then fill later
                await c.wait_status(req.client_id, "filled", timeout=1.0)
            c.print_(stop)
            final = await c.wait_status(req.client_id, "filled")
            assert math.isclose(final.filled_quantity, req.quantity, rel_tol=1e-9)
            fills = [f for f in await c.venue.fills(c.symbol, 0) if f.client_id == req.client_id]
            assert fills and all(f.price <= limit for f in fills)
        self.run(harness, body, trading=True, order_types=("stop_limit",))

    def test_cancel(self, harness: VenueHarness) -> None:
        async def body(c: _Case) -> None:
            c.print_(c.price)
            req = c.request("cxl", type_="limit", price=c.px(0.95))
            await c.venue.submit(req)
            state = await c.venue.cancel(c.symbol, req.client_id)
            assert state.client_id == req.client_id and state.status == "canceled"
            assert req.client_id not in {o.client_id
                                         for o in await c.venue.open_orders([c.symbol])}
            again = await c.venue.cancel(c.symbol, req.client_id)  # final: returned as is
            assert again.status == "canceled"
            assert (await c.state(req.client_id)).status == "canceled"
        self.run(harness, body, trading=True, order_types=("limit",))

    def test_partial_fill(self, harness: VenueHarness) -> None:
        async def body(c: _Case) -> None:
            c.print_(c.price)
            limit = c.px(0.99)
            req = c.request("pf", type_="limit", price=limit)
            await c.venue.submit(req)
            c.controls.partial_fill_next(0.5)
            c.print_(limit)
            part = await c.wait_status(req.client_id, "partially_filled")
            assert 0 < part.filled_quantity < req.quantity
            listed = {o.client_id: o for o in await c.venue.open_orders([c.symbol])}
            assert listed[req.client_id].filled_quantity == part.filled_quantity
            c.print_(limit)
            await c.wait_status(req.client_id, "filled")
            fills = [f for f in await c.venue.fills(c.symbol, 0) if f.client_id == req.client_id]
            assert len(fills) >= 2 and len({f.trade_id for f in fills}) == len(fills)
            assert math.isclose(sum(f.quantity for f in fills), req.quantity, rel_tol=1e-9)
        self.run(harness, body, trading=True, order_types=("limit",))

    def test_reject(self, harness: VenueHarness) -> None:
        async def body(c: _Case) -> None:
            c.print_(c.price)
            c.controls.reject_next("insufficient balance")
            req = c.request("rej")
            with pytest.raises(OrderRejected) as caught:
                await c.venue.submit(req)
            assert not c.venue.is_transient(caught.value)
            assert c.sent(req.client_id) == 0
            state = await c.venue.order(c.symbol, req.client_id)
            assert state is None or state.status == "rejected"
        self.run(harness, body, trading=True, order_types=("market",))

    # -- the user stream --------------------------------------------------------------------
    async def _user_stream(self, c: _Case) -> _Collector:
        """A user-event collector that has seen an event (so it is live): limit orders
        far from the market are placed and cancelled until one shows."""
        try:
            stream = _Collector(c.venue.user_events())
        except Unsupported as exc:
            pytest.skip(str(exc))
        c.print_(c.price)
        deadline = time.monotonic() + 10
        while not stream.items:
            stream.check()
            req = c.request("warm", type_="limit", price=c.px(0.5))
            await c.venue.submit(req)
            await c.venue.cancel(c.symbol, req.client_id)
            with contextlib.suppress(AssertionError):
                await eventually(lambda: stream.items, timeout=0.25)
            if time.monotonic() > deadline:
                await stream.close()
                raise AssertionError("the user stream never delivered an event")
        return stream

    def test_user_events(self, harness: VenueHarness) -> None:
        async def body(c: _Case) -> None:
            stream = await self._user_stream(c)
            try:
                req = c.request("ue")
                await c.venue.submit(req)

                def mine() -> list[UserEvent]:
                    stream.check()
                    return [e for e in stream.items if e.client_id == req.client_id]
                await eventually(lambda: any(isinstance(e, OrderState) and e.status == "filled"
                                             for e in mine()))
                fills = await eventually(lambda: [e for e in mine()
                                                  if isinstance(e, VenueFill)])
                assert math.isclose(sum(f.quantity for f in fills), req.quantity, rel_tol=1e-9)
                assert all(f.symbol == c.symbol and f.side == "buy" for f in fills)
            finally:
                await stream.close()
        self.run(harness, body, trading=True, order_types=("market",))

    def test_duplicate_user_events(self, harness: VenueHarness) -> None:
        async def body(c: _Case) -> None:
            stream = await self._user_stream(c)
            try:
                c.controls.user_faults(duplicate_rate=1.0, reorder=True)
                req = c.request("dup")
                c.controls.partial_fill_next(0.5)
                await c.venue.submit(req)
                c.print_(c.price)  # fills the rest of the market order

                def mine() -> list[UserEvent]:
                    stream.check()
                    return [e for e in stream.items if e.client_id == req.client_id]

                def filled() -> float:
                    return sum({e.trade_id: e.quantity for e in mine()
                                if isinstance(e, VenueFill)}.values())
                await eventually(lambda: math.isclose(filled(), req.quantity, rel_tol=1e-9))
                states = [e for e in mine() if isinstance(e, OrderState)]
                assert max(s.filled_quantity for s in states) == pytest.approx(req.quantity)
                venue_fills = [f for f in await c.venue.fills(c.symbol, 0)
                               if f.client_id == req.client_id]
                assert {f.trade_id for f in venue_fills} == \
                    {e.trade_id for e in mine() if isinstance(e, VenueFill)}
            finally:
                await stream.close()
        self.run(harness, body, trading=True, order_types=("market",))

    # -- the network --------------------------------------------------------------------------
    def test_reconnect_and_resubscribe(self, harness: VenueHarness) -> None:
        async def body(c: _Case) -> None:
            stream = _Collector(c.venue.trades([c.symbol]))
            try:
                def amounts() -> set[float]:
                    stream.check()
                    return {t.amount for e in stream.items for _, t in _flatten(e)}
                await self._flowing(c, lambda a: a in amounts())
                before = c.controls.connections
                assert c.controls.drop_streams() >= 1
                await self._flowing(c, lambda a: a in amounts(), timeout=15)
                assert c.controls.connections > before, "no new connection was made"
                stream.check()
            finally:
                await stream.close()
        self.run(harness, body, network=True, streams=("trades",))

    def test_backfill_after_gap(self, harness: VenueHarness) -> None:
        tf = self.timeframe_ms

        async def body(c: _Case) -> None:
            w0 = _window(c.controls.now_ms(), tf) - 20 * tf
            q = c.meta.lot_size * 10
            windows = {0: [(c.px(1.0), q), (c.px(1.01), 2 * q)], 1: [(c.px(0.99), q)],
                       3: [(c.px(1.03), q), (c.px(0.98), q), (c.px(1.0), 3 * q)],
                       4: [(c.px(1.0), q)]}
            for n, rows in windows.items():
                for k, (price, amount) in enumerate(rows):
                    c.print_(price, amount, w0 + n * tf + 1000 * (k + 1))
            bars = await c.venue.klines(c.symbol, self.timeframe, w0, w0 + 4 * tf)
            assert [b.open_ms for b in bars] == [w0, w0 + tf, w0 + 3 * tf], \
                "the bars of a gap: every window with trades, none for the empty one"
            for bar in bars:
                rows = windows[(bar.open_ms - w0) // tf]
                prices = [p for p, _ in rows]
                o, h, lo, cl, v = bar.bar
                assert (o, h, lo, cl) == (prices[0], max(prices), min(prices), prices[-1])
                assert v is not None and math.isclose(v, sum(a for _, a in rows),
                                                      rel_tol=1e-9)
            inner = await c.venue.klines(c.symbol, self.timeframe, w0 + tf, w0 + 3 * tf)
            assert [b.open_ms for b in inner] == [w0 + tf], "end is exclusive"
        self.run(harness, body, history=True)

    klines_pages_bars: int = 1500
    """Bars `test_klines_pages` reads back (more than a venue's page, usually)."""

    def test_klines_pages(self, harness: VenueHarness) -> None:
        tf = self.timeframe_ms
        n = self.klines_pages_bars

        async def body(c: _Case) -> None:
            w0 = _window(c.controls.now_ms(), tf) - (n + 5) * tf
            for k in range(n):
                c.print_(c.px(1.0) + (k % 7) * c.meta.tick_size, c.meta.lot_size,
                         w0 + k * tf + 1)
            bars = await c.venue.klines(c.symbol, self.timeframe, w0, w0 + n * tf)
            opens = [b.open_ms for b in bars]
            assert opens == [w0 + k * tf for k in range(n)], \
                f"{len(opens)} bars, {len(set(opens))} distinct, want {n} in order"
        self.run(harness, body, history=True)

    async def _some_request(self, c: _Case) -> object:
        caps = c.harness.exchange.capabilities
        if caps.trading:
            return await c.venue.open_orders([c.symbol])
        if caps.history:
            now = c.controls.now_ms()
            return await c.venue.klines(c.symbol, self.timeframe, now - 10 * self.timeframe_ms,
                                        now)
        return await c.venue.instruments([c.symbol])

    async def _backoff(self, c: _Case, status: int) -> None:
        wait = 0.3
        c.controls.rate_limit(1, wait, status=status)
        started = time.monotonic()
        try:
            await self._some_request(c)
        except RateLimited as exc:
            assert c.venue.is_transient(exc), "a rate limit must be transient"
            assert exc.retry_after == pytest.approx(wait), "Retry-After was not read"
            assert exc.banned == (status == 418)
            await asyncio.sleep(exc.retry_after or wait)
            await self._some_request(c)
        except VenueError as exc:
            raise AssertionError(f"HTTP {status} must raise RateLimited (or be waited "
                                 f"out), not {exc!r}") from exc
        else:
            assert time.monotonic() - started >= wait * 0.9, \
                f"retried before Retry-After ({wait} s) had passed"

    def test_rate_limit_backoff(self, harness: VenueHarness) -> None:
        async def body(c: _Case) -> None:
            await self._backoff(c, 429)
        self.run(harness, body, network=True)

    def test_ban_backoff(self, harness: VenueHarness) -> None:
        async def body(c: _Case) -> None:
            await self._backoff(c, 418)
        self.run(harness, body, network=True)

    def test_submit_unknown_outcome(self, harness: VenueHarness) -> None:
        async def body(c: _Case) -> None:
            c.print_(c.price)
            req = c.request("unk")
            c.controls.lose_next_response()
            state = await c.venue.submit(req)
            assert state.client_id == req.client_id and state.status != "rejected"
            assert c.sent(req.client_id) == 1, "the order was placed twice"
            await c.wait_status(req.client_id, "filled")
        self.run(harness, body, network=True, trading=True, order_types=("market",))

    # -- restarts --------------------------------------------------------------------------------
    def test_restart_reconciliation(self, harness: VenueHarness) -> None:
        async def body(c: _Case) -> None:
            since = c.controls.now_ms() - 1
            c.print_(c.price)
            resting = c.request("rr", type_="limit", price=c.px(0.99))
            filled = c.request("rf")
            await c.venue.submit(resting)
            await c.venue.submit(filled)
            await c.wait_status(filled.client_id, "filled")
            await c.venue.close()
            # while the runner is down, the resting order fills in part
            c.controls.partial_fill_next(0.5)
            c.print_(c.px(0.99))
            again = harness.connect()
            async with again:
                listed = {o.client_id: o for o in await again.open_orders([c.symbol])}
                assert resting.client_id in listed, "a working order was not listed"
                part = listed[resting.client_id]
                assert part.status == "partially_filled" and part.filled_quantity > 0
                done = await again.order(c.symbol, filled.client_id)
                assert done is not None and done.status == "filled"
                fills = [f for f in await again.fills(c.symbol, since)
                         if f.client_id in (resting.client_id, filled.client_id)]
                assert len({f.trade_id for f in fills}) == len(fills) >= 2
                assert math.isclose(sum(f.quantity for f in fills
                                        if f.client_id == resting.client_id),
                                    part.filled_quantity, rel_tol=1e-9)
                assert await again.balances()
                with contextlib.suppress(OrderRejected):  # a venue may refuse or return it
                    state = await again.submit(resting)
                    assert state.client_id == resting.client_id
                assert c.sent(resting.client_id) == 1, "the order was placed twice"
        self.run(harness, body, trading=True, order_types=("limit", "market"))


__all__ = ["FakeControls", "VenueConformance", "VenueControls", "VenueHarness"]
