"""`FakeExchange`: the base of a venue's protocol fake — real HTTP and websocket servers
on 127.0.0.1, port 0, around a `FakeVenue`, with fault injection.

A venue package subclasses it, maps its REST routes in `add_routes(app)` and speaks its
stream protocol in `on_websocket(ws, path)`, translating to and from `self.venue` (a
`runner.testing.fake_venue.FakeVenue`). The base knows nothing of any venue:

    class FakeKraken(FakeExchange):
        def add_routes(self, app):
            app.router.add_get("/0/public/Time", self.server_time)
        async def on_websocket(self, ws, path):
            async for text in ws: ...            # subscribe messages
                await ws.send(json.dumps(...))   # faults apply here

    async with FakeKraken(venue) as fake:        # both servers listening
        adapter = KrakenVenue(rest=fake.http_url, ws=fake.ws_url)

Faults (`self.faults`, a `Faults`), all counted per request or per message sent:

- HTTP, applied by a middleware before the subclass's handler runs (paths in
  `Faults.exempt` pass untouched): `delay(seconds)`; `ban(n, retry_after_s)` (418)
  and `rate_limit(n, retry_after_s)` (429), each with a `Retry-After` header, then
  `fail_next(n, status)`, then `error_rate(p, status, seed)`. `fail_next(n, after=True)`
  runs the handler first and then answers with the error, which is how a test loses
  the response of a request the venue did carry out (the case idempotent submits
  exist for). The error's body is `error_body(status)`, which a venue overrides with
  its own error JSON. `Retry-After` is written as whole seconds when whole, else as a
  decimal (so a test can ask for 0.2 s; venues' clients parse it as a float).
- Websocket: `drop_every(n)` aborts a connection (no close frame, as a network drop
  looks) right after its n-th, 2n-th... message sent; `ws_delay(seconds)` delays
  every message; `drop_sockets()` aborts every open connection now.
- Clock: `clock_skew_ms` shifts `now_ms()`, the server's clock, which a venue fake
  uses for its server-time endpoint and its timestamp / receive-window checks.

Records: `requests` (every HTTP request with its final status), `connections` (websocket
connections accepted), `ws_paths` (their paths) and `sockets` (those still open).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import web
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from runner.testing.fake_venue import FakeVenue

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One HTTP request the fake received, and the status it answered."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: str
    status: int
    fault: str = ""
    """The fault that answered it (`rate_limit`, `ban`, `fail_next`, `error_rate`), or ""."""


@dataclass(slots=True)
class _HttpFault:
    kind: str
    status: int
    retry_after_s: float | None = None
    body: str | dict[str, Any] | None = None
    after: bool = False


@dataclass
class Faults:
    """What goes wrong, and when (module docstring). Every control can be called while
    the servers run; `clear()` turns every fault off."""

    clock_skew_ms: int = 0
    exempt: set[str] = field(default_factory=set)
    """Paths no HTTP fault applies to (a health or time endpoint, say)."""
    http_delay_s: float = 0.0
    ws_delay_s: float = 0.0
    drop_every_n: int = 0
    _queued: list[_HttpFault] = field(default_factory=list)
    _error_rate: tuple[float, int, random.Random] | None = None

    def error_rate(self, p: float, status: int = 503, seed: int = 0) -> None:
        """Each request fails with `status` with probability `p` (seeded)."""
        self._error_rate = (p, status, random.Random(seed)) if p > 0 else None

    def fail_next(self, n: int, status: int = 500, *, after: bool = False) -> None:
        """The next `n` requests fail with `status`; with `after`, once handled."""
        self._queued.extend(_HttpFault("fail_next", status, after=after) for _ in range(n))

    def rate_limit(self, n: int, retry_after_s: float, status: int = 429,
                   body: str | dict[str, Any] | None = None) -> None:
        """The next `n` requests get `status` with `Retry-After: retry_after_s`."""
        kind = "ban" if status == 418 else "rate_limit"
        self._queued.extend(_HttpFault(kind, status, retry_after_s, body) for _ in range(n))

    def ban(self, n: int, retry_after_s: float) -> None:
        """The next `n` requests get 418 (an IP ban after ignoring 429s)."""
        self.rate_limit(n, retry_after_s, status=418)

    def delay(self, seconds: float) -> None:
        """Every HTTP request waits `seconds` before it is handled."""
        self.http_delay_s = seconds

    def drop_every(self, n_messages: int) -> None:
        """Abort a websocket after every `n_messages` it sends (0: never)."""
        self.drop_every_n = n_messages

    def ws_delay(self, seconds: float) -> None:
        self.ws_delay_s = seconds

    def clear(self) -> None:
        self._queued.clear()
        self._error_rate = None
        self.http_delay_s = self.ws_delay_s = 0.0
        self.drop_every_n = 0
        self.clock_skew_ms = 0

    def pending(self) -> int:
        """Queued one-shot HTTP faults not yet spent."""
        return len(self._queued)

    def take(self, path: str) -> _HttpFault | None:
        """The fault for a request to `path`, spending it."""
        if path in self.exempt:
            return None
        if self._queued:
            return self._queued.pop(0)
        if self._error_rate is not None:
            p, status, rng = self._error_rate
            if rng.random() < p:
                return _HttpFault("error_rate", status)
        return None


def _retry_after_header(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


class FakeSocket:
    """One websocket connection as the fake sees it: `send` applies the socket faults
    and counts; iterate it or `recv()` for the client's messages."""

    def __init__(self, exchange: FakeExchange, connection: ServerConnection, path: str) -> None:
        self._exchange = exchange
        self.connection = connection
        self.path = path
        self.sent = 0
        self.dropped = False

    async def send(self, text: str | Mapping[str, Any] | list[Any]) -> None:
        """Send a message (a mapping or list is sent as JSON). Raises
        `websockets.exceptions.ConnectionClosed` once the socket is gone."""
        faults = self._exchange.faults
        if faults.ws_delay_s > 0:
            await asyncio.sleep(faults.ws_delay_s)
        message = text if isinstance(text, str) else json.dumps(text)
        await self.connection.send(message)
        self.sent += 1
        if faults.drop_every_n and self.sent % faults.drop_every_n == 0:
            self.abort()

    async def recv(self) -> str:
        message = await self.connection.recv()
        return message if isinstance(message, str) else message.decode()

    def __aiter__(self) -> AsyncIterator[str]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[str]:
        with contextlib.suppress(ConnectionClosed):
            while True:
                yield await self.recv()

    def abort(self) -> None:
        """Drop the connection without a close frame, as a network failure does."""
        self.dropped = True
        transport = self.connection.transport
        if transport is not None:
            transport.abort()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.connection.close(code, reason)

    @property
    def closed(self) -> bool:
        return self.dropped or self.connection.close_code is not None


class FakeExchange:
    """HTTP + websocket servers around a `FakeVenue` (module docstring)."""

    def __init__(self, venue: FakeVenue, *, faults: Faults | None = None,
                 host: str = "127.0.0.1") -> None:
        self.venue = venue
        self.faults = faults or Faults()
        self.host = host
        self.requests: list[RecordedRequest] = []
        self.connections = 0
        self.ws_paths: list[str] = []
        self.sockets: list[FakeSocket] = []
        self._runner: web.AppRunner | None = None
        self._ws_server: Server | None = None
        self._http_port = 0
        self._ws_port = 0
        self._handlers: set[asyncio.Task[None]] = set()

    # -- subclass hooks ---------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        """Add the venue's REST routes to `app`."""

    async def on_websocket(self, ws: FakeSocket, path: str) -> None:
        """Serve one websocket connection until it closes (the default serves nothing)."""
        async for _ in ws:
            pass

    def error_body(self, status: int) -> str | dict[str, Any]:
        """The body of an injected error answer (override with the venue's JSON)."""
        return {"error": status, "message": f"injected fault: HTTP {status}"}

    # -- clock ---------------------------------------------------------------------------
    def now_ms(self) -> int:
        """The server's clock: the venue's clock shifted by `faults.clock_skew_ms`."""
        return self.venue.clock_ms() + self.faults.clock_skew_ms

    # -- life -----------------------------------------------------------------------------
    @property
    def http_url(self) -> str:
        if not self._http_port:
            raise RuntimeError("the fake exchange is not started")
        return f"http://{self.host}:{self._http_port}"

    @property
    def ws_url(self) -> str:
        if not self._ws_port:
            raise RuntimeError("the fake exchange is not started")
        return f"ws://{self.host}:{self._ws_port}"

    async def start(self) -> None:
        app = web.Application(middlewares=[self._fault_middleware])
        self.add_routes(app)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self._http_port = int(self._runner.addresses[0][1])
        self._ws_server = await serve(self._serve_socket, self.host, 0, ping_interval=None)
        self._ws_port = int(next(iter(self._ws_server.sockets)).getsockname()[1])

    async def stop(self) -> None:
        """Close both servers and every connection; idempotent."""
        if self._ws_server is not None:
            for sock in list(self.sockets):
                sock.abort()
            self._ws_server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws_server.wait_closed(), 2.0)
            self._ws_server = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    def drop_sockets(self) -> int:
        """Abort every open websocket (clients must reconnect); returns how many."""
        open_ = [s for s in self.sockets if not s.closed]
        for sock in open_:
            sock.abort()
        return len(open_)

    async def broadcast(self, message: str | Mapping[str, Any],
                        only: Callable[[FakeSocket], bool] | None = None) -> None:
        """Send `message` to every open socket (that `only` accepts)."""
        for sock in list(self.sockets):
            if sock.closed or (only is not None and not only(sock)):
                continue
            with contextlib.suppress(ConnectionClosed):
                await sock.send(message)

    # -- internals -------------------------------------------------------------------------
    async def _serve_socket(self, connection: ServerConnection) -> None:
        path = connection.request.path if connection.request is not None else "/"
        sock = FakeSocket(self, connection, path)
        self.connections += 1
        self.ws_paths.append(path)
        self.sockets.append(sock)
        try:
            await self.on_websocket(sock, path)
        except ConnectionClosed:
            pass
        finally:
            self.sockets.remove(sock)

    @web.middleware
    async def _fault_middleware(self, request: web.Request,
                                handler: Handler) -> web.StreamResponse:
        body = await request.text() if request.can_read_body else ""
        fault = self.faults.take(request.path)
        if self.faults.http_delay_s > 0 and request.path not in self.faults.exempt:
            await asyncio.sleep(self.faults.http_delay_s)
        response: web.StreamResponse
        if fault is not None and not fault.after:
            response = self._fault_response(fault)
        else:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                response = exc
            if fault is not None:
                response = self._fault_response(fault)
        self.requests.append(RecordedRequest(
            request.method, request.path, dict(request.query), dict(request.headers), body,
            response.status, "" if fault is None else fault.kind))
        return response

    def _fault_response(self, fault: _HttpFault) -> web.Response:
        body = fault.body if fault.body is not None else self.error_body(fault.status)
        headers = {}
        if fault.retry_after_s is not None:
            headers["Retry-After"] = _retry_after_header(fault.retry_after_s)
        if isinstance(body, str):
            return web.Response(status=fault.status, text=body, headers=headers)
        return web.json_response(body, status=fault.status, headers=headers)


__all__ = ["FakeExchange", "FakeSocket", "Faults", "RecordedRequest"]
