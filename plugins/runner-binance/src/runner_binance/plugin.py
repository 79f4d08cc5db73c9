"""The `binance` exchange definition: params model, capabilities, lazy `connect`.

Registration is cheap on purpose: `runner validate` loads every plugin, so this module
imports only pydantic and runner's definitions. aiohttp and websockets are imported by
`connect`, when a paper or live run actually opens the venue.

Capabilities: one definition serves spot and USD-M futures (`venue.params.market`).
`capabilities` declares the *union* of the two markets (the schema and docs show it);
`capabilities_for` gives the validator each market's exact set, so a spot strategy
with `reduce_only: true` or `allow_short: true` is refused by `runner validate`, with
its line. At submit time spot still refuses a reduce-only buy (`Unsupported`); a
reduce-only sell — what `action: close` sends — goes out as a plain sell, since spot
cannot go short.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from runner import Capabilities, ExchangeDef, hookimpl

if TYPE_CHECKING:
    from runner.venue.contract import Credentials
    from runner_binance.venue import BinanceVenue

ENDPOINTS: dict[tuple[str, bool], tuple[str, str]] = {
    ("spot", False): ("https://api.binance.com", "wss://stream.binance.com:9443"),
    ("spot", True): ("https://testnet.binance.vision", "wss://stream.testnet.binance.vision"),
    ("futures", False): ("https://fapi.binance.com", "wss://fstream.binance.com"),
    ("futures", True): ("https://testnet.binancefuture.com", "wss://fstream.binancefuture.com"),
}
"""(market, testnet) → (REST base, websocket base)."""


class BinanceParams(BaseModel):
    """`venue.params` of `exchange: binance`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    market: Literal["spot", "futures"] = Field(
        default="spot", description="spot, or futures for USD-M perpetuals and deliveries")
    testnet: bool = Field(default=False, description="use Binance's test network")
    rest_url: str | None = Field(default=None, description="REST base URL override")
    ws_url: str | None = Field(default=None, description="websocket base URL override")
    recv_window_ms: Annotated[int, Field(gt=0, le=60_000)] = 5000
    trade_stream: Literal["trade", "aggTrade"] = Field(
        default="trade", description="which stream `trades` reads")
    depth_speed_ms: Literal[100, 250, 500, 1000] = 100
    timeout_s: Annotated[float, Field(gt=0)] = 10.0
    max_retries: Annotated[int, Field(ge=0, le=20)] = 4
    max_wait_s: Annotated[float, Field(ge=0)] = 60.0
    """The longest `Retry-After` the client waits out by itself; longer raises."""
    weight_limit: Annotated[int, Field(gt=0)] | None = None
    """Pause until the next minute once X-MBX-USED-WEIGHT-1M reaches this."""
    stream_silence_s: Annotated[float, Field(gt=0)] = 60.0

    def urls(self) -> tuple[str, str]:
        rest, ws = ENDPOINTS[(self.market, self.testnet)]
        return (self.rest_url or rest).rstrip("/"), (self.ws_url or ws).rstrip("/")


SPOT_CAPABILITIES = Capabilities(
    order_types=frozenset({"market", "limit", "stop", "stop_limit"}),
    time_in_force=frozenset({"gtc", "ioc", "fok"}),
    reduce_only=False, post_only=True, shorting=False, trailing_stop=False, amend=False,
)
FUTURES_CAPABILITIES = Capabilities(
    order_types=frozenset({"market", "limit", "stop", "stop_limit"}),
    time_in_force=frozenset({"gtc", "ioc", "fok"}),
    reduce_only=True, post_only=True, shorting=True, trailing_stop=False, amend=False,
)
CAPABILITIES = Capabilities(
    order_types=SPOT_CAPABILITIES.order_types | FUTURES_CAPABILITIES.order_types,
    time_in_force=SPOT_CAPABILITIES.time_in_force | FUTURES_CAPABILITIES.time_in_force,
    reduce_only=True, post_only=True, shorting=True, trailing_stop=False, amend=False,
)


def capabilities_for(market: str) -> Capabilities:
    """The exact capabilities of one market (module docstring)."""
    return SPOT_CAPABILITIES if market == "spot" else FUTURES_CAPABILITIES


def connect(params: BinanceParams | dict[str, object],
            credentials: Credentials | None = None) -> BinanceVenue:
    """A `BinanceVenue` (not yet opened); the network stack is imported here."""
    from runner_binance.venue import BinanceVenue

    model = params if isinstance(params, BinanceParams) else BinanceParams.model_validate(params)
    return BinanceVenue(model, credentials)


BINANCE = ExchangeDef(
    name="binance",
    params=BinanceParams,
    capabilities=CAPABILITIES,
    description="Binance spot and USD-M futures (REST + websocket streams)",
    connect=connect,
    capabilities_for=lambda params: capabilities_for(params.market),
)


@hookimpl
def register_exchanges() -> Sequence[ExchangeDef]:
    return (BINANCE,)


__all__ = ["BINANCE", "CAPABILITIES", "ENDPOINTS", "FUTURES_CAPABILITIES",
           "SPOT_CAPABILITIES", "BinanceParams", "capabilities_for", "connect",
           "register_exchanges"]
