"""Definitions of the built-in indicators: params, inputs, outputs, lookback.

Lookbacks are TA-Lib's, so warm-up planned from them matches the oracle's null
positions. The parameter names are the strategy language's (`fast`, `slow`,
`signal`), not TA-Lib's (`fastperiod`), because traders write them by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from runner.definitions import IndicatorDef
from runner.indicators import incremental as inc
from runner.indicators.lazy import batch

Period = Annotated[int, Field(ge=2, le=100_000, description="bars in the window")]


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PeriodParams(Params):
    period: Period = 14


class SmaParams(Params):
    period: Period = 30


class AtrParams(Params):
    period: Annotated[int, Field(ge=1, le=100_000, description="bars in the window")] = 14


class MacdParams(Params):
    fast: Period = 12
    slow: Period = 26
    signal: Annotated[int, Field(ge=1, le=100_000)] = 9

    @field_validator("slow")
    @classmethod
    def _slow_above_fast(cls, slow: int, info: ValidationInfo) -> int:
        fast = info.data.get("fast")
        if fast is not None and slow <= fast:
            raise ValueError(f"slow ({slow}) must be longer than fast ({fast})")
        return slow


class BbandsParams(Params):
    period: Period = 20
    stddev: Annotated[float, Field(gt=0, le=100, description="band width in deviations")] = 2.0


class StochParams(Params):
    k_period: Annotated[int, Field(ge=1, le=100_000, description="raw %K window")] = 5
    k_smooth: Annotated[int, Field(ge=1, le=100_000, description="%K smoothing")] = 3
    d_period: Annotated[int, Field(ge=1, le=100_000, description="%D window")] = 3


class VwapParams(Params):
    period: Annotated[int | None, Field(ge=1, le=100_000,
                                        description="rolling window in bars; "
                                                    "none resets at each UTC day")] = None


class LagParams(Params):
    period: Annotated[int, Field(ge=1, le=100_000, description="bars back")] = 10


class WindowParams(Params):
    period: Period = 30


class Window14Params(Params):
    period: Period = 14


class NoIndicatorParams(Params):
    """Price transforms take no params."""


HLC = ("high", "low", "close")
HL = ("high", "low")
OHLC = ("open", "high", "low", "close")


def _def(name: str, params: type[Params], lookback: Callable[[Any], int], kernel: Any,
         description: str, *, batch_name: str | None = None, inputs: tuple[str, ...] = ("close",),
         group: str, reference: str) -> IndicatorDef:
    return IndicatorDef(name=name, params=params, lookback=lookback, inputs=inputs,
                        group=group, description=description, reference=reference,
                        batch=batch(batch_name or name), incremental=kernel)


def _period(p: Any) -> int:
    return int(p.period)


def _period_less_one(p: Any) -> int:
    return int(p.period) - 1


def _zero(p: Any) -> int:
    return 0


MORE_INDICATORS: tuple[IndicatorDef, ...] = (
    _def("mom", LagParams, _period, inc.Mom, "momentum: close - close n bars back",
         group="momentum", reference="TA-Lib MOM"),
    _def("roc", LagParams, _period, inc.Roc, "rate of change in percent",
         group="momentum", reference="TA-Lib ROC"),
    _def("rocp", LagParams, _period, inc.Rocp, "rate of change as a fraction",
         group="momentum", reference="TA-Lib ROCP"),
    _def("rocr", LagParams, _period, inc.Rocr, "rate of change as a ratio",
         group="momentum", reference="TA-Lib ROCR"),
    _def("rocr100", LagParams, _period, inc.Rocr100, "rate of change as a ratio x 100",
         group="momentum", reference="TA-Lib ROCR100"),
    _def("willr", Window14Params, _period_less_one, inc.Willr, "Williams' %R, -100..0",
         inputs=HLC, group="momentum", reference="TA-Lib WILLR"),
    _def("midpoint", Window14Params, _period_less_one, inc.Midpoint,
         "midpoint of the highest and lowest close", group="overlap",
         reference="TA-Lib MIDPOINT"),
    _def("midprice", Window14Params, _period_less_one, inc.Midprice,
         "midpoint of the highest high and lowest low", inputs=HL, group="overlap",
         reference="TA-Lib MIDPRICE"),
    _def("medprice", NoIndicatorParams, _zero, inc.Medprice, "(high + low) / 2",
         inputs=HL, group="price", reference="TA-Lib MEDPRICE"),
    _def("typprice", NoIndicatorParams, _zero, inc.Typprice, "(high + low + close) / 3",
         inputs=HLC, group="price", reference="TA-Lib TYPPRICE"),
    _def("avgprice", NoIndicatorParams, _zero, inc.Avgprice, "(open + high + low + close) / 4",
         inputs=OHLC, group="price", reference="TA-Lib AVGPRICE"),
    _def("wclprice", NoIndicatorParams, _zero, inc.Wclprice, "(high + low + 2 close) / 4",
         inputs=HLC, group="price", reference="TA-Lib WCLPRICE"),
    _def("trange", NoIndicatorParams, lambda p: 1, inc.Trange, "true range",
         batch_name="trange_indicator", inputs=HLC, group="volatility",
         reference="TA-Lib TRANGE"),
    _def("natr", AtrParams, _period, inc.Natr, "ATR as a percentage of the close",
         inputs=HLC, group="volatility", reference="TA-Lib NATR"),
    _def("sum", WindowParams, _period_less_one, inc.Sum, "sum over the window",
         batch_name="rolling_sum", group="statistic", reference="TA-Lib SUM"),
    _def("max", WindowParams, _period_less_one, inc.Max, "highest value over the window",
         batch_name="rolling_max", group="statistic", reference="TA-Lib MAX"),
    _def("min", WindowParams, _period_less_one, inc.Min, "lowest value over the window",
         batch_name="rolling_min", group="statistic", reference="TA-Lib MIN"),
    _def("obv", NoIndicatorParams, _zero, inc.Obv, "on-balance volume",
         inputs=("close", "volume"), group="volume", reference="TA-Lib OBV"),
    _def("ad", NoIndicatorParams, _zero, inc.Ad, "Chaikin accumulation/distribution line",
         inputs=("high", "low", "close", "volume"), group="volume", reference="TA-Lib AD"),
)

BUILTIN_INDICATORS: tuple[IndicatorDef, ...] = (
    IndicatorDef(name="sma", batch=batch("sma"), incremental=inc.Sma,
                 params=SmaParams, lookback=lambda p: p.period - 1, group="overlap",
                 description="simple moving average", reference="TA-Lib SMA"),
    IndicatorDef(name="ema", batch=batch("ema"), incremental=inc.Ema,
                 params=SmaParams, lookback=lambda p: p.period - 1, group="overlap",
                 description="exponential moving average, seeded with the SMA",
                 reference="TA-Lib EMA"),
    IndicatorDef(name="wma", batch=batch("wma"), incremental=inc.Wma,
                 params=SmaParams, lookback=lambda p: p.period - 1, group="overlap",
                 description="linearly weighted moving average", reference="TA-Lib WMA"),
    IndicatorDef(name="rsi", batch=batch("rsi"), incremental=inc.Rsi,
                 params=PeriodParams, lookback=lambda p: p.period, group="momentum",
                 description="Wilder's relative strength index, 0-100", reference="TA-Lib RSI"),
    IndicatorDef(name="atr", batch=batch("atr"), incremental=inc.Atr,
                 params=AtrParams, lookback=lambda p: p.period, inputs=HLC, group="volatility",
                 description="Wilder's average true range", reference="TA-Lib ATR"),
    IndicatorDef(name="macd", batch=batch("macd"), incremental=inc.Macd,
                 params=MacdParams, lookback=lambda p: p.slow - 1 + p.signal - 1,
                 outputs=("macd", "signal", "hist"), group="momentum",
                 description="moving average convergence/divergence", reference="TA-Lib MACD"),
    IndicatorDef(name="bbands", batch=batch("bbands"), incremental=inc.Bbands,
                 params=BbandsParams, lookback=lambda p: p.period - 1,
                 outputs=("upper", "middle", "lower"), group="overlap",
                 description="Bollinger bands around an SMA", reference="TA-Lib BBANDS"),
    IndicatorDef(name="stoch", batch=batch("stoch"), incremental=inc.Stoch,
                 params=StochParams,
                 lookback=lambda p: p.k_period - 1 + p.k_smooth - 1 + p.d_period - 1,
                 inputs=HLC, outputs=("k", "d"), group="momentum",
                 description="slow stochastic oscillator", reference="TA-Lib STOCH"),
    IndicatorDef("adx", PeriodParams, lambda p: 2 * p.period - 1, inputs=HLC, group="momentum",
                 description="Wilder's average directional index", reference="TA-Lib ADX"),
    IndicatorDef("vwap", VwapParams, lambda p: (p.period or 1) - 1,
                 inputs=("high", "low", "close", "volume"), group="volume",
                 description="volume-weighted average of the typical price, per UTC day "
                             "or rolling", reference="TA-Lib VWAP (cumulative)"),
    *MORE_INDICATORS,
)
