"""The strategy's signals and order rules planned for the stepper, once, for every mode.

The backtest (`runner.engine.backtest.prepare`) and the streaming runtime
(`runner.runtime.session`) plan a strategy the same way, here, so they hand the
`Stepper` the same rules, the same state-using signals and the same columns: the
backtest computes those columns over the whole frame with polars, the runtime one
row at a time with their per-bar forms (`runner.engine.row_columns`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from runner.compile.graph import Graph
from runner.config.models import OrderRule, Strategy
from runner.config.validate import Validated
from runner.engine.plan import Expression, Planner
from runner.engine.simulate import EXIT_KEYS, SIZE_MODES, RulePlan
from runner.expr.ast import Name, walk
from runner.expr.scope import SignalRef
from runner.sim.orders import InstrumentSpec


@dataclass(frozen=True, slots=True)
class StrategyPlan:
    """What the stepper runs: see the module docstring."""

    planner: Planner
    """Holds the scheduled columns (`pending` for polars, `trees` for per-bar)."""
    signal_order: tuple[str, ...]
    """Every signal, each after the signals it reads."""
    free_signals: tuple[str, ...]
    """State-free signals, in `signal_order`: wide columns `SYMBOL.name`."""
    stateful: list[tuple[str, str, Expression]]
    rules: list[RulePlan]
    pairs: list[tuple[int, str]]
    masks: list[pl.Expr]
    """Per pair, where its rule may fire (`Planner.possible` and the bar is fresh)."""
    continuous: bool
    """Some per-bar expression keeps history: every bar must be visited."""


def signal_batches(plan: StrategyPlan) -> list[tuple[str, ...]]:
    """The state-free signals in `signal_order`, cut into runs in which no signal
    reads another of its run: each run can be computed in one pass over the frame
    (where polars shares the sub-expressions its signals have in common, such as
    `fast` and `slow` read by both `crosses_above(fast, slow)` and `crosses_below`)."""
    batches: list[tuple[str, ...]] = []
    current: list[str] = []
    for name in plan.free_signals:
        reads = {n.ref.name for n in walk(plan.planner.tree(("signals", name)))
                 if isinstance(n, Name) and isinstance(n.ref, SignalRef)}
        if reads.intersection(current):
            batches.append(tuple(current))
            current = []
        current.append(name)
    if current:
        batches.append(tuple(current))
    return batches


def rule_label(rule: OrderRule, index: int) -> str:
    return rule.name or f"orders[{index}]"


def _size_mode(rule: OrderRule) -> str | None:
    if rule.size is None:
        return None
    return next((m for m in SIZE_MODES if getattr(rule.size, m) is not None), None)


def strategy_params(strategy: Strategy) -> dict[str, float]:
    """The numeric `params:` (the ones expressions read)."""
    return {k: float(v) for k, v in strategy.params.items()
            if isinstance(v, int | float) and not isinstance(v, bool)}


def plan_strategy(validated: Validated, graph: Graph, symbols: Sequence[str],
                  params: Mapping[str, float]) -> StrategyPlan:
    """Plan every signal and order rule of `validated` for `symbols`."""
    strategy = validated.strategy
    assert strategy is not None
    signal_order = [n.name for n in graph.nodes
                    if n.kind == "signal" and n.name in strategy.signals]
    signal_order += [n for n in strategy.signals if n not in signal_order]
    planner = Planner(validated, signal_order, params)
    free = tuple(n for n in signal_order if n not in planner.stateful_signals)
    stateful = [(name, s, planner.expression(("signals", name), s))
                for name in signal_order if name in planner.stateful_signals for s in symbols]
    rules: list[RulePlan] = []
    pairs: list[tuple[int, str]] = []
    masks: list[pl.Expr] = []
    for r, rule in enumerate(strategy.orders):
        scope = tuple(rule.instruments or symbols)
        keys = ["when", "price", "trigger", *EXIT_KEYS, *SIZE_MODES]
        paths: dict[str, tuple[str | int, ...]] = {"when": ("orders", r, "when")}
        paths.update({k: ("orders", r, k) for k in ("price", "trigger", *EXIT_KEYS)})
        paths.update({k: ("orders", r, "size", k) for k in SIZE_MODES})
        exprs = {(k, s): planner.expression(paths[k], s) for k in keys for s in scope
                 if paths[k] in validated.expressions}
        rules.append(RulePlan(r, rule, rule_label(rule, r), scope, exprs, _size_mode(rule)))
        for s in scope:
            pairs.append((r, s))
            possible = planner.possible(paths["when"], s)
            fresh = pl.col(f"{s}.fresh")
            masks.append(fresh if possible is None else possible & fresh)
    continuous = any(ex.history for _, _, ex in stateful) or any(
        ex.history for plan in rules for ex in plan.exprs.values())
    return StrategyPlan(planner, tuple(signal_order), free, stateful, rules, pairs, masks,
                        continuous)


def instrument_specs(strategy: Strategy) -> dict[str, InstrumentSpec]:
    return {s: InstrumentSpec(tick_size=inst.tick_size, lot_size=inst.lot_size,
                              min_notional=inst.min_notional,
                              multiplier=inst.multiplier or 1.0)
            for s, inst in strategy.instruments.items()}


__all__ = ["StrategyPlan", "instrument_specs", "plan_strategy", "rule_label",
           "signal_batches", "strategy_params"]
