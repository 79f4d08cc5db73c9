"""Resolve names, check calls and types, and collect every problem in one pass.

The checker rebuilds the tree bottom-up with `type` set on each node, `ref` on
each name and `fn`/`bound` on each call (see `runner.expr.ast`), so the engine
gets everything it needs from the tree and never repeats name resolution.

It never stops at the first problem. A sub-expression whose type cannot be known
(an unknown name, say) gets type `None`, and checks against `None` are skipped:
one typo yields one issue, not a cascade of type errors about the typo.

The valid path stays allocation-light — no message formatting, no candidate
lists — because `runner validate` checks every expression of every strategy and
sweeps re-check them; suggestions are computed only when something is wrong.

Conventions applied to any function (documented for plugin authors in
`runner.expr.functions`): a const parameter named in `WINDOW_PARAM_NAMES` counts
bars and must be a whole number of at least 1; one named in `WHOLE_PARAM_NAMES`
must be whole; a STRING parameter named in `ZONE_PARAM_NAMES` must be an IANA
time zone.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from runner.expr.ast import (
    At,
    Binary,
    Bool,
    Call,
    Compare,
    Expr,
    Keyword,
    Logical,
    Name,
    Not,
    Number,
    String,
    Unary,
    format_number,
    to_source,
)
from runner.expr.errors import ExprIssue
from runner.expr.resolve import UNRESOLVED, Resolver, Unresolved
from runner.expr.scope import IndicatorRef, ParamRef, PriceRef, Ref, Scope, SignalRef
from runner.expr.suggest import suggest
from runner.expr.types import ValueType

if TYPE_CHECKING:
    from runner.definitions import FunctionDef, FunctionParam

NUMBER: Final = ValueType.NUMBER
BOOL: Final = ValueType.BOOL
STRING: Final = ValueType.STRING

WINDOW_PARAM_NAMES: Final = frozenset({"n", "window", "period", "length"})
WHOLE_PARAM_NAMES: Final = WINDOW_PARAM_NAMES | {"ndigits"}
ZONE_PARAM_NAMES: Final = frozenset({"tz"})

_ARTICLE: Final[dict[ValueType, str]] = {
    ValueType.NUMBER: "a number",
    ValueType.BOOL: "a boolean",
    ValueType.TIME: "a time",
    ValueType.STRING: "a string",
}
_NUMBER_OR_BOOL: Final = (NUMBER, BOOL)


def article(value_type: ValueType) -> str:
    """`a number`, `a boolean`...: how messages name a type."""
    return _ARTICLE[value_type]


def show(node: Expr) -> str:
    """A sub-expression quoted for a message, shortened if long."""
    text = to_source(node)
    if len(text) > 40:
        text = text[:37] + "..."
    return text if isinstance(node, String) else f'"{text}"'


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _is_time_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        return False
    return True


def _count(fn: FunctionDef) -> str:
    low, high = fn.min_args, len(fn.params)
    noun = "argument" if low == 1 else "arguments"
    if fn.variadic:
        return f"at least {low} {noun}"
    if low == high:
        return f"{low} {noun}" if low else "no arguments"
    if high == low + 1:
        return f"{low} or {high} arguments"
    return f"{low} to {high} arguments"


@dataclass(frozen=True, slots=True)
class CheckedExpr:
    """The outcome of checking one expression.

    `tree` is the annotated tree (`None` only when `analyze` met a syntax error);
    `type` is the expression's type when it could be worked out, even if there
    are issues elsewhere; `refs` lists every resolved reference in source order,
    repeats included, for the caller's cycle detection and usage tracking.
    """

    tree: Expr | None
    type: ValueType | None
    issues: list[ExprIssue]
    refs: tuple[Ref, ...]

    @property
    def ok(self) -> bool:
        return not self.issues


class _Checker(Resolver):
    __slots__ = ()

    def visit(self, node: Expr) -> Expr:
        return _VISIT[type(node)](self, node)

    def need(self, want: ValueType, node: Expr, what: str) -> None:
        got = node.type
        if got is not None and got is not want:
            self.report(
                "type-mismatch",
                f"{what}, but {show(node)} is {article(got)}",
                node.start,
                node.end,
            )

    def visit_number(self, node: Number) -> Expr:
        return Number(node.value, start=node.start, end=node.end, type=NUMBER)

    def visit_bool(self, node: Bool) -> Expr:
        return Bool(node.value, start=node.start, end=node.end, type=BOOL)

    def visit_string(self, node: String) -> Expr:
        return String(node.value, start=node.start, end=node.end, type=STRING)

    def visit_name(self, node: Name) -> Expr:
        resolved, value_type = self.resolve(node)
        ref = self.keep(resolved)
        return Name(
            node.parts, node.offsets, start=node.start, end=node.end, ref=ref, type=value_type
        )

    def keep(self, resolved: Ref | Unresolved) -> Ref | None:
        if isinstance(resolved, Unresolved):
            return None
        self.refs.append(resolved)
        return resolved

    def visit_at(self, node: At) -> Expr:
        operand = node.operand
        timeframe = self.timeframe(node)
        if not isinstance(operand, Name):
            checked = self.visit(operand)
            self.report(
                "invalid-timeframe",
                f'"@{node.timeframe}" can only follow a price field or an indicator, not'
                f" {_kind_of_operand(operand)}",
                node.end - len(node.timeframe) - 1,
                node.end,
            )
            return At(checked, node.timeframe, start=node.start, end=node.end, type=checked.type)
        resolved, value_type = self.resolve(operand)
        if not isinstance(resolved, Unresolved):
            resolved = self.at_timeframe(node, operand, resolved, timeframe)
        ref = self.keep(resolved)
        checked = Name(
            operand.parts,
            operand.offsets,
            start=operand.start,
            end=operand.end,
            ref=ref,
            type=value_type,
        )
        return At(checked, node.timeframe, start=node.start, end=node.end, type=value_type)

    def visit_unary(self, node: Unary) -> Expr:
        operand = self.visit(node.operand)
        self.need(NUMBER, operand, f'"{node.op}" needs a number')
        return Unary(node.op, operand, start=node.start, end=node.end, type=NUMBER)

    def visit_not(self, node: Not) -> Expr:
        operand = self.visit(node.operand)
        self.need(BOOL, operand, '"not" needs a boolean')
        return Not(operand, start=node.start, end=node.end, type=BOOL)

    def visit_binary(self, node: Binary) -> Expr:
        left, right = self.visit(node.left), self.visit(node.right)
        self.need(NUMBER, left, f'"{node.op}" needs a number on its left')
        self.need(NUMBER, right, f'"{node.op}" needs a number on its right')
        return Binary(
            node.op,
            left,
            right,
            start=node.start,
            end=node.end,
            op_start=node.op_start,
            type=NUMBER,
        )

    def visit_logical(self, node: Logical) -> Expr:
        left, right = self.visit(node.left), self.visit(node.right)
        self.need(BOOL, left, f'"{node.op}" needs a boolean on its left')
        self.need(BOOL, right, f'"{node.op}" needs a boolean on its right')
        return Logical(
            node.op, left, right, start=node.start, end=node.end, op_start=node.op_start, type=BOOL
        )

    def visit_compare(self, node: Compare) -> Expr:
        op = node.op
        left, right = self.visit(node.left), self.visit(node.right)
        if op != "==" and op != "!=":
            self.need(NUMBER, left, f'"{op}" needs a number on its left')
            self.need(NUMBER, right, f'"{op}" needs a number on its right')
        else:
            fits = True
            for side, operand in (("left", left), ("right", right)):
                got = operand.type
                if got is not None and got not in _NUMBER_OR_BOOL:
                    fits = False
                    self.report(
                        "type-mismatch",
                        f'"{op}" needs a number or a boolean on its {side}, but'
                        f" {show(operand)} is {article(got)}",
                        operand.start,
                        operand.end,
                    )
            if (
                fits
                and left.type is not None
                and right.type is not None
                and left.type is not right.type
            ):
                self.report(
                    "type-mismatch",
                    f'"{op}" compares two numbers or two booleans, but {show(left)} is'
                    f" {article(left.type)} and {show(right)} is {article(right.type)}",
                    node.op_start,
                    node.op_start + len(op),
                )
        return Compare(
            op, left, right, start=node.start, end=node.end, op_start=node.op_start, type=BOOL
        )

    def visit_call(self, node: Call) -> Expr:
        args = tuple(self.visit(arg) for arg in node.args)
        kwargs = tuple(
            Keyword(kw.name, self.visit(kw.value), start=kw.start, end=kw.end) for kw in node.kwargs
        )
        fn = self.scope.functions.get(node.func)
        if fn is None:
            self.report(
                "unknown-reference",
                f'unknown function "{node.func}"',
                node.start,
                node.start + len(node.func),
                suggest(node.func, self.scope.functions),
            )
            return Call(node.func, args, kwargs, start=node.start, end=node.end)
        slots, extras, fits = self.bind(node, fn, args, kwargs)
        params = fn.params
        accepted = [
            self.argument(fn, param, arg)
            for param, arg in zip(params, slots, strict=True)
            if arg is not None
        ]
        for arg in extras:
            self.argument(fn, params[-1], arg)
        returns = fn.returns
        value_type: ValueType | None = None
        if isinstance(returns, ValueType):
            value_type = returns
        elif returns == "same" and slots and slots[0] is not None and accepted[0]:
            value_type = slots[0].type
        bound: tuple[Expr, ...] | None = None
        if fits:
            bound = tuple(
                arg if arg is not None else _default(param, node.end)
                for param, arg in zip(params, slots, strict=True)
            ) + tuple(extras)
        return Call(
            node.func,
            args,
            kwargs,
            start=node.start,
            end=node.end,
            fn=fn,
            bound=bound,
            type=value_type,
        )

    def bind(
        self,
        node: Call,
        fn: FunctionDef,
        args: tuple[Expr, ...],
        kwargs: tuple[Keyword, ...],
    ) -> tuple[list[Expr | None], list[Expr], bool]:
        """Match arguments to parameters as Python would; report what does not fit."""
        params = fn.params
        slots: list[Expr | None] = list(args[: len(params)])
        slots.extend([None] * (len(params) - len(slots)))
        extras = list(args[len(params) :])
        fits = True
        given = len(args) + len(kwargs)
        if extras and not (fn.variadic and params):
            fits = False
            self.report(
                "arity",
                f"{fn.name} takes {_count(fn)}, got {given}",
                extras[0].start,
                extras[-1].end,
            )
            extras = []
        names = [param.name for param in params]
        for kw in kwargs:
            if kw.name not in names:
                fits = False
                self.report(
                    "arity",
                    f'{fn.name} has no parameter named "{kw.name}"',
                    kw.start,
                    kw.start + len(kw.name),
                    suggest(kw.name, names),
                )
                continue
            index = names.index(kw.name)
            if slots[index] is not None:
                fits = False
                self.report("arity", f'{fn.name} got two values for "{kw.name}"', kw.start, kw.end)
                continue
            slots[index] = kw.value
        missing = [
            f'"{param.name}"'
            for param, arg in zip(params, slots, strict=True)
            if arg is None and param.default is None
        ]
        if missing:
            fits = False
            self.report(
                "arity",
                f"{fn.name} takes {_count(fn)}, got {given}",
                node.start,
                node.end,
                f"missing {', '.join(missing)}",
            )
        return slots, extras, fits

    def argument(self, fn: FunctionDef, param: FunctionParam, arg: Expr) -> bool:
        """Check one bound argument; False if its type is wrong."""
        want = param.type
        got = arg.type
        if got is not None:
            if want == "any":
                fits, wanted = got in _NUMBER_OR_BOOL, "a number or a boolean"
            else:
                fits, wanted = got is want, article(want)
            if not fits:
                self.report(
                    "type-mismatch",
                    f'argument "{param.name}" of {fn.name} must be {wanted}, but {show(arg)}'
                    f" is {article(got)}",
                    arg.start,
                    arg.end,
                )
                return False
        if param.const:
            self.constant(fn, param, arg)
        if want is STRING and param.name in ZONE_PARAM_NAMES and isinstance(arg, String):
            self.zone(arg)
        return True

    def constant(self, fn: FunctionDef, param: FunctionParam, arg: Expr) -> None:
        window = param.name in WINDOW_PARAM_NAMES
        label = "the window" if window else f'argument "{param.name}"'
        inner, sign = arg, 1.0
        if isinstance(arg, Unary) and arg.op == "-":
            inner, sign = arg.operand, -1.0
        if isinstance(inner, Number):
            value = sign * inner.value
            if param.name in WHOLE_PARAM_NAMES and not value.is_integer():
                kind = "whole number of at least 1" if window else "whole number"
                self.report(
                    "invalid-value",
                    f"{label} of {fn.name} must be a {kind}, got {format_number(value)}",
                    arg.start,
                    arg.end,
                )
            elif window and value < 1:
                self.report(
                    "invalid-value",
                    f"{label} of {fn.name} must be at least 1, got {format_number(value)}",
                    arg.start,
                    arg.end,
                )
            return
        if isinstance(inner, Name) and (inner.ref is None or isinstance(inner.ref, ParamRef)):
            return  # a param, or a name already reported as unknown
        self.report(
            "invalid-value",
            f"{label} of {fn.name} must be a constant: a number or a param",
            arg.start,
            arg.end,
            f"the engine sizes its state from {param.name} before the first bar",
        )

    def zone(self, arg: String) -> None:
        if _is_time_zone(arg.value):
            return
        self.report(
            "invalid-value",
            f'unknown time zone "{arg.value}"',
            arg.start,
            arg.end,
            suggest(arg.value, sorted(_time_zones()))
            or 'use an IANA time-zone name such as "UTC" or "America/Chicago"',
        )

    def at_timeframe(
        self, node: At, operand: Name, ref: Ref, timeframe: str | Unresolved | None
    ) -> Ref | Unresolved:
        """The ref of `operand@tf`, or `Unresolved` after reporting why there is none."""
        at_start = node.end - len(node.timeframe) - 1
        if isinstance(ref, PriceRef):
            if isinstance(timeframe, Unresolved):
                return timeframe
            return PriceRef(ref.field, ref.instrument, timeframe)
        if isinstance(ref, IndicatorRef):
            if isinstance(timeframe, Unresolved):
                return timeframe
            pinned = self.scope.indicators[ref.name].timeframe
            if pinned is not None and ref.timeframe != timeframe:
                self.report(
                    "invalid-timeframe",
                    f'"{ref.name}" is computed on {pinned}, so it cannot be read at'
                    f" {node.timeframe}",
                    at_start,
                    node.end,
                    f"drop @{node.timeframe}, or declare another indicator with timeframe:"
                    f" {node.timeframe}",
                )
                return UNRESOLVED
            return IndicatorRef(ref.name, ref.output, ref.instrument, timeframe)
        kind = (
            "a param"
            if isinstance(ref, ParamRef)
            else ("a signal" if isinstance(ref, SignalRef) else "a state value")
        )
        self.report(
            "invalid-timeframe",
            f'"@{node.timeframe}" can only follow a price field or an indicator, but'
            f" {show(operand)} is {kind}",
            at_start,
            node.end,
        )
        return UNRESOLVED


def _kind_of_operand(node: Expr) -> str:
    if isinstance(node, At):
        return "a value that already has a timeframe"
    if isinstance(node, Call):
        return "a function call"
    if isinstance(node, Number | Bool | String):
        return "a literal"
    return "a calculation"


def _default(param: FunctionParam, at: int) -> Expr:
    value = param.default
    if isinstance(value, str):
        return String(value, start=at, end=at, type=STRING)
    if value is None:  # pragma: no cover - bind() reports missing arguments first
        raise ValueError(f"no default for {param.name}")
    return Number(float(value), start=at, end=at, type=NUMBER)


_VISIT: Final[dict[type, Callable[[_Checker, Any], Expr]]] = {
    Number: _Checker.visit_number,
    Bool: _Checker.visit_bool,
    String: _Checker.visit_string,
    Name: _Checker.visit_name,
    At: _Checker.visit_at,
    Call: _Checker.visit_call,
    Unary: _Checker.visit_unary,
    Not: _Checker.visit_not,
    Binary: _Checker.visit_binary,
    Compare: _Checker.visit_compare,
    Logical: _Checker.visit_logical,
}


def check(expr: Expr, scope: Scope, expect: ValueType | None = None) -> CheckedExpr:
    """Check a parsed expression against `scope`; never raises for bad input.

    `expect` is the type the expression's field needs (BOOL for a signal, NUMBER
    for a price); a mismatch at the top is one more issue.
    """
    checker = _Checker(scope)
    tree = checker.visit(expr)
    value_type = tree.type
    if expect is not None and value_type is not None and value_type is not expect:
        checker.report(
            "type-mismatch",
            f"expected {article(expect)}, but this expression is {article(value_type)}",
            tree.start,
            tree.end,
        )
    issues = sorted(checker.issues, key=_position) if len(checker.issues) > 1 else checker.issues
    return CheckedExpr(tree, value_type, issues, tuple(checker.refs))


def _position(issue: ExprIssue) -> int:
    """Issues are reported in source order, however the tree was walked."""
    return issue.start
