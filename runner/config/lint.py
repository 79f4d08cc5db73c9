"""Semantic checks: what relates one part of a strategy file to another.

Runs on a shape-valid `Strategy` (models.py) after the plugin blocks are checked. Each
check returns diagnostics at the exact key or, inside an expression, the exact
character. The expressions' typed trees are kept (`LintResult.expressions`) for the
compiler, which therefore never parses a string twice.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time

from pydantic import BaseModel

from runner.config.diagnostics import Diagnostic, Severity
from runner.config.loader import MISSING, KeyPath, SourceMap, child, format_path
from runner.config.models import PRICE_FIELDS, OrderRule, Strategy
from runner.definitions import Capabilities
from runner.expr import CheckedExpr, IndicatorInfo, IndicatorRef, Scope, SignalRef, analyze
from runner.expr.scope import STATE_NAMES, timeframe_seconds
from runner.expr.suggest import suggest
from runner.expr.types import ValueType
from runner.plugins import Registry

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
_EXPRESSION_FIELDS = ("price", "trigger", "stop_loss", "take_profit", "trailing_stop")
_EXIT_FIELDS = ("stop_loss", "take_profit", "trailing_stop")
_ENTRY_ONLY = ("type", "price", "trigger", "size", "time_in_force", "expire_after",
               "post_only", "stop_loss", "take_profit", "trailing_stop", "max_entries")
_SIZE_MODES = ("quantity", "notional", "equity_pct", "risk_pct")


@dataclass
class LintResult:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    expressions: dict[KeyPath, CheckedExpr] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)


class _Linter:
    def __init__(self, strategy: Strategy, registry: Registry, source: SourceMap,
                 raw: Mapping[str, object], skip: frozenset[KeyPath] = frozenset(),
                 venue_params: BaseModel | None = None) -> None:
        self.skip = skip
        self.venue_params = venue_params
        self.s = strategy
        self.registry = registry
        self.source = source
        self.raw = raw
        self.out = LintResult()
        self.used = self.out.used

    # -- reporting -----------------------------------------------------------------

    def error(self, path: KeyPath, code: str, message: str, hint: str | None = None, *,
              key: bool = False, length: int = 1, severity: Severity = Severity.ERROR) -> None:
        pos = self.source.key_pos(path) if key else self.source.value_pos(path)
        self.out.diagnostics.append(Diagnostic(severity, code, message, self.source.file,
                                               pos.line, pos.column, format_path(path), hint,
                                               length))

    def warn(self, path: KeyPath, code: str, message: str, hint: str | None = None, *,
             key: bool = False) -> None:
        self.error(path, code, message, hint, key=key, severity=Severity.WARNING)

    def present(self, path: KeyPath) -> bool:
        cur: object = self.raw
        for part in path:
            cur = child(cur, part)
            if cur is MISSING:
                return False
        return True

    # -- checks --------------------------------------------------------------------

    def run(self) -> LintResult:
        self.names()
        self.timeframes()
        self.data()
        self.instrument_refs()
        self.indicators()
        scope = self.scope()
        self.signals(scope)
        self.orders(scope)
        self.risk()
        self.backtest()
        return self.out

    def names(self) -> None:
        """One namespace for params, indicators and signals; none may shadow a field."""
        reserved = {**{f: "a price field" for f in PRICE_FIELDS},
                    **{s: "a state name" for s in STATE_NAMES}}
        seen: dict[str, str] = {}
        for section in ("params", "indicators", "signals"):
            for name in getattr(self.s, section):
                path = (section, name)
                if name in reserved:
                    self.error(path, "name-collision",
                               f'"{name}" is {reserved[name]} and cannot be redefined',
                               "choose another name", key=True, length=len(name))
                elif name in seen:
                    self.error(path, "name-collision",
                               f'"{name}" is defined in both {seen[name]} and {section}',
                               "names are shared by params, indicators and signals", key=True,
                               length=len(name))
                else:
                    seen[name] = section

    def timeframes(self) -> None:
        tfs = self.s.timeframes
        base = timeframe_seconds(tfs[0]) or 1
        for i, tf in enumerate(tfs):
            secs = timeframe_seconds(tf) or 1
            if tf in tfs[:i]:
                self.error(("timeframes", i), "invalid-timeframe", f"{tf} is listed twice")
            elif i and secs % base:
                self.error(("timeframes", i), "invalid-timeframe",
                           f"{tf} is not a multiple of the base timeframe {tfs[0]}",
                           "the first timeframe is the base; list the smallest first")
        for name, spec in self.s.indicators.items():
            if spec.timeframe is not None and spec.timeframe not in tfs:
                self.error(("indicators", name, "timeframe"), "invalid-timeframe",
                           f'indicator "{name}" uses {spec.timeframe}, which is not listed in '
                           "timeframes", f"add {spec.timeframe} to timeframes")

    def data(self) -> None:
        d = self.s.data
        if d is None:
            return
        stored = timeframe_seconds(d.timeframe) or 1
        for i, tf in enumerate(self.s.timeframes):
            if (timeframe_seconds(tf) or 1) % stored:
                self.error(("timeframes", i), "invalid-timeframe",
                           f"{tf} cannot be built from the stored {d.timeframe} bars",
                           "every timeframe must be a multiple of data.timeframe")
        if len(self.s.instruments) > 1 and "{symbol}" not in d.path:
            self.error(("data", "path"), "invalid-value",
                       "with several instruments the data path needs {symbol}",
                       f"for example data/{{symbol}}-{d.timeframe}.parquet")

    def instrument_refs(self) -> None:
        """Per-instrument limits may only name listed instruments."""
        listed = list(self.s.instruments)
        for key in ("max_position", "max_gross_exposure", "max_open_orders",
                    "max_orders_per_minute", "max_daily_loss", "max_daily_trades"):
            value = getattr(self.s.risk, key)
            if isinstance(value, dict):
                for symbol in value:
                    if symbol not in self.s.instruments:
                        self.error(("risk", key, symbol), "unknown-reference",
                                   f'risk.{key} names "{symbol}", which is not listed in '
                                   "instruments", suggest(symbol, listed), key=True,
                                   length=len(symbol))

    def _source_of(self, text: str) -> tuple[str, str | None] | None:
        """(indicator or field, output) for an indicator input, or None if unknown."""
        head, _, output = text.partition(".")
        if not output and head in PRICE_FIELDS:
            return head, None
        if head in self.s.indicators:
            return head, output or None
        return None

    def indicators(self) -> None:
        edges: dict[str, list[str]] = {}
        for name, spec in self.s.indicators.items():
            definition = self.registry.indicators.get(spec.type)
            edges[name] = []
            if spec.input is None or definition is None:
                continue
            base: KeyPath = ("indicators", name, "input")
            if isinstance(spec.input, str):
                if len(definition.inputs) > 1:
                    self.error(base, "invalid-value",
                               f'{spec.type} reads {", ".join(definition.inputs)}; give input as '
                               "a mapping of those names",
                               f"for example input: {{{definition.inputs[0]}: ...}}")
                    continue
                items = [(base, spec.input)]
            else:
                items = []
                for role, text in spec.input.items():
                    if role not in definition.inputs:
                        self.error((*base, role), "unknown-field",
                                   f'{spec.type} has no input "{role}"',
                                   suggest(role, definition.inputs) or
                                   f"its inputs: {', '.join(definition.inputs)}", key=True)
                        continue
                    items.append(((*base, role), text))
            for path, text in items:
                dep = self._input(name, path, text)
                if dep is not None:
                    edges[name].append(dep)
        for cycle in _cycles(edges):
            self.error(("indicators", cycle[0], "input"), "cycle",
                       "indicators form a cycle: " + " -> ".join(cycle),
                       "an indicator cannot depend on itself")

    def _input(self, name: str, path: KeyPath, text: str) -> str | None:
        found = self._source_of(text)
        if found is None:
            head = text.partition(".")[0]
            candidates = [*PRICE_FIELDS, *self._dotted_names()]
            self.error(path, "unknown-reference",
                       f'indicator "{name}" reads "{text}", which is neither a price field nor '
                       "an indicator", suggest(text, candidates) or suggest(head, candidates),
                       length=len(text))
            return None
        source, output = found
        if source in PRICE_FIELDS:
            return None
        self.used.add(source)
        spec = self.s.indicators[source]
        definition = self.registry.indicators.get(spec.type)
        if definition is not None:
            outputs = definition.outputs
            if output is None and len(outputs) > 1:
                self.error(path, "unknown-reference",
                           f'"{source}" has several outputs; name one: '
                           + ", ".join(f"{source}.{o}" for o in outputs), length=len(text))
            elif output is not None and (len(outputs) == 1 or output not in outputs):
                self.error(path, "unknown-reference",
                           f'"{source}" has no output "{output}"',
                           suggest(output, outputs) if len(outputs) > 1 else
                           f'"{source}" has one output: write "{source}"', length=len(text))
        mine = self.s.indicators[name].timeframe or self.s.timeframes[0]
        theirs = spec.timeframe or self.s.timeframes[0]
        if mine != theirs:
            self.error(path, "invalid-timeframe",
                       f'indicator "{name}" runs on {mine} but its input "{source}" runs on '
                       f"{theirs}", "give both the same timeframe", length=len(text))
        return source

    def _dotted_names(self) -> list[str]:
        names: list[str] = []
        for n, spec in self.s.indicators.items():
            definition = self.registry.indicators.get(spec.type)
            outputs = definition.outputs if definition else ("value",)
            names.extend([n] if len(outputs) == 1 else [f"{n}.{o}" for o in outputs])
        return names

    def scope(self) -> Scope:
        infos: dict[str, IndicatorInfo] = {}
        for name, spec in self.s.indicators.items():
            definition = self.registry.indicators.get(spec.type)
            infos[name] = IndicatorInfo(definition.outputs if definition else ("value",),
                                        spec.timeframe)
        return Scope(indicators=infos, signals=frozenset(self.s.signals),
                     params=frozenset(self.s.params), instruments=frozenset(self.s.instruments),
                     timeframes=tuple(self.s.timeframes), functions=self.registry.functions)

    def expression(self, path: KeyPath, text: str, scope: Scope,
                   expect: ValueType) -> CheckedExpr:
        checked = analyze(text, scope, expect)
        self.out.expressions[path] = checked
        if path in self.skip:  # already reported (a misplaced ${VAR}); don't echo it
            return checked
        for issue in checked.issues:
            pos = self.source.offset_pos(path, issue.start)
            self.out.diagnostics.append(Diagnostic(
                Severity.ERROR, issue.code, issue.message, self.source.file, pos.line,
                pos.column, format_path(path), issue.hint, max(1, issue.end - issue.start)))
        for ref in checked.refs:
            if isinstance(ref, IndicatorRef | SignalRef):
                self.used.add(ref.name)
        return checked

    def signals(self, scope: Scope) -> None:
        edges: dict[str, list[str]] = {}
        for name, text in self.s.signals.items():
            checked = self.expression(("signals", name), text, scope, ValueType.BOOL)
            edges[name] = [r.name for r in checked.refs if isinstance(r, SignalRef)]
        for cycle in _cycles(edges):
            self.error(("signals", cycle[0]), "cycle",
                       "signals form a cycle: " + " -> ".join(cycle),
                       "a signal cannot depend on itself")

    def orders(self, scope: Scope) -> None:
        exchange = self.registry.exchanges.get(self.s.venue.exchange)
        caps = exchange.capabilities_with(self.venue_params) if exchange is not None else None
        for i, rule in enumerate(self.s.orders):
            self.order(i, rule, scope)
            if exchange is not None and caps is not None:
                self.capabilities(i, rule, exchange.name, caps)
        if exchange is not None and caps is not None and self.s.risk.allow_short and \
                not caps.shorting:
            self.error(("risk", "allow_short"), "unsupported-by-exchange",
                       f'exchange "{exchange.name}" does not support short positions',
                       "set allow_short: false, or trade on a venue that shorts")

    def order(self, i: int, rule: OrderRule, scope: Scope) -> None:
        path: KeyPath = ("orders", i)
        for j, symbol in enumerate(rule.instruments or ()):
            if symbol not in self.s.instruments:
                self.error((*path, "instruments", j), "unknown-reference",
                           f'the rule names "{symbol}", which is not listed in instruments',
                           suggest(symbol, list(self.s.instruments)), length=len(symbol))
        when = rule.when.strip()
        if _IDENT.match(when) and when not in self.s.signals and when not in ("true", "false"):
            if when in self.s.indicators or when in self.s.params or when in PRICE_FIELDS:
                self.error((*path, "when"), "type-mismatch",
                           f'when names "{when}", which is a number, not a signal',
                           "write a condition such as `close > " + when + "`", length=len(when))
            else:
                self.error((*path, "when"), "unknown-reference",
                           f'when names "{when}", which is not a signal',
                           suggest(when, list(self.s.signals)), length=len(when))
        else:
            self.expression((*path, "when"), rule.when, scope, ValueType.BOOL)
        for key in _EXPRESSION_FIELDS:
            text = getattr(rule, key)
            if text is not None:
                self.expression((*path, key), text, scope, ValueType.NUMBER)
        if rule.size is not None:
            for mode in _SIZE_MODES:
                text = getattr(rule.size, mode)
                if text is not None:
                    self.expression((*path, "size", mode), text, scope, ValueType.NUMBER)
        if rule.side is None and rule.action is None:
            self.error(path, "missing-field", "an order rule needs side (buy or sell) or action "
                       "(close or cancel_orders)")
            return
        if rule.side is not None and rule.action is not None:
            self.error((*path, "action"), "invalid-value",
                       "an order rule has either side or action, not both", key=True)
            return
        if rule.action is not None:
            self.action_rule(i, rule)
        else:
            self.entry_rule(i, rule)

    def action_rule(self, i: int, rule: OrderRule) -> None:
        path: KeyPath = ("orders", i)
        for key in _ENTRY_ONLY:
            if key in rule.model_fields_set:
                self.error((*path, key), "invalid-value",
                           f"{key} belongs to rules with side; action: {rule.action} takes "
                           "none", key=True, length=len(key))
        if rule.fraction is not None and rule.action != "close":
            self.error((*path, "fraction"), "invalid-value",
                       "fraction goes with action: close", key=True)

    def entry_rule(self, i: int, rule: OrderRule) -> None:
        path: KeyPath = ("orders", i)
        if rule.fraction is not None:
            self.error((*path, "fraction"), "invalid-value",
                       "fraction goes with action: close", key=True)
        needs = {"limit": ("price",), "stop": ("trigger",), "stop_limit": ("price", "trigger")}
        for key in needs.get(rule.type, ()):
            if getattr(rule, key) is None:
                self.error(path, "missing-field", f'a {rule.type} order needs "{key}"',
                           f"add {key}: <expression>")
        takes = {"price": "limit or stop_limit", "trigger": "stop or stop_limit"}
        for key in ("price", "trigger"):
            if getattr(rule, key) is not None and key not in needs.get(rule.type, ()):
                hint = (f"type: {takes[key]} orders take a {key}" if rule.type == "market"
                        else "type: stop_limit takes both a price and a trigger")
                self.error((*path, key), "invalid-value",
                           f"a {rule.type} order takes no {key}", hint, key=True,
                           length=len(key))
        if rule.post_only and rule.type != "limit":
            self.error((*path, "post_only"), "invalid-value",
                       "post_only applies to limit orders only", key=True)
        if rule.size is None:
            self.error(path, "missing-field", 'an order rule with side needs "size"',
                       "for example size: {equity_pct: 10}")
            return
        modes = [m for m in _SIZE_MODES if getattr(rule.size, m) is not None]
        if len(modes) != 1:
            self.error((*path, "size"), "invalid-value",
                       "size needs exactly one of quantity, notional, equity_pct, risk_pct"
                       + (f", got {', '.join(modes)}" if modes else ""))
        if rule.size.risk_pct is not None and rule.stop_loss is None:
            self.error((*path, "size", "risk_pct"), "missing-field",
                       "risk_pct sizing needs a stop_loss on the same rule",
                       "the stop distance sets the quantity", key=True)
        for mode in modes:
            value = getattr(rule.size, mode)
            try:
                number = float(value)
            except ValueError:
                continue
            if number <= 0:
                self.error((*path, "size", mode), "invalid-value",
                           f"size.{mode} must be > 0, got {value}")

    def capabilities(self, i: int, rule: OrderRule, exchange: str, caps: Capabilities) -> None:
        path: KeyPath = ("orders", i)
        if rule.side is None:
            return
        checks: list[tuple[bool, str, str]] = [
            (rule.type in caps.order_types, "type", f"{rule.type} orders"),
            (rule.time_in_force in caps.time_in_force, "time_in_force",
             f"time in force {rule.time_in_force}"),
            (not rule.reduce_only or caps.reduce_only, "reduce_only", "reduce-only orders"),
            (not rule.post_only or caps.post_only, "post_only", "post-only orders"),
            (rule.trailing_stop is None or caps.trailing_stop, "trailing_stop", "trailing stops"),
        ]
        for ok, key, what in checks:
            if not ok:
                at = (*path, key) if key in rule.model_fields_set else path
                self.error(at, "unsupported-by-exchange",
                           f'exchange "{exchange}" does not support {what}',
                           f"supported order types: {', '.join(sorted(caps.order_types))}"
                           if key == "type" else None)

    def risk(self) -> None:
        hours = self.s.risk.trading_hours
        if hours is not None:
            self.zone(("risk", "trading_hours", "tz"), hours.tz)
            if hours.start == hours.end:
                self.error(("risk", "trading_hours", "end"), "invalid-value",
                           "trading_hours start and end are equal, which leaves no hours",
                           "omit trading_hours to trade around the clock")
        if self.present(("risk", "day_starts", "tz")):
            self.zone(("risk", "day_starts", "tz"), self.s.risk.day_starts.tz)

    def zone(self, path: KeyPath, name: str) -> None:
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            self.error(path, "invalid-value", f'unknown time zone "{name}"',
                       suggest(name, sorted(zoneinfo.available_timezones())) or
                       "use an IANA name such as America/Chicago", length=len(name))

    def backtest(self) -> None:
        bt = self.s.backtest
        if bt.start is not None and bt.end is not None and _instant(bt.start) >= _instant(bt.end):
            self.error(("backtest", "end"), "invalid-value",
                       f"backtest end ({bt.end}) is not after start ({bt.start})")
        for key in ("maker", "taker"):
            fee = getattr(bt.fees, key)
            if fee > 0.01:
                self.warn(("backtest", "fees", key), "suspicious-value",
                          f"a {key} fee of {fee} is {fee * 100:g}% per fill",
                          "fees are fractions: 0.0004 means 4 basis points")
        if bt.slippage_bps > 100:
            self.warn(("backtest", "slippage_bps"), "suspicious-value",
                      f"slippage of {bt.slippage_bps:g} bps is {bt.slippage_bps / 100:g}% per fill")

    def unused(self) -> None:
        """Warnings for what nothing uses: only meaningful once the file has no errors,
        because an unresolved reference would make its target look unused."""
        if not self.s.orders and self.present(("signals",)):
            self.warn(("signals",), "unused", "the strategy has signals but no orders, so it "
                      "never trades", key=True)
        for name in self.s.indicators:
            if name not in self.used:
                self.warn(("indicators", name), "unused",
                          f'indicator "{name}" is never used', key=True)
        if self.s.orders:
            for name in self.s.signals:
                if name not in self.used and not any(
                        r.when.strip() == name for r in self.s.orders):
                    self.warn(("signals", name), "unused",
                              f'signal "{name}" is never used', key=True)


def _instant(value: object) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)
    return datetime.combine(value, time())  # type: ignore[arg-type]


def _cycles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Each elementary cycle once, as a path that returns to its start."""
    found: list[list[str]] = []
    seen_sets: set[frozenset[str]] = set()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in edges.get(node, ()):
            if nxt not in edges:
                continue
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt):], nxt]
                key = frozenset(cycle)
                if key not in seen_sets:
                    seen_sets.add(key)
                    found.append(cycle)
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in edges:
        if node not in state:
            visit(node)
    return found


def lint(strategy: Strategy, registry: Registry, source: SourceMap,
         raw: Mapping[str, object], *, skip: frozenset[KeyPath] = frozenset(),
         venue_params: BaseModel | None = None) -> LintResult:
    return _Linter(strategy, registry, source, raw, skip, venue_params).run()


def unused(strategy: Strategy, registry: Registry, source: SourceMap,
           raw: Mapping[str, object], linted: LintResult) -> list[Diagnostic]:
    """The `unused` warnings, from what `lint` saw referenced."""
    linter = _Linter(strategy, registry, source, raw)
    linter.used = linted.used
    linter.unused()
    return linter.out.diagnostics
