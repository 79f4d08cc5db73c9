"""The averages family: moving averages of every TA-Lib MA type, and the indicators
built from two or three of them (APO, PPO, MACDEXT, STOCHF, KDJ, ...).

`MaKind` is the strategy language's name for TA-Lib's MA types; any family whose
indicator takes an `ma` param uses it, with `batch.moving_average` and
`incremental.make_average`. Lookbacks are TA-Lib's (`ma_lookback` is TA_MA_Lookback).
No polars import here, so `runner validate` stays light.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from runner.definitions import IndicatorDef
from runner.indicators.averages import incremental as inc
from runner.indicators.averages.incremental import ma_lookback
from runner.indicators.params import HLC, AnyPeriod, FastSlowParams, Params, Period, define

MaKind = Literal["sma", "ema", "wma", "dema", "tema", "trima", "kama", "t3", "hma", "zlema",
                 "rma"]
"""TA-Lib MA_Type 0-6, 8, 9, 12, 13 by name. MAMA (7) belongs to the cycle family."""

MA_DESCRIPTION = ("moving average type: sma, ema, wma, dema, tema, trima, kama, t3, hma, "
                  "zlema or rma")


def _averages(name: str, params: type[Params], lookback: Any, kernel: Any, description: str,
              **kw: Any) -> IndicatorDef:
    return define(name, params, lookback, kernel, description, family="averages", **kw)


class Period30Params(Params):
    period: AnyPeriod = 30


class Period20Params(Params):
    period: AnyPeriod = 20


class T3Params(Params):
    period: AnyPeriod = 5
    vfactor: Annotated[float, Field(ge=0.0, le=1.0,
                                    description="volume factor: 0 is a triple EMA, "
                                                "1 a generalized DEMA")] = 0.7


class MaParams(Params):
    period: AnyPeriod = 30
    ma: Annotated[MaKind, Field(description=MA_DESCRIPTION)] = "sma"


def _ma_field(default: str, what: str) -> Any:
    return Field(default=default, description=f"{what}: {MA_DESCRIPTION}")


MAVP_MAX = 1000
"""MAVP keeps an average per period in [min_period, max_period] running (live, any
bar may ask for any of them), so its periods are capped well below TA-Lib's 100000."""

Window = Annotated[int, Field(ge=1, le=100_000, description="bars in the window")]


class ApoParams(FastSlowParams):
    ma: MaKind = _ma_field("ema", "type of both averages")


class PvoParams(FastSlowParams):
    ma: MaKind = _ma_field("ema", "type of both averages")


class MacdfixParams(Params):
    signal: Annotated[int, Field(ge=1, le=100_000, description="signal EMA window")] = 9


class MacdextParams(FastSlowParams):
    fast_ma: MaKind = _ma_field("sma", "type of the fast average")
    slow_ma: MaKind = _ma_field("sma", "type of the slow average")
    signal: Annotated[int, Field(ge=1, le=100_000, description="signal average window")] = 9
    signal_ma: MaKind = _ma_field("sma", "type of the signal average")


class StochfParams(Params):
    k_period: Annotated[int, Field(ge=1, le=100_000, description="raw %K window")] = 5
    d_period: Annotated[int, Field(ge=1, le=100_000, description="%D window")] = 3
    d_ma: MaKind = _ma_field("sma", "type of the %D average")


class StochrsiParams(Params):
    period: Period = 14
    k_period: Annotated[int, Field(ge=1, le=100_000,
                                   description="window of the stochastic over the RSI")] = 5
    d_period: Annotated[int, Field(ge=1, le=100_000, description="%D window")] = 3
    d_ma: MaKind = _ma_field("sma", "type of the %D average")


class KdjParams(Params):
    k_period: Annotated[int, Field(ge=1, le=100_000, description="raw %K window")] = 9
    k_smooth: Annotated[int, Field(ge=1, le=100_000, description="%K smoothing window")] = 3
    k_ma: MaKind = _ma_field("rma", "type of the %K smoothing")
    d_period: Annotated[int, Field(ge=1, le=100_000, description="%D window")] = 3
    d_ma: MaKind = _ma_field("rma", "type of the %D average")


class MavpParams(Params):
    min_period: Annotated[int, Field(ge=1, le=MAVP_MAX,
                                     description="shorter periods are raised to this")] = 2
    max_period: Annotated[int, Field(ge=1, le=MAVP_MAX,
                                     description="longer periods are cut to this; "
                                                 "sets the lookback")] = 30
    ma: MaKind = _ma_field("sma", "type of the average")

    @field_validator("max_period")
    @classmethod
    def _max_not_below_min(cls, value: int, info: ValidationInfo) -> int:
        low = info.data.get("min_period")
        if low is not None and value < low:
            raise ValueError(f"max_period ({value}) must be at least min_period ({low})")
        return value


def _single(name: str, params: type[Params], kind: str, kernel: Any, description: str,
            reference: str) -> IndicatorDef:
    return _averages(name, params, lambda p: ma_lookback(kind, p.period), kernel, description,
                     group="overlap", reference=reference)


INDICATORS: tuple[IndicatorDef, ...] = (
    _single("dema", Period30Params, "dema", inc.DemaIndicator,
            "double exponential moving average, 2 EMA - EMA(EMA)", "TA-Lib DEMA"),
    _single("tema", Period30Params, "tema", inc.TemaIndicator,
            "triple exponential moving average", "TA-Lib TEMA"),
    _single("trima", Period30Params, "trima", inc.TrimaIndicator,
            "triangular moving average (an SMA of an SMA)", "TA-Lib TRIMA"),
    _single("kama", Period30Params, "kama", inc.KamaIndicator,
            "Kaufman adaptive moving average", "TA-Lib KAMA"),
    _averages("t3", T3Params, lambda p: ma_lookback("t3", p.period), inc.T3Indicator,
              "Tillson T3: six chained EMAs blended by the volume factor", group="overlap",
              reference="TA-Lib T3"),
    _single("rma", Period30Params, "rma", inc.RmaIndicator,
            "Wilder's smoothed moving average (EMA with alpha 1/period)", "TA-Lib RMA"),
    _single("hma", Period20Params, "hma", inc.HmaIndicator,
            "Hull moving average", "TA-Lib HMA"),
    _single("zlema", Period30Params, "zlema", inc.ZlemaIndicator,
            "zero-lag exponential moving average", "TA-Lib ZLEMA"),
    _averages("ma", MaParams, lambda p: ma_lookback(p.ma, p.period), inc.Ma,
              "moving average of any type", group="overlap", reference="TA-Lib MA"),
    _averages("apo", ApoParams, lambda p: ma_lookback(p.ma, p.slow), inc.Apo,
              "absolute price oscillator: fast average - slow average", group="momentum",
              reference="TA-Lib APO"),
    _averages("ppo", ApoParams, lambda p: ma_lookback(p.ma, p.slow), inc.Ppo,
              "percentage price oscillator: (fast - slow) / slow in percent",
              group="momentum", reference="TA-Lib PPO"),
    _averages("macdfix", MacdfixParams, lambda p: 25 + p.signal - 1, inc.Macdfix,
              "MACD 12/26 with fixed smoothing constants 0.15 and 0.075",
              outputs=("macd", "signal", "hist"), group="momentum",
              reference="TA-Lib MACDFIX"),
    _averages("macdext", MacdextParams,
              lambda p: max(ma_lookback(p.fast_ma, p.fast), ma_lookback(p.slow_ma, p.slow))
              + ma_lookback(p.signal_ma, p.signal), inc.Macdext,
              "MACD with a chosen average type for each line",
              outputs=("macd", "signal", "hist"), group="momentum",
              reference="TA-Lib MACDEXT"),
    _averages("stochf", StochfParams, lambda p: p.k_period - 1 + ma_lookback(p.d_ma, p.d_period),
              inc.Stochf, "fast stochastic oscillator, 0-100", inputs=HLC, outputs=("k", "d"),
              group="momentum", reference="TA-Lib STOCHF"),
    _averages("stochrsi", StochrsiParams,
              lambda p: p.period + p.k_period - 1 + ma_lookback(p.d_ma, p.d_period),
              inc.Stochrsi, "fast stochastic of the RSI, 0-100", outputs=("k", "d"),
              group="momentum", reference="TA-Lib STOCHRSI"),
    _averages("pvo", PvoParams, lambda p: ma_lookback(p.ma, p.slow), inc.Pvo,
              "percentage volume oscillator: (fast - slow) / slow volume average in percent",
              inputs=("volume",), group="volume", reference="TA-Lib PVO"),
    _averages("kdj", KdjParams,
              lambda p: p.k_period - 1 + ma_lookback(p.k_ma, p.k_smooth)
              + ma_lookback(p.d_ma, p.d_period), inc.Kdj,
              "KDJ: a slow stochastic (Wilder averages) with J = 3 K - 2 D", inputs=HLC,
              outputs=("k", "d", "j"), group="momentum", reference="TA-Lib KDJ"),
    _averages("mavp", MavpParams, lambda p: ma_lookback(p.ma, p.max_period), inc.Mavp,
              "moving average whose period is read from a series, bar by bar",
              inputs=("close", "periods"), group="overlap", reference="TA-Lib MAVP"),
)
