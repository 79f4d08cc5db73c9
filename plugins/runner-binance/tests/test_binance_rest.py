"""The REST client and the broker face against FakeBinance on 127.0.0.1: signatures
checked server-side, Retry-After honoured, 418, -1021 re-sync, 5xx retries, and an
ambiguous submit that never becomes two orders."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from binance_data import make_fake, make_venue

from runner.venue.contract import (
    Credentials,
    OrderRejected,
    OrderRequest,
    RateLimited,
    Unsupported,
    VenueError,
    VenueTransient,
)


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20))


def limit(cid: str = "r1-a", price: float = 49_000.0, qty: float = 0.01, **kw: Any
          ) -> OrderRequest:
    return OrderRequest(cid, "BTCUSDT", "buy", "limit", qty, price=price, **kw)


def test_signed_requests_verify_server_side_and_a_bad_secret_fails() -> None:
    async def main() -> None:
        async with make_fake() as fake:
            async with make_venue(fake) as venue:
                balances = {b.asset: b.free for b in await venue.balances()}
                assert balances["USDT"] == 100_000.0
                signed = [r for r in fake.requests if r.path == "/api/v3/account"]
                assert signed[0].query["recvWindow"] == "5000" and "signature" in signed[0].query
                assert signed[0].headers["X-MBX-APIKEY"] == fake.api_key
                assert venue.rest.used_weight["1m"] >= 2
            bad = make_venue(fake)
            bad.rest.credentials = Credentials(fake.api_key, "wrong")
            async with bad:
                with pytest.raises(VenueError) as info:
                    await bad.balances()
                assert info.value.code == -1022 and fake.signature_failures == 1
    run(main())


def test_429_retry_after_is_waited_out() -> None:
    async def main() -> None:
        async with make_fake() as fake, make_venue(fake) as venue:
            fake.faults.rate_limit(2, 0.2)
            started = time.monotonic()
            await venue.balances()
            assert time.monotonic() - started >= 0.35
            statuses = [r.status for r in fake.requests if r.path == "/api/v3/account"]
            assert statuses == [429, 429, 200]
    run(main())


def test_418_ban_longer_than_max_wait_raises_banned() -> None:
    async def main() -> None:
        async with make_fake() as fake, make_venue(fake, max_wait_s=1.0) as venue:
            fake.faults.ban(1, 120)
            with pytest.raises(RateLimited) as info:
                await venue.balances()
            assert info.value.banned and info.value.retry_after == 120
            assert venue.is_transient(info.value)
            assert len([r for r in fake.requests if r.path == "/api/v3/account"]) == 1
    run(main())


def test_clock_skew_minus_1021_resyncs_and_retries_once() -> None:
    async def main() -> None:
        async with make_fake() as fake, make_venue(fake) as venue:
            fake.faults.clock_skew_ms = 30_000  # the server's clock jumps ahead
            await venue.balances()
            statuses = [r.status for r in fake.requests if r.path == "/api/v3/account"]
            assert statuses == [400, 200]
            assert abs(venue.rest.time_offset_ms - 30_000) < 1_000
    run(main())


def test_5xx_is_retried_for_reads() -> None:
    async def main() -> None:
        async with make_fake() as fake, make_venue(fake) as venue:
            fake.faults.fail_next(2, 503)
            assert await venue.open_orders(["BTCUSDT"]) == []
            statuses = [r.status for r in fake.requests if r.path == "/api/v3/openOrders"]
            assert statuses == [503, 503, 200]
            fake.faults.fail_next(10, 500)
            with pytest.raises(VenueTransient):
                await venue.open_orders(["BTCUSDT"])
    run(main())


def test_ambiguous_submit_is_looked_up_not_resent() -> None:
    async def main() -> None:
        async with make_fake() as fake, make_venue(fake) as venue:
            await venue.instruments(["BTCUSDT"])
            fake.faults.fail_next(1, 500, after=True)  # executed, answer lost
            state = await venue.submit(limit())
            assert state.client_id == "r1-a" and state.status == "new"
            assert len(fake.venue.attempts) == 1 and len(fake.venue.submitted) == 1
            paths = [(r.method, r.path, r.status) for r in fake.requests
                     if r.path == "/api/v3/order"]
            assert paths == [("POST", "/api/v3/order", 500), ("GET", "/api/v3/order", 200)]
    run(main())


def test_failed_submit_that_did_not_execute_is_resent_once() -> None:
    async def main() -> None:
        async with make_fake() as fake, make_venue(fake) as venue:
            await venue.instruments(["BTCUSDT"])
            fake.faults.fail_next(1, 503)  # refused before the handler ran
            state = await venue.submit(limit())
            assert state.status == "new" and len(fake.venue.submitted) == 1
            methods = [(r.method, r.status) for r in fake.requests
                       if r.path == "/api/v3/order"]
            assert methods == [("POST", 503), ("GET", 400), ("POST", 200)]
    run(main())


def test_resubmit_of_an_open_order_returns_it() -> None:
    async def main() -> None:
        async with make_fake() as fake, make_venue(fake) as venue:
            first = await venue.submit(limit())
            again = await venue.submit(limit())  # a crash-and-retry of the same id
            assert again.venue_order_id == first.venue_order_id
            assert len(fake.venue.submitted) == 1
    run(main())


def test_rejections_filters_and_spot_reduce_only() -> None:
    async def main() -> None:
        async with make_fake() as fake, make_venue(fake) as venue:
            with pytest.raises(OrderRejected) as info:
                await venue.submit(limit(qty=0.0001))
            assert info.value.code == "LOT_SIZE"
            with pytest.raises(OrderRejected) as info:
                await venue.submit(limit(qty=0.001, price=1000))
            assert info.value.code == "NOTIONAL"
            with pytest.raises(Unsupported):
                await venue.submit(limit(reduce_only=True))
            with pytest.raises(OrderRejected) as info:
                await venue.submit(limit("big", qty=50, price=49_000))
            assert info.value.code == -2010 and "insufficient balance" in str(info.value)
            assert not [r for r in fake.requests if r.method == "POST"
                        and r.status == 200 and r.path == "/api/v3/order"]
    run(main())


def test_spot_order_lifecycle_fills_and_positions() -> None:
    async def main() -> None:
        async with make_fake() as fake, make_venue(fake) as venue:
            meta = (await venue.instruments(["BTC/USDT"]))["BTC/USDT"]
            assert (meta.venue_symbol, meta.tick_size, meta.lot_size) == \
                    ("BTCUSDT", 0.01, 0.001)
            rest = await venue.submit(limit("r1-rest", price=49_000.0))
            assert [o.client_id for o in await venue.open_orders(["BTCUSDT"])] == ["r1-rest"]
            canceled = await venue.cancel("BTCUSDT", "r1-rest")
            assert canceled.status == "canceled" and canceled.client_id == "r1-rest"
            again = await venue.cancel("BTCUSDT", "r1-rest")  # final: returned as is
            assert again.status == "canceled"
            with pytest.raises(OrderRejected):
                await venue.cancel("BTCUSDT", "never")
            market = await venue.submit(OrderRequest("r1-mkt", "BTCUSDT", "buy", "market",
                                                     0.5))
            assert market.status == "filled" and market.filled_quantity == 0.5
            assert await venue.order("BTCUSDT", "nope") is None
            fills = await venue.fills("BTCUSDT", 0)
            assert [(f.client_id, f.quantity, f.price) for f in fills] == \
                    [("r1-mkt", 0.5, 50_000.0)]
            (pos,) = await venue.positions(["BTCUSDT"])
            assert pos.quantity == 10.5
            assert rest.venue_order_id != market.venue_order_id
    run(main())


def test_futures_orders_positions_and_algo_stops() -> None:
    async def main() -> None:
        async with make_fake("futures") as fake, make_venue(fake) as venue:
            sell = await venue.submit(OrderRequest("f-1", "BTCUSDT", "sell", "market", 0.2))
            assert sell.status == "filled"
            (pos,) = await venue.positions(["BTCUSDT"])
            assert (pos.quantity, pos.entry_price) == (-0.2, 50_000.0)
            stop = await venue.submit(OrderRequest("f-stop", "BTCUSDT", "buy", "stop", 0.2,
                                                   stop_price=51_000.0, reduce_only=True))
            assert (stop.type, stop.stop_price, stop.status) == ("stop", 51_000.0, "new")
            algo = [r for r in fake.requests if r.path == "/fapi/v1/algoOrder"]
            assert algo[0].query["type"] == "STOP_MARKET"
            assert algo[0].query["reduceOnly"] == "true"
            assert algo[0].query["clientAlgoId"] == "f-stop"
            assert [o.client_id for o in await venue.open_orders(["BTCUSDT"])] == ["f-stop"]
            canceled = await venue.cancel("BTCUSDT", "f-stop")
            assert canceled.status == "canceled"
            post = await venue.submit(OrderRequest("f-po", "BTCUSDT", "buy", "limit", 0.2,
                                                   price=40_000.0, post_only=True))
            assert post.status == "new"
            po = [r for r in fake.requests if r.method == "POST"
                  and r.path == "/fapi/v1/order"][-1]
            assert po.query["timeInForce"] == "GTX"
            (usdt, *_) = [b for b in await venue.balances() if b.asset == "USDT"]
            assert usdt.free > 0
            fills = await venue.fills("BTCUSDT", 0)
            assert [f.client_id for f in fills] == ["f-1"]
    run(main())


def test_spot_sends_a_reduce_only_sell_as_a_plain_sell() -> None:
    """Spot cannot be short, so a reduce-only sell (a strategy's `close`) cannot open
    a position: it goes out as a plain SELL; a reduce-only buy stays Unsupported."""
    async def main() -> None:
        async with make_fake() as fake, make_venue(fake) as venue:
            state = await venue.submit(OrderRequest("r1-close", "BTCUSDT", "sell", "market",
                                                    0.01, reduce_only=True))
            assert state.status == "filled"
            sent = [r for r in fake.requests if r.method == "POST" and r.path == "/api/v3/order"]
            assert len(sent) == 1 and "reduceOnly" not in sent[0].query
            assert sent[0].query["side"] == "SELL"
            with pytest.raises(Unsupported):
                await venue.submit(OrderRequest("r1-buy", "BTCUSDT", "buy", "market", 0.01,
                                                reduce_only=True))
    run(main())
