"""The oscillators' definitions: params, inputs, outputs, lookback (no polars import).

Lookbacks are TA-Lib's, so warm-up planned from them matches the oracle's null
positions.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from runner.definitions import IndicatorDef
from runner.indicators.oscillators import incremental as inc
from runner.indicators.params import (
    HL,
    HLC,
    HLCV,
    OHLC,
    AnyPeriod,
    FastSlowParams,
    NoIndicatorParams,
    Params,
    Period,
    PeriodParams,
    define,
    period,
    period_less_one,
    zero,
)


def _osc(name: str, params: type[Params], lookback: Any, kernel: Any, description: str,
         **kw: Any) -> IndicatorDef:
    return define(name, params, lookback, kernel, description, family="oscillators", **kw)


class TrixParams(Params):
    period: AnyPeriod = 30


class UltoscParams(Params):
    short: Annotated[int, Field(ge=1, le=100_000, description="shortest window (weight 4)")] = 7
    medium: Annotated[int, Field(ge=1, le=100_000, description="middle window (weight 2)")] = 14
    long: Annotated[int, Field(ge=1, le=100_000, description="longest window (weight 1)")] = 28

    @field_validator("medium")
    @classmethod
    def _medium_above_short(cls, medium: int, info: ValidationInfo) -> int:
        short = info.data.get("short")
        if short is not None and medium <= short:
            raise ValueError(f"medium ({medium}) must be longer than short ({short})")
        return medium

    @field_validator("long")
    @classmethod
    def _long_above_medium(cls, long: int, info: ValidationInfo) -> int:
        medium = info.data.get("medium")
        if medium is not None and long <= medium:
            raise ValueError(f"long ({long}) must be longer than medium ({medium})")
        return long


class ImiParams(Params):
    period: Period = 14


class QstickParams(Params):
    period: AnyPeriod = 10


class AoParams(FastSlowParams):
    fast: Period = 5
    slow: Period = 34


class AcParams(AoParams):
    signal: Annotated[int, Field(ge=2, le=100_000,
                                 description="SMA window taken over the AO")] = 5


class CoppockParams(Params):
    period: Annotated[int, Field(ge=1, le=100_000, description="WMA window")] = 10
    long_roc: Annotated[int, Field(ge=1, le=100_000,
                                   description="bars back of the longer rate of change")] = 14
    short_roc: Annotated[int, Field(ge=1, le=100_000,
                                    description="bars back of the shorter rate of change")] = 11

    @model_validator(mode="after")
    def _long_above_short(self) -> CoppockParams:
        if self.long_roc <= self.short_roc:
            raise ValueError(f"long_roc ({self.long_roc}) must be longer than "
                             f"short_roc ({self.short_roc})")
        return self


class DpoParams(Params):
    period: Period = 20


class ErParams(Params):
    period: Period = 10


class EriParams(Params):
    period: Annotated[int, Field(ge=1, le=100_000, description="EMA window of the close")] = 13


class SmiParams(Params):
    period: Annotated[int, Field(ge=2, le=100_000, description="high/low window")] = 13
    fast: Annotated[int, Field(ge=2, le=100_000,
                               description="second (fast) EMA, applied after the slow one")] = 2
    slow: Annotated[int, Field(ge=2, le=100_000,
                               description="first (slow) EMA of the raw momentum")] = 25
    signal: Annotated[int, Field(ge=2, le=100_000, description="signal EMA window")] = 9

    @model_validator(mode="after")
    def _slow_above_fast(self) -> SmiParams:
        if self.slow <= self.fast:
            raise ValueError(f"slow ({self.slow}) must be longer than fast ({self.fast})")
        return self


class TsiParams(Params):
    long: Annotated[int, Field(ge=2, le=100_000,
                               description="first EMA of the one-bar change")] = 25
    short: Annotated[int, Field(ge=2, le=100_000,
                                description="second EMA, applied after the long one")] = 13

    @model_validator(mode="after")
    def _long_above_short(self) -> TsiParams:
        if self.long <= self.short:
            raise ValueError(f"long ({self.long}) must be longer than short ({self.short})")
        return self


class FractalParams(Params):
    left: Annotated[int, Field(ge=1, le=100_000,
                               description="bars before the centre bar")] = 2
    right: Annotated[int, Field(ge=1, le=100_000,
                                description="bars after the centre bar; the fractal is "
                                            "reported that many bars after it")] = 2


INDICATORS: tuple[IndicatorDef, ...] = (
    _osc("bop", NoIndicatorParams, zero, inc.Bop,
         "balance of power: (close - open) / (high - low)", inputs=OHLC, group="momentum",
         reference="TA-Lib BOP"),
    _osc("cci", PeriodParams, period_less_one, inc.Cci,
         "commodity channel index: typical price against its mean deviation", inputs=HLC,
         group="momentum", reference="TA-Lib CCI"),
    _osc("cmo", PeriodParams, period, inc.Cmo,
         "Chande momentum oscillator with Wilder smoothing (TA-Lib's), -100..100",
         group="momentum", reference="TA-Lib CMO"),
    _osc("cmou", PeriodParams, period, inc.Cmou,
         "Chande momentum oscillator, unsmoothed (Chande's original), -100..100",
         group="momentum", reference="TA-Lib CMOU"),
    _osc("mfi", PeriodParams, period, inc.Mfi, "money flow index, 0-100", inputs=HLCV,
         group="volume", reference="TA-Lib MFI"),
    _osc("trix", TrixParams, lambda p: 3 * (p.period - 1) + 1, inc.Trix,
         "one-bar percent change of a triple EMA", group="momentum", reference="TA-Lib TRIX"),
    _osc("ultosc", UltoscParams, lambda p: p.long, inc.Ultosc,
         "Williams' ultimate oscillator, 0-100", inputs=HLC, group="momentum",
         reference="TA-Lib ULTOSC"),
    _osc("imi", ImiParams, period_less_one, inc.Imi,
         "intraday momentum index: RSI of candle bodies, 0-100", inputs=("open", "close"),
         group="momentum", reference="TA-Lib IMI"),
    _osc("qstick", QstickParams, period_less_one, inc.Qstick,
         "Chande's Qstick: SMA of close - open", inputs=("open", "close"), group="momentum",
         reference="TA-Lib QSTICK"),
    _osc("ao", AoParams, lambda p: p.slow - 1, inc.Ao,
         "Bill Williams' awesome oscillator: fast - slow SMA of the median price",
         inputs=HL, group="momentum", reference="TA-Lib AO"),
    _osc("ac", AcParams, lambda p: p.slow - 1 + p.signal - 1, inc.Ac,
         "Bill Williams' accelerator oscillator: AO - SMA(AO)", inputs=HL,
         group="momentum", reference="TA-Lib AC"),
    _osc("coppock", CoppockParams, lambda p: p.long_roc + p.period - 1, inc.Coppock,
         "Coppock curve: WMA of the sum of two rates of change", group="momentum",
         reference="TA-Lib COPPOCK"),
    _osc("dpo", DpoParams, lambda p: max(p.period - 1, p.period // 2 + 1), inc.Dpo,
         "detrended price oscillator: close period/2+1 bars back - SMA (no look-ahead)",
         group="momentum", reference="TA-Lib DPO"),
    _osc("er", ErParams, period, inc.Er,
         "Kaufman efficiency ratio: |net move| / path length, 0-1", group="momentum",
         reference="TA-Lib ER"),
    _osc("eri", EriParams, period_less_one, inc.Eri,
         "Elder ray: high and low minus an EMA of close", inputs=HLC,
         outputs=("bull", "bear"), group="momentum", reference="TA-Lib ERI"),
    _osc("smi", SmiParams, lambda p: p.period + p.slow + p.fast + p.signal - 4, inc.Smi,
         "Blau's stochastic momentum index, -100..100, and its signal EMA", inputs=HLC,
         outputs=("smi", "signal"), group="momentum", reference="TA-Lib SMI"),
    _osc("tsi", TsiParams, lambda p: p.long + p.short - 1, inc.Tsi,
         "Blau's true strength index, -100..100", group="momentum", reference="TA-Lib TSI"),
    _osc("fractal", FractalParams, lambda p: p.left + p.right, inc.Fractal,
         "Williams fractal (100 or 0), reported `right` bars after its centre bar",
         inputs=HL, outputs=("swing_high", "swing_low"), group="pattern",
         reference="TA-Lib FRACTAL"),
)
