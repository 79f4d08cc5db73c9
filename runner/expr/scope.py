"""What a name in an expression can mean, and what it resolved to.

The checker never reads a strategy file. The caller (the config validator, later
the compiler) describes the strategy's names in a `Scope` — indicators and their
outputs, signals, params, instruments, timeframes, functions — and gets back refs.
That keeps the expression language testable on its own and lets the same checker
serve every field that holds an expression (signals, prices, sizes, exits).

Refs are the checker's answer to "what does this name read?". They are small,
hashable and compare by value, so the compiler can use them as keys: two
occurrences of `fast` in different expressions give equal `IndicatorRef`s and can
share one series. Timeframes in refs are canonical: `None` means the base
timeframe, whether the user wrote nothing or spelled the base out (`close@1m`
with base `1m`), so equal meaning gives equal refs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from runner.expr.types import ValueType

if TYPE_CHECKING:
    from runner.definitions import FunctionDef

PRICE_FIELDS: Final[tuple[str, ...]] = (
    "open",
    "high",
    "low",
    "close",
    "volume",
    "hl2",
    "hlc3",
    "ohlc4",
)

STATE_NAMES: Final[Mapping[str, ValueType]] = {
    "position": ValueType.NUMBER,
    "entry_price": ValueType.NUMBER,
    "equity": ValueType.NUMBER,
    "cash": ValueType.NUMBER,
    "bar_index": ValueType.NUMBER,
    "time": ValueType.TIME,
}

# State that exists once per instrument, so `ETHUSDT.position` makes sense;
# equity, cash, bar index and time belong to the whole run.
PER_INSTRUMENT_STATE: Final[tuple[str, ...]] = ("position", "entry_price")

_TIMEFRAME_RE: Final = re.compile(r"(\d+)([smhdw])", re.ASCII)
_UNIT_SECONDS: Final[Mapping[str, int]] = {
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 604800,
}


def timeframe_seconds(tf: str) -> int | None:
    """Length of a timeframe such as `15m` in seconds; `None` if `tf` is not one.

    Any count is accepted (`7m`, `90s`): which timeframes a strategy may declare
    is the config's rule, not the language's. A zero length is not a timeframe.
    """
    match = _TIMEFRAME_RE.fullmatch(tf)
    if match is None:
        return None
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return seconds or None


@dataclass(frozen=True)
class IndicatorInfo:
    """What the checker needs to know about one declared indicator.

    `outputs == ("value",)` (or any single output) means the indicator is named by
    its bare name only; with several outputs every reference must name one, since
    silently picking one (which MACD line?) would hide a real ambiguity.
    """

    outputs: tuple[str, ...]
    timeframe: str | None = None


@dataclass(frozen=True)
class Scope:
    """Every name an expression may use. `timeframes[0]` is the base timeframe."""

    indicators: Mapping[str, IndicatorInfo]
    signals: frozenset[str]
    params: frozenset[str]
    instruments: frozenset[str]
    timeframes: tuple[str, ...]
    functions: Mapping[str, FunctionDef]


@dataclass(frozen=True, slots=True)
class PriceRef:
    """A price field (`close`, `hl2`, ...) of the current or another instrument.

    `instrument` is `None` for the instrument the expression is evaluated for.
    """

    field: str
    instrument: str | None = None
    timeframe: str | None = None


@dataclass(frozen=True, slots=True)
class IndicatorRef:
    """One output series of a declared indicator.

    `output` is `None` for a single-output indicator. `timeframe` is where the
    value is read: the `@tf` the user wrote or, failing that, the timeframe the
    indicator is pinned to (`IndicatorInfo.timeframe`), canonical as above.
    """

    name: str
    output: str | None = None
    instrument: str | None = None
    timeframe: str | None = None


@dataclass(frozen=True, slots=True)
class ParamRef:
    """A named constant from `params:`; one value for the whole run."""

    name: str


@dataclass(frozen=True, slots=True)
class SignalRef:
    """Another signal's boolean, possibly of another instrument.

    The caller follows these to reject cycles between signals.
    """

    name: str
    instrument: str | None = None


@dataclass(frozen=True, slots=True)
class StateRef:
    """Run-time state (`position`, `equity`, `time`, ...).

    Only `PER_INSTRUMENT_STATE` names may carry an instrument.
    """

    name: str
    instrument: str | None = None


Ref = PriceRef | IndicatorRef | ParamRef | SignalRef | StateRef
