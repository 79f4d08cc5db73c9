"""Definitions of the directional family: params, inputs, outputs, lookback.

Lookbacks are TA-Lib's, so warm-up planned from them matches the oracle's null
positions. No polars import here: `runner validate` stays light.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, model_validator

from runner.definitions import IndicatorDef
from runner.indicators.directional import incremental as inc
from runner.indicators.params import HL, HLC, AnyPeriod, Params, PeriodParams, define, period


def _directional(name: str, params: type[Params], lookback: Any, kernel: Any,
                 description: str, **kw: Any) -> IndicatorDef:
    return define(name, params, lookback, kernel, description, family="directional", **kw)


class DmParams(Params):
    """A window TA-Lib also accepts as 1 (the one-bar values, unsmoothed): the parts of
    ADX, and Vortex."""

    period: AnyPeriod = 14


def _dm_lookback(p: Any) -> int:
    return 1 if p.period == 1 else int(p.period) - 1


def _di_lookback(p: Any) -> int:
    return 1 if p.period == 1 else int(p.period)


class SarParams(Params):
    acceleration: Annotated[float, Field(
        ge=0.0, le=1.0, description="acceleration factor: its start and its step per new "
                                    "extreme")] = 0.02
    maximum: Annotated[float, Field(ge=0.0, le=1.0,
                                    description="cap on the acceleration factor")] = 0.2

    @model_validator(mode="after")
    def _acceleration_within_maximum(self) -> SarParams:
        if self.acceleration > self.maximum:
            raise ValueError(f"acceleration ({self.acceleration}) must not exceed maximum "
                             f"({self.maximum})")
        return self


class SarextParams(Params):
    start_value: Annotated[float, Field(
        description="0: start as `sar` does; > 0: start long with this SAR; < 0: start "
                    "short with a SAR of its magnitude")] = 0.0
    offset_on_reverse: Annotated[float, Field(
        ge=0.0, le=1.0, description="fraction the SAR is pushed away from price on each "
                                    "reversal")] = 0.0
    acceleration_init_long: Annotated[float, Field(
        ge=0.0, le=1.0, description="acceleration factor when a long trade starts")] = 0.02
    acceleration_long: Annotated[float, Field(
        ge=0.0, le=1.0, description="acceleration step per new high while long")] = 0.02
    acceleration_max_long: Annotated[float, Field(
        ge=0.0, le=1.0, description="cap on the acceleration factor while long")] = 0.2
    acceleration_init_short: Annotated[float, Field(
        ge=0.0, le=1.0, description="acceleration factor when a short trade starts")] = 0.02
    acceleration_short: Annotated[float, Field(
        ge=0.0, le=1.0, description="acceleration step per new low while short")] = 0.02
    acceleration_max_short: Annotated[float, Field(
        ge=0.0, le=1.0, description="cap on the acceleration factor while short")] = 0.2

    @model_validator(mode="after")
    def _accelerations_within_maximum(self) -> SarextParams:
        for side in ("long", "short"):
            cap = getattr(self, f"acceleration_max_{side}")
            for name in (f"acceleration_init_{side}", f"acceleration_{side}"):
                if getattr(self, name) > cap:
                    raise ValueError(f"{name} ({getattr(self, name)}) must not exceed "
                                     f"acceleration_max_{side} ({cap})")
        return self


class SupertrendParams(Params):
    period: Annotated[int, Field(ge=2, le=100_000, description="ATR window")] = 10
    multiplier: Annotated[float, Field(ge=0.0, le=100.0,
                                       description="band width in ATRs")] = 3.0


class VhfParams(Params):
    period: Annotated[int, Field(ge=2, le=100_000, description="bars in the window")] = 28


INDICATORS: tuple[IndicatorDef, ...] = (
    _directional("plus_dm", DmParams, _dm_lookback, inc.PlusDm,
                 "Wilder's smoothed plus directional movement (a running sum)",
                 inputs=HL, group="momentum", reference="TA-Lib PLUS_DM"),
    _directional("minus_dm", DmParams, _dm_lookback, inc.MinusDm,
                 "Wilder's smoothed minus directional movement (a running sum)",
                 inputs=HL, group="momentum", reference="TA-Lib MINUS_DM"),
    _directional("plus_di", DmParams, _di_lookback, inc.PlusDi,
                 "plus directional indicator, 0-100 (period 1: TA-Lib's bare 0-1 ratio)",
                 inputs=HLC, group="momentum", reference="TA-Lib PLUS_DI"),
    _directional("minus_di", DmParams, _di_lookback, inc.MinusDi,
                 "minus directional indicator, 0-100 (period 1: TA-Lib's bare 0-1 ratio)",
                 inputs=HLC, group="momentum", reference="TA-Lib MINUS_DI"),
    _directional("dx", PeriodParams, period, inc.Dx, "directional movement index, 0-100",
                 inputs=HLC, group="momentum", reference="TA-Lib DX"),
    _directional("adx", PeriodParams, lambda p: 2 * p.period - 1, inc.Adx,
                 "Wilder's average directional index, 0-100", inputs=HLC,
                 group="momentum", reference="TA-Lib ADX"),
    _directional("adxr", PeriodParams, lambda p: 3 * p.period - 2, inc.Adxr,
                 "ADX rating: mean of ADX now and period - 1 bars back", inputs=HLC,
                 group="momentum", reference="TA-Lib ADXR"),
    _directional("aroon", PeriodParams, period, inc.Aroon,
                 "Aroon up/down, 0-100: how recently the period's high/low was made",
                 inputs=HL, outputs=("up", "down"), group="momentum",
                 reference="TA-Lib AROON"),
    _directional("aroonosc", PeriodParams, period, inc.Aroonosc,
                 "Aroon oscillator: Aroon up minus Aroon down, -100..100", inputs=HL,
                 group="momentum", reference="TA-Lib AROONOSC"),
    _directional("sar", SarParams, lambda p: 1, inc.Sar,
                 "Wilder's parabolic stop and reverse (TA-Lib's bootstrap)", inputs=HL,
                 group="overlap", reference="TA-Lib SAR"),
    _directional("sarext", SarextParams, lambda p: 1, inc.Sarext,
                 "parabolic SAR with per-side acceleration, forced start and reversal "
                 "offset; negative while short, exactly as TA-Lib returns it",
                 inputs=HL, group="overlap", reference="TA-Lib SAREXT"),
    _directional("supertrend", SupertrendParams, period, inc.Supertrend,
                 "SuperTrend: ATR bands that ratchet with price; line and direction +1/-1",
                 inputs=HLC, outputs=("line", "direction"), group="overlap",
                 reference="TA-Lib SUPERTREND"),
    _directional("vortex", DmParams, period, inc.Vortex,
                 "Vortex indicator: +VI and -VI, vortex movement over true range",
                 inputs=HLC, outputs=("plus", "minus"), group="momentum",
                 reference="TA-Lib VORTEX"),
    _directional("vhf", VhfParams, period, inc.Vhf,
                 "vertical horizontal filter: trending (high) or ranging (low)",
                 group="momentum", reference="TA-Lib VHF"),
)
