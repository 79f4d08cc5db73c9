"""The built-in catalogue: every family's definitions, in one tuple.

A family is a subpackage of `runner.indicators` with a `definitions` module (params,
inputs, outputs, lookback; no polars import, so `runner validate` stays light), a
`batch` module (polars expressions) and an `incremental` module (pure-Python O(1)
kernels), plus `kernels` (numba, cached) where the maths is sequential.
"""

from __future__ import annotations

from runner.definitions import IndicatorDef
from runner.indicators.averages.definitions import INDICATORS as AVERAGES
from runner.indicators.channels.definitions import INDICATORS as CHANNELS
from runner.indicators.core.definitions import INDICATORS as CORE
from runner.indicators.cycle.definitions import INDICATORS as CYCLE
from runner.indicators.directional.definitions import INDICATORS as DIRECTIONAL
from runner.indicators.oscillators.definitions import INDICATORS as OSCILLATORS
from runner.indicators.patterns.definitions import INDICATORS as PATTERNS
from runner.indicators.statistic.definitions import INDICATORS as STATISTIC
from runner.indicators.volume.definitions import INDICATORS as VOLUME

BUILTIN_INDICATORS: tuple[IndicatorDef, ...] = (
    *CORE, *AVERAGES, *DIRECTIONAL, *OSCILLATORS, *VOLUME, *CHANNELS, *STATISTIC, *CYCLE,
    *PATTERNS,
)
