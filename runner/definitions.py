"""What a plugin registers: indicator, exchange, data-source and function definitions.

These records are the plugin API of DESIGN §7. They are plain frozen dataclasses so a
third-party package can build them without touching runner internals, and so that
`runner validate` can check a strategy against everything installed without importing
any heavy implementation (polars, network clients): implementations hang off a
definition as callables that are only called when a strategy runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from runner.expr.types import ValueType

ORDER_TYPES: tuple[str, ...] = ("market", "limit", "stop", "stop_limit")
TIME_IN_FORCE: tuple[str, ...] = ("gtc", "ioc", "fok")


class NoParams(BaseModel):
    """Params model for a component that takes no options."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class IndicatorDef:
    """An indicator the strategy language can name in `indicators: {x: {type: NAME}}`.

    `inputs` are the price series the indicator reads, by role. A single-input
    indicator (`inputs=("close",)`) lets the user point `input:` at any price field
    or indicator output; a multi-input one (`("high", "low", "close")`) takes a
    mapping `input: {high: ha.high, ...}` for any role it should read from elsewhere.

    `outputs` name the series it produces. With one output the indicator is referenced
    by its bare name; with several, as `name.output`.

    `lookback(params)` is the number of leading bars whose output is null: the
    compiler plans warm-up from it and TA-Lib's own lookback is the reference.

    `batch(inputs, params)` gets a polars expression per input role and the
    validated params, and returns either a mapping output -> expression or one
    struct expression with a field per output (so a multi-output kernel runs once).
    `incremental(params)` builds an object whose `update(*values)` takes one bar's
    input values in `inputs` order and returns a tuple, one value per output, None
    while warming up. Rows with a missing input never reach either form. The two
    must agree bar for bar: that is what lets paper and live trade the backtest.
    """

    name: str
    params: type[BaseModel]
    lookback: Callable[[Any], int]
    inputs: tuple[str, ...] = ("close",)
    outputs: tuple[str, ...] = ("value",)
    group: str = "other"
    description: str = ""
    reference: str = ""
    batch: Callable[..., Any] | None = None
    incremental: Callable[..., Any] | None = None


STREAMS: tuple[str, ...] = ("trades", "bars", "quotes", "depth")


@dataclass(frozen=True)
class Capabilities:
    """What a venue accepts and offers. The validator refuses order rules outside of
    it; the conformance suite in `runner.testing` picks its cases from it."""

    order_types: frozenset[str] = frozenset(ORDER_TYPES)
    time_in_force: frozenset[str] = frozenset(TIME_IN_FORCE)
    reduce_only: bool = True
    post_only: bool = True
    shorting: bool = True
    trailing_stop: bool = True
    trading: bool = True
    """The venue places orders (a market-data-only venue does not)."""
    amend: bool = False
    streams: frozenset[str] = frozenset(STREAMS)
    """Market-data streams it has: a subset of `STREAMS`."""
    history: bool = True
    """It serves closed bars over REST (`Venue.klines`), for warm-up and backfill."""


@dataclass(frozen=True)
class ExchangeDef:
    """A venue: its `venue.params` model, capabilities and connection factory.

    `connect(params, credentials)` returns a `runner.venue.Venue` (not yet opened);
    `credentials` is None when the run needs market data only (paper mode). The
    paper and live bindings call it; `validate` never does, so a definition is cheap
    to register and importing the plugin must not import its network stack.
    """

    name: str
    params: type[BaseModel] = NoParams
    capabilities: Capabilities = field(default_factory=Capabilities)
    description: str = ""
    connect: Callable[..., Any] | None = None
    capabilities_for: Callable[[Any], Capabilities] | None = None
    """What the venue can do with these `venue.params` (one plugin serving several
    markets, e.g. spot and futures): the validator checks order rules against it when
    the params are valid; `capabilities` is then the union, for the schema and docs."""

    def capabilities_with(self, params: BaseModel | None) -> Capabilities:
        """The capabilities for a strategy's validated `venue.params` (None: unknown)."""
        if params is None or self.capabilities_for is None:
            return self.capabilities
        return self.capabilities_for(params)


@dataclass(frozen=True)
class DataSourceDef:
    """A source of stored bars named by `data.source`.

    `options` validates the keys of the `data:` block beyond the common ones
    (`source path timeframe label closed columns`).
    """

    name: str
    options: type[BaseModel] = NoParams
    description: str = ""
    reader: Callable[..., Any] | None = None


ArgType = ValueType | Literal["any"]


@dataclass(frozen=True)
class FunctionParam:
    """One parameter of an expression function.

    `const` parameters must be a number literal or a param name (a window length,
    say), because the engine sizes state from them before the first bar.
    """

    name: str
    type: ArgType = ValueType.NUMBER
    default: float | str | None = None
    const: bool = False


@dataclass(frozen=True)
class FunctionDef:
    """An expression function such as `crosses_above(a, b)`.

    `returns="same"` means the type of the first argument (as for `prev`).
    `variadic` lets the last parameter repeat (as for `min(a, b, c)`).
    """

    name: str
    params: tuple[FunctionParam, ...]
    returns: ArgType | Literal["same"] = ValueType.NUMBER
    variadic: bool = False
    description: str = ""
    batch: Callable[..., Any] | None = None
    incremental: Callable[..., Any] | None = None

    @property
    def min_args(self) -> int:
        return sum(1 for p in self.params if p.default is None)
