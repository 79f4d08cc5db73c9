"""Definitions of this family: params, inputs, outputs, lookback (no polars import).

The candle patterns take no params: TA-Lib's candle settings (the yardsticks for
"short", "long", "near") are fixed at its defaults, which is what the lookbacks below
are computed from.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from runner.definitions import IndicatorDef
from runner.indicators.params import (
    HLC,
    OHLC,
    AnyPeriod,
    FastSlowParams,
    NoIndicatorParams,
    Params,
    Period,
    define,
)
from runner.indicators.patterns import incremental as inc


def _patterns(name: str, params: type[Params], lookback: Any, kernel: Any, description: str,
              *, group: str = "pattern", **kw: Any) -> IndicatorDef:
    return define(name, params, lookback, kernel, description, family="patterns",
                  group=group, **kw)


def _fixed(n: int) -> Any:
    return lambda p: n


class FvgParams(Params):
    min_size: Annotated[float, Field(ge=0, le=1, description=(
        "smallest gap that counts, as a fraction of the close (0.001 = 10 bp); "
        "0 takes every gap"))] = 0.0


class OrderBlockParams(Params):
    period: AnyPeriod = 14
    multiplier: Annotated[float, Field(ge=0, le=100, description=(
        "the breaking close must be this many ATRs beyond the candle's far end"))] = 2.0


class WaeParams(FastSlowParams):
    fast: Period = 20
    slow: Period = 40
    sensitivity: Annotated[float, Field(gt=0, le=1e6, description=(
        "multiplier of the one-bar change of the MACD line"))] = 150.0
    bb_period: Period = 20
    bb_stddev: Annotated[float, Field(gt=0, le=100, description=(
        "Bollinger band width in deviations"))] = 2.0
    dead_zone_period: Annotated[int, Field(ge=1, le=100_000, description=(
        "ATR window of the dead zone"))] = 100
    dead_zone_multiplier: Annotated[float, Field(gt=0, le=1000, description=(
        "dead zone = ATR x this"))] = 3.7


INDICATORS: tuple[IndicatorDef, ...] = (
    _patterns("doji", NoIndicatorParams, _fixed(inc.DOJI_LOOKBACK), inc.Doji,
              "doji: 100 when the body is at most a tenth of the mean range of the "
              "last 10 bars", inputs=OHLC, reference="TA-Lib CDLDOJI"),
    _patterns("hammer", NoIndicatorParams, _fixed(inc.HAMMER_LOOKBACK), inc.Hammer,
              "hammer: 100 on a short body with a long lower shadow near the prior low",
              inputs=OHLC, reference="TA-Lib CDLHAMMER"),
    _patterns("shooting_star", NoIndicatorParams, _fixed(inc.SHOOTING_STAR_LOOKBACK),
              inc.ShootingStar,
              "shooting star: -100 on a short body gapping up with a long upper shadow",
              inputs=OHLC, reference="TA-Lib CDLSHOOTINGSTAR"),
    _patterns("engulfing", NoIndicatorParams, _fixed(inc.ENGULFING_LOOKBACK), inc.Engulfing,
              "engulfing: +-100 when the body engulfs the prior opposite one, +-80 when "
              "they share an end", inputs=OHLC, reference="TA-Lib CDLENGULFING"),
    _patterns("fvg", FvgParams, _fixed(2), inc.Fvg,
              "fair value gap: a three-bar gap, its edges while open, and its first "
              "touch", inputs=HLC,
              outputs=("bullish", "bearish", "size", "top", "bottom", "mitigated"),
              reference="ICT fair value gap (no TA-Lib equivalent)"),
    _patterns("order_block", OrderBlockParams, lambda p: int(p.period) + 1, inc.OrderBlock,
              "order block: the last opposite candle before an ATR-sized break, and its "
              "first retest", inputs=OHLC,
              outputs=("bullish", "bearish", "top", "bottom", "mitigated"),
              reference="ICT order block (no TA-Lib equivalent)"),
    _patterns("wae", WaeParams, inc.wae_lookback, inc.Wae,
              "Waddah Attar explosion: MACD momentum against Bollinger width and an ATR "
              "dead zone", inputs=HLC, outputs=("up", "down", "explosion", "dead_zone"),
              group="momentum", reference="LazyBear's Waddah Attar explosion (no TA-Lib "
              "equivalent)"),
)
