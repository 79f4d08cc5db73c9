"""Compile a validated strategy into its pipeline graph (DESIGN §4).

The compiler reads only what validation already established: the shape-valid
`Strategy`, each indicator's validated params, and the checked expressions with
their refs. It never parses an expression again.

Dependencies:

* `feed → bars(tf)` for the base timeframe and every timeframe something reads;
* `bars(tf) → indicator` for the price fields an indicator reads, and
  `indicator → indicator` for an indicator of an indicator. An indicator is one node
  per timeframe it is read on: `rsi` runs on its own timeframe (`timeframe:` or the
  base), and `rsi@1h` of an unpinned `rsi` is a second node on 1h bars, with its
  input chain instantiated on 1h as well;
* a signal depends on every price (`bars(tf)`), indicator and signal its expression
  references; an order rule on its `when` signal or expression and on the
  expressions in its fields (price, trigger, size, exits). A signal or rule that
  references no node (`hour(time) == 9`) is clocked by the base bars;
* every rule → risk gate → broker → portfolio → sinks (journal, metrics, report, and
  notifications when `paper`/`live` configure any). The journal also records fills
  and risk events. Params and run-time state are listed in `Node.reads`, not as
  edges: state is the portfolio of the previous bar, an edge would be a cycle.

Warm-up, in base bars. With `r` = timeframe / base timeframe:

* `bars(tf)`: `r - 1` — the first closed `tf` bar is known at the close of the
  r-th base bar;
* an indicator with own lookback `L` (`IndicatorDef.lookback(params)`, bars of its
  timeframe) reading other indicators: chained lookback `C = L + max(C of inputs)`
  (its inputs' rows only reach it once non-null); its first value is on `tf` bar
  index `C`, which closes with base bar `(C + 1) * r`, so it is null for
  `(C + 1) * r - 1` base bars (`C` when `r == 1`). A 1h EMA(20) over 1m bars has
  `C = 19` hourly bars and a warm-up of `20 * 60 - 1 = 1199` base bars;
* every other node: the largest warm-up among its inputs.

This assumes the feed starts on a `tf` boundary; a feed starting mid-bar needs up to
`r - 1` more base bars (the first `tf` bar is partial). The windows of expression
functions (`prev`, `highest(x, n)`, ...) are not counted. The strategy's warm-up is
the largest node warm-up, unless `paper.warmup` / `live.warmup` overrides it for
that mode.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from runner.compile.graph import STAGE, Edge, Flow, Graph, Node, NodeKind
from runner.config.models import PRICE_FIELDS, Strategy
from runner.config.validate import Validated
from runner.errors import ConfigError, InternalError
from runner.expr import CheckedExpr, IndicatorRef, ParamRef, PriceRef, Ref, SignalRef, StateRef
from runner.expr.scope import timeframe_seconds
from runner.plugins import Registry

SINKS = ("journal", "metrics", "report")


def compile(validated: Validated, registry: Registry) -> Graph:
    """The pipeline graph of a strategy that validated clean.

    Raises `ConfigError` (with the file's diagnostics) when `validated` has errors or
    no strategy, and `InternalError` if validation let through something the
    compiler cannot place (an unknown indicator type, a cycle).
    """
    if validated.strategy is None or not validated.ok:
        raise ConfigError(validated.errors or validated.diagnostics)
    return _Compiler(validated.strategy, validated, registry).build()


def node_id(kind: NodeKind, name: str) -> str:
    return f"{kind}:{name}"


@dataclass
class _Draft:
    kind: NodeKind
    name: str
    timeframe: str | None = None
    instruments: tuple[str, ...] = ()
    type: str | None = None
    params: BaseModel | None = None
    lookback: int = 0
    reads: set[str] = field(default_factory=set)
    warmup: int = 0


class _Compiler:
    def __init__(self, strategy: Strategy, validated: Validated, registry: Registry) -> None:
        self.s = strategy
        self.v = validated
        self.registry = registry
        self.base = strategy.base_timeframe
        self.instruments = tuple(strategy.instruments)
        self.drafts: dict[str, _Draft] = {}
        self.edges: dict[tuple[str, str, Flow], set[str]] = {}
        self.chain: dict[str, int] = {}  # indicator id -> chained lookback in its tf bars

    # -- building blocks ---------------------------------------------------------

    def add(self, kind: NodeKind, name: str, **kw: Any) -> str:
        nid = node_id(kind, name)
        if nid not in self.drafts:
            self.drafts[nid] = _Draft(kind, name, **kw)
        return nid

    def connect(self, source: str, target: str, flow: Flow, label: str = "") -> None:
        labels = self.edges.setdefault((source, target, flow), set())
        if label:
            labels.add(label)

    def ratio(self, tf: str) -> int:
        base = timeframe_seconds(self.base)
        mine = timeframe_seconds(tf)
        if base is None or mine is None or mine % base:
            raise InternalError(f"timeframe {tf} is not a multiple of the base {self.base}")
        return mine // base

    def bars(self, tf: str | None) -> str:
        tf = tf or self.base
        nid = node_id(NodeKind.BARS, tf)
        if nid not in self.drafts:
            self.add(NodeKind.BARS, tf, timeframe=tf, instruments=self.instruments,
                     warmup=self.ratio(tf) - 1)
            self.connect(node_id(NodeKind.FEED, "feed"), nid, Flow.BARS)
        return nid

    def indicator(self, name: str, tf: str | None, stack: tuple[str, ...] = ()) -> str:
        spec = self.s.indicators[name]
        own = spec.timeframe or self.base
        tf = tf or self.base
        nid = node_id(NodeKind.INDICATOR, name if tf == own else f"{name}@{tf}")
        if nid in self.drafts:
            return nid
        if nid in stack:
            raise InternalError("indicators form a cycle: " + " -> ".join((*stack, nid)))
        definition = self.registry.indicators.get(spec.type)
        params = self.v.indicator_params.get(name)
        if definition is None or params is None:
            raise InternalError(f'indicator "{name}" of type "{spec.type}" did not validate')
        lookback = int(definition.lookback(params))
        chained = 0
        fields: list[str] = []
        for role, source in _inputs(spec.input, definition.inputs):
            head, _, output = source.partition(".")
            if not output and head in PRICE_FIELDS:
                if head not in fields:
                    fields.append(head)
                continue
            if head not in self.s.indicators:
                raise InternalError(f'indicator "{name}" reads unknown "{source}" ({role})')
            upstream = self.indicator(head, tf, (*stack, nid))
            chained = max(chained, self.chain[upstream])
            self.connect(upstream, nid, Flow.SERIES, source)
        if fields:
            self.connect(self.bars(tf), nid, Flow.BARS, ",".join(fields))
        self.chain[nid] = lookback + chained
        r = self.ratio(tf)
        self.add(NodeKind.INDICATOR, nid.partition(":")[2], timeframe=tf,
                 instruments=self.instruments, type=spec.type, params=params,
                 lookback=lookback, warmup=(self.chain[nid] + 1) * r - 1)
        return nid

    def reference(self, target: str, ref: Ref) -> bool:
        """Connect what `ref` reads to `target`; True if that made an edge."""
        draft = self.drafts[target]
        instrument = None if isinstance(ref, ParamRef) else ref.instrument
        prefix = f"{instrument}." if instrument else ""
        if isinstance(ref, PriceRef):
            suffix = f"@{ref.timeframe}" if ref.timeframe else ""
            self.connect(self.bars(ref.timeframe), target, Flow.BARS,
                         f"{prefix}{ref.field}{suffix}")
        elif isinstance(ref, IndicatorRef):
            suffix = f"@{ref.timeframe}" if ref.timeframe else ""
            output = f".{ref.output}" if ref.output else ""
            self.connect(self.indicator(ref.name, ref.timeframe), target, Flow.SERIES,
                         f"{prefix}{ref.name}{output}{suffix}")
        elif isinstance(ref, SignalRef):
            self.connect(node_id(NodeKind.SIGNAL, ref.name), target, Flow.BOOL,
                         f"{prefix}{ref.name}")
        elif isinstance(ref, ParamRef):
            draft.reads.add(f"param:{ref.name}")
            return False
        elif isinstance(ref, StateRef):
            draft.reads.add(f"state:{prefix}{ref.name}")
            return False
        return True

    def expression(self, target: str, checked: CheckedExpr | None) -> bool:
        if checked is None:
            return False
        made = False
        for ref in checked.refs:
            made = self.reference(target, ref) or made
        return made

    # -- the pipeline ------------------------------------------------------------

    def build(self) -> Graph:
        s = self.s
        self.add(NodeKind.FEED, "feed", timeframe=self.base, instruments=self.instruments)
        base_bars = self.bars(self.base)
        for name, spec in s.indicators.items():
            self.indicator(name, spec.timeframe)
        for name in s.signals:
            self.add(NodeKind.SIGNAL, name, timeframe=self.base, instruments=self.instruments)
        for name in s.signals:
            target = node_id(NodeKind.SIGNAL, name)
            if not self.expression(target, self.v.expressions.get(("signals", name))):
                self.connect(base_bars, target, Flow.BARS)
        gate = self.add(NodeKind.RISK_GATE, "risk_gate")
        for i, rule in enumerate(s.orders):
            target = self.add(NodeKind.ORDER_RULE, rule.name or f"orders[{i}]",
                              timeframe=self.base,
                              instruments=tuple(rule.instruments or self.instruments))
            made = False
            when = rule.when.strip()
            if when in s.signals:
                self.connect(node_id(NodeKind.SIGNAL, when), target, Flow.BOOL, when)
                made = True
            for path, checked in sorted(self.v.expressions.items(), key=lambda kv: str(kv[0])):
                if path[:2] == ("orders", i):
                    made = self.expression(target, checked) or made
            if not made:
                self.connect(base_bars, target, Flow.BARS)
            self.connect(target, gate, Flow.ORDERS)
        broker = self.add(NodeKind.BROKER, "broker", instruments=self.instruments)
        portfolio = self.add(NodeKind.PORTFOLIO, "portfolio", instruments=self.instruments)
        self.connect(gate, broker, Flow.ORDERS)
        self.connect(broker, portfolio, Flow.FILLS)
        sinks = list(SINKS)
        if s.paper.notify or s.live.notify:
            sinks.append("notifications")
        for sink in sinks:
            nid = self.add(NodeKind.SINK, sink)
            self.connect(portfolio, nid, Flow.PORTFOLIO)
            if sink in ("journal", "notifications"):
                self.connect(broker, nid, Flow.FILLS)
                self.connect(gate, nid, Flow.EVENTS)
        return self.finish()

    def finish(self) -> Graph:
        order = _topological(self.drafts, self.edges)
        position = {nid: i for i, nid in enumerate(order)}
        preds: dict[str, list[str]] = defaultdict(list)
        for source, target, _ in self.edges:
            preds[target].append(source)
        nodes: dict[str, Node] = {}
        for nid in order:
            d = self.drafts[nid]
            warmup = max([d.warmup, *(nodes[p].warmup for p in preds[nid])])
            nodes[nid] = Node(id=nid, kind=d.kind, name=d.name, timeframe=d.timeframe,
                              instruments=d.instruments, type=d.type, params=d.params,
                              lookback=d.lookback, reads=tuple(sorted(d.reads)),
                              warmup=warmup)
        edges = sorted(
            (Edge(src, dst, flow, ", ".join(sorted(labels)))
             for (src, dst, flow), labels in self.edges.items()),
            key=lambda e: (position[e.source], position[e.target], e.flow, e.label))
        overrides = tuple((mode, session.warmup)
                          for mode, session in (("paper", self.s.paper), ("live", self.s.live))
                          if session.warmup is not None)
        return Graph(strategy=self.s.name, base_timeframe=self.base,
                     timeframes=tuple(self.s.timeframes), instruments=self.instruments,
                     nodes=tuple(nodes[n] for n in order), edges=tuple(edges),
                     warmup_needed=max(n.warmup for n in nodes.values()),
                     warmup_overrides=overrides)


def _inputs(spec_input: str | dict[str, str] | None,
            roles: tuple[str, ...]) -> list[tuple[str, str]]:
    """`(role, source)` per input role: a price field, `indicator` or `indicator.output`."""
    if spec_input is None:
        return [(role, role) for role in roles]
    if isinstance(spec_input, str):
        return [(roles[0], spec_input)]
    return [(role, spec_input.get(role, role)) for role in roles]


def _topological(drafts: dict[str, _Draft],
                 edges: dict[tuple[str, str, Flow], set[str]]) -> list[str]:
    """Kahn's algorithm; among ready nodes the earliest pipeline stage, then name, wins."""
    succ: dict[str, set[str]] = defaultdict(set)
    indegree = dict.fromkeys(drafts, 0)
    for source, target, _ in edges:
        if target not in succ[source]:
            succ[source].add(target)
            indegree[target] += 1

    def key(nid: str) -> tuple[int, str, str]:
        return STAGE[drafts[nid].kind], drafts[nid].name, nid

    ready = [key(n) for n, d in indegree.items() if d == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        nid = heapq.heappop(ready)[2]
        order.append(nid)
        for nxt in succ[nid]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                heapq.heappush(ready, key(nxt))
    if len(order) != len(drafts):
        stuck = sorted(n for n, d in indegree.items() if d > 0)
        raise InternalError("the strategy graph has a cycle through " + ", ".join(stuck))
    return order
