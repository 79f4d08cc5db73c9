"""The built-in indicators, registered through the same hook a third party uses."""

from __future__ import annotations

from collections.abc import Sequence

from runner.definitions import IndicatorDef
from runner.hookspecs import hookimpl
from runner.indicators.catalog import BUILTIN_INDICATORS


@hookimpl
def register_indicators() -> Sequence[IndicatorDef]:
    return BUILTIN_INDICATORS
