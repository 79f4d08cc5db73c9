"""Live mode killed and restarted: SIGKILL at 20 points of a run, restart each time.

The fake Binance runs in the test process (`live_market.MarketThread`); the runner runs
as a subprocess, `runner run FILE --mode live --confirm-live --out OUT` (no --fresh),
as a user runs it. The market is driven in lockstep (`live_market.Driver`) and, here,
also gated: a window is printed only while the test does not hold the driver (it holds
it from each kill until the next process starts) and once the running process has
journaled its `start` (journal replay and reconciliation done). So the market stands
still while a runner is down or starting, and an order a restart finds journaled but
unsent is sent at the price it would have had. No network faults: the plugin's default
back-off only matters after a failed connection, and each restart connects afresh.

The 20 kills (seeded, `SEED`): the first once the first process traded a few bars;
16 at random wall times after a process start (every 4th within 0.05-1.2 s: imports,
connection, journal replay, reconciliation; the others 1.0-3.0 s: mostly while
trading, anywhere in a bar's cycle); 2 (`ON_SUBMIT`) as an order reaches the fake,
which then never gets it (the process died between journaling the order and sending
it: the restart must send it; its user stream is held back 0.5 s, so that fill comes
before the stream connects and only the stream's catching up over REST reads it);
2 (`ON_PRINT`) right after the market printed a window, before the runner was even
sent the bar it closed (see below). After the 20th restart the last process trades
`AFTER` more bars and is SIGTERM'd (exit 0: it cancels, settles and writes its files).
An uninterrupted run over the same driven market (same seed, same windows, SIGTERM'd
after the same last window) is the reference.

What is compared. The strategy (`live_market.strategy_yaml`) sends a market order at
every bar: bar j closes when window j+1's first print comes, and its order fills at
window j+1's last print. The hard kill is the one after the venue closed bar j (window
j+1 printed) but before the runner committed bar j to its journal: the restart reads
bar j from the venue's history, and because it closed less than a bar ago (the market
stands still while the runner is down) it trades it as it would have live — the same
order at the same price. Only bars older than that would be recorded as cancelled
("decided on a bar a restart backfilled"), and here there are none. A random kill
lands in that gap rarely; the `ON_PRINT` kills land there for certain. Asserted:

- the set S of suppressed bars is empty, and equals the bars restarts backfilled
  before a `suppress_before` time;
- a model: for each traded bar j, in order, one market fill of 0.01 at window j+1's
  last print (price and time), sides alternating buy, sell, ...; both runs' fills.csv
  equal it, and trades.csv its round trips;
- orders.csv, fills.csv, trades.csv and equity.csv of the killed run equal the
  uninterrupted run's byte for byte;
- the journaled bars (open times and OHLCV) and the first traded bar are the same.

And for each run: fills.csv == the venue's fills == the journal's `venue_fill` events
(`assert_books_agree`); no client order id reached the venue twice, not even as a
refused attempt; the journal's bars are contiguous; every `start` after the first
resumed bars from the journal; each order lost by an `ON_SUBMIT` kill was sent by a
restart.

Cost: about 50 s on 2 cores (21 + 1 process starts of ~1 s each; ~200-400 bars per
run, depending on the machine's speed).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
from live_market import (
    MINUTE,
    START_MS,
    Driver,
    MarketThread,
    assert_bars_contiguous,
    assert_books_agree,
    csv_fills,
    iso,
    journal_payloads,
    strategy_yaml,
    walk,
)

from runner.venue.contract import OrderRejected, OrderRequest, OrderState

SEED = 29
HISTORY = 10
KILLS = 20
ON_PRINT = (13, 16)
"""The kills made right after a print (module docstring)."""
ON_SUBMIT = (5, 10)
"""The kills made as an order arrives, which the venue then never gets."""
USER_STREAM_DELAY_S = 0.5
AFTER = 10
"""Bars the last process trades after the 20th restart."""
QUIET_S = 0.04
QUANTITY = 0.01
SUPPRESSED = "decided on a bar a restart backfilled"
DEADLINE_S = 150.0
"""Hard limit of one driven run (the test's own wall time is well below)."""


def start_count(journal: Path) -> int:
    """`start` events the journal holds (0 while it cannot be read yet)."""
    if not journal.exists():
        return 0
    try:
        db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=0.5)
        try:
            return int(db.execute("SELECT count(*) FROM events WHERE kind = 'start'")
                       .fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0


class LiveRun:
    """One driven market and the runner processes trading on it, one at a time."""

    def __init__(self, tmp: Path, name: str) -> None:
        self.market = MarketThread()
        self.fake, self.venue = self.market.fake, self.market.venue
        self.slow_user_stream = False
        self._listen_key = self.fake.listen_key
        self.fake.listen_key = self._slow_listen_key  # type: ignore[method-assign]
        self.market.__enter__()
        self.windows = walk(SEED, HISTORY + 2000)
        self.driver = Driver(self.market, self.windows, quiet_s=QUIET_S)
        self.market.call(lambda: self.driver.history(HISTORY))
        self.dir = tmp / name
        self.dir.mkdir()
        self.file = self.dir / "live.yaml"
        self.file.write_text(strategy_yaml(self.fake), encoding="utf-8")
        self.out = self.dir / "out"
        self.journal = self.out / "state.sqlite"
        self.proc: subprocess.Popen[bytes] | None = None
        self.launches = 0
        self.phases: list[str] = []
        """Per kill: `start-up` (before the process journaled its start), else `+n`, the
        bars it committed."""
        self.bars = 0
        self.started = time.monotonic()
        # the driving state: touched in the fake's loop only
        self.hold = False
        self.gate = 0
        """The process may be driven once the journal holds more `start`s than this."""
        self.ready = False
        self.stopping = False
        self.kill_on_print: int | None = None
        self.print_kills: list[int] = []
        """The windows whose print a process was killed right after."""
        self.kill_on_submit: int | None = None
        self.lost: list[str] = []
        """Client ids of the orders whose sender was killed as they arrived."""
        self._venue_submit = self.venue.submit
        self.venue.submit = self._submit  # type: ignore[method-assign]
        self.driving = self.market.submit(self._drive())

    # -- the market ---------------------------------------------------------------------
    def _ready(self) -> bool:
        if not self.ready and start_count(self.journal) > self.gate:
            self.ready = True
        return self.ready

    async def _drive(self) -> None:
        while not self.stopping:
            if self.hold or not self._ready():
                await asyncio.sleep(0.005)
                continue
            printed = await self.driver.step(lambda: not self.hold and not self.stopping)
            if printed and self.kill_on_print is not None:
                # the venue closed a bar the runner has not even been sent: a kill
                # between the close and its journaling, for certain
                os.kill(self.kill_on_print, signal.SIGKILL)
                self.kill_on_print, self.hold = None, True
                self.print_kills.append(self.driver.next - 1)

    def in_loop(self, fn: Callable[[], Any]) -> Any:
        return self.market.call(fn)

    def printed(self) -> int:
        """Windows printed so far."""
        return int(self.in_loop(lambda: self.driver.next))

    def wait_printed(self, n: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self.printed() < n:
            self.check_alive()
            if self.driving.done():
                self.driving.result()  # the driver's error
                raise AssertionError("the driver stopped")
            assert time.monotonic() < deadline, f"the market did not reach window {n}"
            time.sleep(0.01)

    # -- the runner ---------------------------------------------------------------------
    def launch(self) -> None:
        assert self.proc is None or self.proc.poll() is not None
        assert time.monotonic() - self.started < DEADLINE_S, "the run took too long"
        env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNER_")}
        env.update(RUNNER_BINANCE_MAIN_API_KEY=self.fake.api_key,
                   RUNNER_BINANCE_MAIN_API_SECRET=self.fake.api_secret)
        self.launches += 1
        log = self.dir / f"launch{self.launches:02d}"
        with open(f"{log}.out", "wb") as out, open(f"{log}.err", "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "runner", "run", str(self.file), "--mode", "live",
                 "--confirm-live", "--out", str(self.out)],
                cwd=self.dir, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)

    def stderr(self) -> str:
        return (self.dir / f"launch{self.launches:02d}.err").read_text(errors="replace")

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"launch {self.launches} exited by itself "
                                 f"({self.proc.returncode}): {self.stderr()}")

    def _submit(self, req: OrderRequest) -> OrderState:
        """The venue's `submit`, or (`kill_on_submit`) the runner killed as its order
        arrives, which the venue then never gets: as if the process died between
        journaling the order and sending it."""
        if self.kill_on_submit is None:
            return self._venue_submit(req)
        os.kill(self.kill_on_submit, signal.SIGKILL)
        self.kill_on_submit, self.hold, self.slow_user_stream = None, True, True
        self.lost.append(req.client_id)
        raise OrderRejected("the sender is dead", code="test")

    async def _slow_listen_key(self, method: str, params: Any) -> Any:
        """The fake's listenKey route; once after a `submit` kill, its POST waits
        `USER_STREAM_DELAY_S`: the restart's user stream connects only after the order
        it sends again has filled, which only the stream's catching up reads."""
        if method == "POST" and self.slow_user_stream:
            self.slow_user_stream = False
            await asyncio.sleep(USER_STREAM_DELAY_S)
        return await self._listen_key(method, params)

    def kill(self, *, on: str = "") -> None:
        """SIGKILL the process: now, right after the market's next print (`on="print"`)
        or as its next order arrives (`on="submit"`); the market holds still until the
        next process started."""
        assert self.proc is not None
        self.check_alive()
        if on:
            pid = self.proc.pid
            self.in_loop(lambda: setattr(self, f"kill_on_{on}", pid))
            self.proc.wait(30)
            assert self.proc.returncode == -signal.SIGKILL, self.stderr()
        else:
            self.in_loop(lambda: setattr(self, "hold", True))
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        gate = start_count(self.journal)
        bars = len(journal_payloads(self.journal, "bar")) if self.journal.exists() else 0
        self.phases.append((f"{on} " if on else "") + (
            f"+{bars - self.bars}" if gate > self.gate else "start-up"))
        self.bars = bars

        def release() -> None:
            self.fake.drop_sockets()  # what the dead process left: gone at once
            self.ready, self.gate, self.hold = False, gate, False

        self.in_loop(release)

    def stop(self) -> int:
        """Hold the market, let the runner settle, SIGTERM it; its exit code."""
        assert self.proc is not None
        self.check_alive()
        self.in_loop(lambda: setattr(self, "hold", True))
        assert self.market.run(self.driver.settle(), timeout=60), "the runner did not settle"
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)

    def check_books(self) -> None:
        """fills.csv == the venue's fills == the journal's `venue_fill` events; no client
        order id reached the venue twice (not even as a refused attempt); the journal's
        bars are contiguous."""
        def books() -> list[str]:
            assert_books_agree(self.venue, self.journal, self.out)
            return [r.client_id for r in self.venue.attempts]

        attempts = self.in_loop(books)
        assert len(attempts) == len(set(attempts)), "an order reached the venue twice"
        assert_bars_contiguous(self.journal)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            with contextlib.suppress(Exception):
                self.proc.wait(10)
        with contextlib.suppress(Exception):
            self.in_loop(lambda: setattr(self, "stopping", True))
            self.driving.result(40)
        self.market.__exit__(None, None, None)


# -- what is expected ------------------------------------------------------------------

def last_print(windows: list[list[tuple[int, float, float]]], k: int) -> tuple[datetime, float]:
    offset, price, _ = windows[k][-1]
    return iso(START_MS + k * MINUTE + offset), price


def model(windows: list[list[tuple[int, float, float]]], traded: list[int],
          suppressed: set[int]) -> list[tuple[str, datetime, float, float]]:
    """The fills of the strategy over the traded bars (by window index) when the orders
    of `suppressed` bars were never sent (module docstring)."""
    out = []
    side = "buy"
    for j in traded:
        if j in suppressed:
            continue
        when, price = last_print(windows, j + 1)
        out.append((side, when, price, QUANTITY))
        side = "sell" if side == "buy" else "buy"
    return sorted(out)  # as `csv_fills` gives them (times are distinct)


def bar_index(open_ms: int) -> int:
    assert (open_ms - START_MS) % MINUTE == 0
    return (open_ms - START_MS) // MINUTE


def traded_bars(journal: Path) -> list[int]:
    """Window indices of the bars traded (from `trading_from` to the last bar)."""
    start = journal_payloads(journal, "trading_from")
    assert len(start) == 1, start
    opens = [int(p["t"]) for p in journal_payloads(journal, "bar")]
    return [bar_index(t) for t in opens if t >= int(start[0]["start_ms"])]


def suppressed_bars(out: Path, journal: Path) -> set[int]:
    """Bars whose order a restart recorded as cancelled (orders.csv), by the bar each was
    decided on (its `placed_at`, counted from the first traded bar)."""
    orders = pl.read_csv(out / "orders.csv")
    rows = orders.filter(pl.col("reason") == SUPPRESSED)
    traded = traded_bars(journal)
    return {traded[int(k)] for k in rows["placed_at"].to_list()}


def backfilled_bars(journal: Path) -> set[int]:
    """The bars restarts read from the venue's history: those journaled after a
    `suppress_before` event and opening before its time."""
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT kind, payload FROM events "
                          "WHERE kind IN ('bar', 'suppress_before') ORDER BY seq").fetchall()
    finally:
        db.close()
    out, before = set(), -1
    for kind, payload in rows:
        data = json.loads(payload)
        if kind == "suppress_before":
            before = int(data["before_ms"])
        elif int(data["t"]) < before:
            out.add(bar_index(int(data["t"])))
    return out


def restart_work(journal: Path) -> tuple[int, int]:
    """What restarts did before trading: orders sent again (journaled but unknown to
    the venue: more than one `submit` of a client id) and venue answers taken in by
    reconciliation (order updates and fills journaled between a `resume` and the next
    `start`)."""
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT kind, payload FROM events ORDER BY seq").fetchall()
    finally:
        db.close()
    submits = [json.loads(p)["client_id"] for k, p in rows if k == "submit"]
    recovered, inside = 0, False
    for kind, _ in rows:
        if kind == "resume":
            inside = True
        elif kind == "start":
            inside = False
        elif inside and kind in ("order_update", "venue_fill"):
            recovered += 1
    return len(submits) - len(set(submits)), recovered


def round_trips(fills: list[tuple[str, datetime, float, float]]
                ) -> list[tuple[datetime, float, datetime, float, float]]:
    """Consecutive buy, sell pairs: (entry time, entry price, exit time, exit price, qty);
    a last buy without its sell is still open (no round trip)."""
    fills = sorted(fills, key=lambda f: f[1])
    out = []
    for buy, sell in zip(fills[::2], fills[1::2], strict=False):
        assert buy[0] == "buy" and sell[0] == "sell", (buy, sell)
        out.append((buy[1], buy[2], sell[1], sell[2], buy[3]))
    return out


def csv_trades(out: Path) -> list[tuple[datetime, float, datetime, float, float]]:
    frame = pl.read_csv(out / "trades.csv")
    assert set(frame["side"].to_list()) <= {"long"}
    return sorted(zip([datetime.fromisoformat(t) for t in frame["entry_time"].to_list()],
                      frame["entry_price"].to_list(),
                      [datetime.fromisoformat(t) for t in frame["exit_time"].to_list()],
                      frame["exit_price"].to_list(), frame["quantity"].to_list(), strict=True))


def rows_before(path: Path, column: str, cutoff: str | None) -> list[tuple[Any, ...]]:
    """The rows of a CSV file whose `column` (an ISO time, as the files write it) is
    before `cutoff` (None: every row)."""
    frame = pl.read_csv(path, infer_schema=False)
    if cutoff is not None:
        frame = frame.filter(pl.col(column) < cutoff)
    return frame.rows()


def csv_time(ms: int) -> str:
    return iso(ms).strftime("%Y-%m-%dT%H:%M:%S.000Z")


# -- the test ------------------------------------------------------------------------------

def test_sigkill_at_20_random_points_then_the_books_equal_an_uninterrupted_run(
        tmp_path: Path) -> None:
    rng = random.Random(SEED)
    began = time.monotonic()
    killed = LiveRun(tmp_path, "killed")
    reference: LiveRun | None = None
    try:
        # -- the killed run ------------------------------------------------------------
        killed.launch()
        killed.wait_printed(HISTORY + 6)  # the first process trades a little first
        time.sleep(rng.uniform(0.0, 0.3))
        delays = []
        for i in range(KILLS):
            killed.kill(on="print" if i in ON_PRINT else "submit" if i in ON_SUBMIT else "")
            killed.launch()
            if i == KILLS - 1:
                break
            delay = rng.uniform(0.05, 1.2) if i % 4 == 1 else rng.uniform(1.0, 3.0)
            delays.append(round(delay, 2))
            time.sleep(delay)
        resumed_at = killed.printed()
        killed.wait_printed(resumed_at + AFTER)
        code = killed.stop()
        assert code == 0, killed.stderr()
        windows = killed.printed()
        killed_s = time.monotonic() - began
        # -- the uninterrupted run ------------------------------------------------------
        reference = LiveRun(tmp_path, "reference")
        reference.launch()
        reference.wait_printed(windows, timeout=120)
        code = reference.stop()
        assert code == 0, reference.stderr()
        assert reference.printed() == windows
        reference_s = time.monotonic() - began - killed_s

        # -- the books of each run agree with its venue ----------------------------------
        for run in (killed, reference):
            run.check_books()
        # -- the same bars, traded from the same bar -------------------------------------
        assert journal_payloads(killed.journal, "bar") == \
            journal_payloads(reference.journal, "bar")
        traded = traded_bars(reference.journal)
        assert traded_bars(killed.journal) == traded
        assert traded[-1] == windows - 2  # the last window printed closed the last bar
        # -- the reference run is the model with nothing suppressed -----------------------
        assert suppressed_bars(reference.out, reference.journal) == set()
        assert csv_fills(reference.out) == model(reference.windows, traded, set())
        # -- the killed run: the model given the bars a restart backfilled ----------------
        suppressed = suppressed_bars(killed.out, killed.journal)
        assert suppressed == backfilled_bars(killed.journal)
        assert len(suppressed) <= KILLS
        expected = model(killed.windows, traded, suppressed)
        assert csv_fills(killed.out) == expected
        assert csv_trades(killed.out) == round_trips(expected)
        assert csv_trades(reference.out) == round_trips(csv_fills(reference.out))
        # the market stands still while a runner is down, so a restart backfills at most
        # the bar that closed just before it, which trades as it would have live: no
        # order is ever suppressed here, even for the kills that land between the venue
        # closing a bar and the runner journaling it
        assert suppressed == set(), sorted(suppressed)
        assert len(killed.print_kills) == len(ON_PRINT)
        # exact equality with the reference up to the first suppressed order (all of it
        # when there is none): every column of the files, order ids included
        first = min(suppressed, default=None)
        decided = None if first is None else csv_time(START_MS + first * MINUTE)
        filled = None if first is None else csv_time(START_MS + (first + 1) * MINUTE)
        for name, column, cutoff in (("orders.csv", "time", decided),
                                     ("fills.csv", "time", filled),
                                     ("trades.csv", "exit_time", filled)):
            mine = rows_before(killed.out / name, column, cutoff)
            assert mine == rows_before(reference.out / name, column, cutoff), name
            assert len(mine) >= 2, name  # the first process traded before any kill
        if not suppressed:
            for name in ("orders.csv", "fills.csv", "trades.csv", "equity.csv"):
                assert (killed.out / name).read_bytes() == \
                    (reference.out / name).read_bytes(), name
        # -- every restart resumed ---------------------------------------------------------
        starts = journal_payloads(killed.journal, "start")
        assert starts[0]["resumed_bars"] == 0
        assert all(s["resumed_bars"] > 0 for s in starts[1:]), starts
        assert len(starts) >= 2
        resumes = journal_payloads(killed.journal, "resume")
        resent, recovered = restart_work(killed.journal)
        assert len(killed.lost) == len(ON_SUBMIT)
        sent = killed.in_loop(lambda: {r.client_id for r in killed.venue.submitted})
        assert set(killed.lost) <= sent, "an order journaled but never sent was lost"
        assert resent >= len(killed.lost)
        print(f"\nlive restart: {KILLS} kills, {killed.launches} launches, "
              f"{len(starts)} reached `start`, {len(resumes)} resumed; {windows} windows, "
              f"{len(traded)} traded bars; suppressed {sorted(suppressed)}; "
              f"kills {killed.phases}; {resent} orders sent again and {recovered} "
              f"venue answers recovered by reconciliation; "
              f"killed run {killed_s:.1f} s, reference {reference_s:.1f} s; delays {delays}")
    finally:
        killed.close()
        if reference is not None:
            reference.close()
