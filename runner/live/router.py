"""The asynchronous half of the live broker: commands out to the venue, events in.

`Router.run` sends what the `VenueBroker` queued, one command at a time in decision
order. A transient failure (the venue's `is_transient`) is retried with jittered
exponential back-off, honouring a rate limit's `Retry-After`; retrying is safe
because every order carries the same client order id on every attempt and the
adapter asks the venue about an id before it sends it again. A rejection is final
and goes back to the broker as such. `pump_user_events` feeds the venue's user
stream into the broker. Each submit is journaled and committed before it is sent
(`submit`: the wire action, whether the strategy decided the order or it is an exit
the broker placed), and each answer is journaled (deferred) as it arrives, so the
journal holds what the venue said even before the strategy's next bar books it.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from runner.journal.store import Journal
from runner.live.broker import Command, VenueBroker
from runner.venue.contract import OrderRejected, OrderState, RateLimited, Venue, VenueFill

MAX_ATTEMPTS = 8
BASE_DELAY_S = 0.05
MAX_DELAY_S = 5.0


def event_payload(event: OrderState | VenueFill) -> dict[str, Any]:
    return asdict(event)


def event_of(kind: str, payload: dict[str, Any]) -> OrderState | VenueFill | None:
    """The venue event a journal record holds (`order_update` / `venue_fill`); None
    for a record of a rejected submit, which the journal's order intent explains."""
    if kind == "venue_fill":
        return VenueFill(**payload)
    if kind == "order_update" and "venue_order_id" in payload:
        return OrderState(**payload)
    return None


class Router:
    """Sends the broker's commands (module docstring)."""

    def __init__(self, venue: Venue, broker: VenueBroker, journal: Journal | None, *,
                 on_error: Callable[[str], None] | None = None,
                 now_ms: Callable[[], int] | None = None, seed: int | None = None) -> None:
        self.venue = venue
        self.broker = broker
        self.journal = journal
        self.on_error = on_error
        self._now_ms = now_ms
        self.wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._random = random.Random(seed)
        self.sent = 0
        self.retries = 0
        self.failed = 0

    def notify(self) -> None:
        """The broker queued a command (called synchronously from the session)."""
        self._idle.clear()
        self.wake.set()

    async def run(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            outbox = self.broker.outbox
            while outbox:
                await self._do(outbox.popleft())
            self._idle.set()

    async def drain(self, timeout_s: float) -> bool:
        """Wait until every queued command was sent (the end of a run); False when the
        time ran out first."""
        if self.broker.outbox:
            self.notify()
        try:
            async with asyncio.timeout(timeout_s):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    async def _do(self, command: Command) -> None:
        venue = self.venue
        for attempt in range(MAX_ATTEMPTS):
            try:
                if command.kind == "submit":
                    assert command.request is not None
                    if attempt == 0:  # the wire action, committed before it happens
                        self._intent(command)
                    state = await venue.submit(command.request)
                    self.sent += 1
                else:
                    state = await venue.cancel(command.symbol, command.client_id)
                self.record(state)
                return
            except OrderRejected as exc:
                if command.kind == "submit":
                    self.broker.rejected(command.client_id, str(exc))
                    self._journal("order_update", {"client_id": command.client_id,
                                                   "status": "rejected", "reason": str(exc)})
                else:  # a cancel refused: the order may be final already; ask
                    await self._refresh(command)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not venue.is_transient(exc) or attempt == MAX_ATTEMPTS - 1:
                    self.failed += 1
                    self._error(f"{command.kind} {command.client_id}: "
                                f"{type(exc).__name__}: {exc}")
                    return
                self.retries += 1
                await asyncio.sleep(self._delay(exc, attempt))

    def _delay(self, exc: BaseException, attempt: int) -> float:
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            return float(exc.retry_after)
        ceiling = min(MAX_DELAY_S, BASE_DELAY_S * 2 ** attempt)
        return self._random.uniform(ceiling / 2, ceiling)

    async def _refresh(self, command: Command) -> None:
        try:
            state = await self.venue.order(command.symbol, command.client_id)
        except Exception as exc:
            self._error(f"order {command.client_id}: {type(exc).__name__}: {exc}")
            return
        if state is not None:
            self.record(state)

    def record(self, event: OrderState | VenueFill) -> None:
        """Journal what the venue said, then let the broker take it; a repeat, or news
        of an order that is not ours, is neither."""
        if not self.broker.is_new(event):
            return
        kind = "venue_fill" if isinstance(event, VenueFill) else "order_update"
        self._journal(kind, event_payload(event), event_ms=event.time_ms)
        self.broker.on_venue(event)

    def _intent(self, command: Command) -> None:
        if self.journal is not None:
            assert command.request is not None
            now = self._now_ms() if self._now_ms is not None else 0
            self.journal.record("submit", asdict(command.request), event_ms=now)

    def _journal(self, kind: str, payload: dict[str, Any], event_ms: int | None = None) -> None:
        """Deferred: the venue already acted; these are inputs, committed with the next
        intent or within the session's commit interval."""
        if self.journal is not None:
            if event_ms is None:
                event_ms = self._now_ms() if self._now_ms is not None else 0
            self.journal.record(kind, payload, event_ms=event_ms, defer=True)

    def _error(self, line: str) -> None:
        self._journal("error", {"error": line})
        if self.on_error is not None:
            self.on_error(line)


async def pump_user_events(venue: Venue, router: Router) -> None:
    """The venue's order updates and fills into the broker, until cancelled."""
    async for event in venue.user_events():
        router.record(event)


__all__ = ["Router", "event_of", "event_payload", "pump_user_events"]
