"""The fast path equals the event loop: `simulate_fast(inp).tables` equals
`tables_of(simulate(inp), inp)` table for table (orders, fills and trades bit for bit,
the equity, cash and in-position curves) with the same log counts, on random inputs
of its class, built directly and through the real planning pipeline (`prepare`);
and `why_not_fast` refuses everything outside the class."""

from __future__ import annotations

import csv
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.config.models import Backtest, Fees, OrderRule, Risk, Size, Strategy, TradingHours
from runner.config.validate import validate_text
from runner.engine.backtest import prepare
from runner.engine.fastpath import FastResult, simulate_fast, why_not_fast
from runner.engine.plan import Expression
from runner.engine.simulate import RulePlan, SimInput, SimResult, simulate
from runner.engine.tables import tables_of
from runner.plugins import Registry
from runner.sim.orders import InstrumentSpec

START_MS = 1_704_067_200_000
BASE = """\
version: 1
name: fast
venue: {exchange: sim}
instruments: [AAA]
data: {source: csv, path: "unused.csv", timeframe: 1m}
timeframes: [1m]
orders:
  - {when: close > 0, side: buy, size: {quantity: 1}}
"""


@pytest.fixture(scope="module")
def base_strategy(registry: Registry) -> Strategy:
    validated = validate_text(BASE, "fast.yaml", registry)
    assert validated.strategy is not None, [d.message for d in validated.errors]
    return validated.strategy


def assert_same(fast: FastResult, slow: SimResult, inp: SimInput) -> None:
    expected = tables_of(slow, inp)
    for name in ("orders", "fills", "trades"):
        got, want = getattr(fast.tables, name), getattr(expected, name)
        assert got.schema == want.schema, name
        assert got.to_dicts() == want.to_dicts(), name  # floats compared exactly
    for name in ("equity", "cash", "in_position"):
        np.testing.assert_array_equal(getattr(fast.tables, name), getattr(expected, name),
                                      err_msg=name)
    assert fast.log == slow.log
    assert slow.halted == ""


def column(name: str) -> Expression:
    return Expression(column=name, per_bar=None, reads=(), history=False)


# -- random inputs, built directly -------------------------------------------------------

SYMBOLS = ("AAA", "BBB", "CCC")


@st.composite
def sim_inputs(draw: st.DrawFn, strategy: Strategy) -> SimInput:
    n_sym = draw(st.integers(1, 3))
    symbols = SYMBOLS[:n_sym]
    n = draw(st.integers(4, 40))
    first = draw(st.integers(0, 3))
    bars: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
    fresh: dict[str, np.ndarray] = {}
    index: dict[str, np.ndarray] = {}
    for s in symbols:
        start = draw(st.integers(0, 5))
        gap = draw(st.sampled_from([0.0, 0.2, 0.5]))
        live = np.array([i >= start and draw(st.floats(0, 1)) >= gap for i in range(n)])
        prices = np.array([draw(st.sampled_from([0.5, 1.0, 9.0, 10.0, 100.0, 123.4567]))
                           * draw(st.floats(0.9, 1.1)) for _ in range(n)])
        close = np.full(n, math.nan)
        opens = np.full(n, math.nan)
        last = math.nan
        last_open = math.nan
        for i in range(n):
            if live[i]:
                last, last_open = prices[i], prices[i] * draw(st.floats(0.95, 1.05))
            close[i], opens[i] = last, last_open
        bars[s] = (opens, opens, close, close)  # high/low are not read by market orders
        fresh[s] = live
        index[s] = np.cumsum(live.astype(np.int64)) - 1
    columns: dict[str, list[Any]] = {}
    plans: list[RulePlan] = []
    pairs: list[tuple[int, str]] = []
    candidates: list[tuple[int, int]] = []
    for r in range(draw(st.integers(1, 4))):
        scope = tuple(s for s in symbols if draw(st.booleans())) or symbols[:1]
        close_rule = draw(st.integers(0, 2)) == 0
        mode = draw(st.sampled_from(["quantity", "notional"]))
        if close_rule:
            rule = OrderRule(when="x", action="close",
                             fraction=draw(st.sampled_from([None, 1.0, 0.5, 0.3])),
                             cooldown=draw(st.sampled_from([0, 0, 1, 3])))
        else:
            rule = OrderRule(when="x", side=draw(st.sampled_from(["buy", "sell"])),
                             size=Size(**{mode: "1"}),
                             max_entries=draw(st.sampled_from([1, 1, 2, 3])),
                             cooldown=draw(st.sampled_from([0, 0, 1, 3])))
        exprs: dict[tuple[str, str], Expression] = {}
        density = draw(st.sampled_from([0.1, 0.3, 0.7]))
        for s in scope:
            when = [None if draw(st.integers(0, 9)) == 0 else draw(st.floats(0, 1)) < density
                    for _ in range(n)]
            columns[f"w{r}{s}"] = when
            exprs[("when", s)] = column(f"w{r}{s}")
            if not close_rule:
                unit = 1.0 if mode == "quantity" else 100.0
                columns[f"z{r}{s}"] = [draw(st.sampled_from(
                    [None, 0.0, -1.0, 0.01 * unit, 0.7 * unit, unit, 2.5 * unit, 1e-12]))
                    for _ in range(n)]
                exprs[(mode, s)] = column(f"z{r}{s}")
            pair = len(pairs)
            pairs.append((r, s))
            candidates += [(i, pair) for i in range(n) if fresh[s][i]
                           and (when[i] or draw(st.integers(0, 4)) == 0)]
        plans.append(RulePlan(r, rule, f"rule{r}", scope, exprs,
                              None if close_rule else mode))
    candidates.sort()
    specs = {s: InstrumentSpec(
        tick_size=draw(st.sampled_from([None, 0.01])),
        min_notional=draw(st.sampled_from([None, None, 5.0, 50.0])),
        multiplier=draw(st.sampled_from([1.0, 1.0, 2.5, 0.1]))) for s in symbols}
    backtest = Backtest(cash=10_000.0,
                        fees=Fees(maker=draw(st.sampled_from([0.0, -0.0002, 0.001])),
                                  taker=draw(st.sampled_from([0.0, 0.0004, 0.001]))),
                        slippage_bps=draw(st.sampled_from([0.0, 1.0, 2.5])),
                        fill=draw(st.sampled_from(["next_open", "close"])))
    risk = Risk(allow_short=draw(st.booleans()))
    return SimInput(
        strategy=strategy.model_copy(update={"backtest": backtest, "risk": risk}),
        symbols=symbols, first=first,
        close_ms=START_MS + 60_000 * (np.arange(n, dtype=np.int64) + 1),
        open_ms=START_MS + 60_000 * np.arange(n, dtype=np.int64),
        bars=bars, fresh=fresh, bar_index=index, columns=columns, rules=plans,
        signals=[], candidates=candidates, pairs=pairs, continuous=False, specs=specs,
        params={})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.data_too_large])
@given(data=st.data())
def test_fast_path_equals_the_loop(base_strategy: Strategy, data: st.DataObject) -> None:
    inp = data.draw(sim_inputs(base_strategy))
    assert why_not_fast(inp) is None
    assert_same(simulate_fast(inp), simulate(inp), inp)


# -- through the planning pipeline -------------------------------------------------------


def write_csv(path: Path, closes: list[float], skip: set[int]) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["time", "open", "high", "low", "close", "volume"])
        prev = closes[0]
        for i, c in enumerate(closes):
            if i not in skip:
                t = (start + timedelta(minutes=i)).isoformat().replace("+00:00", "Z")
                out.writerow([t, prev, max(prev, c) + 0.5, min(prev, c) - 0.5, c, 1])
            prev = c


BODIES = {
    "sma-cross": """\
indicators:
  fast: {type: sma, period: 3}
  slow: {type: sma, period: 7}
signals:
  enter: crosses_above(fast, slow)
  exit: crosses_below(fast, slow)
orders:
  - {when: enter, side: buy, size: {quantity: 1}}
  - {when: exit, action: close}
backtest: {cash: 100000, fees: {maker: 0.0002, taker: 0.0004}, slippage_bps: 1}
""",
    "both-sides": """\
instruments:
  AAA: {multiplier: 2.5, min_notional: 150}
  BBB: {min_notional: 5}
indicators:
  fast: {type: sma, period: 2}
  slow: {type: sma, period: 5}
orders:
  - {when: fast > slow, side: buy, size: {notional: 300}, max_entries: 3, cooldown: 1}
  - {when: fast < slow, side: sell, size: {quantity: close / 100}, max_entries: 2}
  - {when: close > fast * 1.01, action: close, fraction: 0.5}
risk: {allow_short: true}
backtest: {cash: 50000, fees: {maker: -0.0001, taker: 0.0005}, fill: close}
""",
    "long-only-sells": """\
indicators:
  slow: {type: sma, period: 4}
orders:
  - {when: close > slow, side: buy, size: {quantity: 2}, max_entries: 2}
  - {when: close < slow, side: sell, size: {quantity: 1}, max_entries: 3}
  - {when: close < slow * 0.97, action: close, cooldown: 2}
backtest: {cash: 1000, slippage_bps: 3}
""",
}


@pytest.mark.parametrize("name", sorted(BODIES))
@pytest.mark.parametrize("seed", [1, 2])
def test_fast_path_equals_the_loop_through_prepare(
        tmp_path: Path, registry: Registry, name: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    symbols = ["AAA", "BBB"]
    for k, s in enumerate(symbols):
        closes = (100.0 + np.cumsum(rng.normal(0, 1.5, 300))).round(2).tolist()
        skip = set() if k == 0 else {int(i) for i in rng.choice(300, 40, replace=False)}
        write_csv(tmp_path / f"{s}.csv", closes, skip)
    body = BODIES[name]
    header = ["version: 1", "name: fast", "venue: {exchange: sim}",
              f'data: {{source: csv, path: "{tmp_path}/{{symbol}}.csv", timeframe: 1m}}',
              "timeframes: [1m]"]
    if "instruments:" not in body:
        header.append("instruments: [AAA, BBB]")
    text = "\n".join(header) + "\n" + body
    validated = validate_text(text, str(tmp_path / "s.yaml"), registry)
    assert not validated.errors, [d.message for d in validated.errors]
    inp, _ = prepare(validated, registry)
    assert why_not_fast(inp) is None
    slow = simulate(inp)
    assert len(slow.fills) > 5
    assert_same(simulate_fast(inp), slow, inp)


# -- the class boundary ------------------------------------------------------------------


def test_why_not_fast_refuses_what_the_kernel_does_not_do(base_strategy: Strategy) -> None:
    when = column("w")
    size = column("z")
    plan = RulePlan(0, OrderRule(when="x", side="buy", size=Size(quantity="1")), "r",
                    ("AAA",), {("when", "AAA"): when, ("quantity", "AAA"): size}, "quantity")
    n = 3
    inp = SimInput(
        strategy=base_strategy, symbols=("AAA",), first=0,
        close_ms=np.arange(n) + 1, open_ms=np.arange(n),
        bars={"AAA": (np.ones(n), np.ones(n), np.ones(n), np.ones(n))},
        fresh={"AAA": np.ones(n, dtype=bool)}, bar_index={"AAA": np.arange(n)},
        columns={"w": [True] * n, "z": [1.0] * n}, rules=[plan], signals=[],
        candidates=[(i, 0) for i in range(n)], pairs=[(0, "AAA")], continuous=False,
        specs={"AAA": InstrumentSpec()}, params={})
    assert why_not_fast(inp) is None

    def with_rule(**changes: Any) -> SimInput:
        rule = plan.rule.model_copy(update=changes)
        return replace(inp, rules=[replace(plan, rule=rule)])

    refused: list[SimInput] = [
        replace(inp, continuous=True),
        replace(inp, signals=[("s", "AAA", when)]),
        replace(inp, specs={"AAA": InstrumentSpec(lot_size=0.1)}),
        replace(inp, specs={}),
        replace(inp, rules=[replace(plan, exprs={**plan.exprs, ("when", "AAA"): Expression(
            column=None, per_bar=None, reads=(), history=False)})]),
        replace(inp, rules=[replace(plan, size_mode="equity_pct")]),
        replace(inp, rules=[replace(plan, size_mode="risk_pct")]),
        with_rule(action="cancel_orders", side=None),
        with_rule(type="limit", price="close"),
        with_rule(type="stop", trigger="close"),
        with_rule(type="stop_limit"),
        with_rule(time_in_force="ioc"),
        with_rule(time_in_force="fok"),
        with_rule(expire_after=2),
        with_rule(reduce_only=True),
        with_rule(post_only=True),
        with_rule(price="close"),
        with_rule(stop_loss="close * 0.9"),
        with_rule(take_profit="close * 1.1"),
        with_rule(trailing_stop="5"),
    ]
    limits: dict[str, Any] = {
        "max_position": 1.0, "max_gross_exposure": 1.0, "max_open_orders": 1,
        "max_orders_per_minute": 1, "max_daily_loss": 1.0, "max_drawdown": 0.5,
        "max_daily_trades": 1, "max_positions": 1,
        "trading_hours": TradingHours(start="00:00", end="12:00")}
    for key, value in limits.items():
        risk = Risk(**{key: value})
        refused.append(replace(inp, strategy=base_strategy.model_copy(update={"risk": risk})))
    for case in refused:
        assert why_not_fast(case) is not None, case
        with pytest.raises(ValueError):
            simulate_fast(case)
    # allowed: close rules of any fraction, allow_short, min_notional, multiplier, ticks
    allowed = [
        with_rule(action="close", side=None, size=None, fraction=0.25),
        replace(inp, strategy=base_strategy.model_copy(
            update={"risk": Risk(allow_short=True)})),
        replace(inp, specs={"AAA": InstrumentSpec(tick_size=0.5, min_notional=10.0,
                                                  multiplier=3.0)}),
    ]
    for case in allowed:
        assert why_not_fast(case) is None
