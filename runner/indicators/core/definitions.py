"""The core set's definitions: params, inputs, outputs, lookback.

Lookbacks are TA-Lib's, so warm-up planned from them matches the oracle's null
positions.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from runner.definitions import IndicatorDef
from runner.indicators.core import incremental as inc
from runner.indicators.params import (
    HL,
    HLC,
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


def _core(name: str, params: type[Params], lookback: Any, kernel: Any, description: str,
          **kw: Any) -> IndicatorDef:
    return define(name, params, lookback, kernel, description, family="core", **kw)


class SmaParams(Params):
    period: Period = 30


class AtrParams(Params):
    period: AnyPeriod = 14


class MacdParams(FastSlowParams):
    signal: Annotated[int, Field(ge=1, le=100_000, description="signal EMA window")] = 9


class BbandsParams(Params):
    period: Period = 20
    stddev: Annotated[float, Field(gt=0, le=100, description="band width in deviations")] = 2.0


class StochParams(Params):
    k_period: Annotated[int, Field(ge=1, le=100_000, description="raw %K window")] = 5
    k_smooth: Annotated[int, Field(ge=1, le=100_000, description="%K smoothing")] = 3
    d_period: Annotated[int, Field(ge=1, le=100_000, description="%D window")] = 3


class LagParams(Params):
    period: Annotated[int, Field(ge=1, le=100_000, description="bars back")] = 10


class WindowParams(Params):
    period: Period = 30


class Window14Params(Params):
    period: Period = 14


INDICATORS: tuple[IndicatorDef, ...] = (
    _core("sma", SmaParams, period_less_one, inc.Sma, "simple moving average",
          group="overlap", reference="TA-Lib SMA"),
    _core("ema", SmaParams, period_less_one, inc.Ema,
          "exponential moving average, seeded with the SMA", group="overlap",
          reference="TA-Lib EMA"),
    _core("wma", SmaParams, period_less_one, inc.Wma, "linearly weighted moving average",
          group="overlap", reference="TA-Lib WMA"),
    _core("rsi", PeriodParams, period, inc.Rsi, "Wilder's relative strength index, 0-100",
          group="momentum", reference="TA-Lib RSI"),
    _core("atr", AtrParams, period, inc.Atr, "Wilder's average true range", inputs=HLC,
          group="volatility", reference="TA-Lib ATR"),
    _core("macd", MacdParams, lambda p: p.slow - 1 + p.signal - 1, inc.Macd,
          "moving average convergence/divergence", outputs=("macd", "signal", "hist"),
          group="momentum", reference="TA-Lib MACD"),
    _core("bbands", BbandsParams, period_less_one, inc.Bbands, "Bollinger bands around an SMA",
          outputs=("upper", "middle", "lower"), group="overlap", reference="TA-Lib BBANDS"),
    _core("stoch", StochParams,
          lambda p: p.k_period - 1 + p.k_smooth - 1 + p.d_period - 1, inc.Stoch,
          "slow stochastic oscillator", inputs=HLC, outputs=("k", "d"), group="momentum",
          reference="TA-Lib STOCH"),
    _core("mom", LagParams, period, inc.Mom, "momentum: close - close n bars back",
          group="momentum", reference="TA-Lib MOM"),
    _core("roc", LagParams, period, inc.Roc, "rate of change in percent",
          group="momentum", reference="TA-Lib ROC"),
    _core("rocp", LagParams, period, inc.Rocp, "rate of change as a fraction",
          group="momentum", reference="TA-Lib ROCP"),
    _core("rocr", LagParams, period, inc.Rocr, "rate of change as a ratio",
          group="momentum", reference="TA-Lib ROCR"),
    _core("rocr100", LagParams, period, inc.Rocr100, "rate of change as a ratio x 100",
          group="momentum", reference="TA-Lib ROCR100"),
    _core("willr", Window14Params, period_less_one, inc.Willr, "Williams' %R, -100..0",
          inputs=HLC, group="momentum", reference="TA-Lib WILLR"),
    _core("midpoint", Window14Params, period_less_one, inc.Midpoint,
          "midpoint of the highest and lowest close", group="overlap",
          reference="TA-Lib MIDPOINT"),
    _core("midprice", Window14Params, period_less_one, inc.Midprice,
          "midpoint of the highest high and lowest low", inputs=HL, group="overlap",
          reference="TA-Lib MIDPRICE"),
    _core("medprice", NoIndicatorParams, zero, inc.Medprice, "(high + low) / 2",
          inputs=HL, group="price", reference="TA-Lib MEDPRICE"),
    _core("typprice", NoIndicatorParams, zero, inc.Typprice, "(high + low + close) / 3",
          inputs=HLC, group="price", reference="TA-Lib TYPPRICE"),
    _core("avgprice", NoIndicatorParams, zero, inc.Avgprice, "(open + high + low + close) / 4",
          inputs=OHLC, group="price", reference="TA-Lib AVGPRICE"),
    _core("wclprice", NoIndicatorParams, zero, inc.Wclprice, "(high + low + 2 close) / 4",
          inputs=HLC, group="price", reference="TA-Lib WCLPRICE"),
    _core("trange", NoIndicatorParams, lambda p: 1, inc.Trange, "true range",
          batch_name="trange_indicator", inputs=HLC, group="volatility",
          reference="TA-Lib TRANGE"),
    _core("natr", AtrParams, period, inc.Natr, "ATR as a percentage of the close",
          inputs=HLC, group="volatility", reference="TA-Lib NATR"),
    _core("sum", WindowParams, period_less_one, inc.Sum, "sum over the window",
          batch_name="rolling_sum", group="statistic", reference="TA-Lib SUM"),
    _core("max", WindowParams, period_less_one, inc.Max, "highest value over the window",
          batch_name="rolling_max", group="statistic", reference="TA-Lib MAX"),
    _core("min", WindowParams, period_less_one, inc.Min, "lowest value over the window",
          batch_name="rolling_min", group="statistic", reference="TA-Lib MIN"),
    _core("obv", NoIndicatorParams, zero, inc.Obv, "on-balance volume",
          inputs=("close", "volume"), group="volume", reference="TA-Lib OBV"),
    _core("ad", NoIndicatorParams, zero, inc.Ad, "Chaikin accumulation/distribution line",
          inputs=("high", "low", "close", "volume"), group="volume", reference="TA-Lib AD"),
)
