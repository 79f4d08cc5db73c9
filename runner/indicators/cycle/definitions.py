"""Definitions of this family: params, inputs, outputs, lookback (no polars import).

The lookbacks are TA-Lib's fixed ones with its default unstable period of zero: 63
bars for the indicators built on the dominant-cycle phase or trendline, 32 for those
that read the Hilbert components or the period directly (and MAMA).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, ValidationInfo, field_validator

from runner.definitions import IndicatorDef
from runner.indicators.cycle import incremental as inc
from runner.indicators.params import NoIndicatorParams, Params, define


class MamaParams(Params):
    fast_limit: Annotated[float, Field(ge=0.01, le=0.99,
                                       description="largest EMA factor, used when the "
                                                   "cycle phase stalls")] = 0.5
    slow_limit: Annotated[float, Field(ge=0.01, le=0.99,
                                       description="smallest EMA factor, the floor when "
                                                   "the phase moves fast")] = 0.05

    @field_validator("slow_limit")
    @classmethod
    def _slow_below_fast(cls, slow: float, info: ValidationInfo) -> float:
        fast = info.data.get("fast_limit")
        if fast is not None and slow >= fast:
            raise ValueError(f"slow_limit ({slow}) must be below fast_limit ({fast})")
        return slow


def _short(p: Any) -> int:
    return inc.SHORT_LOOKBACK


def _long(p: Any) -> int:
    return inc.LONG_LOOKBACK


def _cycle(name: str, params: type[Params], lookback: Any, kernel: Any, description: str,
           **kw: Any) -> IndicatorDef:
    return define(name, params, lookback, kernel, description, family="cycle", **kw)


INDICATORS: tuple[IndicatorDef, ...] = (
    _cycle("ht_trendline", NoIndicatorParams, _long, inc.HtTrendline,
           "Ehlers' instantaneous trendline: price averaged over the dominant cycle",
           group="overlap", reference="TA-Lib HT_TRENDLINE"),
    _cycle("ht_dcperiod", NoIndicatorParams, _short, inc.HtDcperiod,
           "dominant cycle period in bars (Hilbert transform)", group="cycle",
           reference="TA-Lib HT_DCPERIOD"),
    _cycle("ht_dcphase", NoIndicatorParams, _long, inc.HtDcphase,
           "dominant cycle phase in degrees, -45..315", group="cycle",
           reference="TA-Lib HT_DCPHASE"),
    _cycle("ht_phasor", NoIndicatorParams, _short, inc.HtPhasor,
           "Hilbert transform phasor: in-phase and quadrature components",
           outputs=("inphase", "quadrature"), group="cycle", reference="TA-Lib HT_PHASOR"),
    _cycle("ht_sine", NoIndicatorParams, _long, inc.HtSine,
           "sine of the dominant cycle phase and the sine 45 degrees ahead",
           outputs=("sine", "leadsine"), group="cycle", reference="TA-Lib HT_SINE"),
    _cycle("ht_trendmode", NoIndicatorParams, _long, inc.HtTrendmode,
           "1.0 when the market trends, 0.0 when it cycles (Hilbert transform)",
           group="cycle", reference="TA-Lib HT_TRENDMODE"),
    _cycle("mama", MamaParams, _short, inc.Mama,
           "MESA adaptive moving average and its following average (FAMA)",
           outputs=("mama", "fama"), group="overlap", reference="TA-Lib MAMA"),
)
