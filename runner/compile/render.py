"""Print a compiled graph: as text for people, as a Mermaid flowchart for docs."""

from __future__ import annotations

import re

from runner.compile.graph import Graph, Node, NodeKind


def _describe(node: Node) -> str:
    parts = [node.kind.value] + ([node.name] if node.name != node.kind.value else [])
    if node.kind is NodeKind.INDICATOR and node.type is not None:
        args = ""
        if node.params is not None:
            args = ", ".join(f"{k}={v:g}" if isinstance(v, int | float) else f"{k}={v}"
                             for k, v in node.params.model_dump().items())
        parts.append(f"= {node.type}({args})")
    if node.timeframe is not None and node.kind is not NodeKind.BARS:
        parts.append(f"on {node.timeframe}")
    return " ".join(parts)


def render_text(graph: Graph) -> str:
    """Nodes in topological order, each with its warm-up and inputs, then the warm-up."""
    lines = [f"graph {graph.strategy}: base {graph.base_timeframe}, "
             f"instruments {', '.join(graph.instruments)}"]
    width = len(str(len(graph.nodes)))
    for i, node in enumerate(graph.nodes, 1):
        head = f"{i:>{width}}. {_describe(node)}"
        extra = []
        if node.kind is NodeKind.INDICATOR:
            extra.append(f"lookback {node.lookback}")
        if node.warmup:
            extra.append(f"warm-up {node.warmup}")
        if node.instruments and node.instruments != graph.instruments:
            extra.append("instruments " + ",".join(node.instruments))
        if node.reads:
            extra.append("reads " + " ".join(node.reads))
        lines.append(head + (f"  [{'; '.join(extra)}]" if extra else ""))
        for edge in graph.inputs(node.id):
            what = f"{edge.flow}" + (f" {edge.label}" if edge.label else "")
            lines.append(f"{' ' * (width + 2)}<- {edge.source} ({what})")
    lines.append(f"warm-up: {graph.warmup_needed} base bars ({graph.base_timeframe})")
    for mode, bars in graph.warmup_overrides:
        lines.append(f"warm-up in {mode}: {bars} base bars (set by {mode}.warmup)")
    return "\n".join(lines)


def mermaid_id(node_id: str) -> str:
    """A node id Mermaid accepts bare: `indicator:rsi@1h` -> `indicator_rsi_1h`."""
    return re.sub(r"[^A-Za-z0-9_]", "_", node_id)


def _quote(text: str) -> str:
    return text.replace('"', "#quot;")


def render_mermaid(graph: Graph) -> str:
    """`flowchart LR`: one `id["label"]` line per node, then one `a -->|flow| b` per edge."""
    lines = ["flowchart LR"]
    for node in graph.nodes:
        label = _describe(node)
        if node.warmup:
            label += f" (warm-up {node.warmup})"
        lines.append(f'    {mermaid_id(node.id)}["{_quote(label)}"]')
    for edge in graph.edges:
        what = str(edge.flow) + (f": {edge.label}" if edge.label else "")
        lines.append(f'    {mermaid_id(edge.source)} -->|"{_quote(what)}"| '
                     f"{mermaid_id(edge.target)}")
    return "\n".join(lines)
