"""Several instruments on one clock, end to end: cross-instrument reads, an instrument
with missing bars, and where its orders fill (DESIGN §3, README "Backtests")."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from runner.config.validate import validate_text
from runner.engine.backtest import run_backtest
from runner.plugins import Registry, load_registry
from tests.integration.golden_util import Run, _rows, minute, strategy_text


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry()


def write(path: Path, bars: dict[int, tuple[float, float, float, float]]) -> None:
    """Bars keyed by minute; a missing minute is a missing bar."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["time", "open", "high", "low", "close", "volume"])
        for m, (o, h, lo, c) in sorted(bars.items()):
            out.writerow([minute(m), o, h, lo, c, 1])


def run(tmp_path: Path, registry: Registry, body: str) -> Run:
    text = strategy_text(body, ["AAA", "BBB"], str(tmp_path / "{symbol}.csv"))
    validated = validate_text(text, str(tmp_path / "s.yaml"), registry)
    assert not validated.errors, [d.message for d in validated.errors]
    out = tmp_path / "out"
    run_backtest(validated, registry, out_dir=out)
    return Run(summary={}, orders=_rows(out / "orders.csv"), fills=_rows(out / "fills.csv"),
               trades=_rows(out / "trades.csv"), equity=_rows(out / "equity.csv"))


def test_a_missing_bar_neither_fills_nor_fires_and_keeps_the_last_values(
        tmp_path: Path, registry: Registry) -> None:
    """AAA has every minute 0..7; BBB lacks minutes 3 and 4. BBB closes at 200 from
    minute 2. Rule 0 (AAA) reads BBB.close: decided at minute 2's close, it fills at
    AAA's minute-3 open 101. Rule 1 (BBB) fires on BBB's own minute 2 and fills at
    BBB's next bar, minute 5 (open 205), not at minute 3 which BBB does not have. The
    clock is the union of times: 8 equity rows; at minutes 3-4 BBB keeps its last
    values (close 200), so its `close > 150` stays true but it is not re-evaluated
    there (it fires only on bars it has) and max_entries stops it after one entry."""
    write(tmp_path / "AAA.csv", {m: (100 + m, 100 + m, 100 + m, 100 + m) for m in range(8)})
    write(tmp_path / "BBB.csv", {0: (100, 100, 100, 100), 1: (100, 100, 100, 100),
                                 2: (100, 200, 100, 200), 5: (205, 205, 205, 205),
                                 6: (205, 205, 205, 205), 7: (205, 205, 205, 205)})
    body = """\
instruments: [AAA, BBB]
orders:
  - {instruments: [AAA], when: BBB.close > 150, side: buy, size: {quantity: 1}}
  - {instruments: [BBB], when: close > 150, side: buy, size: {quantity: 1}}
backtest: {cash: 10000}
"""
    result = run(tmp_path, registry, body)
    fills = [(f["order_id"], f["time"], float(f["price"])) for f in result.fills]
    assert fills == [("AAA-0-2", minute(3), 103.0), ("BBB-1-2", minute(5), 205.0)]
    assert [o["status"] for o in result.orders] == ["filled", "filled"]
    assert [row["time"] for row in result.equity] == [minute(m) for m in range(1, 9)]
    equity = [float(row["equity"]) for row in result.equity]
    # minute 3 (closes at 4): AAA 1 @ 103 marked at 103 -> 10000; minute 5: BBB 1 @ 205
    # marked 205, AAA marked 105 -> 10000 + 2
    assert equity[3] == 10000.0 and equity[5] == 10000.0 + 2.0
