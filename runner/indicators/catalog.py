"""Definitions of the built-in indicators: params, inputs, outputs, lookback.

Lookbacks are TA-Lib's, so warm-up planned from them matches the oracle's null
positions. The parameter names are the strategy language's (`fast`, `slow`,
`signal`), not TA-Lib's (`fastperiod`), because traders write them by hand.
"""

from __future__ import annotations

from typing import Annotated

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


HLC = ("high", "low", "close")

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
)
