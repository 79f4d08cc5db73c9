"""The channel family's definitions: params, inputs, outputs, lookback.

Lookbacks are TA-Lib's where TA-Lib defines the indicator, so warm-up planned from
them matches the oracle's null positions. No polars/numpy import here.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator

from runner.definitions import IndicatorDef
from runner.indicators.channels import incremental as inc
from runner.indicators.params import (
    HL,
    HLC,
    OHLC,
    NoIndicatorParams,
    Params,
    Period,
    define,
    period_less_one,
    zero,
)


def _channels(name: str, params: type[Params], lookback: Any, kernel: Any, description: str,
              **kw: Any) -> IndicatorDef:
    return define(name, params, lookback, kernel, description, family="channels", **kw)


BANDS = ("upper", "middle", "lower")


class KeltnerParams(Params):
    period: Annotated[int, Field(ge=2, le=100_000,
                                 description="EMA window of the typical price")] = 20
    atr_period: Annotated[int, Field(ge=1, le=100_000, description="ATR window")] = 10
    multiplier: Annotated[float, Field(gt=0, le=100,
                                       description="band width in ATRs")] = 2.0


class Channel20Params(Params):
    period: Period = 20


class AdrParams(Params):
    period: Annotated[int, Field(ge=1, le=100_000, description="bars in the window")] = 14


class CviParams(Params):
    period: Annotated[int, Field(ge=2, le=100_000,
                                 description="EMA window of high - low")] = 10
    roc_period: Annotated[int, Field(ge=1, le=100_000,
                                     description="bars back for the rate of change")] = 10


class MassiParams(Params):
    fast: Annotated[int, Field(ge=2, le=100_000,
                               description="window of both EMAs of the range")] = 9
    slow: Annotated[int, Field(ge=2, le=100_000,
                               description="bars of ratios summed")] = 25


class RviParams(Params):
    period: Annotated[int, Field(ge=1, le=100_000,
                                 description="Wilder smoothing window of the two legs")] = 14
    stddev_period: Annotated[int, Field(ge=2, le=100_000,
                                        description="standard-deviation window")] = 10


class IchimokuParams(Params):
    conversion: Annotated[int, Field(ge=1, le=100_000,
                                     description="tenkan-sen window")] = 9
    base: Annotated[int, Field(ge=1, le=100_000, description="kijun-sen window")] = 26
    span_b: Annotated[int, Field(ge=1, le=100_000,
                                 description="senkou span B window")] = 52
    displacement: Annotated[int, Field(ge=1, le=100_000,
                                       description="bars the cloud is shifted forward and "
                                                   "the lagging close back")] = 26


def _ichimoku_lookback(p: Any) -> int:
    """The longest warm-up of the five lines (span B's or span A's, shifted)."""
    return int(max(p.conversion, p.base, p.span_b) - 1 + p.displacement)


PIVOT_KINDS = ("classic", "fibonacci", "camarilla")


class PivotsParams(Params):
    kind: Annotated[str, Field(description="classic | fibonacci | camarilla")] = "classic"
    day_start: Annotated[str, Field(description='session start, local "HH:MM"')] = "00:00"
    tz: Annotated[str, Field(description="IANA time zone of day_start")] = "UTC"

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind not in PIVOT_KINDS:
            raise ValueError(f'kind must be one of {", ".join(PIVOT_KINDS)}, not "{kind}"')
        return kind

    @field_validator("day_start")
    @classmethod
    def _clock(cls, day_start: str) -> str:
        hours, sep, minutes = day_start.partition(":")
        ok = (sep == ":" and len(hours) == 2 and len(minutes) == 2 and hours.isdigit()
              and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60)
        if not ok:
            raise ValueError(f'day_start must be "HH:MM" (00:00 to 23:59), not "{day_start}"')
        return day_start

    @field_validator("tz")
    @classmethod
    def _zone(cls, tz: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f'tz must be an IANA time zone such as "UTC" or '
                             f'"America/New_York", not "{tz}"') from None
        return tz


INDICATORS: tuple[IndicatorDef, ...] = (
    _channels("keltner", KeltnerParams, lambda p: max(p.period - 1, p.atr_period), inc.Keltner,
              "Keltner channel: EMA of the typical price +/- multiplier x ATR", inputs=HLC,
              outputs=BANDS, group="volatility", reference="TA-Lib KC"),
    _channels("donchian", Channel20Params, period_less_one, inc.Donchian,
              "Donchian channel: highest high, lowest low and their midpoint", inputs=HL,
              outputs=BANDS, group="volatility", reference="TA-Lib DONCHIAN"),
    _channels("accbands", Channel20Params, period_less_one, inc.Accbands,
              "Headley's acceleration bands", inputs=HLC, outputs=BANDS, group="overlap",
              reference="TA-Lib ACCBANDS"),
    _channels("heikin_ashi", NoIndicatorParams, zero, inc.HeikinAshi, "Heikin-Ashi candles",
              inputs=OHLC, outputs=("open", "high", "low", "close"), group="price",
              reference="TA-Lib HA"),
    _channels("adr", AdrParams, period_less_one, inc.Adr,
              "average range: mean of high - low over the window", inputs=HL,
              group="volatility", reference="TA-Lib ADR"),
    _channels("cvi", CviParams, lambda p: p.period - 1 + p.roc_period, inc.Cvi,
              "Chaikin volatility: rate of change of the EMA of high - low, in percent",
              inputs=HL, group="volatility", reference="TA-Lib CVI"),
    _channels("massi", MassiParams, lambda p: 2 * (p.fast - 1) + p.slow - 1, inc.Massi,
              "Dorsey's mass index", inputs=HL, group="volatility", reference="TA-Lib MASSI"),
    _channels("rvi", RviParams, lambda p: p.stddev_period - 1 + p.period - 1, inc.Rvi,
              "Dorsey's relative volatility index, 0-100", group="volatility",
              reference="TA-Lib RVI"),
    _channels("ichimoku", IchimokuParams, _ichimoku_lookback, inc.Ichimoku,
              "Ichimoku cloud, causal: spans as drawn over the current bar, lagging = "
              "the close `displacement` bars back", inputs=HLC,
              outputs=("conversion", "base", "span_a", "span_b", "lagging"), group="overlap",
              reference="Hosoda, Ichimoku Kinko Hyo"),
    # The warm-up of pivots is one session, a span of time rather than of bars, so no
    # bar count is right for every bar size: 0, and the first session's bars are null.
    _channels("pivots", PivotsParams, zero, inc.Pivots,
              "floor pivot levels from the previous session's high, low and close",
              inputs=(*HLC, "time"), outputs=("pp", "r1", "r2", "r3", "s1", "s2", "s3"),
              group="overlap", reference="floor-trader pivots (classic, Fibonacci, Camarilla)"),
)
