"""Deterministic Binance client order ids.

Binance accepts `newClientOrderId` matching `^[\\.A-Z\\:/a-z0-9_-]{1,36}$`. The runner
already makes ids of that shape (`runner.live.broker.client_order_id`); an id that is
valid passes through unchanged, so an event's `clientOrderId` *is* the runner's id. One
that is not (too long, other characters) is replaced by a hash of itself: the same
input gives the same id in every process, which is what makes a resend after a crash
find the order the venue already has.
"""

from __future__ import annotations

import hashlib
import re

CLIENT_ID_PATTERN = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
HASH_PREFIX = "rh-"


def is_valid_client_id(value: str) -> bool:
    return bool(CLIENT_ID_PATTERN.match(value))


def binance_client_id(client_id: str) -> str:
    """The `newClientOrderId` for the runner's `client_id` (module docstring)."""
    if is_valid_client_id(client_id):
        return client_id
    digest = hashlib.sha256(client_id.encode("utf-8")).hexdigest()
    return HASH_PREFIX + digest[: 36 - len(HASH_PREFIX)]


__all__ = ["CLIENT_ID_PATTERN", "binance_client_id", "is_valid_client_id"]
