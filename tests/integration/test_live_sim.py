"""Live mode end to end against the in-process `sim` venue (no network).

The `sim` venue is the `FakeVenue` exchange behind the `Venue` contract, so these runs
go through everything live mode has — credentials aside: metadata, the venue's own
history for warm-up, reconciliation, the router and the user stream, venue fills
booked at the next bar, the kill switch — and the venue's own books can be compared
with the journal and the files. Bars are one second long, so a run takes seconds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from runner.config.validate import Validated, validate_text
from runner.live.binding import LiveOptions, PositionMismatch, run_live
from runner.plugins import Registry
from runner.sim import SimParams
from runner.sim.venue import SimVenue
from runner.testing.fake_venue import FakeVenue
from runner.venue.contract import OrderRequest

VENUE = "{exchange: sim, params: {seed: 7, volatility: 2.0, trades_per_second: 300}}"


LIVE = f"""\
version: 1
name: livesim
venue: {VENUE}
instruments: [AAA]
timeframes: [1s]
bars: {{grace: 0.05}}
indicators:
  fast: {{type: sma, period: 2}}
orders:
  - when: position == 0 and fast > 0
    side: buy
    type: market
    size: {{quantity: 1}}
    stop_loss: entry_price * 0.5
    take_profit: entry_price * 2
  - when: position > 0
    action: close
backtest: {{cash: 10000}}
"""
"""In the market every other bar: an entry with a bracket far away (placed by the
runner when the entry fills, cancelled when the position is closed), then a close."""


def live_strategy(registry: Registry, tmp_path: Path, extra: str = "") -> Validated:
    text = LIVE + extra
    path = tmp_path / "live.yaml"
    path.write_text(text, encoding="utf-8")
    result = validate_text(text, str(path), registry)
    assert not result.errors, [d.message for d in result.errors]
    return result


def sharing(registry: Registry, fake: FakeVenue) -> Registry:
    """The registry with `sim` connecting every run to one exchange (`fake`), so a
    restart finds the orders, fills and positions the first run left."""
    sim = registry.exchanges["sim"]

    def connect(params: SimParams | None, credentials: object = None) -> SimVenue:
        return SimVenue(params if isinstance(params, SimParams) else SimParams(), fake=fake)

    return dataclasses.replace(registry, exchanges={**registry.exchanges,
                                                    "sim": dataclasses.replace(
                                                        sim, connect=connect)})


def fills_of(out: Path) -> list[tuple[str, float, float]]:
    frame = pl.read_csv(out / "fills.csv")
    return sorted(zip(frame["side"].to_list(), frame["price"].to_list(),
                      frame["quantity"].to_list(), strict=True))


def venue_fills(fake: FakeVenue) -> list[tuple[str, float, float]]:
    return sorted((f.side, f.price, f.quantity) for f in fake.fills("AAA"))


def test_a_live_run_books_exactly_the_venues_fills(registry: Registry, tmp_path: Path) -> None:
    fake = FakeVenue({}, balances={})
    strategy = live_strategy(registry, tmp_path)
    out = tmp_path / "run"
    outcome = run_live(strategy, sharing(registry, fake),
                       LiveOptions(out_dir=out, journal_dir=tmp_path, max_bars=12))
    assert outcome.stopped and not outcome.halted
    assert outcome.stats.rows >= 12
    assert fake.fills("AAA"), "the walk should make the sma cross trade within 12 bars"
    assert fills_of(out) == venue_fills(fake)
    assert len(fake.submitted) == len({r.client_id for r in fake.submitted})  # none twice
    journaled = sorted((p["side"], p["price"], p["quantity"])
                       for p in journal_payloads(outcome.journal, "venue_fill"))
    assert journaled == venue_fills(fake)
    sent = [p["client_id"] for p in journal_payloads(outcome.journal, "submit")]
    assert sent == [r.client_id for r in fake.submitted]  # each journaled before sending
    assert len(sent) == len(pl.read_csv(out / "orders.csv"))
    assert any(i.endswith(":sl") for i in sent)  # brackets placed by the runner...
    assert all(o.final for o in fake.orders())  # ...and cancelled with the position
    trades = pl.read_csv(out / "trades.csv")
    assert trades.height == len(venue_fills(fake)) // 2
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["mode"] == "live"


def journal_payloads(path: Path, kind: str) -> list[dict[str, Any]]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [json.loads(p) for (p,) in db.execute(
            "SELECT payload FROM events WHERE kind = ? ORDER BY seq", (kind,))]
    finally:
        db.close()


def test_a_restart_resumes_from_the_journal_and_the_venue(registry: Registry,
                                                          tmp_path: Path) -> None:
    """Two runs on one journal and one venue: the second rebuilds the first from the
    journal (the venue agrees: no mismatch), and its files hold every venue fill."""
    fake = FakeVenue({}, balances={})
    strategy = live_strategy(registry, tmp_path)
    shared = sharing(registry, fake)
    first = run_live(strategy, shared, LiveOptions(out_dir=tmp_path / "a",
                                                   journal_dir=tmp_path, max_bars=8))
    second = run_live(strategy, shared, LiveOptions(out_dir=tmp_path / "b",
                                                    journal_dir=tmp_path, max_bars=8))
    assert first.journal == second.journal
    starts = journal_payloads(second.journal, "start")
    assert [s["resumed_bars"] > 0 for s in starts] == [False, True]
    a_orders = pl.read_csv(tmp_path / "a" / "orders.csv")
    b_orders = pl.read_csv(tmp_path / "b" / "orders.csv")
    assert b_orders.head(a_orders.height).equals(a_orders)  # the first run, rebuilt
    assert b_orders.height > a_orders.height
    assert fills_of(tmp_path / "b") == venue_fills(fake)
    assert len(fake.submitted) == len({r.client_id for r in fake.submitted})


def test_an_unexplained_position_stops_the_run_before_any_order(registry: Registry,
                                                               tmp_path: Path) -> None:
    """What the account holds at the first start is its own (a warning); a position
    changed behind the strategy's back between two runs halts the second one."""
    fake = FakeVenue({}, balances={})
    venue = SimVenue(SimParams(), fake=fake, walk=False)

    async def someone_else_buys(client_id: str) -> None:
        await venue.instruments(["AAA"])
        if fake.last_price("AAA") is None:
            fake.set_price("AAA", 100.0)
        fake.submit(OrderRequest(client_id, "AAA", "buy", "market", 2.0))

    asyncio.run(someone_else_buys("manual-1"))
    strategy, shared = live_strategy(registry, tmp_path), sharing(registry, fake)
    first = run_live(strategy, shared, LiveOptions(out_dir=tmp_path / "a",
                                                   journal_dir=tmp_path, max_bars=3))
    assert any("already holds 2" in w for w in first.warnings)
    asyncio.run(someone_else_buys("manual-2"))
    sent = len(fake.submitted)
    with pytest.raises(PositionMismatch, match="AAA: venue") as raised:
        run_live(strategy, shared, LiveOptions(out_dir=tmp_path / "b", journal_dir=tmp_path,
                                               max_bars=3))
    found = re.search(r"AAA: venue (\S+), journal ([^);]+)", str(raised.value))
    assert found is not None
    assert float(found[1]) - float(found[2]) == 2.0  # the second manual buy
    assert len(fake.submitted) == sent  # nothing sent


def test_the_cli_runs_live_on_sim_and_refuses_without_credentials(
        registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`runner run --mode live --confirm-live` end to end in a subprocess on the sim
    venue; a Binance strategy without its environment variables is a usage error
    that names them, before anything connects."""
    import os
    import subprocess
    import sys

    path = tmp_path / "live.yaml"
    path.write_text(LIVE, encoding="utf-8")
    out = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNER_")}
    env["RUNNER_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    done = subprocess.run([sys.executable, "-m", "runner", "run", str(path), "--mode", "live",
                           "--confirm-live", "--max-bars", "3", "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out)
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["mode"] == "live"
    assert (out / "state.sqlite").is_file()
    binance = path.read_text(encoding="utf-8").replace(VENUE, "{exchange: binance}")
    path.write_text(binance, encoding="utf-8")
    env.pop("RUNNER_DISABLE_PLUGIN_AUTOLOAD")
    done = subprocess.run([sys.executable, "-m", "runner", "run", str(path), "--mode", "live",
                           "--confirm-live", "--out", str(tmp_path / "b")],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "RUNNER_BINANCE_MAIN_API_KEY and RUNNER_BINANCE_MAIN_API_SECRET" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_kill_switch_flattens_on_the_venue(registry: Registry, tmp_path: Path) -> None:
    """`--flatten-on-exit`: working orders cancelled, the position closed by a market
    order the venue fills; the files hold that last fill."""
    fake = FakeVenue({}, balances={})
    strategy = live_strategy(registry, tmp_path, extra="")
    outcome = run_live(strategy, sharing(registry, fake),
                       LiveOptions(out_dir=tmp_path / "run", journal_dir=tmp_path,
                                   max_bars=5, flatten_on_exit=True))
    assert outcome.stopped
    assert fake.position("AAA") == 0.0
    assert not fake.open_orders()
    assert fills_of(tmp_path / "run") == venue_fills(fake)
    orders = pl.read_csv(tmp_path / "run" / "orders.csv")
    assert set(orders["status"].to_list()) <= {"filled", "cancelled", "expired"}


def test_a_silent_feed_is_reopened_and_journaled(registry: Registry, tmp_path: Path) -> None:
    """`live.heartbeat`: a bar stream silent that long is opened again (the adapter
    reconnects) and a warning journaled; the run goes on when prints come back."""
    fake = FakeVenue({}, balances={})
    opened: list[int] = []

    class Counting(SimVenue):
        def bars(self, symbols: Any, timeframe: str) -> Any:
            opened.append(1)
            return super().bars(symbols, timeframe)

    sim = registry.exchanges["sim"]
    quiet = dataclasses.replace(registry, exchanges={**registry.exchanges, "sim": (
        dataclasses.replace(sim, connect=lambda p, c: Counting(p, fake=fake, walk=False)))})
    strategy = live_strategy(registry, tmp_path, extra="live: {heartbeat: 0.3}\n")

    async def prints_later() -> None:
        await asyncio.sleep(1.2)  # longer than the heartbeat: at least two reopenings
        for _ in range(400):
            fake.trade("AAA", 100.0, 1.0)
            await asyncio.sleep(0.01)

    import threading

    def market() -> None:
        asyncio.run(prints_later())

    thread = threading.Thread(target=market, daemon=True)
    thread.start()
    outcome = run_live(strategy, quiet, LiveOptions(out_dir=tmp_path / "run",
                                                    journal_dir=tmp_path, max_bars=2))
    thread.join(10)
    warnings = [p for p in journal_payloads(outcome.journal, "warning") if "feed" in p]
    assert len(warnings) >= 2 and "silent for 0.3 s" in warnings[0]["feed"]
    assert len(opened) >= 3
    assert outcome.stats.rows >= 2
