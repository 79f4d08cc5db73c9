"""Websocket clients: combined market streams and the listenKey user-data stream.

Binance's rules (web-socket-streams.md, user-data-stream docs) and what we do:

- A connection lives at most 24 hours: we reconnect on our own after `max_age_s`
  (23 h 50 min by default), before the server cuts us off.
- The server pings; the `websockets` library answers with a pong carrying the same
  payload. We also ping (every 20 s, the library's keep-alive), so a dead TCP path is
  noticed; a connection silent for `silence_s` is treated as dead and replaced.
- Streams are named in the URL (`/stream?streams=a/b/c`), so every reconnect
  resubscribes to exactly the same set; messages come as `{"stream", "data"}`.
- A drop, a refused connect or a `serverShutdown` event leads to a reconnect with
  jittered exponential back-off (reset after a connection that delivered data).
- The user-data stream: a listenKey from `POST` (spot `/api/v3/userDataStream`,
  futures `/fapi/v1/listenKey`), kept alive by `PUT` every 30 minutes (it expires
  after 60 without one), read at `<ws>/ws/<listenKey>`. `listenKeyExpired` (or a
  keep-alive answered -1125) makes a new key and a new connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from runner.venue.contract import VenueError

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class StreamClient:
    """Yields every JSON message of one websocket URL, reconnecting forever."""

    def __init__(self, url: Callable[[], Awaitable[str]] | str, *,
                 max_age_s: float = 23 * 3600 + 50 * 60, silence_s: float = 60.0,
                 backoff_base_s: float = 0.5, backoff_max_s: float = 30.0,
                 ping_interval_s: float | None = 20.0, sleep: Sleep = asyncio.sleep,
                 rng: Callable[[], float] = random.random,
                 on_connect: Callable[[int], Awaitable[None]] | None = None) -> None:
        self._url = url
        self.max_age_s = max_age_s
        self.silence_s = silence_s
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.ping_interval_s = ping_interval_s
        self.sleep = sleep
        self.rng = rng
        self.on_connect = on_connect
        """Called with the connection number (1, 2, ...) after each connect: the venue
        backfills what a gap may have lost from the second one on."""
        self.connections = 0
        self.last_error: BaseException | None = None
        self._reconnect_now = False

    def reconnect(self) -> None:
        """Drop the current connection and open a new one (a new listenKey, say)."""
        self._reconnect_now = True

    async def url(self) -> str:
        return self._url if isinstance(self._url, str) else await self._url()

    async def messages(self) -> AsyncIterator[dict[str, Any]]:
        failures = 0
        while True:
            try:
                url = await self.url()
                async with connect(url, ping_interval=self.ping_interval_s,
                                   max_size=2**22, open_timeout=10) as ws:
                    self.connections += 1
                    self._reconnect_now = False
                    if self.on_connect is not None:
                        await self.on_connect(self.connections)
                    async for message in self._read(ws):
                        failures = 0
                        yield message
            except (OSError, TimeoutError, ConnectionClosed, InvalidHandshake) as exc:
                self.last_error = exc
                log.info("binance stream dropped (%s); reconnecting", type(exc).__name__)
            except InvalidURI as exc:
                raise VenueError(f"bad websocket URL: {exc}") from exc
            failures += 1
            await self.sleep(self._backoff(failures))

    async def _read(self, ws: ClientConnection) -> AsyncIterator[dict[str, Any]]:
        opened = time.monotonic()
        while not self._reconnect_now:
            left = self.max_age_s - (time.monotonic() - opened)
            if left <= 0:
                log.info("binance stream reached its maximum age; reconnecting")
                return
            try:
                # not wait_for: on 3.11 it can swallow a cancel (a stream that never ends)
                async with asyncio.timeout(min(self.silence_s, left)):
                    raw = await ws.recv()
            except TimeoutError:
                if time.monotonic() - opened >= self.max_age_s:
                    return
                log.info("binance stream silent for %.0f s; reconnecting", self.silence_s)
                return
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(message, dict):
                continue
            yield message
            data = message.get("data", message)
            if isinstance(data, dict) and data.get("e") == "serverShutdown":
                log.info("binance announced a server shutdown; reconnecting")
                return

    def _backoff(self, failures: int) -> float:
        if failures <= 1:
            return float(self.backoff_base_s * self.rng())
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2 ** (failures - 1))
        return float(ceiling * (0.5 + 0.5 * self.rng()))


def combined_url(ws_base: str, streams: Sequence[str]) -> str:
    """`<base>/stream?streams=a/b/c` (stream names are lower-case symbols)."""
    return f"{ws_base.rstrip('/')}/stream?streams=" + "/".join(streams)


class ListenKeyApi:
    """What the user stream needs from REST (`BinanceVenue` implements it)."""

    async def create_listen_key(self) -> str:
        raise NotImplementedError

    async def keepalive_listen_key(self, key: str) -> None:
        raise NotImplementedError

    async def close_listen_key(self, key: str) -> None:
        raise NotImplementedError


class UserDataStream:
    """The listenKey user-data stream: raw event dicts, across key expiries."""

    def __init__(self, api: ListenKeyApi, ws_base: str, *, keepalive_s: float = 1800.0,
                 **stream_options: Any) -> None:
        self.api = api
        self.ws_base = ws_base.rstrip("/")
        self.keepalive_s = keepalive_s
        self.listen_key: str | None = None
        self.keys_created = 0
        self.client = StreamClient(self._url, **stream_options)

    async def _url(self) -> str:
        if self.listen_key is None:
            self.listen_key = await self.api.create_listen_key()
            self.keys_created += 1
        return f"{self.ws_base}/ws/{self.listen_key}"

    def renew(self) -> None:
        """Forget the key (it expired) and reconnect with a new one."""
        self.listen_key = None
        self.client.reconnect()

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(self.keepalive_s)
            key = self.listen_key
            if key is None:
                continue
            try:
                await self.api.keepalive_listen_key(key)
            except VenueError as exc:
                log.info("listenKey keep-alive failed (%s); making a new key", exc)
                self.renew()

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        keeper = asyncio.create_task(self._keepalive())
        try:
            async for message in self.client.messages():
                data = message.get("data", message.get("event", message))
                if isinstance(data, dict) and data.get("e") == "listenKeyExpired":
                    self.renew()
                yield message
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            if self.listen_key is not None:
                with contextlib.suppress(Exception):
                    await self.api.close_listen_key(self.listen_key)


__all__ = ["ListenKeyApi", "StreamClient", "UserDataStream", "combined_url"]
