"""The built-in `sim` exchange: the simulated venue of backtest and paper mode.

It accepts every order type and option, so a strategy that validates against `sim`
is limited only by the language; a real venue narrows that with its capabilities.
"""

from __future__ import annotations

from collections.abc import Sequence

from runner.definitions import Capabilities, ExchangeDef
from runner.hookspecs import hookimpl

SIM = ExchangeDef(
    name="sim",
    capabilities=Capabilities(),
    description="simulated matching engine (backtest and paper); every order type",
)


@hookimpl
def register_exchanges() -> Sequence[ExchangeDef]:
    return (SIM,)
