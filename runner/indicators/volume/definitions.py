"""The volume family's definitions: params, inputs, outputs, lookback.

Lookbacks are TA-Lib's for what TA-Lib defines. No polars import here: `runner
validate` loads this module.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from runner.definitions import IndicatorDef
from runner.indicators.params import (
    HLC,
    HLCV,
    AnyPeriod,
    FastSlowParams,
    NoIndicatorParams,
    Params,
    Period,
    define,
    period,
    period_less_one,
    zero,
)
from runner.indicators.volume import incremental as inc

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
HLCVT = (*HLCV, "time")


def _volume(name: str, params: type[Params], lookback: Any, kernel: Any, description: str,
            **kw: Any) -> IndicatorDef:
    kw.setdefault("group", "volume")
    return define(name, params, lookback, kernel, description, family="volume", **kw)


class AdoscParams(FastSlowParams):
    fast: Annotated[int, Field(ge=2, le=100_000, description="fast EMA of the A/D line")] = 3
    slow: Annotated[int, Field(ge=2, le=100_000, description="slow EMA of the A/D line")] = 10


class CmfParams(Params):
    period: Period = 20


class EfiParams(Params):
    period: Annotated[int, Field(ge=1, le=100_000, description="EMA window of the force")] = 13


class RvolParams(Params):
    period: Annotated[int, Field(ge=1, le=100_000,
                                 description="bars before today in the volume baseline")] = 20


class VwmaParams(Params):
    period: AnyPeriod = 30


class AnchoredVwapParams(Params):
    anchor: Annotated[str | None, Field(
        description="ISO 8601 date-time the average starts from (naive = UTC); "
                    "null starts at the first bar")] = None

    @field_validator("anchor", mode="before")
    @classmethod
    def _iso_8601(cls, value: Any) -> Any:
        if isinstance(value, datetime):  # YAML reads an unquoted timestamp as one
            value = value.isoformat()
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError(f"anchor must be an ISO 8601 date-time string, got {value!r}")
        try:
            inc.parse_anchor(value)
        except ValueError:
            raise ValueError(f"anchor must be an ISO 8601 date-time such as "
                             f'"2024-03-01T14:30:00Z", got "{value}"') from None
        return value


class SessionVwapParams(Params):
    period: Annotated[int | None, Field(
        ge=1, le=100_000,
        description="rolling window in bars; null restarts at each session start")] = None
    day_start: Annotated[str, Field(
        description='wall-clock time "HH:MM" at which a session starts, in `tz`')] = "00:00"
    tz: Annotated[str, Field(
        description='IANA time zone of day_start, e.g. "America/Chicago"')] = "UTC"

    @field_validator("day_start")
    @classmethod
    def _hh_mm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f'day_start must be "HH:MM" on a 24-hour clock, such as '
                             f'"17:00", got "{value}"')
        return value

    @field_validator("tz")
    @classmethod
    def _iana_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f'tz must be an IANA time zone such as "America/Chicago" or '
                             f'"UTC", got "{value}"') from None
        return value


INDICATORS: tuple[IndicatorDef, ...] = (
    _volume("adosc", AdoscParams, lambda p: p.slow - 1, inc.Adosc,
            "Chaikin A/D oscillator: fast EMA - slow EMA of the A/D line", inputs=HLCV,
            reference="TA-Lib ADOSC"),
    _volume("wad", NoIndicatorParams, zero, inc.Wad,
            "Williams' accumulation/distribution (true-range form, no volume)", inputs=HLC,
            group="momentum", reference="TA-Lib WAD"),
    _volume("cmf", CmfParams, period_less_one, inc.Cmf,
            "Chaikin money flow: windowed A/D flow over windowed volume", inputs=HLCV,
            reference="TA-Lib CMF"),
    _volume("efi", EfiParams, period, inc.Efi,
            "Elder's force index: EMA of price change x volume", inputs=("close", "volume"),
            reference="TA-Lib EFI"),
    _volume("marketfi", NoIndicatorParams, zero, inc.Marketfi,
            "market facilitation index: (high - low) / volume",
            inputs=("high", "low", "volume"), reference="TA-Lib MARKETFI"),
    _volume("nvi", NoIndicatorParams, zero, inc.Nvi,
            "negative volume index from 1000: moves on falling-volume bars",
            inputs=("close", "volume"), reference="TA-Lib NVI"),
    _volume("pvi", NoIndicatorParams, zero, inc.Pvi,
            "positive volume index from 1000: moves on rising-volume bars",
            inputs=("close", "volume"), reference="TA-Lib PVI"),
    _volume("pvt", NoIndicatorParams, zero, inc.Pvt,
            "price-volume trend: cumulative relative change x volume",
            inputs=("close", "volume"), reference="TA-Lib PVT"),
    _volume("rvol", RvolParams, period, inc.Rvol,
            "relative volume: volume over the mean volume of the bars before",
            inputs=("volume",), reference="TA-Lib RVOL"),
    _volume("vwma", VwmaParams, period_less_one, inc.Vwma, "volume-weighted moving average",
            inputs=("close", "volume"), group="overlap", reference="TA-Lib VWMA"),
    _volume("anchored_vwap", AnchoredVwapParams, zero, inc.AnchoredVwap,
            "VWAP of the typical price, cumulative from an anchor date-time",
            inputs=HLCVT, reference="TA-Lib VWAP (with no anchor)"),
    _volume("vwap", SessionVwapParams, lambda p: 0 if p.period is None else p.period - 1,
            inc.Vwap, "VWAP of the typical price per session (day_start in tz) or rolling",
            inputs=HLCVT, reference="none (TA-Lib's VWAP never resets; see anchored_vwap)"),
)
