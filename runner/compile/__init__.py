"""The compiler (DESIGN §4): a validated strategy becomes one pipeline graph,
`feed → bars(tf) → indicators → signals → order rules → risk gate → broker →
portfolio → sinks`, which every mode binds at its ends.

    validated = validate_file(path, registry)
    graph = compile(validated, registry)      # runner.errors.ConfigError if invalid
    print(render_text(graph))
"""

from __future__ import annotations

from runner.compile.compiler import compile
from runner.compile.graph import Edge, Flow, Graph, Node, NodeKind
from runner.compile.render import render_mermaid, render_text

__all__ = [
    "Edge",
    "Flow",
    "Graph",
    "Node",
    "NodeKind",
    "compile",
    "render_mermaid",
    "render_text",
]
