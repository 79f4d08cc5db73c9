"""The compiled pipeline graph: frozen nodes, typed edges, a topological order.

Node ids are `kind:name` (`bars:1h`, `indicator:trend`, `order_rule:orders[0]`; an
indicator read on a timeframe other than its own is `indicator:rsi@1h`), unique
in a graph. `Graph.nodes` is already in topological order (ties broken by pipeline
stage, then name), and `Graph.edges` follows it, so iterating a graph is deterministic.

Warm-up is counted in *base* bars throughout: `Node.warmup` is the number of leading
base bars for which the node's output is still null (see `runner.compile.compiler`
for the arithmetic across timeframes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import BaseModel


class NodeKind(StrEnum):
    """The pipeline stages, in pipeline order."""

    FEED = "feed"
    BARS = "bars"
    INDICATOR = "indicator"
    SIGNAL = "signal"
    ORDER_RULE = "order_rule"
    RISK_GATE = "risk_gate"
    BROKER = "broker"
    PORTFOLIO = "portfolio"
    SINK = "sink"


STAGE: Mapping[NodeKind, int] = {kind: i for i, kind in enumerate(NodeKind)}


class Flow(StrEnum):
    """What travels along an edge."""

    BARS = "bars"            # OHLCV rows (feed → bars, bars → whatever reads price fields)
    SERIES = "series"        # a numeric series (an indicator output)
    BOOL = "bool"            # a signal's boolean
    ORDERS = "orders"        # order intents, then approved orders
    FILLS = "fills"          # executions reported by the broker
    EVENTS = "events"        # risk decisions (rejections, halts) for the journal
    PORTFOLIO = "portfolio"  # positions, equity and PnL snapshots


@dataclass(frozen=True)
class Node:
    """One step of the pipeline.

    `timeframe` is set for bars, indicators (the bars they are computed on), signals
    and order rules (the base timeframe, on whose closed bars they run).
    `instruments` is the instrument scope: the instruments the node runs for.
    `type`, `params` and `lookback` are an indicator's type name, validated params
    model and own lookback in bars of its timeframe. `reads` lists what an
    expression reads besides other nodes: `param:NAME` and `state:NAME` (state
    comes from the portfolio of the previous bar, so it is not an edge — that
    would be a cycle). `warmup` is in base bars, inputs included.
    """

    id: str
    kind: NodeKind
    name: str
    timeframe: str | None = None
    instruments: tuple[str, ...] = ()
    type: str | None = None
    params: BaseModel | None = None
    lookback: int = 0
    reads: tuple[str, ...] = ()
    warmup: int = 0


@dataclass(frozen=True)
class Edge:
    """`source` feeds `target` with `flow`; `label` says what is read, when it is
    narrower than the whole output (`macd.hist`, `ETHUSDT.close`, `high,low,close`)."""

    source: str
    target: str
    flow: Flow
    label: str = ""


@dataclass(frozen=True)
class Graph:
    """A compiled strategy. `nodes` are in topological order."""

    strategy: str
    base_timeframe: str
    timeframes: tuple[str, ...]
    instruments: tuple[str, ...]
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    warmup_needed: int
    """Base bars before every node can produce a value: what the indicators need."""
    warmup_overrides: tuple[tuple[str, int], ...] = ()
    """`(mode, bars)` from `paper.warmup` / `live.warmup`, where the file sets one."""
    _index: dict[str, Node] = field(default_factory=dict, init=False, repr=False,
                                    compare=False, hash=False)

    def __post_init__(self) -> None:
        self._index.update((n.id, n) for n in self.nodes)

    @property
    def order(self) -> tuple[str, ...]:
        """Node ids in topological order."""
        return tuple(n.id for n in self.nodes)

    def node(self, node_id: str) -> Node:
        return self._index[node_id]

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._index

    def of_kind(self, kind: NodeKind) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if n.kind is kind)

    def inputs(self, node_id: str) -> tuple[Edge, ...]:
        return tuple(e for e in self.edges if e.target == node_id)

    def outputs(self, node_id: str) -> tuple[Edge, ...]:
        return tuple(e for e in self.edges if e.source == node_id)

    def warmup(self, mode: str = "backtest") -> int:
        """Warm-up in base bars for `mode`: the file's `<mode>.warmup` if it sets one,
        else what the graph needs."""
        return dict(self.warmup_overrides).get(mode, self.warmup_needed)
