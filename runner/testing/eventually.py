"""Wait for a condition instead of sleeping (STYLE: no sleeps in tests).

    event = await eventually(lambda: venue.order("c1"), timeout=2)
    await eventually(lambda: len(seen) >= 3)

The predicate is called every `interval` seconds until it returns something truthy,
which is returned. A predicate may be sync or async, and may raise (an `assert` inside
it is fine): an exception counts as "not yet". On timeout an `AssertionError` says
what the predicate last returned or raised.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")


def _describe(last: object, error: BaseException | None) -> str:
    if error is not None:
        return f"last raised {type(error).__name__}: {error}"
    return f"last returned {last!r}"


@overload
async def eventually(predicate: Callable[[], Awaitable[T]], timeout: float = 5.0,
                     interval: float = 0.01) -> T: ...


@overload
async def eventually(predicate: Callable[[], T], timeout: float = 5.0,
                     interval: float = 0.01) -> T: ...


async def eventually(predicate: Callable[[], Any], timeout: float = 5.0,
                     interval: float = 0.01) -> Any:
    """`predicate()`'s first truthy value within `timeout` seconds (module docstring)."""
    deadline = time.monotonic() + timeout
    last: object = None
    error: BaseException | None = None
    while True:
        try:
            value = predicate()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value
            last, error = value, None
        except Exception as exc:
            error = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"not true within {timeout:g} s: "
                                 f"{_describe(last, error)}") from error
        await asyncio.sleep(interval)


def eventually_sync(predicate: Callable[[], T], timeout: float = 5.0,
                    interval: float = 0.01) -> T:
    """The blocking twin of `eventually`, for a condition another thread makes true."""
    deadline = time.monotonic() + timeout
    last: object = None
    error: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
            last, error = value, None
        except Exception as exc:
            error = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"not true within {timeout:g} s: "
                                 f"{_describe(last, error)}") from error
        time.sleep(interval)


__all__ = ["eventually", "eventually_sync"]
