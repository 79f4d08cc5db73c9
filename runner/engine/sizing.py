"""Order sizing (DESIGN §3 "Sizing"): from a `size:` block to a quantity in base units.

Decisions:

- The `Size` model holds *expressions*; `SizeSpec.from_model` takes a callback that
  evaluates them, so this module needs no expression engine and stays pure.
- Modes, with `m` the instrument's multiplier:
  - `quantity`: base units (contracts), as given;
  - `notional`: `notional / (price * m)`;
  - `equity_pct`: `equity * pct / 100 / (price * m)`;
  - `risk_pct`: `equity * pct / 100 / (|price - stop_price| * m)` — losing exactly
    `pct` % of equity if the stop fills at its price (DESIGN §3).
  `position_pct` is not a mode of the `Size` model (format version 1), so it is not
  offered; `action: close` with `fraction` covers sizing against a position.
- The result is rounded DOWN to lot (`round_quantity`, never more than asked), then
  dropped with a reason if it is zero lots or under `min_notional` at `price`
  (`min_notional_reason`), exactly as `runner.sim.orders.conform` would.
- Impossible inputs are drops with a reason, not exceptions: a non-positive value,
  non-positive equity (for the equity modes), a non-positive price (for the price
  modes), `risk_pct` without a stop or with the stop at the entry price. A NaN or
  infinite input (a null expression) is also a drop.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from runner.config.models import Size
from runner.sim.orders import InstrumentSpec, min_notional_reason, round_quantity

SizeMode = Literal["quantity", "notional", "equity_pct", "risk_pct"]
SIZE_MODES: tuple[SizeMode, ...] = ("quantity", "notional", "equity_pct", "risk_pct")


@dataclass(frozen=True, slots=True)
class SizeSpec:
    """One sizing mode with its evaluated value."""

    mode: SizeMode
    value: float

    @classmethod
    def from_model(cls, size: Size, evaluate: Callable[[str], float]) -> SizeSpec:
        """The spec of `size` (whose one set mode lint has checked), its expression
        evaluated by `evaluate`."""
        for mode in SIZE_MODES:
            expr = getattr(size, mode)
            if expr is not None:
                return cls(mode, float(evaluate(expr)))
        raise ValueError("size block sets no sizing mode")


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


def raw_quantity(size: SizeSpec, equity: float, price: float, stop_price: float | None,
                 multiplier: float = 1.0) -> float | str:
    """The unrounded quantity of `size`, or why there is none."""
    v = size.value
    if not _finite(v) or v <= 0:
        return f"{size.mode} must be a positive number, got {v:g}"
    if size.mode == "quantity":
        return v
    if not _finite(price) or price <= 0:
        return f"{size.mode} sizing needs a positive price, got {price:g}"
    if size.mode == "notional":
        return v / (price * multiplier)
    if not _finite(equity) or equity <= 0:
        return f"{size.mode} sizing needs positive equity, got {equity:g}"
    budget = equity * v / 100.0
    if size.mode == "equity_pct":
        return budget / (price * multiplier)
    if stop_price is None or not _finite(stop_price):
        return "risk_pct sizing needs a stop_loss price"
    distance = abs(price - stop_price)
    if distance == 0:
        return "risk_pct sizing: stop_loss equals the entry price"
    return budget / (distance * multiplier)


def size_order(size: SizeSpec, equity: float, price: float, stop_price: float | None,
               spec: InstrumentSpec) -> float | str:
    """Quantity in base units for an order at `price` (its limit, trigger or the
    reference price for a market order), rounded down to lot; or the reason the order
    is dropped."""
    qty = raw_quantity(size, equity, price, stop_price, spec.multiplier)
    if isinstance(qty, str):
        return qty
    qty = round_quantity(qty, spec.lot_size)
    reason = min_notional_reason(price, qty, spec)
    return qty if reason is None else reason
