"""Market and user streams against FakeBinance's websockets on 127.0.0.1: combined
envelopes, reconnect after a drop with the same subscriptions, bar backfill over REST
after a gap, depth snapshots, listenKey keep-alive and expiry."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from binance_data import load, make_fake, make_venue

from runner.market import BarEvent, TradeEvent
from runner.testing.eventually import eventually
from runner.venue.contract import DepthUpdate, OrderRequest, OrderState, Quote, VenueFill

T = TypeVar("T")


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20))


class Collector:
    """Reads an async iterator into a list in the background."""

    def __init__(self, stream: AsyncIterator[Any]) -> None:
        self.items: list[Any] = []
        self.task = asyncio.ensure_future(self._run(stream))

    async def _run(self, stream: AsyncIterator[Any]) -> None:
        async for item in stream:
            self.items.append(item)

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


def test_trades_reconnect_after_drop_and_resubscribe() -> None:
    async def main() -> None:
        async with make_fake() as fake, make_venue(fake) as venue:
            got = Collector(venue.trades(["BTC/USDT"]))
            await eventually(lambda: fake.connections == 1)
            fake.venue.trade("BTCUSDT", 50_001.0, 0.5, 1_700_000_000_000)
            await eventually(lambda: len(got.items) == 1)
            assert got.items[0] == TradeEvent("BTC/USDT", got.items[0].trade)
            assert got.items[0].trade.price == 50_001.0
            assert fake.drop_sockets() == 1
            await eventually(lambda: fake.connections == 2 and len(fake.sockets) == 1)
            fake.venue.trade("BTCUSDT", 50_002.0, 0.25, 1_700_000_000_100)
            await eventually(lambda: len(got.items) == 2)
            assert got.items[1].trade.amount == 0.25
            assert fake.ws_paths == ["/stream?streams=btcusdt@trade"] * 2
            assert venue.streams[0].connections == 2
            await got.stop()
    run(main())


def test_recorded_combined_payloads_and_server_shutdown() -> None:
    async def main() -> None:
        async with make_fake() as fake, make_venue(fake, trade_stream="aggTrade") as venue:
            got = Collector(venue.trades(["ETHUSDT"]))
            await eventually(lambda: fake.connections == 1)
            recorded = load("nautilus_python/ws_messages/ws_spot_agg_trade.json")
            await fake.push("ethusdt@aggTrade", recorded["data"])
            await eventually(lambda: len(got.items) == 1)
            assert got.items[0].trade.price == 1632.46
            shutdown = load("spot_docs/ws_serverShutdown_combined.json")
            for sock in fake.sockets:
                await sock.send(shutdown)
            await eventually(lambda: fake.connections == 2)  # reconnected by itself
            await got.stop()
    run(main())


def test_bars_closed_only_and_backfilled_after_a_gap() -> None:
    async def main() -> None:
        async with make_fake() as fake, make_venue(fake) as venue:
            base = (venue.rest.now_ms() // 60_000 - 10) * 60_000
            got = Collector(venue.bars(["BTCUSDT"], "1m"))
            await eventually(lambda: fake.connections == 1)
            fake.venue.trade("BTCUSDT", 100.0, 1, base + 1_000)
            fake.venue.trade("BTCUSDT", 101.0, 1, base + 61_000)  # closes bar 0
            await eventually(lambda: len(got.items) == 1)
            assert got.items[0] == BarEvent("BTCUSDT", base, (100.0, 100.0, 100.0, 100.0, 1.0))
            fake.drop_sockets()
            await eventually(lambda: fake.connections == 2 and len(fake.sockets) == 1)
            # while reconnecting, bars 1..2 closed; the next live bar triggers backfill
            fake.venue.trade("BTCUSDT", 102.0, 1, base + 121_000)
            fake.venue.trade("BTCUSDT", 103.0, 1, base + 181_000)
            fake.venue.trade("BTCUSDT", 104.0, 1, base + 241_000)
            # (the tape lies in the past, so by the server clock bar 4 is closed too)
            await eventually(lambda: got.items[-1].open_ms - base == 240_000)
            opens = [b.open_ms - base for b in got.items]
            assert opens == [0, 60_000, 120_000, 180_000, 240_000]  # each once, in order
            assert any(r.path == "/api/v3/klines" for r in fake.requests)
            await got.stop()
    run(main())


def test_quotes_and_depth_with_snapshot() -> None:
    async def main() -> None:
        async with make_fake() as fake, make_venue(fake) as venue:
            await venue.submit(OrderRequest("rest1", "BTCUSDT", "buy", "limit", 0.01,
                                            price=49_000.0))
            quotes = Collector(venue.quotes(["BTCUSDT"]))
            depth = Collector(venue.depth(["BTCUSDT"]))
            await eventually(lambda: fake.connections == 2)
            fake.venue.trade("BTCUSDT", 50_000.0, 0.3)
            # the first diff fetches the snapshot, which already covers it (u <= id)
            await eventually(lambda: quotes.items and len(depth.items) == 1)
            fake.venue.trade("BTCUSDT", 50_000.0, 0.3)
            await eventually(lambda: len(depth.items) == 2)
            q = quotes.items[0]
            assert isinstance(q, Quote) and (q.bid, q.ask) == (49_999.99, 50_000.01)
            snap, diff = depth.items[0], depth.items[1]
            assert isinstance(snap, DepthUpdate) and snap.snapshot
            assert snap.bids == ((49_000.0, 0.01),)
            assert not diff.snapshot and diff.bids == ((50_000.0, 0.3),)
            await quotes.stop()
            await depth.stop()
    run(main())


def test_user_stream_orders_fills_keepalive_and_expiry() -> None:
    async def main() -> None:
        async with make_fake() as fake, make_venue(fake) as venue:
            venue.listen_key_keepalive_s = 0.05
            got = Collector(venue.user_events())
            await eventually(lambda: fake.connections == 1)
            await venue.submit(OrderRequest("u-1", "BTCUSDT", "buy", "limit", 0.1,
                                            price=49_000.0))
            fake.venue.trade("BTCUSDT", 48_999.0, 1.0)
            await eventually(lambda: any(isinstance(e, VenueFill) for e in got.items))
            new = got.items[0]
            assert isinstance(new, OrderState) and (new.client_id, new.status) == ("u-1", "new")
            fill = next(e for e in got.items if isinstance(e, VenueFill))
            assert (fill.client_id, fill.quantity, fill.price) == ("u-1", 0.1, 49_000.0)
            await eventually(lambda: fake.keepalives >= 1)
            first_key = next(iter(fake.listen_keys))
            await fake.expire_listen_key()
            await eventually(lambda: fake.connections == 2 and len(fake.listen_keys) == 1)
            assert next(iter(fake.listen_keys)) != first_key
            await venue.submit(OrderRequest("u-2", "BTCUSDT", "sell", "limit", 0.1,
                                            price=60_000.0))
            await eventually(lambda: any(isinstance(e, OrderState) and e.client_id == "u-2"
                                         for e in got.items))
            await got.stop()
    run(main())


def test_futures_user_stream_speaks_order_trade_update() -> None:
    async def main() -> None:
        async with make_fake("futures") as fake, make_venue(fake) as venue:
            got = Collector(venue.user_events())
            await eventually(lambda: fake.connections == 1)
            await venue.submit(OrderRequest("fu-1", "BTCUSDT", "sell", "market", 0.1))
            await eventually(lambda: any(isinstance(e, VenueFill) for e in got.items))
            fill = next(e for e in got.items if isinstance(e, VenueFill))
            assert (fill.client_id, fill.side, fill.quantity) == ("fu-1", "sell", 0.1)
            await got.stop()
    run(main())
