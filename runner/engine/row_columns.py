"""The planned columns of a strategy, computed one row at a time.

The backtest computes the state-free signals and every column the `Planner` scheduled
over the whole wide frame with polars. The streaming runtime gets its rows one at a
time (`runner.engine.rows.RowBuilder`) and computes the same columns with their
per-bar forms (`compile_per_bar`), which give the polars column's value, row for row
(`runner.engine.per_bar`'s contract) — so the `Stepper` reads the same values in
both modes. Windowed functions keep their history, so every row is stepped,
warm-up rows included, exactly as the batch form sees every row.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

from runner.engine.frames import CLOSE_TIME
from runner.engine.per_bar import PerBarExpr, compile_per_bar
from runner.engine.strategy_plan import StrategyPlan
from runner.expr.ast import Expr, Name, walk
from runner.expr.scope import Ref, StateRef


class RowColumns:
    """Adds the state-free signals (`SYMBOL.name`) and every scheduled column to a
    row, in the order the batch form computes them (signals first, in signal order,
    since later columns read them)."""

    def __init__(self, plan: StrategyPlan, symbols: Sequence[str],
                 params: Mapping[str, float]) -> None:
        planner = plan.planner
        trees: list[tuple[str, Expr, dict[Ref, str]]] = [
            (f"{s}.{name}", *planner.signal_tree(name, s))
            for name in plan.free_signals for s in symbols]
        trees += [(name, tree, reads) for name, (tree, reads) in planner.trees.items()]
        self._steps: list[tuple[str, PerBarExpr]] = [
            (name, compile_per_bar(tree, params, _reads_of_row(tree, reads)))
            for name, tree, reads in trees]
        self.names = tuple(name for name, _ in self._steps)

    def add(self, row: MutableMapping[str, Any]) -> None:
        """Compute this row's columns into `row` (which holds the wide frame's row)."""
        empty: dict[str, Any] = {}
        for name, expr in self._steps:
            row[name] = expr.step(row, empty)


def _reads_of_row(tree: Expr, reads: Mapping[Ref, str]) -> dict[int, str]:
    """Every name of `tree` that reads a column, pointed at its wide column (the
    batch form's `overrides`), and `time` at the row's close time, so each step reads
    the row itself: no per-row dict of values is built."""
    out: dict[int, str] = {}
    for node in walk(tree):
        if isinstance(node, Name) and node.ref is not None:
            column = reads.get(node.ref)
            if column is not None:
                out[id(node)] = column
            elif isinstance(node.ref, StateRef) and node.ref.name == "time" \
                    and node.ref.instrument is None:
                out[id(node)] = CLOSE_TIME
    return out


__all__ = ["RowColumns"]
