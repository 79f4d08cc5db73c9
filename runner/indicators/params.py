"""Param models shared by the indicator families.

The parameter names are the strategy language's (`period`, `fast`, `slow`,
`signal`), not TA-Lib's (`timeperiod`, `fastperiod`), because traders write them by
hand. Every model forbids unknown keys, so a typo is an error with a suggestion.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from runner.definitions import IndicatorDef
from runner.indicators.lazy import batch

Period = Annotated[int, Field(ge=2, le=100_000, description="bars in the window")]
AnyPeriod = Annotated[int, Field(ge=1, le=100_000, description="bars in the window")]

HLC = ("high", "low", "close")
HL = ("high", "low")
OHLC = ("open", "high", "low", "close")
HLCV = ("high", "low", "close", "volume")


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoIndicatorParams(Params):
    """Indicators without params (price transforms, cumulative lines)."""


class PeriodParams(Params):
    period: Period = 14


class FastSlowParams(Params):
    """Two windows where the slow one must be longer (APO, PPO, ADOSC, ...)."""

    fast: Period = 12
    slow: Period = 26

    @field_validator("slow")
    @classmethod
    def _slow_above_fast(cls, slow: int, info: ValidationInfo) -> int:
        fast = info.data.get("fast")
        if fast is not None and slow <= fast:
            raise ValueError(f"slow ({slow}) must be longer than fast ({fast})")
        return slow


def define(name: str, params: type[Params], lookback: Callable[[Any], int], kernel: Any,
           description: str, *, family: str, group: str, reference: str,
           batch_name: str | None = None, inputs: tuple[str, ...] = ("close",),
           outputs: tuple[str, ...] = ("value",)) -> IndicatorDef:
    """An indicator of `runner.indicators.<family>`: its batch form is the function
    `batch_name or name` of that family's `batch` module, imported on first use."""
    return IndicatorDef(name=name, params=params, lookback=lookback, inputs=inputs,
                        outputs=outputs, group=group, description=description,
                        reference=reference,
                        batch=batch(batch_name or name, f"runner.indicators.{family}.batch"),
                        incremental=kernel)


def period(p: Any) -> int:
    return int(p.period)


def period_less_one(p: Any) -> int:
    return int(p.period) - 1


def zero(p: Any) -> int:
    return 0

