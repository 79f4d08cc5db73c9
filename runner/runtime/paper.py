"""`runner run FILE --mode paper`: the strategy on a live feed or a replay, with the
backtest's simulated matching engine as the broker.

    outcome = run_paper(validated, registry, PaperOptions(out_dir=Path("runs/x")))

Decisions (also in the README):

- **Feed.** `--replay PATH` replays stored bars or trades (`runner.runtime.feeds`);
  otherwise the venue's market data: the `sim` venue's seeded random walk, or the
  exchange plugin's `feed` factory.
- **Warm-up.** A replay is traded from its first bar, like a backtest of the same
  file; with `--from T`, the bars before T warm the indicators and are not traded
  (the backtest's rule). On a live feed the last `paper.warmup` bars (default: what
  the graph needs) of the `data:` history, when the strategy has one, are stepped
  before the first live bar.
- **Journal.** `paper.state` if set, else `state.sqlite` in `--out` when given, else
  `runs/<name>/state.sqlite`: a restarted run finds it and resumes
  (`runner.runtime.session`); `--fresh` starts over, keeping the old one as `.bak`.
- **End.** A replay ends with its data and leaves positions and working orders as
  they are, as a backtest does, so the two runs' files can be diffed. SIGINT/SIGTERM
  stop taking bars, cancel every working order (`--flatten-on-exit`: close every
  position at the last close), journal, write the files, exit 0. A risk halt
  (`on_breach: halt|flatten`) ends a live-feed run the same way and exits 4; a replay
  goes on to its end, like the backtest, and also exits 4.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from runner.compile import compile as compile_graph
from runner.config.validate import Validated
from runner.data.load import DataLoadError
from runner.engine.frames import base_bars
from runner.engine.results import strategy_fingerprint
from runner.errors import UsageError
from runner.journal.store import Journal
from runner.plugins import Registry
from runner.runtime.executor import Executor, RunStats
from runner.runtime.feeds import (
    MarketEvent,
    Pacer,
    demultiplex,
    is_trades,
    random_walk,
    replay_bars,
    replay_paths,
    replay_trades,
    venue_trades,
)
from runner.runtime.session import Session
from runner.runtime.status import StatusLine
from runner.sim import SimParams


@dataclass(frozen=True, slots=True)
class PaperOptions:
    out_dir: Path
    replay: str | None = None
    speed: float = 0.0
    start: datetime | None = None
    end: datetime | None = None
    fresh: bool = False
    flatten_on_exit: bool = False
    overrides: tuple[str, ...] = ()
    journal_dir: Path | None = None
    """Where `state.sqlite` goes when `paper.state` is not set (`--out`, when given)."""
    status: TextIO | None = None
    """Where the status line refreshes (a terminal), or None."""


@dataclass(slots=True)
class PaperOutcome:
    summary: dict[str, Any] | None
    halted: str
    stats: RunStats
    stopped: bool
    """Stopped by SIGINT/SIGTERM."""
    restored: int
    """Bars rebuilt from the journal at start."""
    journal: Path
    warnings: list[str] = field(default_factory=list)


def journal_path(validated: Validated, folder: Path | None, *, mode: str = "paper",
                 default: str = "state.sqlite") -> Path:
    """Where a streaming run's journal lives: `paper.state` / `live.state`, else
    `state.sqlite` in `folder` (`--out`), else `runs/<name>/<default>`."""
    strategy = validated.strategy
    assert strategy is not None
    state = strategy.live.state if mode == "live" else strategy.paper.state
    if state:
        return Path(state)
    if folder is not None:
        return folder / "state.sqlite"
    return Path("runs") / strategy.name / default


def _utc_ms(value: datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def run_paper(validated: Validated, registry: Registry, options: PaperOptions,
              *, on_ready: Callable[[Session], None] | None = None) -> PaperOutcome:
    """Run paper trading until the replay ends, a signal stops it, or (on a live feed)
    the risk gate halts it. `on_ready` sees the session once it is restored."""
    return asyncio.run(_run(validated, registry, options, on_ready))


async def _run(validated: Validated, registry: Registry, options: PaperOptions,
               on_ready: Callable[[Session], None] | None) -> PaperOutcome:
    strategy = validated.strategy
    assert strategy is not None
    path = journal_path(validated, options.journal_dir)
    journal = Journal.open(path, fingerprint=strategy_fingerprint(validated, options.overrides),
                           fresh=options.fresh, background_checkpoints=True)
    live = options.replay is None
    started = next(journal.events("start"), None)
    if started is not None:  # resuming: bars before the first start stay warm-up
        start_ms = started.payload.get("start_ms")
    else:
        start_ms = _utc_ms(datetime.now(UTC)) if live else _utc_ms(options.start)
    session = Session(validated, registry, journal=journal, start_ms=start_ms,
                      overrides=options.overrides)
    warnings: list[str] = []
    try:
        restored = session.restore()
        if live and not restored:
            _warm_up(validated, registry, session, warnings)
        journal.record("start", {"mode": "paper", "replay": options.replay,
                                 "speed": options.speed, "start_ms": start_ms},
                       event_ms=_now_ms())
        feeds = _feeds(validated, registry, session, options, warnings)
    except BaseException:
        journal.close()
        raise
    if on_ready is not None:
        on_ready(session)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    def on_error(symbol: str, line: str) -> None:
        journal.record("error", {"symbol": symbol, "error": line}, event_ms=_now_ms())

    executor = Executor(session, base_tf=strategy.base_timeframe, closed=strategy.bars.closed,
                        grace_ms=int(strategy.bars.grace * 1000), lossless=not live,
                        stop=stop, halt_stops=live, end_ms=_utc_ms(options.end),
                        on_error=on_error)
    status = StatusLine(options.status, session, executor.stats) if options.status else None
    status_task = asyncio.create_task(status.run()) if status else None
    try:
        stats = await executor.run(feeds)
    finally:
        if status_task is not None:
            status_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await status_task
        if status is not None:
            status.clear()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    stopped = stop.is_set()
    halted = session.halted
    shutdown = stopped or (live and bool(halted))
    summary, _ = session.close(options.out_dir, shutdown=shutdown,
                               flatten=options.flatten_on_exit)
    return PaperOutcome(summary, halted, stats, stopped, restored, path, warnings)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _feeds(validated: Validated, registry: Registry, session: Session,
           options: PaperOptions, warnings: list[str]) -> dict[str, AsyncIterator[MarketEvent]]:
    strategy = validated.strategy
    assert strategy is not None
    symbols = session.symbols
    after = session.resume_after_ms
    if options.replay is not None:
        pacer = Pacer(options.speed)
        load_from = None
        if options.start is not None:  # the backtest's warm-up window before --from
            start = options.start if options.start.tzinfo else options.start.replace(
                tzinfo=UTC)
            load_from = start - timedelta(
                milliseconds=session.graph.warmup("backtest") * session.base_ms)
        paths = replay_paths(options.replay, symbols)
        feeds: dict[str, AsyncIterator[MarketEvent]] = {}
        for s, p in paths.items():
            if is_trades(p):
                # trades of a bar already rebuilt from the journal are skipped with it
                skip = None if after is None else after + session.base_ms - 1
                feeds[s] = replay_trades(s, p, pacer, after_ms=skip)
            elif strategy.data is None:  # bars are read through data: (its columns, tf)
                raise UsageError(f"--replay {p}: a file of bars is read with the "
                                 "strategy's data: section, which it does not have; "
                                 "add one, or replay trades")
            else:
                feeds[s] = replay_bars(validated, s, options.replay, pacer,
                                       start=load_from, end=options.end, after_ms=after,
                                       base_ms=session.base_ms, warnings=warnings)
        return feeds
    venue = strategy.venue.exchange
    if venue == "sim":
        params = validated.venue_params
        sim = params if isinstance(params, SimParams) else SimParams()
        return {s: random_walk(s, seed=sim.seed, start_price=_last_close(session, s,
                                                                          sim.start_price),
                               volatility=sim.volatility,
                               trades_per_second=sim.trades_per_second)
                for s in symbols}
    definition = registry.exchanges.get(venue)
    if definition is None or definition.connect is None or \
            "trades" not in definition.capabilities.streams:
        raise UsageError(f'venue "{venue}" has no trade stream for paper mode; '
                         "use --replay PATH, or the sim venue")
    connection = definition.connect(validated.venue_params, None)
    return demultiplex(venue_trades(connection, symbols), symbols)


def _last_close(session: Session, symbol: str, default: float) -> float:
    """Where the random walk starts: the warm-up's last close, so indicators do not
    see a jump from history to the walk."""
    last = session.last_close(symbol)
    return default if last is None else last


def _warm_up(validated: Validated, registry: Registry, session: Session,
             warnings: list[str]) -> None:
    """Step the last `paper.warmup` bars of the `data:` history (module docstring)."""
    strategy = validated.strategy
    assert strategy is not None
    if strategy.data is None:
        return
    wanted = strategy.paper.warmup
    if wanted is None:
        wanted = compile_graph(validated, registry).warmup("paper")
    if wanted <= 0:
        return
    frames = {}
    for s in session.symbols:
        try:
            frame = base_bars(s, strategy, validated, start=None, end=None, data_path=None,
                              warnings=warnings)
        except DataLoadError as exc:
            warnings.append(f"{s}: no warm-up history ({exc})")
            return
        frames[s] = frame.tail(wanted)
    rows: dict[int, dict[str, tuple[Any, ...]]] = {}
    for s, frame in frames.items():
        columns = [frame[c].to_list() for c in ("open", "high", "low", "close", "volume")]
        for k, t in enumerate(frame["time"].dt.epoch("ms").to_list()):
            rows.setdefault(t, {})[s] = tuple(col[k] for col in columns)
    for t in sorted(rows):
        session.on_bars(t, rows[t])  # type: ignore[arg-type]


def print_outcome(outcome: PaperOutcome, out: TextIO | None = None) -> None:
    """One line per thing the user should know that the files do not say (on
    stderr, looked up at call time so a redirected one is honoured)."""
    if out is None:
        out = sys.stderr
    stats = outcome.stats
    if outcome.restored:
        print(f"runner: resumed from {outcome.journal} ({outcome.restored} bars)", file=out)
    for line in outcome.warnings:
        print(f"runner: warning: data: {line}", file=out)
    for line in stats.errors:
        print(f"runner: error: {line}", file=out)
    if stats.dropped:
        print(f"runner: warning: {stats.dropped} market-data events dropped by full queues",
              file=out)
    if stats.late:
        print(f"runner: warning: {stats.late} late trades ignored (their bar was final)",
              file=out)


__all__ = ["PaperOptions", "PaperOutcome", "journal_path", "print_outcome", "run_paper"]
