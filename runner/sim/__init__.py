"""The built-in `sim` exchange: the simulated venue of backtest and paper mode.

It accepts every order type and option, so a strategy that validates against `sim`
is limited only by the language; a real venue narrows that with its capabilities.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from runner.definitions import Capabilities, ExchangeDef
from runner.hookspecs import hookimpl


class SimParams(BaseModel):
    """`venue.params` of `sim`: the random walk that paper mode trades on when there
    is no `--replay` (a newcomer's first paper run needs no network and no data)."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(0, description="Seed of the walk (each instrument its own).")
    start_price: Annotated[float, Field(gt=0, description="First price.")] = 100.0
    volatility: Annotated[float, Field(gt=0, description="Per square root of a day "
                                                         "(0.03: about 3% a day).")] = 0.03
    trades_per_second: Annotated[float, Field(gt=0, le=10_000,
                                              description="Mean trade rate.")] = 5.0


def _connect(params: SimParams | None, credentials: object = None) -> Any:
    """A `runner.sim.venue.SimVenue` (imported here: `validate` must not load it)."""
    from runner.sim.venue import connect

    return connect(params, credentials)


SIM = ExchangeDef(
    name="sim",
    params=SimParams,
    capabilities=Capabilities(streams=frozenset({"trades", "bars", "quotes"}), history=True,
                              trading=True, amend=False),
    connect=_connect,
    description="simulated matching engine (backtest and paper); every order type; "
                "paper mode without --replay trades a seeded random walk",
)


@hookimpl
def register_exchanges() -> Sequence[ExchangeDef]:
    return (SIM,)
