"""The REST client: signing, clock offset, weight tracking, rate limits and retries.

Behaviour, as Binance documents it (rest-api.md "HTTP Return Codes", "LIMITS"):

- SIGNED calls carry `timestamp` (local clock + the offset to the server's, learned
  from `/api/v3/time` or `/fapi/v1/time` on open) and `recvWindow`; when the server
  still answers -1021 INVALID_TIMESTAMP the offset is re-learned and the call retried
  once. The estimate of the server clock never falls behind a server time already
  seen (`observe`: the event times of the streams), so a local clock that runs slow
  (or a server clock that jumps, as a test's simulated one does) neither stamps
  requests too old nor takes closed klines for open ones.
- Every response's `X-MBX-USED-WEIGHT-*` and `X-MBX-ORDER-COUNT-*` headers are kept
  (`used_weight`, `order_count`); with `weight_limit` set, a call waits for the next
  minute once the 1-minute weight reaches it.
- 429 and 418 raise `RateLimited`; when `Retry-After` (seconds) is at most
  `max_wait_s` the client waits that long — every call of this client waits, not just
  the one that met it — and tries again (a request answered 429 was not executed, so
  this is safe for orders too); without the header it backs off exponentially.
- 5xx, -1000/-1001/-1006/-1007/-1008/-1016, timeouts and dropped connections are
  retried with jittered exponential back-off for idempotent calls (GET, and DELETE of
  an order, which cannot create one). For a call that may create an order they raise
  `VenueTransient` at once: its outcome is unknown and only the caller can find out
  (`BinanceVenue.submit` asks for the order by client id before it sends again).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
from yarl import URL

from runner.venue.contract import Credentials, RateLimited, VenueError, VenueTransient
from runner_binance.payloads import error_from_response
from runner_binance.signing import encode_params, signed_query

Sleep = Callable[[float], Awaitable[None]]


class BinanceRest:
    """One HTTP session against one Binance REST base URL (spot or USD-M futures)."""

    def __init__(self, base_url: str, *, credentials: Credentials | None = None,
                 time_path: str = "/api/v3/time", recv_window_ms: int = 5000,
                 timeout_s: float = 10.0, max_attempts: int = 5,
                 backoff_base_s: float = 0.25, backoff_max_s: float = 10.0,
                 max_wait_s: float = 60.0, weight_limit: int | None = None,
                 clock: Callable[[], float] = time.time, sleep: Sleep = asyncio.sleep,
                 rng: Callable[[], float] = random.random) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.time_path = time_path
        self.recv_window_ms = recv_window_ms
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.max_wait_s = max_wait_s
        self.weight_limit = weight_limit
        self.clock = clock
        self.sleep = sleep
        self.rng = rng
        self.time_offset_ms = 0
        self.server_seen_ms = 0
        """The latest server time seen in a server's message (`observe`)."""
        self.used_weight: dict[str, int] = {}
        """Latest `X-MBX-USED-WEIGHT-<interval>` by interval (`1m`)."""
        self.order_count: dict[str, int] = {}
        self.requests = 0
        self._blocked_until = 0.0
        self._session: aiohttp.ClientSession | None = None

    # -- life -------------------------------------------------------------------------
    async def open(self, *, sync_time: bool = True) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        if sync_time:
            await self.sync_time()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def now_ms(self) -> int:
        """The server's clock as we estimate it: the local clock plus the learned
        offset, and never before a server time already seen."""
        return max(int(self.clock() * 1000) + self.time_offset_ms, self.server_seen_ms)

    def observe(self, server_ms: object) -> None:
        """A time the server stamped a message with (an event's `E`): its clock has
        reached it."""
        if isinstance(server_ms, int) and not isinstance(server_ms, bool) \
                and server_ms > self.server_seen_ms:
            self.server_seen_ms = server_ms

    async def sync_time(self) -> int:
        """Learn the offset of the server clock (midpoint of the round trip)."""
        before = self.clock()
        body = await self.request("GET", self.time_path)
        after = self.clock()
        self.time_offset_ms = int(body["serverTime"]) - int((before + after) * 500)
        return self.time_offset_ms

    # -- calls ------------------------------------------------------------------------
    async def get(self, path: str, params: Mapping[str, Any] | None = None, *,
                  signed: bool = False) -> Any:
        return await self.request("GET", path, params, signed=signed)

    async def request(self, method: str, path: str, params: Mapping[str, Any] | None = None,
                      *, signed: bool = False, api_key: bool = False,
                      idempotent: bool | None = None) -> Any:
        """One call, retried as the module docstring says; the decoded JSON body."""
        if idempotent is None:
            idempotent = method in ("GET", "DELETE", "PUT")
        attempt = 0
        resynced = False
        while True:
            attempt += 1
            await self._respect_limits()
            try:
                status, headers, body = await self._once(method, path, params or {}, signed,
                                                         api_key or signed)
            except (aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
                error = VenueTransient(f"{method} {path}: {type(exc).__name__}: {exc}")
                if not idempotent or attempt >= self.max_attempts:
                    raise error from exc
                await self.sleep(self._backoff(attempt))
                continue
            if status < 400:
                return body
            err = error_from_response(status, body, _retry_after(headers))
            if isinstance(err, RateLimited):
                wait = err.retry_after if err.retry_after is not None \
                    else self._backoff(attempt)
                self._blocked_until = max(self._blocked_until, time.monotonic() + wait)
                if wait > self.max_wait_s or attempt >= self.max_attempts:
                    raise err
                continue
            if err.code == -1021 and not resynced:
                resynced = True
                await self.sync_time()
                continue
            if isinstance(err, VenueTransient) and idempotent and attempt < self.max_attempts:
                await self.sleep(self._backoff(attempt))
                continue
            raise err

    async def _once(self, method: str, path: str, params: Mapping[str, Any], signed: bool,
                    with_key: bool) -> tuple[int, Mapping[str, str], Any]:
        if self._session is None:
            await self.open(sync_time=False)
        assert self._session is not None
        headers: dict[str, str] = {}
        if signed or with_key:
            if self.credentials is None:
                raise VenueError(f"{method} {path} needs API credentials (none were given)")
            headers["X-MBX-APIKEY"] = self.credentials.api_key
        if signed:
            assert self.credentials is not None
            full = {**params, "recvWindow": self.recv_window_ms, "timestamp": self.now_ms()}
            query = signed_query(self.credentials.api_secret, full)
        else:
            query = encode_params(params)
        url = URL(f"{self.base_url}{path}" + (f"?{query}" if query else ""), encoded=True)
        self.requests += 1
        async with self._session.request(method, url, headers=headers) as resp:
            self._track(resp.headers)
            text = await resp.text()
            try:
                body: Any = json.loads(text) if text else None
            except ValueError:
                body = text
            return resp.status, resp.headers, body

    # -- limits -----------------------------------------------------------------------
    def _track(self, headers: Mapping[str, str]) -> None:
        for key, value in headers.items():
            lower = key.lower()
            for prefix, store in (("x-mbx-used-weight-", self.used_weight),
                                  ("x-mbx-order-count-", self.order_count)):
                if lower.startswith(prefix) and value.isdigit():
                    store[lower[len(prefix):]] = int(value)

    async def _respect_limits(self) -> None:
        wait = self._blocked_until - time.monotonic()
        if wait > 0:
            await self.sleep(wait)
        if self.weight_limit is not None and self.used_weight.get("1m", 0) >= self.weight_limit:
            now_ms = self.now_ms()
            await self.sleep((60_000 - now_ms % 60_000) / 1000)
            self.used_weight["1m"] = 0

    def _backoff(self, attempt: int) -> float:
        """Full-jitter exponential back-off: uniform in [0.5, 1] of base * 2^(n-1)."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1))
        return float(ceiling * (0.5 + 0.5 * self.rng()))


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


__all__ = ["BinanceRest"]
