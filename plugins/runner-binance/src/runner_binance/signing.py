"""Request signing for SIGNED endpoints (HMAC-SHA256, as Binance documents it).

The signed payload is the query string, followed *without a separator* by the
`application/x-www-form-urlencoded` body when there is one. Values are percent-encoded
as UTF-8 before signing (so a non-ASCII symbol signs as its `%XX` form), and the
signature is the lower-case hex digest sent as the last parameter, `signature`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import urlencode

Params = Mapping[str, object] | Iterable[tuple[str, object]]


def encode_params(params: Params) -> str:
    """`k=v&...` in the given order, values UTF-8 percent-encoded; booleans as
    `true`/`false` (Binance's spelling), None values dropped."""
    items = params.items() if isinstance(params, Mapping) else params
    pairs: list[tuple[str, str]] = []
    for key, value in items:
        if value is None:
            continue
        if isinstance(value, bool):
            pairs.append((key, "true" if value else "false"))
        else:
            pairs.append((key, str(value)))
    return urlencode(pairs, encoding="utf-8")


def sign(secret: str, query_string: str, body: str = "") -> str:
    """HMAC-SHA256 hex digest of `query_string + body` keyed by `secret`."""
    payload = (query_string + body).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), payload, hashlib.sha256).hexdigest()


def signed_query(secret: str, params: Params) -> str:
    """The encoded query string with `&signature=...` appended."""
    query = encode_params(params)
    return f"{query}&signature={sign(secret, query)}"


__all__ = ["encode_params", "sign", "signed_query"]
