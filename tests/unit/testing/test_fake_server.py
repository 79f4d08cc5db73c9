"""FakeExchange: real sockets on 127.0.0.1 port 0, with HTTP and websocket faults,
driven by an aiohttp client and a websockets client."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
import websockets
from aiohttp import web
from websockets.exceptions import ConnectionClosed

from runner.testing.fake_server import FakeExchange, FakeSocket
from runner.testing.fake_venue import FakeVenue
from runner.testing.plugin import run_async
from runner.venue.contract import OrderRequest


class EchoExchange(FakeExchange):
    """A tiny protocol: GET /time, POST /order (JSON), a websocket that streams
    numbered messages on "go N" and echoes anything else."""

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/time", self.time)
        app.router.add_post("/order", self.order)

    async def time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": self.now_ms()})

    async def order(self, request: web.Request) -> web.Response:
        body = await request.json()
        if abs(int(body["timestamp"]) - self.now_ms()) > 5_000:
            return web.json_response({"error": "timestamp outside the window"}, status=400)
        state = self.venue.submit(OrderRequest(body["id"], "BTC/USDT", "buy", "market", 1.0))
        return web.json_response({"status": state.status})

    async def on_websocket(self, ws: FakeSocket, path: str) -> None:
        async for text in ws:
            if text.startswith("go "):
                for k in range(int(text[3:])):
                    await ws.send({"n": k})
            else:
                await ws.send(text)

    def error_body(self, status: int) -> dict[str, Any]:
        return {"code": -status, "msg": "injected"}


def serve(fake_venue: FakeVenue, body: Any) -> None:
    async def go() -> None:
        fake_venue.set_price("BTC/USDT", 100.0)
        async with EchoExchange(fake_venue) as fake, aiohttp.ClientSession() as http:
            assert fake.http_url.startswith("http://127.0.0.1:")
            assert fake.ws_url.startswith("ws://127.0.0.1:")
            await body(fake, http)
    run_async(go(), timeout=20)


def test_rate_limit_then_ban_with_retry_after(fake_venue: FakeVenue) -> None:
    async def body(fake: EchoExchange, http: aiohttp.ClientSession) -> None:
        fake.faults.rate_limit(2, 1)
        fake.faults.ban(1, 0.25)
        got = []
        for _ in range(4):
            async with http.get(fake.http_url + "/time", params={"x": "1"}) as r:
                got.append((r.status, r.headers.get("Retry-After"), await r.json()))
        assert [g[:2] for g in got] == [(429, "1"), (429, "1"), (418, "0.25"), (200, None)]
        assert got[0][2] == {"code": -429, "msg": "injected"}
        assert [(r.status, r.fault, r.query) for r in fake.requests][:3] == \
            [(429, "rate_limit", {"x": "1"}), (429, "rate_limit", {"x": "1"}),
             (418, "ban", {"x": "1"})]
    serve(fake_venue, body)


def test_fail_next_and_error_rate(fake_venue: FakeVenue) -> None:
    async def body(fake: EchoExchange, http: aiohttp.ClientSession) -> None:
        fake.faults.fail_next(1, 502)
        fake.faults.error_rate(0.5, status=503, seed=7)
        statuses = []
        for _ in range(40):
            async with http.get(fake.http_url + "/time") as r:
                statuses.append(r.status)
        assert statuses[0] == 502
        failed = statuses[1:].count(503)
        assert 8 <= failed <= 32 and statuses[1:].count(200) == 39 - failed
        fake.faults.clear()
        fake.faults.exempt.add("/time")
        fake.faults.fail_next(1)
        async with http.get(fake.http_url + "/time") as r:
            assert r.status == 200
        assert fake.faults.pending() == 1
    serve(fake_venue, body)


def test_fail_after_handling_loses_the_response(fake_venue: FakeVenue) -> None:
    async def body(fake: EchoExchange, http: aiohttp.ClientSession) -> None:
        fake.faults.fail_next(1, 503, after=True)
        payload = {"id": "c1", "timestamp": fake.now_ms()}
        async with http.post(fake.http_url + "/order", json=payload) as r:
            assert r.status == 503
        assert [o.client_id for o in fake.venue.submitted] == ["c1"]  # it was placed
        assert json.loads(fake.requests[-1].body)["id"] == "c1"
    serve(fake_venue, body)


def test_clock_skew_breaks_timestamps(fake_venue: FakeVenue) -> None:
    async def body(fake: EchoExchange, http: aiohttp.ClientSession) -> None:
        client_time = fake.now_ms()
        fake.faults.clock_skew_ms = 60_000
        async with http.get(fake.http_url + "/time") as r:
            assert (await r.json())["serverTime"] == client_time + 60_000
        async with http.post(fake.http_url + "/order",
                             json={"id": "c1", "timestamp": client_time}) as r:
            assert r.status == 400
        assert fake.venue.submitted == []
    serve(fake_venue, body)


def test_delay(fake_venue: FakeVenue) -> None:
    async def body(fake: EchoExchange, http: aiohttp.ClientSession) -> None:
        fake.faults.delay(0.2)
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with http.get(fake.http_url + "/time") as r:
            assert r.status == 200
        assert loop.time() - started >= 0.19
    serve(fake_venue, body)


def test_drop_every_n_messages_and_reconnect(fake_venue: FakeVenue) -> None:
    async def body(fake: EchoExchange, http: aiohttp.ClientSession) -> None:
        fake.faults.drop_every(3)
        received = []
        for _ in range(2):
            async with websockets.connect(fake.ws_url + "/stream") as ws:
                await ws.send("go 10")
                with pytest.raises(ConnectionClosed) as caught:
                    while True:
                        received.append(json.loads(await ws.recv())["n"])
                assert caught.value.rcvd is None  # no close frame: a network drop
        assert received == [0, 1, 2, 0, 1, 2]
        assert fake.connections == 2 and fake.ws_paths == ["/stream", "/stream"]
    serve(fake_venue, body)


def test_drop_sockets_and_broadcast(fake_venue: FakeVenue) -> None:
    async def body(fake: EchoExchange, http: aiohttp.ClientSession) -> None:
        async with websockets.connect(fake.ws_url) as a, websockets.connect(fake.ws_url) as b:
            await a.send("hi")
            assert await a.recv() == "hi"
            await b.send("hi")
            assert await b.recv() == "hi"
            await fake.broadcast({"all": 1})
            assert json.loads(await a.recv()) == {"all": 1}
            assert json.loads(await b.recv()) == {"all": 1}
            assert fake.drop_sockets() == 2
            with pytest.raises(ConnectionClosed):
                await a.recv()
    serve(fake_venue, body)


def test_ws_delay(fake_venue: FakeVenue) -> None:
    async def body(fake: EchoExchange, http: aiohttp.ClientSession) -> None:
        fake.faults.ws_delay(0.2)
        loop = asyncio.get_running_loop()
        async with websockets.connect(fake.ws_url) as ws:
            started = loop.time()
            await ws.send("x")
            assert await ws.recv() == "x"
            assert loop.time() - started >= 0.19
    serve(fake_venue, body)


def test_urls_need_a_started_server(fake_venue: FakeVenue) -> None:
    with pytest.raises(RuntimeError):
        _ = EchoExchange(fake_venue).http_url
