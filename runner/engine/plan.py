"""Which parts of the strategy's expressions run over whole columns, and which per bar.

An expression that reads no run-time state (`position`, `entry_price`, `equity`,
`cash`, `bar_index`, or a signal that does) is one polars column over the whole
frame (`runner.engine.expressions.to_polars`). One that does is split: every
maximal state-free sub-tree of it is *hoisted* into a column too, and only the
state-dependent skeleton left over is evaluated per bar (`compile_per_bar` with
`hoisted`), reading those columns. `crosses_above(fast, slow) and position == 0`
becomes the column `crosses_above(fast, slow)` and the per-bar `H and position == 0`.

A skeleton that keeps history of its own (a window function or a plugin function
over state, `prev(position, 1)`) must be stepped on every bar; every other one
gives the same value whenever it is evaluated, which is what lets the backtest
visit only the bars where something can happen.

`possible(...)` is the other half of that: a Boolean column that is true wherever
a `when` could be true (its state-free conjuncts; all bars when it cannot tell).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from runner.config.loader import KeyPath
from runner.config.validate import Validated
from runner.engine.expressions import BATCH_STATE, ColumnNames, default_column, to_polars
from runner.engine.frames import CLOSE_TIME
from runner.engine.per_bar import PerBarExpr, compile_per_bar
from runner.expr.ast import Bool, Call, Expr, Logical, Name, Number, String, children, walk
from runner.expr.scope import ParamRef, Ref, SignalRef, StateRef
from runner.expr.types import ValueType

WINDOWED = frozenset({"prev", "change", "pct_change", "highest", "lowest", "rising",
                      "falling", "crosses_above", "crosses_below", "bars_since"})
"""Built-in functions whose per-bar form keeps history."""


@dataclass(slots=True)
class Expression:
    """One expression of the file for one instrument: a column, or a per-bar skeleton."""

    column: str | None
    """The wide column holding its value on every bar (state-free expressions)."""
    per_bar: PerBarExpr | None
    reads: tuple[tuple[str, str], ...]
    """`(values key, source)` the skeleton reads: a column name, or for a state-using
    signal `SIGNAL\\x00SYMBOL`, looked up in the run's per-bar signal values."""
    history: bool
    """The skeleton keeps history: it must be stepped on every bar."""


def signal_key(name: str, symbol: str) -> str:
    return f"{name}\x00{symbol}"


class Planner:
    """Plans every expression of one strategy over one wide frame (see module doc)."""

    def __init__(self, validated: Validated, signal_order: Sequence[str],
                 params: Mapping[str, float]) -> None:
        """`signal_order`: the signals, each after the signals it reads."""
        self.validated = validated
        self.params = params
        self.stateful_signals: set[str] = set()
        self.pending: dict[str, pl.Expr] = {}
        self.made: set[str] = set()
        """Every column `column` scheduled, computed or not yet."""
        self.trees: dict[str, tuple[Expr, dict[Ref, str]]] = {}
        """Every scheduled column's tree and the wide columns its names read, in the
        order scheduled: what `runner.engine.row_columns` steps one row at a time."""
        for name in signal_order:
            if self.is_stateful(self.tree(("signals", name))):
                self.stateful_signals.add(name)

    # -- trees -------------------------------------------------------------------------

    def tree(self, path: KeyPath) -> Expr:
        checked = self.validated.expressions[path]
        assert checked.tree is not None
        return checked.tree

    def is_stateful(self, node: Expr) -> bool:
        for n in walk(node):
            if isinstance(n, Name):
                ref = n.ref
                if isinstance(ref, StateRef) and ref.name not in BATCH_STATE:
                    return True
                if isinstance(ref, SignalRef) and ref.name in self.stateful_signals:
                    return True
        return False

    def _columns(self, node: Expr, symbol: str) -> dict[Ref, str]:
        out: dict[Ref, str] = {}
        for n in walk(node):
            if isinstance(n, Name) and n.ref is not None and not isinstance(
                    n.ref, ParamRef | StateRef):
                ref = n.ref
                col = default_column(ref)
                out[ref] = col if getattr(ref, "instrument", None) else f"{symbol}.{col}"
        return out

    def column(self, node: Expr, symbol: str, name: str) -> str:
        """Schedule the state-free `node` as the column `name`."""
        if name not in self.made:
            overrides = self._columns(node, symbol)
            names = ColumnNames(params=self.params, time=CLOSE_TIME, overrides=overrides)
            self.pending[name] = to_polars(node, names).alias(name)
            self.trees[name] = (node, overrides)
            self.made.add(name)
        return name

    # -- plans -------------------------------------------------------------------------

    def expression(self, path: KeyPath, symbol: str) -> Expression:
        tree = self.tree(path)
        label = "/".join(str(p) for p in path)
        if not self.is_stateful(tree):
            return Expression(self.column(tree, symbol, f"{symbol}.\x00{label}"), None, (),
                              False)
        hoisted: dict[int, str] = {}
        reads: dict[str, str] = {}
        history = False
        stack = [tree]
        while stack:
            node = stack.pop()
            if not self.is_stateful(node):
                if isinstance(node, Number | Bool | String) or (
                        isinstance(node, Name) and isinstance(node.ref, ParamRef)):
                    continue
                col = self.column(node, symbol, f"{symbol}.\x00{label}\x00{len(hoisted)}")
                hoisted[id(node)] = col
                reads[col] = col
                continue
            if isinstance(node, Call) and (node.func in WINDOWED or (
                    node.fn is not None and node.fn.incremental is not None)):
                history = True
            if isinstance(node, Name) and isinstance(node.ref, SignalRef):
                ref = node.ref
                reads[default_column(ref)] = signal_key(ref.name, ref.instrument or symbol)
            stack.extend(children(node))
        per_bar = compile_per_bar(tree, self.params, hoisted)
        return Expression(None, per_bar, tuple(reads.items()), history)

    def possible(self, path: KeyPath, symbol: str) -> pl.Expr | None:
        """A Boolean expression true wherever the BOOL expression at `path` could be
        true for `symbol`, or None when that may be anywhere. A state-free expression
        planned as a column (`expression`) is read from that column, not computed
        again: evaluate the result over the wide frame joined with `compute`'s."""
        tree = self.tree(path)
        label = "/".join(str(p) for p in path)
        name = f"{symbol}.\x00{label}"
        if not self.is_stateful(tree) and name in self.made:
            return pl.col(name)
        return self._possible(tree, symbol, label)

    def _possible(self, node: Expr, symbol: str, label: str) -> pl.Expr | None:
        if node.type is not ValueType.BOOL:
            return None
        if not self.is_stateful(node):
            names = ColumnNames(params=self.params, time=CLOSE_TIME,
                                overrides=self._columns(node, symbol))
            return to_polars(node, names)
        if isinstance(node, Logical):
            left = self._possible(node.left, symbol, label)
            right = self._possible(node.right, symbol, label)
            if node.op == "and":
                if left is None:
                    return right
                return left if right is None else left & right
            return None if left is None or right is None else left | right
        if isinstance(node, Name) and isinstance(node.ref, SignalRef):
            ref = node.ref
            return self._possible(self.tree(("signals", ref.name)),
                                  ref.instrument or symbol, label)
        return None

    def signal_tree(self, name: str, symbol: str) -> tuple[Expr, dict[Ref, str]]:
        """The state-free signal `name` of `symbol`: its tree and the wide columns it
        reads (what `signal_column` computes, for a per-bar evaluation)."""
        tree = self.tree(("signals", name))
        return tree, self._columns(tree, symbol)

    def signal_column(self, name: str, symbol: str) -> pl.Expr:
        """The state-free signal `name` of `symbol` as the wide column `SYMBOL.name`."""
        tree = self.tree(("signals", name))
        names = ColumnNames(params=self.params, time=CLOSE_TIME,
                            overrides=self._columns(tree, symbol))
        return to_polars(tree, names).alias(f"{symbol}.{name}")

    def compute(self, wide: pl.DataFrame) -> Columns:
        """Evaluate every scheduled column in one pass, lazily: an eager `select` runs
        without polars' optimizations, so the sub-expressions columns share (the same
        indicator read by several rules) would be computed once per use."""
        frame = (wide.lazy().select(list(self.pending.values())).collect(engine="in-memory")
                 if self.pending else pl.DataFrame())
        self.pending = {}
        return Columns(frame)


class Columns(Mapping[str, list[Any]]):
    """Computed columns as Python lists (fast to index one row at a time), each
    converted on first use: the loop never reads most of them."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self._frame = frame
        self._lists: dict[str, list[Any]] = {}

    @property
    def frame(self) -> pl.DataFrame:
        """The computed columns as one frame (rows of the wide frame)."""
        return self._frame

    def __getitem__(self, name: str) -> list[Any]:
        found = self._lists.get(name)
        if found is None:
            if name not in self._frame.columns:
                raise KeyError(name)
            found = self._lists[name] = self._frame[name].to_list()
        return found

    def gather(self, name: str, rows: np.ndarray) -> list[Any]:
        """The column's values at `rows` only, without converting the whole column."""
        found = self._lists.get(name)
        if found is not None:
            return [found[i] for i in rows.tolist()]
        return self._frame[name].gather(rows).to_list()

    def __iter__(self) -> Iterator[str]:
        return iter(self._frame.columns)

    def __len__(self) -> int:
        return self._frame.width


__all__ = ["WINDOWED", "Columns", "Expression", "Planner", "signal_key"]
