"""Name and timeframe resolution: the half of checking that knows the Scope's rules.

Kept apart from type checking because it is where the language's naming rules
live, and those are the rules users trip over most: which names exist, when a
dotted name means another instrument, when an indicator needs an output, which
timeframes may follow `@`. Each failure explains itself and, where a near miss
exists, suggests it.

Resolution order for a dotted name `a.b.c`: if `a` is a listed instrument, the
rest is resolved for that instrument; otherwise the whole name is resolved
locally. An undeclared head that looks like a symbol (upper-case letters or a
leading digit, as in `ETHUSD` or `6EH4`) followed by a dot is reported as an
unlisted instrument, because that is almost always what it is. Locally, a name is
tried as indicator, signal, param, price field and state name, in that order
(the config layer rejects collisions between them).
"""

from __future__ import annotations

from typing import Final

from runner.expr.ast import At, Name
from runner.expr.errors import ExprIssue, IssueCode
from runner.expr.scope import (
    PER_INSTRUMENT_STATE,
    PRICE_FIELDS,
    STATE_NAMES,
    IndicatorInfo,
    IndicatorRef,
    ParamRef,
    PriceRef,
    Ref,
    Scope,
    SignalRef,
    StateRef,
    timeframe_seconds,
)
from runner.expr.suggest import closest, suggest
from runner.expr.types import ValueType

NUMBER: Final = ValueType.NUMBER
BOOL: Final = ValueType.BOOL


class Unresolved:
    """Marks a name or timeframe that could not be resolved; the reason is reported."""

    __slots__ = ()


UNRESOLVED: Final = Unresolved()


def looks_like_symbol(word: str) -> bool:
    """Whether a word reads as an instrument symbol rather than a strategy name."""
    return word[0].isdigit() or any(char.isupper() for char in word)


class Resolver:
    """Shared state of one check: the scope, the issues found and the refs made."""

    __slots__ = ("base", "base_seconds", "issues", "refs", "scope")

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.issues: list[ExprIssue] = []
        self.refs: list[Ref] = []
        self.base = scope.timeframes[0] if scope.timeframes else None
        self.base_seconds = timeframe_seconds(self.base) if self.base else None

    def report(
        self, code: IssueCode, message: str, start: int, end: int, hint: str | None = None
    ) -> None:
        self.issues.append(ExprIssue(code, message, start, end, hint))

    def canonical(self, timeframe: str | None) -> str | None:
        """`None` for the base timeframe, so equal meanings give equal refs."""
        return None if timeframe == self.base else timeframe

    def is_local(self, word: str) -> bool:
        scope = self.scope
        return (
            word in scope.indicators
            or word in scope.signals
            or word in scope.params
            or word in PRICE_FIELDS
            or word in STATE_NAMES
        )

    def resolve(self, node: Name) -> tuple[Ref | Unresolved, ValueType | None]:
        """What `node` refers to and its type; the type may be known when the ref is not
        (a multi-output indicator named bare is still a number)."""
        parts = node.parts
        head = parts[0]
        instruments = self.scope.instruments
        if head in instruments:
            if len(parts) == 1:
                self.report(
                    "unknown-reference",
                    f'"{head}" is an instrument, not a value',
                    node.start,
                    node.end,
                    f"name one of its values, as in {head}.close",
                )
                return UNRESOLVED, None
            return self.resolve_local(node, 1, head)
        if len(parts) > 1 and looks_like_symbol(head) and not self.is_local(head):
            self.report(
                "unknown-reference",
                f'instrument "{head}" is not listed in instruments',
                node.start,
                node.start + len(head),
                suggest(head, sorted(instruments)),
            )
            return UNRESOLVED, None
        return self.resolve_local(node, 0, None)

    def resolve_local(
        self, node: Name, index: int, instrument: str | None
    ) -> tuple[Ref | Unresolved, ValueType | None]:
        scope = self.scope
        name = node.parts[index]
        info = scope.indicators.get(name)
        if info is not None:
            return self.indicator(node, index, instrument, info), NUMBER
        ref: Ref
        if name in scope.signals:
            ref, value_type, kind = SignalRef(name, instrument), BOOL, "a signal"
        elif name in scope.params:
            ref, value_type, kind = ParamRef(name), NUMBER, "a param"
            if instrument is not None:
                return self.not_per_instrument(
                    node, index, "is a param, one value for all instruments"
                ), NUMBER
        elif name in PRICE_FIELDS:
            ref, value_type, kind = PriceRef(name, instrument), NUMBER, "a price field"
        elif name in STATE_NAMES:
            ref, value_type, kind = StateRef(name, instrument), STATE_NAMES[name], "a state value"
            if instrument is not None and name not in PER_INSTRUMENT_STATE:
                what = "belongs to the whole portfolio, not to one instrument"
                return self.not_per_instrument(node, index, what), value_type
        else:
            return self.unknown(node, index, instrument), None
        if index + 1 < len(node.parts):
            return self.no_parts(node, index + 1, kind), value_type
        return ref, value_type

    def indicator(
        self, node: Name, index: int, instrument: str | None, info: IndicatorInfo
    ) -> Ref | Unresolved:
        parts, offsets = node.parts, node.offsets
        name = parts[index]
        label = ".".join(parts[: index + 1])
        outputs = info.outputs
        timeframe = self.canonical(info.timeframe)
        if len(outputs) == 1:
            if index + 1 < len(parts):
                start = offsets[index + 1] - 1
                self.report(
                    "unknown-reference",
                    f'"{label}" has a single output, so it is named without'
                    f' "{node_text(node, start)}"',
                    start,
                    node.end,
                    f"write {label}",
                )
                return UNRESOLVED
            return IndicatorRef(name, None, instrument, timeframe)
        if index + 1 == len(parts):
            self.report(
                "unknown-reference",
                f'"{label}" has several outputs; name one: '
                + ", ".join(f"{label}.{output}" for output in outputs),
                offsets[index],
                node.end,
            )
            return UNRESOLVED
        output = parts[index + 1]
        if output not in outputs:
            start = offsets[index + 1]
            self.report(
                "unknown-reference",
                f'"{label}" has no output "{output}"',
                start,
                start + len(output),
                suggest(output, outputs) or f"its outputs are {', '.join(outputs)}",
            )
            return UNRESOLVED
        if index + 2 < len(parts):
            return self.no_parts(node, index + 2, "an indicator output")
        return IndicatorRef(name, output, instrument, timeframe)

    def no_parts(self, node: Name, index: int, kind: str) -> Unresolved:
        start = node.offsets[index] - 1
        owner = ".".join(node.parts[:index])
        self.report(
            "unknown-reference",
            f'"{owner}" is {kind}, so "{node_text(node, start)}" cannot follow it',
            start,
            node.end,
            f"write {owner}",
        )
        return UNRESOLVED

    def not_per_instrument(self, node: Name, index: int, what: str) -> Unresolved:
        name = node.parts[index]
        self.report(
            "unknown-reference",
            f'"{name}" {what}',
            node.start,
            node.end,
            f"write {name}",
        )
        return UNRESOLVED

    def unknown(self, node: Name, index: int, instrument: str | None) -> Unresolved:
        word = ".".join(node.parts[index:])
        hint = suggest(word, self.candidates(instrument is not None))
        if hint is None and instrument is None:
            # `ethusdt.close` or a bare `BTCUSD`: probably an instrument, misspelled.
            match = closest(node.parts[0], sorted(self.scope.instruments))
            if match is not None:
                rest = ".".join(node.parts[1:]) or "close"
                hint = f'did you mean "{match}.{rest}"?'
        if instrument is None:
            message = f'unknown name "{word}"'
        else:
            message = f'"{instrument}" has no price field, indicator, signal or position "{word}"'
        self.report("unknown-reference", message, node.offsets[index], node.end, hint)
        return UNRESOLVED

    def candidates(self, for_instrument: bool) -> list[str]:
        """Every name a reference could have meant, for did-you-mean hints."""
        scope = self.scope
        names: list[str] = []
        for name, info in scope.indicators.items():
            if len(info.outputs) == 1:
                names.append(name)
            else:
                names.extend(f"{name}.{output}" for output in info.outputs)
        names.extend(scope.signals)
        names.extend(PRICE_FIELDS)
        if for_instrument:
            names.extend(PER_INSTRUMENT_STATE)
        else:
            names.extend(scope.params)
            names.extend(STATE_NAMES)
        return sorted(names)

    def timeframe(self, node: At) -> str | Unresolved | None:
        """The canonical timeframe of `x@tf`, or `UNRESOLVED` after reporting why not."""
        timeframe = node.timeframe
        start = node.end - len(timeframe) - 1
        seconds = timeframe_seconds(timeframe)
        if seconds is None:
            self.report(
                "invalid-timeframe",
                f'"{timeframe}" is not a timeframe',
                start,
                node.end,
                "write a count and a unit (s, m, h, d or w), as in 15m or 1h",
            )
            return UNRESOLVED
        if self.base_seconds is not None and seconds < self.base_seconds:
            self.report(
                "invalid-timeframe",
                f"timeframe {timeframe} is shorter than the base timeframe {self.base}",
                start,
                node.end,
                "signals run on closed base bars, so other timeframes must be longer",
            )
            return UNRESOLVED
        declared = self.scope.timeframes
        if timeframe not in declared:
            same = [tf for tf in declared if timeframe_seconds(tf) == seconds]
            self.report(
                "invalid-timeframe",
                f"timeframe {timeframe} is not declared in timeframes",
                start,
                node.end,
                f'did you mean "{same[0]}"?' if same else f"add {timeframe} to timeframes",
            )
            return UNRESOLVED
        return self.canonical(timeframe)


def node_text(node: Name, start: int) -> str:
    """The text of a name from offset `start` on (a suffix such as `.hist`)."""
    text = ".".join(node.parts)
    return text[start - node.start :]
