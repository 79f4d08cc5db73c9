"""runner-example-plugin: registers one indicator and one expression function
through the same hooks runner's built-ins use."""

from __future__ import annotations

from collections.abc import Sequence

from runner import FunctionDef, IndicatorDef, hookimpl
from runner_example_plugin.functions import CLAMP
from runner_example_plugin.indicators import CHOP


@hookimpl
def register_indicators() -> Sequence[IndicatorDef]:
    return [CHOP]


@hookimpl
def register_functions() -> Sequence[FunctionDef]:
    return [CLAMP]
