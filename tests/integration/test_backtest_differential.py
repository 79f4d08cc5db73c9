"""Differential test: the engine's `trades.csv`, `fills.csv` and `equity.csv` (time,
equity, cash) equal, float for float, those of the plain reference simulator in
`reference_sim.py`, and its `orders.csv` lists the same orders (id, placed_at, final
status) in the same order, for hypothesis-generated strategies over random and real
bars, with and without a `backtest.start/end` window (and its warm-up).

The reference shares no code with `runner`; only the YAML validation and the run
itself go through the runner. A mismatch means one of the two misreads the spec.
"""

from __future__ import annotations

import csv
import itertools
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.config.validate import validate_text
from runner.engine.backtest import run_backtest
from runner.plugins import Registry, load_registry
from tests.integration import reference_sim as ref
from tests.integration.strategy_gen import (
    START_MS,
    SYMBOL,
    TF_MS,
    BacktestSpec,
    Bar,
    Indicator,
    RiskSpec,
    Rule,
    Signal,
    Storage,
    StrategySpec,
    bar_moves,
    build_bars,
    storages,
    strategy_specs,
    write_bars,
)

SHARED = Path(__file__).resolve().parents[3] / "shared"
OHLCV = SHARED / "data" / "ohlcv"
SETTINGS = settings(max_examples=100, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.data_too_large])

_REGISTRY: Registry | None = None


def registry() -> Registry:
    """Built-ins only: the differential property is about the core engine."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = load_registry(autoload=False)
    return _REGISTRY


# -- running both sides ---------------------------------------------------------------

def run_engine(spec: StrategySpec, data: Path, out: Path,
               storage: Storage | None) -> dict[str, Any]:
    """Validate the generated YAML (an invalid file is a generator bug) and run it;
    the run's log (`fast_path`: "used" or why not)."""
    text = spec.to_yaml(str(data), storage=storage)
    validated = validate_text(text, str(out.parent / "strategy.yaml"), registry())
    assert validated.ok, (text, [str(d) for d in validated.errors])
    log: dict[str, Any] = {}
    run_backtest(validated, registry(), out_dir=out, data_path=str(data), log=log)
    return log


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def engine_fills(out: Path) -> list[tuple[Any, ...]]:
    return [(r["order_id"], r["symbol"], r["side"], r["time"], float(r["price"]),
             float(r["quantity"]), float(r["fee"]), r["liquidity"], int(r["bar_index"]))
            for r in csv_rows(out / "fills.csv")]


def engine_trades(out: Path) -> list[tuple[Any, ...]]:
    return [(r["instrument"], r["side"], float(r["quantity"]), r["entry_time"],
             float(r["entry_price"]), r["exit_time"], float(r["exit_price"]),
             float(r["pnl"]), float(r["fees"]), r["exit_reason"])
            for r in csv_rows(out / "trades.csv")]


def engine_orders(out: Path) -> list[tuple[str, int, str]]:
    return [(r["id"], int(r["placed_at"]), r["status"]) for r in csv_rows(out / "orders.csv")]


def engine_equity(out: Path) -> list[tuple[str, float, float]]:
    return [(r["time"], float(r["equity"]), float(r["cash"]))
            for r in csv_rows(out / "equity.csv")]


def reference_rows(result: ref.Result) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    fills = [(f.order_id, SYMBOL, f.side, ref.iso(f.time), f.price, f.quantity, f.fee,
              f.liquidity, f.bar_index) for f in result.fills]
    trades = [(SYMBOL, t.side, t.quantity, ref.iso(t.entry_time), t.entry_price,
               ref.iso(t.exit_time), t.exit_price, t.pnl, t.fees, t.exit_reason)
              for t in result.trades]
    return fills, trades


def assert_same(spec: StrategySpec, bars: list[Bar], tf_ms: int, data: Path,
                work: Path, storage: Storage | None = None) -> dict[str, Any]:
    """The engine's fills, trades, equity curve (time, equity, cash: one row per
    traded bar, none for the warm-up) and orders (id, placed_at, final status: every
    order, bracket child, dropped and risk-refused one, in decision order) are exactly
    the reference's; `bars` are the
    stored ones (the reference applies `backtest.start/end` and the warm-up itself)."""
    out = work / "out"
    log = run_engine(spec, data, out, storage)
    result = ref.simulate(spec, bars, tf_ms)
    want_fills, want_trades = reference_rows(result)
    got_fills = engine_fills(out)
    context = spec.to_yaml(str(data), storage=storage)
    assert got_fills == want_fills, context
    assert engine_trades(out) == want_trades, context
    want_equity = [(ref.iso(t), e, c) for t, e, c in result.equity]
    assert engine_equity(out) == want_equity, context
    assert engine_orders(out) == result.orders, context
    return log


# -- random bars ----------------------------------------------------------------------

def specs_and_timeframes() -> st.SearchStrategy[tuple[StrategySpec, str]]:
    """A 1m or 5m strategy, or a 1m one that also reads 5m bars (`close@5m`, an
    indicator pinned to 5m)."""
    single = st.tuples(strategy_specs(), st.sampled_from(["1m", "5m"])).map(
        lambda p: (p[0].with_timeframe(p[1]), p[1]))
    multi = st.tuples(strategy_specs(multi_tf=True), st.just("1m"))
    return st.one_of(single, multi)


@SETTINGS
@given(spec_tf=specs_and_timeframes(), moves=bar_moves(min_size=60, max_size=250),
       storage=storages, gaps=st.sets(st.integers(1, 249), max_size=8),
       window=st.none() | st.tuples(st.integers(0, 40), st.integers(20, 260)).map(
           lambda w: (w[0], w[0] + w[1])))
def test_engine_matches_reference_on_random_bars(spec_tf: tuple[StrategySpec, str],
                                                 moves: list[tuple[int, int, int, int]],
                                                 storage: Storage, gaps: set[int],
                                                 window: tuple[int, int] | None) -> None:
    """Also with missing bars (`gaps`: a bar is a row, "the next bar" the next row) and
    a `backtest: start/end` window (bars opening in [start, end) are traded, the
    warm-up before the start is loaded for the indicators: see `ref.loaded`)."""
    spec, tf = spec_tf
    tf_ms = TF_MS[tf]
    stored = [b for j, b in enumerate(build_bars(moves, tf_ms)) if j not in gaps]
    if window is not None:
        start, end = (START_MS + w * tf_ms for w in window)
        spec = replace(spec, backtest=replace(spec.backtest, start_ms=start, end_ms=end))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = work / f"XUSD.{storage.source}"
        write_bars(stored, str(data), tf_ms, storage)
        assert_same(spec, stored, tf_ms, data, work, storage)


def fast_eligible(spec: StrategySpec) -> StrategySpec:
    """`spec` cut down to what the engine's compiled fast path runs (`why_not_fast`):
    market gtc entries without exits, quantity/notional sizes, `close` exits, no risk
    limits, no lot size. The generic loop sees such strategies only now and then. A
    `close` rule on `close` crossing `fast` is added, so that round trips close."""
    rules = []
    for rule in spec.rules:
        if rule.action == "cancel_orders":
            rule = replace(rule, action="close")
        elif rule.action is None:
            rule = replace(rule, type="market", stop_loss=None, take_profit=None,
                           trailing_stop=None, expire_after=None, time_in_force="gtc",
                           reduce_only=False, post_only=False,
                           size_mode="notional" if rule.size_mode in ("equity_pct", "risk_pct")
                           else rule.size_mode,
                           size_value=rule.size_value * 50 if rule.size_mode in (
                               "equity_pct", "risk_pct") else rule.size_value)
        rules.append(rule)
    exit_kind = "crosses_below" if rules[0].side == "buy" else "crosses_above"
    rules.append(Rule(when="exit", action="close"))
    return replace(spec, rules=tuple(rules),
                   signals=(*spec.signals, Signal("exit", exit_kind, "close", "fast")),
                   risk=RiskSpec(on_breach=spec.risk.on_breach,
                                 allow_short=spec.risk.allow_short),
                   instrument=replace(spec.instrument, lot_size=None))


@settings(SETTINGS, max_examples=30)
@given(spec_tf=specs_and_timeframes().map(lambda p: (fast_eligible(p[0]), p[1])),
       moves=bar_moves(min_size=60, max_size=250),
       window=st.none() | st.tuples(st.integers(0, 40), st.integers(20, 260)).map(
           lambda w: (w[0], w[0] + w[1])))
def test_fast_path_matches_reference(spec_tf: tuple[StrategySpec, str],
                                     moves: list[tuple[int, int, int, int]],
                                     window: tuple[int, int] | None) -> None:
    spec, tf = spec_tf
    tf_ms = TF_MS[tf]
    stored = build_bars(moves, tf_ms)
    if window is not None:
        start, end = (START_MS + w * tf_ms for w in window)
        spec = replace(spec, backtest=replace(spec.backtest, start_ms=start, end_ms=end))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = work / "XUSD.parquet"
        write_bars(stored, str(data), tf_ms)
        log = assert_same(spec, stored, tf_ms, data, work)
    assert log["fast_path"] == "used", log["fast_path"]


# -- real bars ------------------------------------------------------------------------

REAL = {
    "eth_btc_5m": ("freqtrade/ETH_BTC-5m.normalized.parquet", "5m", 1000, 2500),
    "btc_perp_1m": ("nautilus/btc-perp-20211231-20220201_1m.normalized.parquet", "1m",
                    5000, 2500),
}


def real_bars(key: str) -> tuple[list[Bar], str]:
    """A slice of a shared real-data file as bars (skips when ../shared is absent)."""
    rel, tf, offset, length = REAL[key]
    path = OHLCV / rel
    if not path.is_file():
        pytest.skip(f"real market data not found at {path} (../shared is not checked out)")
    frame = pl.read_parquet(path).slice(offset, length)
    bars = [(int(t), o, h, lo, c, v) for t, o, h, lo, c, v in frame.select(
        "timestamp", "open", "high", "low", "close", "volume").iter_rows()]
    steps = {b[0] - a[0] for a, b in itertools.pairwise(bars)}
    assert min(steps) > 0, "real slice must be strictly increasing"
    return bars, tf


@pytest.mark.parametrize("key", sorted(REAL))
def test_engine_matches_reference_on_real_bars(key: str, tmp_path: Path) -> None:
    bars, tf = real_bars(key)
    data = tmp_path / "XUSD.parquet"
    write_bars(bars, str(data))

    unit = 100.0 / bars[0][4]

    @settings(max_examples=15, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(spec=strategy_specs(instrument=False, unit=unit))
    def check(spec: StrategySpec) -> None:
        spec = spec.with_timeframe(tf)
        with tempfile.TemporaryDirectory() as tmp:
            assert_same(spec, bars, TF_MS[tf], data, Path(tmp))

    check()


# -- targeted scenarios: paths the random search reaches only rarely -------------------

FLAT_THEN_UP: list[Bar] = build_bars([(0, 0, 1, 1)] * 6 + [(0, 4, 1, 1), (4, 2, 1, 1)]
                                     + [(0, 1, 2, 2)] * 8, TF_MS["1m"])
"""Flat closes, then a jump up and a gapped open: an entry decided at the jump fills at
an open well above the decision close."""


def test_bracket_entry_price_is_the_fill_price(tmp_path: Path) -> None:
    """`entry_price` in a bracket is the entry's fill price (README "Backtests"): the
    entry fills at a gapped open well above the decision close."""
    spec = StrategySpec(
        indicators=(Indicator("fast", "sma", 2),),
        signals=(Signal("sig0", "above", "close", "fast", 1.0),),
        rules=(Rule(when="sig0", side="buy", size_mode="quantity", size_value=1.0,
                    stop_loss=0.02, take_profit=0.01, bracket_base="entry_price"),),
        backtest=BacktestSpec(slippage_bps=1.0))
    data = tmp_path / "XUSD.parquet"
    write_bars(FLAT_THEN_UP, str(data))
    assert_same(spec, FLAT_THEN_UP, TF_MS["1m"], data, tmp_path)


FALLING: list[Bar] = build_bars([(0, 0, 1, 1)] * 5 + [(0, -3, 1, 1)] * 15 + [(0, 2, 1, 1)] * 10,
                                TF_MS["1m"])
"""Flat, then a steady fall (a drawdown while long), then a recovery."""


@pytest.mark.parametrize("fill", ["next_open", "close"])
@pytest.mark.parametrize("on_breach", ["halt", "flatten"])
@pytest.mark.parametrize("risk", [RiskSpec(max_drawdown=0.01), RiskSpec(max_daily_loss=60.0)],
                         ids=["max_drawdown", "max_daily_loss"])
def test_standing_breach_while_long(fill: Literal["next_open", "close"],
                                    on_breach: Literal["halt", "flatten"], risk: RiskSpec,
                                    tmp_path: Path) -> None:
    """A loss limit breached with a position open: `flatten` closes it at once, `halt`
    only stops new entries."""
    spec = StrategySpec(
        indicators=(Indicator("fast", "sma", 2),),
        signals=(Signal("sig0", "above", "close", "fast", 0.9),),
        rules=(Rule(when="sig0", side="buy", size_mode="quantity", size_value=10.0,
                    max_entries=3, cooldown=2),),
        risk=replace(risk, on_breach=on_breach),
        backtest=BacktestSpec(fill=fill, taker=0.0004, slippage_bps=1.0))
    data = tmp_path / "XUSD.parquet"
    write_bars(FALLING, str(data))
    assert_same(spec, FALLING, TF_MS["1m"], data, tmp_path)
    flattened = any(r["order_id"].startswith("flatten")
                    for r in csv_rows(tmp_path / "out" / "fills.csv"))
    assert flattened == (on_breach == "flatten")


WAVE: list[Bar] = build_bars([(0, 3, 2, 2)] * 4 + [(0, -3, 2, 2)] * 4 + [(1, 3, 2, 2)] * 4
                             + [(-1, -3, 2, 2)] * 4, TF_MS["1m"])
"""Up and down moves with gapped opens: limits and stops fill a bar or two later."""


@pytest.mark.parametrize(("otype", "sign"), [("market", 1), ("limit", -1), ("stop", 1)])
def test_risk_pct_sizes_against_the_expected_entry(otype: Literal["market", "limit", "stop"],
                                                   sign: int, tmp_path: Path) -> None:
    """`risk_pct` with `stop_loss: entry_price * (1 - a)`: the size uses the stop at the
    expected entry (decision close, the limit, the trigger); the bracket then uses the
    fill price."""
    spec = StrategySpec(
        indicators=(Indicator("fast", "sma", 2),),
        signals=(Signal("sig0", "above", "close", "fast", 1.0),),
        rules=(Rule(when="sig0", side="buy", type=otype, sign=sign, frac=0.004,
                    size_mode="risk_pct", size_value=1.5, stop_loss=0.01,
                    bracket_base="entry_price"),),
        backtest=BacktestSpec(slippage_bps=2.5, taker=0.0004, maker=0.0002))
    data = tmp_path / "XUSD.parquet"
    write_bars(WAVE, str(data))
    want, _ = reference_rows(ref.simulate(spec, WAVE, TF_MS["1m"]))
    assert want, "the scenario must trade"
    assert_same(spec, WAVE, TF_MS["1m"], data, tmp_path)
