"""The expression tree: what `parse` builds, `check` annotates and the engine runs.

Reading guide for whoever evaluates these trees.

Nodes are frozen, slotted dataclasses. The union `Expr` lists every node that
can stand for a value; pattern-match on it (`match node: case Binary(op, l, r):`
works, `__match_args__` holds the semantic fields only). Nodes compare by value
including positions; use `key(node)` to compare or deduplicate by structure alone.

Every node has, as keyword-only fields:

* `start`, `end` -- 0-based character offsets into the expression text, end
  exclusive. A node's span covers exactly its own text: parentheses around a
  node belong to its parent's span, not to the node (`(a + b) * c`: the sum
  spans `a + b`, the product spans all of it). So `text[n.start:n.end]` parses
  back to a tree with the same `key` as `n`.
* `type` -- the node's `ValueType`, or `None`. `parse` leaves it `None`;
  `check` returns a new tree in which it is set on every node whose type could be
  worked out. It stays `None` on an unknown name, on a call to an unknown
  function, and on whatever takes its type from one of those (`prev(x)` of an
  unknown `x`), where any type would be a guess; an operator's result type is
  always known (`+` gives a number whatever its operands are).

The nodes (semantic fields in constructor order, then keyword-only extras):

* `Number(value: float)` -- a numeric literal; always finite and >= 0, since a
  leading minus is a `Unary`.
* `Bool(value: bool)` -- `true` / `false`.
* `String(value: str)` -- a quoted literal, without its quotes. Strings only make
  sense as a STRING function argument (a time-zone name).
* `Name(parts: tuple[str, ...], offsets: tuple[int, ...], *, ref)` -- a dotted
  chain such as `ETHUSDT.macd.hist`, one entry per part; `offsets[i]` is where
  `parts[i]` starts. After checking, `ref` is the resolved `PriceRef`,
  `IndicatorRef`, `ParamRef`, `SignalRef` or `StateRef` (see `runner.expr.scope`),
  or `None` if resolution failed. The ref is the whole meaning of the name: an
  evaluator never needs `parts`.
* `At(operand: Expr, timeframe: str)` -- `operand@timeframe`; `timeframe` is the
  text after `@` (`"1h"`). The checker only accepts a `Name` operand, and folds
  the timeframe into that name's ref (`close@1h` gives the inner `Name` the ref
  `PriceRef("close", None, "1h")`), so an evaluator can treat `At` as transparent
  and evaluate its operand.
* `Call(func: str, args: tuple[Expr, ...], kwargs: tuple[Keyword, ...], *, fn,
  bound)` -- `func(args..., name=value...)`. After checking, `fn` is the
  `FunctionDef` called and `bound` the arguments in parameter order with omitted
  defaults filled in as literal nodes (zero-width, at the call's end), followed
  by any extra arguments of a variadic function. `fn`/`bound` stay `None` if the
  function is unknown or the arguments do not fit its parameters. A const
  parameter's bound argument is a `Number`, a `Name` resolving to a `ParamRef`, or
  a `Unary` minus of one of those: the engine can evaluate it before the run.
* `Keyword(name: str, value: Expr)` -- one `name=value` argument; not an `Expr`.
  Its span runs from the name to the end of the value.
* `Unary(op: "-", operand: Expr)` -- arithmetic negation.
* `Not(operand: Expr)` -- boolean negation.
* `Binary(op, left, right, *, op_start)` -- `op` in `+ - * / %`.
* `Compare(op, left, right, *, op_start)` -- `op` in `< <= > >= == !=`.
* `Logical(op, left, right, *, op_start)` -- `op` is `"and"` or `"or"`.
  `op_start` is where the operator's text starts, so errors can point at it.

Typing, as enforced by the checker: arithmetic and unary minus take and give
numbers; `< <= > >=` take numbers, `== !=` two numbers or two booleans, and all
give booleans; `and or not` take and give booleans. Semantics (nulls during
warm-up, comparisons with null being false) are the engine's, see DESIGN §3.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from runner.expr.types import ValueType

if TYPE_CHECKING:
    from runner.definitions import FunctionDef
    from runner.expr.scope import Ref

# Binding strength, loosest first. The parser and `to_source` share these so that
# printing a tree and parsing it back can never disagree.
PRECEDENCE: Final[dict[str, int]] = {
    "or": 1,
    "and": 2,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "==": 4,
    "!=": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "%": 6,
}
NOT_PRECEDENCE: Final = 3
COMPARE_PRECEDENCE: Final = 4
UNARY_PRECEDENCE: Final = 7
ATOM_PRECEDENCE: Final = 8

ARITHMETIC_OPS: Final = frozenset({"+", "-", "*", "/", "%"})
COMPARE_OPS: Final = frozenset({"<", "<=", ">", ">=", "==", "!="})
LOGICAL_OPS: Final = frozenset({"and", "or"})


@dataclass(frozen=True, slots=True)
class Node:
    """Fields every node has; see the module docstring."""

    start: int = field(kw_only=True)
    end: int = field(kw_only=True)
    type: ValueType | None = field(default=None, kw_only=True)


@dataclass(frozen=True, slots=True)
class Number(Node):
    value: float


@dataclass(frozen=True, slots=True)
class Bool(Node):
    value: bool


@dataclass(frozen=True, slots=True)
class String(Node):
    value: str


@dataclass(frozen=True, slots=True)
class Name(Node):
    parts: tuple[str, ...]
    offsets: tuple[int, ...]
    ref: Ref | None = field(default=None, kw_only=True)


@dataclass(frozen=True, slots=True)
class At(Node):
    operand: Expr
    timeframe: str


@dataclass(frozen=True, slots=True)
class Keyword:
    name: str
    value: Expr
    start: int = field(kw_only=True)
    end: int = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class Call(Node):
    func: str
    args: tuple[Expr, ...]
    kwargs: tuple[Keyword, ...] = ()
    fn: FunctionDef | None = field(default=None, kw_only=True)
    bound: tuple[Expr, ...] | None = field(default=None, kw_only=True)


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: str
    operand: Expr


@dataclass(frozen=True, slots=True)
class Not(Node):
    operand: Expr


@dataclass(frozen=True, slots=True)
class Binary(Node):
    op: str
    left: Expr
    right: Expr
    op_start: int = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class Compare(Node):
    op: str
    left: Expr
    right: Expr
    op_start: int = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class Logical(Node):
    op: str
    left: Expr
    right: Expr
    op_start: int = field(kw_only=True)


Expr = Number | Bool | String | Name | At | Call | Unary | Not | Binary | Compare | Logical


def children(node: Expr) -> tuple[Expr, ...]:
    """Direct sub-expressions in source order (keyword values included)."""
    if isinstance(node, Binary | Compare | Logical):
        return (node.left, node.right)
    if isinstance(node, Unary | Not | At):
        return (node.operand,)
    if isinstance(node, Call):
        return node.args + tuple(kw.value for kw in node.kwargs)
    return ()


def walk(node: Expr) -> Iterator[Expr]:
    """Every node of the tree, parents before children, in source order."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


def key(node: Expr) -> tuple[object, ...]:
    """A hashable description of the tree's structure, without positions, types or refs.

    Two trees with equal keys are the same expression however they were spaced or
    parenthesized, which is what round-trip tests and common-subexpression
    sharing want.
    """
    if isinstance(node, Number | Bool | String):
        return (type(node).__name__, node.value)
    if isinstance(node, Name):
        return ("Name", node.parts)
    if isinstance(node, At):
        return ("At", key(node.operand), node.timeframe)
    if isinstance(node, Call):
        kwargs = tuple((kw.name, key(kw.value)) for kw in node.kwargs)
        return ("Call", node.func, tuple(key(a) for a in node.args), kwargs)
    if isinstance(node, Unary | Not):
        return (type(node).__name__, getattr(node, "op", "not"), key(node.operand))
    return (type(node).__name__, node.op, key(node.left), key(node.right))


def precedence(node: Expr) -> int:
    """How tightly a node binds, for deciding where parentheses are needed."""
    if isinstance(node, Binary | Logical):
        return PRECEDENCE[node.op]
    if isinstance(node, Compare):
        return COMPARE_PRECEDENCE
    if isinstance(node, Not):
        return NOT_PRECEDENCE
    if isinstance(node, Unary):
        return UNARY_PRECEDENCE
    return ATOM_PRECEDENCE


def format_number(value: float) -> str:
    """Shortest text that lexes back to `value`; whole numbers without `.0`."""
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def _wrapped(node: Expr, min_precedence: int) -> str:
    text = to_source(node)
    return f"({text})" if precedence(node) < min_precedence else text


def to_source(node: Expr) -> str:
    """Canonical text for a tree, with only the parentheses the grammar needs.

    `parse(to_source(tree))` has the same `key` as `tree`. Error messages quote
    sub-expressions through this, so they read the same however the user spaced
    the original.
    """
    if isinstance(node, Name):
        return ".".join(node.parts)
    if isinstance(node, Number):
        return format_number(node.value)
    if isinstance(node, Bool):
        return "true" if node.value else "false"
    if isinstance(node, String):
        quote = "'" if '"' in node.value else '"'
        return f"{quote}{node.value}{quote}"
    if isinstance(node, Binary | Logical):
        strength = PRECEDENCE[node.op]
        left = _wrapped(node.left, strength)
        return f"{left} {node.op} {_wrapped(node.right, strength + 1)}"
    if isinstance(node, Compare):
        left = _wrapped(node.left, COMPARE_PRECEDENCE + 1)
        return f"{left} {node.op} {_wrapped(node.right, COMPARE_PRECEDENCE + 1)}"
    if isinstance(node, Not):
        return f"not {_wrapped(node.operand, NOT_PRECEDENCE)}"
    if isinstance(node, Unary):
        return f"{node.op}{_wrapped(node.operand, UNARY_PRECEDENCE)}"
    if isinstance(node, At):
        return f"{_wrapped(node.operand, ATOM_PRECEDENCE)}@{node.timeframe}"
    arguments = [to_source(arg) for arg in node.args]
    arguments.extend(f"{kw.name}={to_source(kw.value)}" for kw in node.kwargs)
    return f"{node.func}({', '.join(arguments)})"


unparse = to_source
