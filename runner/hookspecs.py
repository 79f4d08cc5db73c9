"""Every hook a `runner` plugin can implement.

Hooks are synchronous and called once when the plugin manager builds its registry
(see `runner.plugins.build_registry`); the engine owns all async life. Each
`register_*` hook returns a sequence of definitions keyed by a unique `name`; two
plugins that claim one name are reported as an error that names both.

Phase: registration (when any command starts)
    register_indicators   -> Sequence[IndicatorDef]
    register_exchanges    -> Sequence[ExchangeDef]
    register_data_sources -> Sequence[DataSourceDef]
    register_functions    -> Sequence[FunctionDef]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from runner.definitions import DataSourceDef, ExchangeDef, FunctionDef, IndicatorDef

PROJECT = "runner"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_indicators() -> Sequence[IndicatorDef]:  # type: ignore[empty-body]
    """Indicators this plugin adds to the `indicators:` block's `type` catalogue."""


@hookspec
def register_exchanges() -> Sequence[ExchangeDef]:  # type: ignore[empty-body]
    """Venues this plugin adds, named by `venue.exchange`."""


@hookspec
def register_data_sources() -> Sequence[DataSourceDef]:  # type: ignore[empty-body]
    """Stored-bar sources this plugin adds, named by `data.source`."""


@hookspec
def register_functions() -> Sequence[FunctionDef]:  # type: ignore[empty-body]
    """Functions this plugin adds to the expression language."""
