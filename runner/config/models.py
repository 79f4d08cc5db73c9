"""The strategy file (format version 1) as pydantic models: DESIGN §1, field by field.

These models check *shape*: types, allowed values, ranges. Everything that relates one
part of the file to another (references, cycles, timeframes that must divide, a
`risk_pct` that needs a `stop_loss`) is checked afterwards by `runner.config.lint`,
which can point at the exact key; a pydantic model validator could only point at the
enclosing block.

Plugin-owned blocks (an indicator's params, `venue.params`, a data source's options)
are kept as raw mappings here and validated in a second phase against the owning
plugin's model (`runner.config.plugin_blocks`).

Every model is frozen and forbids unknown keys.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

TIMEFRAMES: tuple[str, ...] = (
    "1s", "5s", "15s", "30s", "1m", "3m", "5m", "15m", "30m",
    "1h", "2h", "4h", "6h", "12h", "1d", "1w",
)  # fmt: skip
PRICE_FIELDS: tuple[str, ...] = ("open", "high", "low", "close", "volume", "hl2", "hlc3", "ohlc4")
NAME_PATTERN = r"^[a-z_][a-z0-9_]*$"
SYMBOL_PATTERN = r"^[A-Z0-9][A-Z0-9_]*$"
STRATEGY_NAME_PATTERN = r"^[a-z0-9][a-z0-9\-_]*$"

Timeframe = Literal[
    "1s", "5s", "15s", "30s", "1m", "3m", "5m", "15m", "30m",
    "1h", "2h", "4h", "6h", "12h", "1d", "1w",
]  # fmt: skip

_BARS_RE = re.compile(r"^\s*(\d+)\s*(bars?)?\s*$")
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$")
_CLOCK_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _bar_count(value: Any) -> Any:
    """`expire_after: 5`, `expire_after: 5 bars` and `"1 bar"` all mean 5 (or 1) bars."""
    if isinstance(value, str):
        m = _BARS_RE.match(value)
        if not m:
            raise ValueError(f'expected a number of bars such as "5 bars", got "{value}"')
        return int(m.group(1))
    return value


def _duration_seconds(value: Any) -> Any:
    """Durations are `500ms`, `1s`, `5m`, `1h`, or a number of seconds."""
    if isinstance(value, str):
        m = _DURATION_RE.match(value)
        if not m:
            raise ValueError(f'expected a duration such as "1s", "500ms" or "5m", got "{value}"')
        scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[m.group(2)]
        return float(m.group(1)) * scale
    return value


def _expression(value: Any) -> Any:
    """Expressions are strings; a bare number or boolean is accepted as a literal one."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return value


def _no_bool(value: Any) -> Any:
    """YAML `true` would otherwise become the number 1."""
    if isinstance(value, bool):
        raise ValueError(f"a param must be a number, got the boolean {str(value).lower()}")
    return value


ParamValue = Annotated[float, BeforeValidator(_no_bool, json_schema_input_type=float)]
BarCount = Annotated[int, BeforeValidator(_bar_count, json_schema_input_type=int | str),
                     Field(ge=0)]
Seconds = Annotated[float, BeforeValidator(_duration_seconds, json_schema_input_type=float | str),
                    Field(ge=0)]
Expression = Annotated[str, BeforeValidator(_expression,
                                            json_schema_input_type=str | float | bool)]
PositiveNumber = Annotated[float, Field(gt=0)]
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
Symbol = Annotated[str, Field(pattern=SYMBOL_PATTERN)]
Clock = Annotated[str, Field(pattern=_CLOCK_RE.pattern)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Venue(Model):
    exchange: str = "sim"
    account: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_]*$")] = "main"
    params: dict[str, Any] = Field(default_factory=dict)


class Instrument(Model):
    """Overrides of the venue's metadata for one instrument."""

    tick_size: PositiveNumber | None = None
    lot_size: PositiveNumber | None = None
    min_notional: Annotated[float, Field(ge=0)] | None = None
    multiplier: PositiveNumber | None = None
    quote: str | None = None
    venue_symbol: str | None = None


def _instrument_list(value: Any) -> Any:
    """`instruments: [BTCUSDT, ETHUSDT]` is shorthand for a mapping with no overrides."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return {v: {} for v in value}
    return value


def _null_as_empty(value: Any) -> Any:
    return {} if value is None else value


Instruments = Annotated[
    dict[Symbol, Annotated[Instrument, BeforeValidator(_null_as_empty)]],
    BeforeValidator(_instrument_list, json_schema_input_type=dict[str, Instrument] | list[str]),
    Field(min_length=1),
]

def _gather_extras(value: Any, core_keys: tuple[str, ...], into: str) -> Any:
    """Move the keys a plugin owns (beside `core_keys`) into one mapping, `into`,
    which the owning plugin's model validates in the second phase."""
    if not isinstance(value, dict):
        return value
    core = {k: v for k, v in value.items() if k in core_keys}
    extra = {k: v for k, v in value.items() if k not in core_keys}
    return {**core, into: extra} if extra else core


PRICE_COLUMNS = ("time", "open", "high", "low", "close", "volume")
DATA_CORE_KEYS = ("source", "path", "timeframe", "label", "closed", "columns")


class Data(Model):
    """Stored bars; keys beyond the common ones are the source plugin's `options`."""

    source: str = "parquet"
    path: str
    timeframe: Timeframe
    label: Literal["open", "close"] = "open"
    closed: Literal["left", "right"] = "left"
    columns: dict[Literal["time", "open", "high", "low", "close", "volume"], str] = Field(
        default_factory=dict
    )
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _collect_options(cls, value: Any) -> Any:
        return _gather_extras(value, DATA_CORE_KEYS, "options")


INDICATOR_CORE_KEYS = ("type", "input", "timeframe")


class Indicator(Model):
    """`{type: sma, period: 10, input: close, timeframe: 1h}`; other keys are `params`."""

    type: str
    input: str | dict[str, str] | None = None
    timeframe: Timeframe | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _collect_params(cls, value: Any) -> Any:
        return _gather_extras(value, INDICATOR_CORE_KEYS, "params")


class Size(Model):
    """Exactly one of the four sizing modes (checked by lint, which can point at keys)."""

    quantity: Expression | None = None
    notional: Expression | None = None
    equity_pct: Expression | None = None
    risk_pct: Expression | None = None


OrderType = Literal["market", "limit", "stop", "stop_limit"]


class OrderRule(Model):
    """One rule of `orders:`; either `side` (open or add) or `action` (close, cancel).

    `instruments` (an extension of DESIGN §1) limits the rule to the instruments it
    lists; by default a rule applies to every instrument.
    """

    when: Expression
    name: Name | None = None
    instruments: Annotated[list[Symbol], Field(min_length=1)] | None = None
    side: Literal["buy", "sell"] | None = None
    action: Literal["close", "cancel_orders"] | None = None
    type: OrderType = "market"
    price: Expression | None = None
    trigger: Expression | None = None
    size: Size | None = None
    time_in_force: Literal["gtc", "ioc", "fok"] = "gtc"
    expire_after: BarCount | None = None
    reduce_only: bool = False
    post_only: bool = False
    stop_loss: Expression | None = None
    take_profit: Expression | None = None
    trailing_stop: Expression | None = None
    max_entries: Annotated[int, Field(ge=1)] = 1
    cooldown: BarCount = 0
    fraction: Annotated[float, Field(gt=0, le=1)] | None = None


PerInstrument = PositiveNumber | dict[Symbol, PositiveNumber]
PerInstrumentCount = Annotated[int, Field(ge=1)] | dict[Symbol, Annotated[int, Field(ge=1)]]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class TradingHours(Model):
    start: Clock
    end: Clock
    tz: str = "UTC"
    days: list[Weekday] | None = None


class DayStart(Model):
    time: Clock = "00:00"
    tz: str = "UTC"


class Risk(Model):
    """Pre-trade limits; a number applies to every instrument (or the portfolio), a
    mapping `{SYMBOL: number}` to the instruments it names."""

    max_position: PerInstrument | None = None
    max_gross_exposure: PerInstrument | None = None
    max_open_orders: PerInstrumentCount | None = None
    max_orders_per_minute: PerInstrumentCount | None = None
    max_daily_loss: PerInstrument | None = None
    max_drawdown: Annotated[float, Field(gt=0, le=1)] | None = None
    max_daily_trades: PerInstrumentCount | None = None
    max_positions: Annotated[int, Field(ge=1)] | None = None
    trading_hours: TradingHours | None = None
    day_starts: DayStart = DayStart()
    on_breach: Literal["reject", "halt", "flatten"] = "reject"
    allow_short: bool = False


class Fees(Model):
    maker: Annotated[float, Field(gt=-0.01, lt=1)] = 0.0
    taker: Annotated[float, Field(ge=0, lt=1)] = 0.0


class Backtest(Model):
    start: date | datetime | None = None
    end: date | datetime | None = None
    cash: PositiveNumber = 10_000.0
    fees: Fees = Fees()
    slippage_bps: Annotated[float, Field(ge=0)] = 0.0
    fill: Literal["next_open", "close"] = "next_open"
    intrabar: Literal["stop_first", "target_first"] = "stop_first"


class Bars(Model):
    closed: Literal["left", "right"] = "left"
    fill_gaps: bool = False
    grace: Seconds = 1.0


NotifyEvent = Literal["signal", "order", "fill", "risk", "error", "halt"]
_DEFAULT_EVENTS: tuple[NotifyEvent, ...] = ("fill", "risk", "error", "halt")


class Notify(Model):
    """A webhook that receives a JSON post per event (`${VAR}` allowed in the URL)."""

    webhook: Annotated[str, Field(pattern=r"^(https?://|\$\{)")]
    events: list[NotifyEvent] = Field(default_factory=lambda: list(_DEFAULT_EVENTS))


class Session(Model):
    """`paper:` and `live:` share one shape."""

    state: str | None = None
    warmup: BarCount | None = None
    heartbeat: Seconds | None = None
    notify: list[Notify] = Field(default_factory=list)


class Strategy(Model):
    """A whole strategy file."""

    version: Literal[1]
    name: Annotated[str, Field(pattern=STRATEGY_NAME_PATTERN)]
    description: str = ""
    venue: Venue = Venue()
    instruments: Instruments
    data: Data | None = None
    timeframes: Annotated[list[Timeframe], Field(min_length=1)]
    params: dict[Name, ParamValue] = Field(default_factory=dict)
    indicators: dict[Name, Indicator] = Field(default_factory=dict)
    signals: dict[Name, Expression] = Field(default_factory=dict)
    orders: list[OrderRule] = Field(default_factory=list)
    risk: Risk = Risk()
    backtest: Backtest = Backtest()
    bars: Bars = Bars()
    paper: Session = Session()
    live: Session = Session()

    @property
    def base_timeframe(self) -> str:
        return self.timeframes[0]
