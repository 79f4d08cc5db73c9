"""The compiler: every shipped strategy compiles; golden graph of examples/sma_cross.yaml;
warm-up across timeframes and through indicator-of-indicator chains; the renderers and
`runner graph` through typer's CliRunner."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from runner.cli import app
from runner.compile import Flow, Graph, NodeKind, compile, render_mermaid, render_text
from runner.config.validate import validate_file, validate_text
from runner.errors import ConfigError
from runner.plugins import Registry

ROOT = Path(__file__).resolve().parents[3]
STRATEGIES = sorted((ROOT / "strategies.d").glob("*.yaml"))
SMA_CROSS = ROOT / "examples" / "sma_cross.yaml"
MERMAID_EDGE = re.compile(r'^    (?P<a>[A-Za-z0-9_]+) -->(\|"[^"]*"\|)? (?P<b>[A-Za-z0-9_]+)$')
MERMAID_NODE = re.compile(r'^    (?P<id>[A-Za-z0-9_]+)\["[^"]*"\]$')


def compiled(path: Path, registry: Registry) -> Graph:
    validated = validate_file(path, registry)
    assert validated.ok, [d.render_line() for d in validated.diagnostics]
    return compile(validated, registry)


def compile_text(text: str, registry: Registry) -> Graph:
    validated = validate_text(text, "inline.yaml", registry)
    assert validated.ok, [d.render_line() for d in validated.diagnostics]
    return compile(validated, registry)


def assert_well_formed(graph: Graph) -> None:
    position = {nid: i for i, nid in enumerate(graph.order)}
    assert len(position) == len(graph.nodes), "node ids are unique"
    for edge in graph.edges:
        assert position[edge.source] < position[edge.target], edge
    assert graph.nodes[0].kind is NodeKind.FEED
    kinds = {n.kind for n in graph.nodes}
    assert {NodeKind.FEED, NodeKind.BARS, NodeKind.RISK_GATE, NodeKind.BROKER,
            NodeKind.PORTFOLIO, NodeKind.SINK} <= kinds
    for node in graph.nodes:
        if node.kind is not NodeKind.FEED:
            assert graph.inputs(node.id), f"{node.id} has no input"
        for edge in graph.inputs(node.id):
            assert node.warmup >= graph.node(edge.source).warmup
    assert graph.warmup_needed == max(n.warmup for n in graph.nodes)


@pytest.mark.parametrize("path", [*STRATEGIES, SMA_CROSS], ids=lambda p: p.name)
def test_every_shipped_strategy_compiles(path: Path, registry: Registry) -> None:
    graph = compiled(path, registry)
    assert_well_formed(graph)
    assert compiled(path, registry) == graph, "compiling is deterministic"
    assert render_text(graph)


def test_sma_cross_golden(registry: Registry) -> None:
    graph = compiled(SMA_CROSS, registry)
    assert graph.strategy == "sma-cross"
    assert graph.base_timeframe == "1m"
    assert graph.instruments == ("BTCUSDT",)
    assert graph.order == (
        "feed:feed", "bars:1h", "bars:1m",
        "indicator:atr", "indicator:fast", "indicator:slow", "indicator:trend",
        "signal:exit_long", "signal:uptrend", "signal:enter_long",
        "order_rule:orders[0]", "order_rule:orders[1]",
        "risk_gate:risk_gate", "broker:broker", "portfolio:portfolio",
        "sink:journal", "sink:metrics", "sink:report",
    )
    edges = {(e.source, e.target, e.flow, e.label) for e in graph.edges}
    assert edges == {
        ("feed:feed", "bars:1h", Flow.BARS, ""),
        ("feed:feed", "bars:1m", Flow.BARS, ""),
        ("bars:1h", "indicator:trend", Flow.BARS, "close"),
        ("bars:1h", "signal:uptrend", Flow.BARS, "close@1h"),
        ("bars:1m", "indicator:atr", Flow.BARS, "high,low,close"),
        ("bars:1m", "indicator:fast", Flow.BARS, "close"),
        ("bars:1m", "indicator:slow", Flow.BARS, "close"),
        ("indicator:trend", "signal:uptrend", Flow.SERIES, "trend@1h"),
        ("indicator:fast", "signal:enter_long", Flow.SERIES, "fast"),
        ("indicator:slow", "signal:enter_long", Flow.SERIES, "slow"),
        ("signal:uptrend", "signal:enter_long", Flow.BOOL, "uptrend"),
        ("indicator:fast", "signal:exit_long", Flow.SERIES, "fast"),
        ("indicator:slow", "signal:exit_long", Flow.SERIES, "slow"),
        ("signal:enter_long", "order_rule:orders[0]", Flow.BOOL, "enter_long"),
        ("indicator:atr", "order_rule:orders[0]", Flow.SERIES, "atr"),
        ("signal:exit_long", "order_rule:orders[1]", Flow.BOOL, "exit_long"),
        ("order_rule:orders[0]", "risk_gate:risk_gate", Flow.ORDERS, ""),
        ("order_rule:orders[1]", "risk_gate:risk_gate", Flow.ORDERS, ""),
        ("risk_gate:risk_gate", "broker:broker", Flow.ORDERS, ""),
        ("broker:broker", "portfolio:portfolio", Flow.FILLS, ""),
        ("portfolio:portfolio", "sink:journal", Flow.PORTFOLIO, ""),
        ("portfolio:portfolio", "sink:metrics", Flow.PORTFOLIO, ""),
        ("portfolio:portfolio", "sink:report", Flow.PORTFOLIO, ""),
        ("broker:broker", "sink:journal", Flow.FILLS, ""),
        ("risk_gate:risk_gate", "sink:journal", Flow.EVENTS, ""),
    }
    trend = graph.node("indicator:trend")
    assert (trend.type, trend.timeframe, trend.lookback) == ("ema", "1h", 19)
    assert trend.params is not None and trend.params.model_dump() == {"period": 20}
    # 19 null hourly bars: the first EMA value is on hourly bar 19 (the 20th), which
    # closes with 1m bar 20 * 60, so 20 * 60 - 1 base bars read null.
    assert trend.warmup == 20 * 60 - 1
    assert graph.node("bars:1h").warmup == 59
    assert graph.node("bars:1m").warmup == 0
    fast = graph.node("indicator:fast")
    assert fast.params is not None and fast.params.model_dump() == {"period": 60}
    assert (fast.lookback, fast.warmup) == (59, 59)
    assert graph.node("indicator:slow").warmup == 239
    assert graph.node("indicator:atr").warmup == 14
    assert graph.node("signal:exit_long").warmup == 239
    assert graph.node("signal:uptrend").warmup == 1199
    assert graph.node("signal:enter_long").warmup == 1199
    assert graph.node("order_rule:orders[1]").warmup == 239
    assert graph.node("order_rule:orders[0]").reads == (
        "param:stop_atr", "param:target_atr", "state:entry_price")
    assert graph.warmup_needed == 1199
    assert graph.warmup("paper") == graph.warmup("live") == graph.warmup() == 1199


INDICATOR_CHAIN = """\
version: 1
name: chain
instruments: [BTCUSDT, ETHUSDT]
timeframes: [5m, 1h]
paper: {warmup: 2000 bars}
indicators:
  slow: {type: sma, period: 30, timeframe: 1h}
  trend: {type: ema, period: 50, input: slow, timeframe: 1h}
  fast: {type: sma, period: 10}
  smooth: {type: ema, period: 5, input: fast}
signals:
  up: close@1h > trend and smooth > 0
  eth_up: ETHUSDT.close > ETHUSDT.smooth
orders:
  - when: up and eth_up
    instruments: [BTCUSDT]
    side: buy
    size: {quantity: 1}
  - when: hour(time) == 9
    action: close
"""


def test_indicator_of_an_indicator(registry: Registry) -> None:
    graph = compile_text(INDICATOR_CHAIN, registry)
    assert_well_formed(graph)
    order = graph.order
    assert order.index("indicator:slow") < order.index("indicator:trend")
    assert order.index("indicator:fast") < order.index("indicator:smooth")
    labels = {(e.source, e.target): e.label for e in graph.edges}
    assert labels[("indicator:slow", "indicator:trend")] == "slow"
    assert labels[("indicator:fast", "indicator:smooth")] == "fast"
    assert ("bars:1h", "indicator:trend") not in labels
    # chained lookbacks add up in bars of the indicators' own timeframe
    assert graph.node("indicator:trend").lookback == 49
    assert graph.node("indicator:trend").warmup == (29 + 49 + 1) * 12 - 1
    assert graph.node("indicator:smooth").warmup == 9 + 4
    # cross-instrument reads are labelled; a rule keeps its instrument scope
    assert labels[("indicator:smooth", "signal:eth_up")] == "ETHUSDT.smooth"
    assert graph.node("order_rule:orders[0]").instruments == ("BTCUSDT",)
    assert graph.node("signal:up").instruments == ("BTCUSDT", "ETHUSDT")
    # a rule that reads no node is clocked by the base bars
    assert ("bars:5m", "order_rule:orders[1]") in labels
    assert graph.node("order_rule:orders[1]").reads == ("state:time",)
    assert graph.warmup_needed == 79 * 12 - 1
    assert graph.warmup("paper") == 2000
    assert graph.warmup("live") == graph.warmup("backtest") == 79 * 12 - 1


def test_an_invalid_strategy_raises_config_error(registry: Registry) -> None:
    validated = validate_text(INDICATOR_CHAIN.replace("input: fast", "input: fsat"),
                              "bad.yaml", registry)
    assert not validated.ok
    with pytest.raises(ConfigError) as info:
        compile(validated, registry)
    assert info.value.exit_code == 1
    assert info.value.diagnostics == tuple(validated.errors)


def test_mermaid_parses_as_edges(registry: Registry) -> None:
    graph = compiled(SMA_CROSS, registry)
    lines = render_mermaid(graph).splitlines()
    assert lines[0] == "flowchart LR"
    declared: list[str] = []
    edges: list[tuple[str, str]] = []
    for line in lines[1:]:
        node, edge = MERMAID_NODE.match(line), MERMAID_EDGE.match(line)
        assert node or edge, line
        if node:
            declared.append(node["id"])
        elif edge:
            edges.append((edge["a"], edge["b"]))
    assert len(declared) == len(set(declared)) == len(graph.nodes)
    assert len(edges) == len(graph.edges)
    assert ("indicator_trend", "signal_uptrend") in edges
    assert ("order_rule_orders_0_", "risk_gate_risk_gate") in edges
    assert {a for e in edges for a in e} <= set(declared)


def test_render_text_lists_nodes_in_order(registry: Registry) -> None:
    text = render_text(compiled(SMA_CROSS, registry))
    assert text.splitlines()[0] == "graph sma-cross: base 1m, instruments BTCUSDT"
    assert "indicator trend = ema(period=20) on 1h  [lookback 19; warm-up 1199]" in text
    assert text.splitlines()[-1] == "warm-up: 1199 base bars (1m)"


cli = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = cli.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_cli_graph_text_and_mermaid(cli_env: dict[str, str]) -> None:
    code, out = invoke("graph", str(SMA_CROSS))
    assert code == 0, out
    assert out.startswith("graph sma-cross:")
    code, out = invoke("graph", str(SMA_CROSS), "--format", "mermaid")
    assert code == 0, out
    assert out.startswith("flowchart LR\n")
    assert "    indicator_fast -->|" in out


def test_cli_graph_invalid_file_prints_validate_diagnostics(
        cli_env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(INDICATOR_CHAIN.replace("input: fast", "input: fsat"), encoding="utf-8")
    code, out = invoke("graph", str(bad))
    assert code == 1, out
    vcode, vout = invoke("validate", str(bad))
    assert vcode == 1
    assert out == vout
    assert "error[" in out


def test_cli_graph_usage_errors(cli_env: dict[str, str], tmp_path: Path) -> None:
    code, _ = invoke("graph", str(tmp_path / "missing.yaml"))
    assert code == 2
    code, _ = invoke("graph", str(SMA_CROSS), "--format", "dot")
    assert code == 2


def test_an_unpinned_indicator_read_at_another_timeframe_is_a_second_node(
        registry: Registry) -> None:
    graph = compile_text(INDICATOR_CHAIN.replace("smooth > 0", "smooth@1h > 0"), registry)
    assert_well_formed(graph)
    again = graph.node("indicator:smooth@1h")
    assert (again.name, again.timeframe, again.lookback) == ("smooth@1h", "1h", 4)
    assert again.warmup == (9 + 4 + 1) * 12 - 1
    labels = {(e.source, e.target): e.label for e in graph.edges}
    assert labels[("indicator:fast@1h", "indicator:smooth@1h")] == "fast"
    assert labels[("bars:1h", "indicator:fast@1h")] == "close"
    assert labels[("indicator:smooth@1h", "signal:up")] == "smooth@1h"
    assert graph.node("indicator:smooth").warmup == 13  # still read on 5m by eth_up
