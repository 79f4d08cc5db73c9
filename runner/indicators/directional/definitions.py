"""Definitions of this family: params, inputs, outputs, lookback (no polars import)."""

from __future__ import annotations

from runner.definitions import IndicatorDef

INDICATORS: tuple[IndicatorDef, ...] = ()
