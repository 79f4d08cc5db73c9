"""Parity: paper mode replaying a bar history (`--mode paper --replay DATA --speed 0`)
writes the very `orders.csv`, `fills.csv` and `trades.csv` (and `equity.csv`) of a
backtest over the same data (DESIGN §4's parity contract).

Both sides run through their public entry points (`run_backtest`, and `run_paper`,
which the CLI calls); the paper side goes through the whole streaming runtime —
replay feed, asyncio executor, `RowBuilder`, per-bar columns, journal. Cases: every
strategy in `strategies.d/` and `examples/` on generated bars, hypothesis-generated
strategies (the differential test's generator: indicators, multi-timeframe signals,
every order type, brackets, sizing modes, risk limits with each `on_breach`) on random
bars with gaps and `--from/--to` windows, and the recorded XRP/ETH trade tape replayed
as trades against a backtest of its recorded 1-minute bars.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.config.validate import Validated, validate_file, validate_text
from runner.engine.backtest import run_backtest
from runner.plugins import Registry, load_registry
from runner.runtime.paper import PaperOptions, run_paper
from tests.integration.strategy_gen import (
    START_MS,
    TF_MS,
    BacktestSpec,
    Storage,
    StrategySpec,
    bar_moves,
    build_bars,
    storages,
    strategy_specs,
    write_bars,
)

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data" / "ohlcv"
COMPARED = ("orders.csv", "fills.csv", "trades.csv", "equity.csv")
PRICE_LEVEL = {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "ESZ4": 6_000.0,
               "MNQZ4": 20_300.0}

_REGISTRY: Registry | None = None


def registry() -> Registry:
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = load_registry(autoload=False)
    return _REGISTRY


def assert_parity(validated: Validated, data: str, work: Path, *,
                  start: datetime | None = None, end: datetime | None = None,
                  replay: str | None = None) -> dict[str, str]:
    """Backtest `data`, replay it (or `replay`) in paper mode, compare the files;
    the backtest's files by name, so callers can check something happened."""
    backtest, paper = work / "backtest", work / "paper"
    run_backtest(validated, registry(), out_dir=backtest, start=start, end=end,
                 data_path=data)
    outcome = run_paper(validated, registry(), PaperOptions(
        out_dir=paper, replay=replay or data, start=start, end=end, journal_dir=paper))
    assert outcome.stats.errors == []
    assert outcome.stats.dropped == 0
    for name in COMPARED:
        want = (backtest / name).read_text(encoding="utf-8")
        got = (paper / name).read_text(encoding="utf-8")
        assert got == want, f"{name} differs:\n{validated.text}"
    return {name: (backtest / name).read_text(encoding="utf-8") for name in COMPARED}


# -- the shipped strategies -----------------------------------------------------------

def _write_walk(path: Path, *, rows: int, tf_ms: int, level: float, seed: int,
                time_column: str, source: str, first: datetime,
                separator: str = ",") -> None:
    """A seeded random walk around a slow swing of ±1.2% (so levels get touched and
    trends turn), `rows` bars stored like the strategy's `data:` says."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, 0.00008, (rows, 6))
    swing = 0.012 * np.sin(np.arange(rows * 6) * (2 * np.pi / (6 * 700)))
    path_ = level * np.exp(swing + np.cumsum(steps.ravel())).reshape(rows, 6)
    tick = 0.25 if level > 1000 else 0.01
    prices = np.round(path_ / tick) * tick
    opens, closes = prices[:, 0], prices[:, -1]
    start = int(first.timestamp() * 1000)
    frame = pl.DataFrame({
        time_column: pl.Series(start + np.arange(rows) * tf_ms).cast(pl.Datetime("ms"))
        .dt.replace_time_zone("UTC"),
        "open": opens, "high": prices.max(axis=1), "low": prices.min(axis=1),
        "close": closes, "volume": np.round(rng.lognormal(2.0, 0.5, rows), 3)})
    path.parent.mkdir(parents=True, exist_ok=True)
    if source == "csv":
        frame.with_columns(pl.col(time_column).dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")) \
            .write_csv(path, separator=separator)
    else:
        frame.write_parquet(path)


def _utc(value: date | datetime | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


SHIPPED = [*sorted((ROOT / "strategies.d").glob("*.yaml")), ROOT / "examples" / "sma_cross.yaml"]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_strategy_paper_replay_equals_backtest(path: Path, tmp_path: Path) -> None:
    validated = validate_file(path, registry())
    assert validated.ok and validated.strategy is not None
    strategy = validated.strategy
    assert strategy.data is not None
    tf_ms = {"1m": 60_000, "5m": 300_000, "1h": 3_600_000}[strategy.data.timeframe]
    template = strategy.data.path.replace("data/", f"{tmp_path}/data/", 1)
    # the file's own window, passed to both sides as --from/--to
    start = _utc(strategy.backtest.start)
    end = _utc(strategy.backtest.end)
    if path.parent.name == "examples":
        template = str(ROOT / strategy.data.path)
    else:
        first = (start or datetime(2024, 3, 1, tzinfo=UTC)) - timedelta(days=10)
        for k, symbol in enumerate(strategy.instruments):
            _write_walk(Path(template.replace("{symbol}", symbol)),
                        rows=30_000 if tf_ms == 60_000 else 4_000, tf_ms=tf_ms,
                        level=PRICE_LEVEL.get(symbol, 100.0), seed=k + 7,
                        time_column=strategy.data.columns.get("time", "time"),
                        source=strategy.data.source, first=first,
                        separator=str(getattr(validated.data_options, "separator", ",")))
    files = assert_parity(validated, template, tmp_path, start=start, end=end)
    assert files["orders.csv"].count("\n") > 1, "the data should make the strategy act"


# -- generated strategies -------------------------------------------------------------

def specs_and_timeframes() -> st.SearchStrategy[tuple[StrategySpec, str]]:
    single = st.tuples(strategy_specs(), st.sampled_from(["1m", "5m"])).map(
        lambda p: (p[0].with_timeframe(p[1]), p[1]))
    multi = st.tuples(strategy_specs(multi_tf=True), st.just("1m"))
    return st.one_of(single, multi)


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(spec_tf=specs_and_timeframes(), moves=bar_moves(min_size=60, max_size=250),
       storage=storages, gaps=st.sets(st.integers(1, 249), max_size=8),
       window=st.none() | st.tuples(st.integers(0, 40), st.integers(20, 260)).map(
           lambda w: (w[0], w[0] + w[1])))
def test_generated_strategy_paper_replay_equals_backtest(
        spec_tf: tuple[StrategySpec, str], moves: list[tuple[int, int, int, int]],
        storage: Storage, gaps: set[int], window: tuple[int, int] | None) -> None:
    """With missing bars and a `--from/--to` window (the bars before `--from` are the
    warm-up on both sides)."""
    spec, tf = spec_tf
    tf_ms = TF_MS[tf]
    spec = replace(spec, backtest=replace(spec.backtest, start_ms=None, end_ms=None)) \
        if isinstance(spec.backtest, BacktestSpec) else spec
    stored = [b for j, b in enumerate(build_bars(moves, tf_ms)) if j not in gaps]
    start = end = None
    if window is not None:
        start, end = (datetime.fromtimestamp((START_MS + w * tf_ms) / 1000, UTC)
                      for w in window)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = work / f"XUSD.{storage.source}"
        write_bars(stored, str(data), tf_ms, storage)
        text = spec.to_yaml(str(data), storage=storage)
        validated = validate_text(text, str(work / "strategy.yaml"), registry())
        assert validated.ok, (text, [str(d) for d in validated.errors])
        assert_parity(validated, str(data), work, start=start, end=end)


# -- trades in, bars built by the runtime ---------------------------------------------

TRADES_STRATEGY = """\
version: 1
name: xrp-trades
instruments: [XRP_ETH]
data: {{source: parquet, path: "{bars}", timeframe: 1m}}
timeframes: [1m, 5m]
indicators:
  fast: {{type: ema, period: 5}}
  slow: {{type: sma, period: 20}}
signals:
  up: crosses_above(fast, slow) and close > close@5m
  down: crosses_below(fast, slow)
orders:
  - when: up and position == 0
    side: buy
    size: {{quantity: 1000}}
    take_profit: entry_price * 1.004
  - when: down
    action: close
backtest: {{cash: 100, fees: {{taker: 0.001, maker: 0.0005}}}}
"""


def test_trade_tape_replay_equals_backtest_of_its_bars(tmp_path: Path) -> None:
    """The XRP/ETH tape replayed as trades (bars built by `BarBuilder` in the
    executor) trades exactly like a backtest of the recorded 1-minute bars, which are
    its resample bar for bar."""
    trades = SHARED / "freqtrade" / "XRP_ETH-trades.json.gz"
    bars = SHARED / "freqtrade" / "XRP_ETH-1m.normalized.parquet"
    if not trades.is_file() or not bars.is_file():
        pytest.skip(f"needs ../shared/data/ohlcv/freqtrade (not found at {SHARED})")
    text = TRADES_STRATEGY.format(bars=str(bars).replace("XRP_ETH", "{symbol}"))
    validated = validate_text(text, str(tmp_path / "strategy.yaml"), registry())
    assert validated.ok, [str(d) for d in validated.errors]
    files = assert_parity(validated, str(bars).replace("XRP_ETH", "{symbol}"), tmp_path,
                          replay=str(trades).replace("XRP_ETH", "{symbol}"))
    assert files["fills.csv"].count("\n") > 10
    assert files["trades.csv"].count("\n") > 5
