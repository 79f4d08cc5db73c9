"""eventually(): returns the first truthy value; times out with the last one."""

from __future__ import annotations

import asyncio
import threading

import pytest

from runner.testing.eventually import eventually, eventually_sync


def test_returns_the_truthy_value_of_a_sync_predicate() -> None:
    calls = []

    def pred() -> list[int]:
        calls.append(1)
        return calls if len(calls) >= 3 else []
    assert asyncio.run(eventually(pred, interval=0.001)) == [1, 1, 1]


def test_async_predicate_and_exceptions_count_as_not_yet() -> None:
    state = {"n": 0}

    async def pred() -> int:
        state["n"] += 1
        assert state["n"] > 2, "not yet"
        return state["n"]
    assert asyncio.run(eventually(pred, interval=0.001)) == 3


def test_timeout_reports_the_last_value_and_error() -> None:
    with pytest.raises(AssertionError, match="last returned 0"):
        asyncio.run(eventually(lambda: 0, timeout=0.05))

    def boom() -> int:
        raise ValueError("still broken")
    with pytest.raises(AssertionError, match="ValueError: still broken"):
        asyncio.run(eventually(boom, timeout=0.05))


def test_sync_twin_waits_for_another_thread(eventually: object) -> None:
    done = threading.Event()
    threading.Timer(0.05, done.set).start()
    assert eventually_sync(done.is_set, timeout=2) is True
    with pytest.raises(AssertionError):
        eventually_sync(lambda: None, timeout=0.03)
