"""runner: a declarative strategy runner.

The public facade: the `hookimpl` marker plugins decorate their hooks with, the
definition records they return, and the error types. Everything else is reached
through its module (`runner.config`, `runner.expr`, ...).
"""

from runner._version import __version__
from runner.definitions import (
    Capabilities,
    DataSourceDef,
    ExchangeDef,
    FunctionDef,
    FunctionParam,
    IndicatorDef,
    NoParams,
)
from runner.errors import (
    ConfigError,
    ExchangeError,
    FatalExchangeError,
    InternalError,
    PluginError,
    RiskLimitBreached,
    RunnerError,
    TransientExchangeError,
    UsageError,
)
from runner.expr.types import ValueType
from runner.hookspecs import hookimpl

__all__ = [
    "Capabilities",
    "ConfigError",
    "DataSourceDef",
    "ExchangeDef",
    "ExchangeError",
    "FatalExchangeError",
    "FunctionDef",
    "FunctionParam",
    "IndicatorDef",
    "InternalError",
    "NoParams",
    "PluginError",
    "RiskLimitBreached",
    "RunnerError",
    "TransientExchangeError",
    "UsageError",
    "ValueType",
    "__version__",
    "hookimpl",
]
