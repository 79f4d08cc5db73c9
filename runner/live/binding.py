"""`runner run FILE --mode live --confirm-live`: the strategy trading on a venue.

    outcome = run_live(validated, registry, LiveOptions(out_dir=Path("runs/x")))

The paper session with one seat changed: the broker is the venue (`VenueBroker` +
`Router`), so the orders are real and the fills, prices and fees are the venue's.
In order, a run:

1. reads the credentials from the environment (`RUNNER_<EXCHANGE>_<ACCOUNT>_API_KEY`
   / `_API_SECRET`; none for `sim`), connects, and reads each instrument's metadata
   (the strategy's `instruments:` overrides win, field by field);
2. opens the journal (`live.state`, else `--out`, else `runs/<name>/live.sqlite`);
3. warms the indicators with the venue's closed bars (`Venue.klines`; the `data:`
   history when the venue has none), `live.warmup` of them (default: what the graph
   needs);
4. reconciles with the venue before trading: working orders with this run's client
   id prefix that the journal does not know are adopted as external and never
   touched; a position the journal cannot explain halts the run with a message
   (exit 4) before any order is sent;
5. trades: the venue's trades become bars (`Executor`, wall clock, grace), the
   session decides per closed bar, the router sends, the user stream books fills;
6. stops on SIGINT/SIGTERM or a risk halt: working orders are cancelled (and, with
   `--flatten-on-exit`, positions closed), the router drains what it holds, the
   journal is flushed and the DESIGN §6 files are written.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from runner.config.validate import Validated
from runner.engine.results import strategy_fingerprint
from runner.engine.strategy_plan import instrument_specs
from runner.errors import UsageError
from runner.journal.store import Journal
from runner.live.broker import VenueBroker, client_prefix
from runner.live.router import Router, pump_user_events
from runner.market import MarketEvent
from runner.plugins import Registry
from runner.runtime.executor import Executor, RunStats
from runner.runtime.feeds import demultiplex
from runner.runtime.session import Session
from runner.runtime.status import StatusLine
from runner.sim.orders import InstrumentSpec
from runner.venue.contract import InstrumentMeta, Position, Venue
from runner.venue.credentials import credentials_from_env

DRAIN_S = 10.0
"""How long a stopping run waits for the router to send its last commands."""


@dataclass(frozen=True, slots=True)
class LiveOptions:
    out_dir: Path
    fresh: bool = False
    flatten_on_exit: bool = False
    overrides: tuple[str, ...] = ()
    journal_dir: Path | None = None
    status: TextIO | None = None
    environ: Mapping[str, str] | None = None
    """Where credentials are read (default: the process environment)."""


@dataclass(slots=True)
class LiveOutcome:
    summary: dict[str, Any] | None
    halted: str
    stats: RunStats
    stopped: bool
    journal: Path
    sent: int = 0
    retries: int = 0
    adopted: list[str] = field(default_factory=list)
    """Client ids of venue orders taken as external (never touched)."""
    warnings: list[str] = field(default_factory=list)


class PositionMismatch(UsageError):
    """The venue holds a position the journal cannot explain."""


def live_journal_path(validated: Validated, folder: Path | None) -> Path:
    strategy = validated.strategy
    assert strategy is not None
    if strategy.live.state:
        return Path(strategy.live.state)
    if folder is not None:
        return folder / "state.sqlite"
    return Path("runs") / strategy.name / "live.sqlite"


def merged_specs(strategy_specs: Mapping[str, InstrumentSpec],
                 metas: Mapping[str, InstrumentMeta],
                 overridden: Mapping[str, set[str]]) -> dict[str, InstrumentSpec]:
    """The venue's metadata with the strategy's own `instruments:` values on top."""
    out: dict[str, InstrumentSpec] = {}
    for symbol, meta in metas.items():
        spec = InstrumentSpec(meta.tick_size, meta.lot_size, meta.min_notional or None,
                              meta.multiplier)
        own = strategy_specs.get(symbol)
        if own is not None:
            fields = overridden.get(symbol, set())
            spec = replace(spec, **{f: getattr(own, f) for f in fields
                                    if f in ("tick_size", "lot_size", "min_notional",
                                             "multiplier")})
        out[symbol] = spec
    return out


def run_live(validated: Validated, registry: Registry, options: LiveOptions
             ) -> LiveOutcome:
    return asyncio.run(_run(validated, registry, options))


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


async def _run(validated: Validated, registry: Registry, options: LiveOptions) -> LiveOutcome:
    strategy = validated.strategy
    assert strategy is not None
    venue_name, account = strategy.venue.exchange, strategy.venue.account
    definition = registry.exchanges.get(venue_name)
    if definition is None or definition.connect is None:
        raise UsageError(f'venue "{venue_name}" cannot be connected to (its plugin has no '
                         "connect factory)")
    if not definition.capabilities.trading:
        raise UsageError(f'venue "{venue_name}" offers market data only: no live trading')
    if "trades" not in definition.capabilities.streams:
        raise UsageError(f'venue "{venue_name}" has no trade stream to build bars from')
    credentials = None if venue_name == "sim" else credentials_from_env(
        venue_name, account, options.environ)
    venue: Venue = definition.connect(validated.venue_params, credentials)
    path = live_journal_path(validated, options.journal_dir)
    journal = Journal.open(path, fingerprint=strategy_fingerprint(validated, options.overrides),
                           fresh=options.fresh, background_checkpoints=True)
    try:
        if next(journal.events("start"), None) is not None:
            raise UsageError(
                f"{path} holds an earlier live run; resuming a live journal is not "
                "supported yet: run with --fresh to start a new one (the old journal is "
                "kept as a backup)")
        async with venue:
            return await _trade(validated, registry, options, venue, journal, path)
    finally:
        journal.close()


async def _trade(validated: Validated, registry: Registry, options: LiveOptions,
                 venue: Venue, journal: Journal, path: Path) -> LiveOutcome:
    strategy = validated.strategy
    assert strategy is not None
    symbols = _symbols(validated)
    metas = await venue.instruments(symbols)
    specs = merged_specs(instrument_specs(strategy), metas, _overridden(validated))
    warnings: list[str] = []
    router_box: list[Router] = []

    def notify() -> None:
        router_box[0].notify()

    broker = VenueBroker(specs, prefix=client_prefix(strategy.name, strategy.venue.account),
                         quote_assets={s: m.quote_asset for s, m in metas.items()},
                         base_assets={s: m.base_asset for s, m in metas.items()},
                         notify=notify)
    router = Router(venue, broker, journal, now_ms=_now_ms)
    router_box.append(router)
    start_ms = _now_ms()
    session = Session(validated, registry, journal=journal, start_ms=start_ms,
                      overrides=options.overrides, broker=broker, specs=specs, mode="live")
    await _warm_up(venue, session, strategy.base_timeframe, start_ms, warnings)
    adopted = await _reconcile(venue, broker, session)
    journal.record("start", {"mode": "live", "venue": strategy.venue.exchange,
                             "start_ms": start_ms, "adopted": adopted}, event_ms=_now_ms())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    def on_error(symbol: str, line: str) -> None:
        journal.record("error", {"symbol": symbol, "error": line}, event_ms=_now_ms())

    executor = Executor(session, base_tf=strategy.base_timeframe, closed=strategy.bars.closed,
                        grace_ms=int(strategy.bars.grace * 1000), lossless=False, stop=stop,
                        halt_stops=True, on_error=on_error)
    status = StatusLine(options.status, session, executor.stats) if options.status else None
    helpers = [asyncio.create_task(router.run()),
               asyncio.create_task(pump_user_events(venue, router))]
    if status is not None:
        helpers.append(asyncio.create_task(status.run()))
    try:
        stats = await executor.run(demultiplex(_trades(venue, symbols), symbols))
        stopped = stop.is_set()
        session.shutdown(flatten=options.flatten_on_exit)
        if not await router.drain(DRAIN_S):
            warnings.append(f"{len(broker.outbox)} command(s) not sent within {DRAIN_S} s")
        if not await _settle(broker, DRAIN_S):
            warnings.append("the venue did not confirm every order's end within "
                            f"{DRAIN_S} s; the journal holds what it said")
        session.book(broker.take_all())
    finally:
        for task in helpers:
            task.cancel()
        for task in helpers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if status is not None:
            status.clear()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    halted = session.halted
    summary, _ = session.close(options.out_dir)
    return LiveOutcome(summary, halted, stats, stopped, path, router.sent, router.retries,
                       adopted, warnings)


async def _settle(broker: VenueBroker, timeout_s: float) -> bool:
    """Wait for the venue's final word on every order (fills of a last market order,
    confirmations of the cancels)."""
    deadline = time.monotonic() + timeout_s
    while not broker.settled():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def _trades(venue: Venue, symbols: Sequence[str]) -> AsyncIterator[MarketEvent]:
    async for event in venue.trades(symbols):
        yield event


def _symbols(validated: Validated) -> list[str]:
    strategy = validated.strategy
    assert strategy is not None
    return list(strategy.instruments)


def _overridden(validated: Validated) -> dict[str, set[str]]:
    """Per symbol, the metadata fields the strategy file sets itself."""
    strategy = validated.strategy
    assert strategy is not None
    return {symbol: {name for name in ("tick_size", "lot_size", "min_notional", "multiplier")
                     if getattr(inst, name, None) is not None}
            for symbol, inst in strategy.instruments.items()}


async def _warm_up(venue: Venue, session: Session, timeframe: str, start_ms: int,
                   warnings: list[str]) -> None:
    """Step the last warm-up bars the venue has before `start_ms` (not traded)."""
    wanted = session.strategy.live.warmup
    if wanted is None:
        wanted = session.graph.warmup("paper")
    if wanted <= 0:
        return
    base = session.base_ms
    end = start_ms // base * base  # the open of the bar in progress: not closed yet
    rows: dict[int, dict[str, Any]] = {}
    for symbol in session.symbols:
        try:
            bars = await venue.klines(symbol, timeframe, end - wanted * base, end)
        except Exception as exc:
            warnings.append(f"{symbol}: no warm-up bars from the venue ({exc})")
            continue
        for event in bars:
            rows.setdefault(event.open_ms, {})[symbol] = event.bar
    for open_ms in sorted(rows):
        session.on_bars(open_ms, rows[open_ms], journal_bar=True)


async def _reconcile(venue: Venue, broker: VenueBroker, session: Session) -> list[str]:
    """Before the first order (module docstring, step 4). Returns the adopted ids."""
    adopted = [o.client_id for o in await venue.open_orders(session.symbols)
               if o.client_id.startswith(broker.prefix)
               and o.client_id not in broker.tracked_clients()]
    positions: list[Position] = await venue.positions(session.symbols)
    held = {p.symbol: p.quantity for p in positions if abs(p.quantity) > 0}
    if held:
        stepper_positions = {s: 0.0 for s in session.symbols}
        unexplained = {s: q for s, q in held.items() if q != stepper_positions.get(s, 0.0)}
        if unexplained:
            what = ", ".join(f"{s} {q:g}" for s, q in sorted(unexplained.items()))
            raise PositionMismatch(
                f"the venue holds positions the journal does not explain ({what}); close "
                "them on the venue or trade from an account the strategy owns")
    return adopted


def utc_now() -> datetime:
    return datetime.now(UTC)


__all__ = ["LiveOptions", "LiveOutcome", "PositionMismatch", "live_journal_path",
           "merged_specs", "run_live"]
