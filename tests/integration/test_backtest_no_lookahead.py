"""No lookahead (DESIGN §3): what a backtest did up to a bar's close T cannot depend on
any bar after T.

For a generated strategy (some read a 5m timeframe: `close@5m`, or an indicator pinned
to 5m) and random 1m bars, the run is repeated with every bar after bar `t` replaced
(or cut off), and everything up to T = bar t's close must be unchanged:

- `orders.csv` rows placed at bar index <= t (`placed_at`; bracket children, dropped
  and risk-refused orders and flatten orders included), every column but `status` and
  `reason`: an order's final status (filled, cancelled, expired, open...) may
  legitimately be decided by a later bar;
- `fills.csv` rows of bar index <= t. Not "time <= T": a market order filling at bar
  t+1's open is stamped with t+1's open time, which *equals* T, yet it is priced by
  the later bar, so the bar index is the honest cut;
- `equity.csv` rows with time <= T (each row is stamped with its bar's close).
"""

from __future__ import annotations

import csv
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.config.validate import validate_text
from runner.engine.backtest import run_backtest
from runner.plugins import Registry, load_registry
from tests.integration.strategy_gen import (
    FLATTEN_IN_ORDERS_CSV,
    START_MS,
    TF_MS,
    BacktestSpec,
    Indicator,
    RiskSpec,
    Rule,
    Signal,
    StrategySpec,
    bar_moves,
    build_bars,
    strategy_specs,
    write_bars,
)

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.data_too_large])
_REGISTRY: Registry | None = None

Moves = list[tuple[int, int, int, int]]
LATER = ("status", "reason")
"""`orders.csv` columns a later bar may decide."""


def registry() -> Registry:
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = load_registry(autoload=False)
    return _REGISTRY


def run(spec: StrategySpec, moves: Moves, work: Path) -> dict[str, list[dict[str, str]]]:
    """One backtest over the 1m bars built from `moves`; its CSVs as rows."""
    work.mkdir()
    data = work / "XUSD.parquet"
    write_bars(build_bars(moves, TF_MS["1m"]), str(data))
    text = spec.to_yaml(str(data), data_timeframe="1m")
    validated = validate_text(text, str(work / "strategy.yaml"), registry())
    assert validated.ok, (text, [str(d) for d in validated.errors])
    run_backtest(validated, registry(), out_dir=work / "out", data_path=str(data))
    out: dict[str, list[dict[str, str]]] = {}
    for name in ("orders", "fills", "equity"):
        with (work / "out" / f"{name}.csv").open(newline="", encoding="utf-8") as fh:
            out[name] = list(csv.DictReader(fh))
    return out


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S") + \
        f".{ms % 1000:03d}Z"


def upto(rows: dict[str, list[dict[str, str]]], t: int,
         skip: int = 0) -> dict[str, list[dict[str, str]]]:
    """The part of a run fixed by the close of traded bar `t` (see the module
    docstring); `skip`: stored bars before the run's start (the warm-up)."""
    close_t = iso(START_MS + (skip + t + 1) * TF_MS["1m"])
    return {
        "orders": [{k: v for k, v in r.items() if k not in LATER}
                   for r in rows["orders"] if int(r["placed_at"]) <= t],
        "fills": [r for r in rows["fills"] if int(r["bar_index"]) <= t],
        "equity": [r for r in rows["equity"] if r["time"] <= close_t],
    }


def pick_cut(data: st.DataObject, before: dict[str, list[dict[str, str]]], n: int) -> int:
    """The bar `t` to cut after: often one where the first run placed an order or
    filled, since a leak from the future shows first in what happens at such a bar."""
    busy = sorted({int(r["placed_at"]) for r in before["orders"]}
                  | {int(r["bar_index"]) for r in before["fills"]})
    busy = [t for t in busy if 5 <= t <= n - 2]
    if busy and bool(data.draw(st.booleans())):
        return data.draw(st.sampled_from(busy))
    return data.draw(st.integers(5, n - 2))


def future(data: st.DataObject, moves: Moves, t: int) -> Moves:
    """Other bars after `t`: re-drawn, one nudged (mostly right after t), or cut off."""
    tail = len(moves) - t - 1
    how = data.draw(st.sampled_from(["redraw", "nudge", "truncate"]))
    if how == "truncate":
        return moves[: t + 1 + data.draw(st.integers(0, tail - 1))]
    if how == "nudge":  # one later bar changed a little: the subtle case
        j = min(len(moves) - 1, t + data.draw(st.sampled_from([1, 1, 2, 3, 4, 7, 20])))
        gap, body, up, down = moves[j]
        new = (gap + data.draw(st.sampled_from([-1, 0, 1])),
               body + data.draw(st.sampled_from([-2, 2])), up + 1, down)
        return [*moves[:j], new, *moves[j + 1:]]
    return moves[: t + 1] + data.draw(bar_moves(min_size=tail, max_size=tail))


@SETTINGS
@given(spec=st.sampled_from([False, True, True]).flatmap(
           lambda m: strategy_specs(multi_tf=m, flatten=FLATTEN_IN_ORDERS_CSV)),
       data=st.data(), moves=bar_moves(min_size=40, max_size=200),
       skip=st.none() | st.integers(1, 30))
def test_nothing_before_t_depends_on_bars_after_t(spec: StrategySpec, data: st.DataObject,
                                                  moves: Moves, skip: int | None) -> None:
    """`skip`: the run starts (`backtest.start`) that many bars into the data, the
    bars before it being (part of) its warm-up; `t` counts traded bars."""
    if skip is not None:
        spec = replace(spec, backtest=replace(
            spec.backtest, start_ms=START_MS + skip * TF_MS["1m"]))
    w = skip or 0
    with tempfile.TemporaryDirectory() as tmp:
        before = run(spec, moves, Path(tmp) / "a")
        t = pick_cut(data, before, len(moves) - w)
        after = run(spec, future(data, moves, w + t), Path(tmp) / "b")
    want, got = upto(before, t, w), upto(after, t, w)
    assert len(want["equity"]) == t + 1
    for name in ("orders", "fills", "equity"):
        assert got[name] == want[name], (name, t, spec.to_yaml("<data>"))


# -- targeted scenarios ---------------------------------------------------------------

def test_flatten_orders_record_their_bar(tmp_path: Path) -> None:
    """Flat bars, then a short entry whose first loss breaches `max_daily_loss`: the
    flatten order is placed at bar 39 (its id says so) and recorded there."""
    spec = StrategySpec(
        indicators=(Indicator("fast", "sma", 2),),
        signals=(Signal("sig0", "crosses_above", "close", "fast"),),
        rules=(Rule(when="sig0", side="sell", size_mode="notional", size_value=503.0),),
        risk=RiskSpec(max_daily_loss=5.0, on_breach="flatten", allow_short=True),
        backtest=BacktestSpec(cash=1000.0))
    rows = run(spec, [(0, 0, 0, 0)] * 38 + [(0, 1, 0, 0), (0, 2, 0, 0)], tmp_path / "run")
    flatten = [r for r in rows["orders"] if r["id"].startswith("flatten-")]
    assert flatten, "the scenario must flatten"
    for r in flatten:
        assert int(r["placed_at"]) == int(r["id"].split("-")[1]), r
