"""`runner run FILE --mode live --confirm-live`: the strategy trading on a venue.

    outcome = run_live(validated, registry, LiveOptions(out_dir=Path("runs/x")))

The paper session with one seat changed: the broker is the venue (`VenueBroker` +
`Router`), so the orders are real and the fills, prices and fees are the venue's.
In order, a run:

1. reads the credentials from the environment (`RUNNER_<EXCHANGE>_<ACCOUNT>_API_KEY`
   / `_API_SECRET`; none for `sim`), connects, and reads each instrument's metadata
   (the strategy's `instruments:` overrides win, field by field);
2. opens the journal (`live.state`, else `--out`, else `runs/<name>/live.sqlite`)
   and, when it holds an earlier run, replays it: the journaled bars are stepped
   again with the venue's answers handed to the broker between them exactly as they
   first came, so the strategy's state comes back exactly and nothing is sent;
3. reconciles with the venue before trading: journaled orders the venue never got are
   sent, fills the journal missed are added, working orders with this strategy's
   client id prefix that the journal does not know are adopted as external and never
   touched; what the account holds at the very first start is its own (the journaled
   baseline); after that, a position the journal cannot explain halts the run with a
   message (exit 4) before any order is sent;
4. on a restart, steps the bars that closed while it was down (`_History.catch_up`):
   the newest trades as it would have live, orders decided on older ones are recorded
   as cancelled; on a first start, the first live bar brings its warm-up from the
   venue's history (`live.warmup`, default what the graph needs), not traded;
5. trades: the venue's closed bars (its bar stream; a bar that comes after a gap
   brings the missed ones from its history first), or bars built from its trades
   (`Executor`, wall clock, grace) when it streams no bars, feed the session, which
   decides per closed bar; the router sends, the user stream books fills; a feed
   silent for `live.heartbeat` (default two bars + 10 s) is opened again (the
   adapter reconnects) and a warning journaled;
6. stops on SIGINT/SIGTERM, `max_bars` or a risk halt: working orders are cancelled,
   the venue's answers awaited and booked; with `--flatten-on-exit` the positions as
   booked are then closed and booked; the DESIGN §6 files are written.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from runner.bars.resample import timeframe_ms
from runner.config.validate import Validated
from runner.engine.results import strategy_fingerprint
from runner.engine.strategy_plan import instrument_specs
from runner.errors import RunnerError, UsageError
from runner.journal.store import Event, Journal
from runner.live.broker import VenueBroker, client_prefix
from runner.live.router import Router, event_of, pump_user_events
from runner.market import BarEvent, MarketEvent, TradeBatch, TradeEvent
from runner.plugins import Registry
from runner.runtime.executor import Executor, RunStats
from runner.runtime.feeds import Demultiplexer
from runner.runtime.paper import journal_path
from runner.runtime.session import Session
from runner.runtime.status import StatusLine
from runner.sim.orders import InstrumentSpec
from runner.venue.contract import InstrumentMeta, Venue
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
    max_bars: int | None = None
    """Stop, as on SIGTERM, after this run traded this many live bars (`--max-bars`:
    a bounded dry run, a smoke test in CI)."""


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


class PositionMismatch(RunnerError):
    """The venue holds a position the journal cannot explain: the run halts before
    it sends anything (exit 4, as a risk halt)."""

    exit_code = 4


def live_journal_path(validated: Validated, folder: Path | None) -> Path:
    """`live.state`, else `state.sqlite` in `--out`, else `runs/<name>/live.sqlite`
    (not the paper journal's name: a paper and a live run of one strategy keep apart)."""
    return journal_path(validated, folder, mode="live", default="live.sqlite")


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
    """Trade until SIGINT/SIGTERM, a risk halt or `max_bars` (module docstring)."""
    return asyncio.run(_run(validated, registry, options))


def print_live_outcome(outcome: LiveOutcome, out: TextIO) -> None:
    """What the files do not say, one line each (on stderr)."""
    stats = outcome.stats
    print(f"runner: live: {stats.rows} bars, {outcome.sent} orders sent, "
          f"{outcome.retries} retried; journal {outcome.journal}", file=out)
    for client_id in outcome.adopted:
        print(f"runner: warning: venue order {client_id} is not in the journal: adopted as "
              "external, never touched", file=out)
    for line in outcome.warnings:
        print(f"runner: warning: {line}", file=out)
    for line in stats.errors:
        print(f"runner: error: {line}", file=out)
    if stats.dropped:
        print(f"runner: warning: {stats.dropped} market-data events dropped by full queues",
              file=out)


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
    if not {"bars", "trades"} & definition.capabilities.streams:
        raise UsageError(f'venue "{venue_name}" streams neither bars nor trades')
    credentials = None if venue_name == "sim" else credentials_from_env(
        venue_name, account, options.environ)
    venue: Venue = definition.connect(validated.venue_params, credentials)
    streams = definition.capabilities.streams
    path = live_journal_path(validated, options.journal_dir)
    journal = Journal.open(path, fingerprint=strategy_fingerprint(validated, options.overrides),
                           fresh=options.fresh, background_checkpoints=True)
    try:
        async with venue:
            return await _trade(validated, registry, options, venue, streams, journal, path)
    finally:
        journal.close()


async def _trade(validated: Validated, registry: Registry, options: LiveOptions,
                 venue: Venue, streams: frozenset[str], journal: Journal,
                 path: Path) -> LiveOutcome:
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
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    base = timeframe_ms(strategy.base_timeframe)
    grace_ms = int(strategy.bars.grace * 1000)
    # any event at all: an earlier run (perhaps killed before its start was journaled)
    resuming = next(journal.events(), None) is not None
    traded_from = next(journal.events("trading_from"), None)
    session = Session(validated, registry, journal=journal,
                      start_ms=int(traded_from.payload["start_ms"]) if traded_from else None,
                      overrides=options.overrides, broker=broker, specs=specs, mode="live")
    broker.row_open = lambda: session.row_open_ms
    history = _History(venue, session, broker, journal, strategy.base_timeframe, warnings)
    helpers = [asyncio.create_task(router.run()),
               asyncio.create_task(pump_user_events(venue, router))]
    by_bars = "bars" in streams
    silence_s = _heartbeat_s(strategy.live.heartbeat, base)
    # without a bar stream, bars are built from trades from the end of the bar in
    # progress on; the bars before it come from the venue's history
    boundary = (_now_ms() // base + 1) * base
    feed = (_bars_from(venue, symbols, history, silence_s, journal) if by_bars
            else _trades_from(venue, symbols, boundary, silence_s, journal))
    split = Demultiplexer(feed, symbols)
    if not (by_bars and resuming):  # a resumed bar stream starts after the catch-up
        split.start()  # what comes while the history loads is buffered
    status: StatusLine | None = None
    adopted: list[str] = []
    stats = RunStats()
    try:
        restored = 0
        if resuming:
            broker.replaying = True
            restored = session.restore(on_event=lambda e: _replay(session, broker, e))
            broker.replaying = False
        if not by_bars:
            await _wait_until(boundary + grace_ms, stop)
            rows: dict[int, dict[str, Any]] = {}
            for event in await history.up_to(boundary):
                rows.setdefault(event.open_ms, {})[event.symbol] = event.bar
            for open_ms in sorted(rows):
                session.on_bars(open_ms, rows[open_ms])
        adopted = await _reconcile(venue, router, session, symbols, resuming, warnings)
        if by_bars and resuming:
            await history.catch_up(venue.now_ms())
        journal.record("start", {"mode": "live", "venue": strategy.venue.exchange,
                                 "resumed_bars": restored, "adopted": adopted},
                       event_ms=_now_ms())

        def on_error(symbol: str, line: str) -> None:
            journal.record("error", {"symbol": symbol, "error": line}, event_ms=_now_ms())

        executor = Executor(session, base_tf=strategy.base_timeframe,
                            closed=strategy.bars.closed, grace_ms=grace_ms, lossless=False,
                            stop=stop, halt_stops=True, on_error=on_error)
        status = StatusLine(options.status, session, executor.stats) if options.status \
            else None
        if status is not None:
            helpers.append(asyncio.create_task(status.run()))
        if options.max_bars is not None:
            helpers.append(asyncio.create_task(_stop_after(session, options.max_bars, stop)))
        if not stop.is_set():
            stats = await executor.run(split.feeds())
        stopped = stop.is_set()
        # the kill switch: cancel, let the venue answer and book it; then, asked to,
        # close the positions as they now stand (an order in flight may have changed
        # them) and book that too. Each step is journaled, so a restart redoes it.
        for flatten in (False, True) if options.flatten_on_exit else (False,):
            journal.record("shutdown", {"flatten": flatten}, event_ms=_now_ms())
            broker.closing = True
            session.shutdown(flatten=flatten)
            if not await router.drain(DRAIN_S):
                warnings.append(f"{len(broker.outbox)} command(s) not sent within "
                                f"{DRAIN_S} s")
            if not await _settle(broker, DRAIN_S):
                warnings.append("the venue did not confirm every order's end within "
                                f"{DRAIN_S} s; the journal holds what it said")
            journal.record("book", {}, event_ms=_now_ms())
            session.book(broker.take_all())
    finally:
        await split.aclose()
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


def _replay(session: Session, broker: VenueBroker, event: Event) -> None:
    """A journaled venue answer, handed to the broker again while restoring, and the
    end of an earlier run done again where it happened (its cancels are not sent)."""
    if event.kind == "shutdown":
        broker.closing = True
        session.shutdown(flatten=bool(event.payload.get("flatten")))
        return
    if event.kind == "book":
        session.book(broker.take_all())
        return
    if event.kind == "suppress_before":
        broker.suppress_before = int(event.payload["before_ms"])
        return
    if event.kind not in ("order_update", "venue_fill"):
        return
    answer = event_of(event.kind, event.payload)
    if answer is not None:
        broker.on_venue(answer)
    elif event.payload.get("status") == "rejected":
        broker.rejected(str(event.payload["client_id"]), str(event.payload.get("reason", "")))


async def _stop_after(session: Session, rows: int, stop: asyncio.Event) -> None:
    """`max_bars`: stop once this run traded `rows` bars (its warm-up, the journal's
    bars and a restart's catch-up do not count)."""
    until = session.traded_rows + rows
    while session.traded_rows < until:
        await asyncio.sleep(0.005)
    stop.set()


async def _wait_until(at_ms: int, stop: asyncio.Event) -> None:
    delay = (at_ms - _now_ms()) / 1000
    if delay > 0:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await stop.wait()


async def _settle(broker: VenueBroker, timeout_s: float) -> bool:
    """Wait for the venue's final word on every order (fills of a last market order,
    confirmations of the cancels)."""
    deadline = time.monotonic() + timeout_s
    while not broker.settled():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def _heartbeat_s(configured: float | None, base_ms: int) -> float:
    """`live.heartbeat`, or by default two bars and ten seconds: a quiet market may
    print nothing for a while, a bar stream is silent for a whole bar."""
    return configured if configured else 2 * base_ms / 1000 + 10


async def _watched(make: Callable[[], AsyncIterator[MarketEvent]], silence_s: float,
                   journal: Journal) -> AsyncIterator[MarketEvent]:
    """The venue's stream, opened again (the adapter reconnects) whenever it is
    silent for `silence_s`; each time is journaled as a warning."""
    while True:
        stream = make()
        try:
            while True:
                try:
                    async with asyncio.timeout(silence_s):
                        event = await anext(stream)
                except TimeoutError:
                    journal.record("warning", {"feed": f"silent for {silence_s:g} s: "
                                               "reconnecting"}, event_ms=_now_ms())
                    break
                yield event
        finally:
            with contextlib.suppress(Exception):
                await stream.aclose()  # type: ignore[attr-defined]


async def _trades_from(venue: Venue, symbols: Sequence[str], boundary: int,
                       silence_s: float, journal: Journal) -> AsyncIterator[MarketEvent]:
    """The venue's trades from `boundary` on (earlier ones belong to a bar that the
    venue's history gives whole)."""
    async for event in _watched(lambda: venue.trades(symbols), silence_s, journal):
        if isinstance(event, TradeEvent):
            if event.trade.time_ms >= boundary:
                yield event
        elif isinstance(event, TradeBatch):
            kept = tuple(t for t in event.trades if t.time_ms >= boundary)
            if len(kept) == len(event.trades):
                yield event
            elif kept:
                yield TradeBatch(event.symbol, kept)
        else:
            yield event


async def _bars_from(venue: Venue, symbols: Sequence[str], history: _History,
                     silence_s: float, journal: Journal) -> AsyncIterator[MarketEvent]:
    """The venue's closed bars with none missing: before an instrument's first bar
    comes the history it needs (`_History.before`), and a bar that comes after a gap
    (a reconnect, a lost message) brings the bars between from the venue's history
    first (journaled as a `gap` warning)."""
    expected: dict[str, int] = dict(history.caught_up)  # read once the stream starts
    timeframe, base = history.timeframe, history.session.base_ms
    async for event in _watched(lambda: venue.bars(symbols, timeframe), silence_s, journal):
        if not isinstance(event, BarEvent) or event.symbol not in symbols:
            continue
        want = expected.get(event.symbol)
        if want is None:
            for bar in await history.before(event.symbol, event.open_ms):
                yield bar
        elif event.open_ms < want:
            continue  # a repeat after a reconnect
        elif event.open_ms > want:
            missed = [b for b in await venue.klines(event.symbol, timeframe, want,
                                                    event.open_ms) if b.open_ms >= want]
            journal.record("warning", {"gap": event.symbol, "from_ms": want,
                                       "to_ms": event.open_ms, "backfilled": len(missed)},
                           event_ms=_now_ms())
            for bar in missed:
                yield bar
        expected[event.symbol] = event.open_ms + base
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


class _History:
    """The venue's closed bars a run steps before its first live one: after the
    journal's last bar when resuming (orders decided on them are recorded as
    cancelled, never sent late; where that starts is journaled, `suppress_before`,
    so a later restart's replay does the same), else the warm-up (`live.warmup`, default what the
    graph needs), which is not traded. The first live bar's open is where trading
    starts; it is journaled (`trading_from`), so a restart steps the same bars the
    same way."""

    def __init__(self, venue: Venue, session: Session, broker: VenueBroker,
                 journal: Journal, timeframe: str, warnings: list[str]) -> None:
        self.venue, self.session, self.broker = venue, session, broker
        self.journal, self.timeframe, self.warnings = journal, timeframe, warnings
        self.caught_up: dict[str, int] = {}
        """Per instrument, the open of the next bar the live stream must bring, once
        `catch_up` has stepped the ones before it."""

    async def catch_up(self, now_ms: int) -> None:
        """A restart on a bar stream: step every bar that closed since the journal's
        last one, up to the venue's `now_ms`, before the stream starts. The newest,
        which closed less than a bar ago, trades as it would have live; orders decided
        on older ones are recorded as cancelled, never sent late (journaled as
        `suppress_before`, so a later replay does the same)."""
        session, base = self.session, self.session.base_ms
        if session.resume_after_ms is None:
            return  # killed before any bar: the first live bar brings the warm-up
        first = session.resume_after_ms + base
        upto = now_ms // base * base  # bars opening before it have closed
        for symbol in session.symbols:
            self.caught_up[symbol] = max(first, upto)
        if first >= upto:
            return
        rows: dict[int, dict[str, Any]] = {}
        for symbol in session.symbols:
            try:
                bars = await self.venue.klines(symbol, self.timeframe, first, upto)
            except Exception as exc:
                self.warnings.append(f"{symbol}: no bars from the venue's history ({exc})")
                self.caught_up[symbol] = first  # the stream's gap check fetches them
                continue
            for bar in bars:
                if first <= bar.open_ms < upto:
                    rows.setdefault(bar.open_ms, {})[symbol] = bar.bar
        newest = upto - base
        if session.start_ms is None:
            session.start_ms = newest
            self.journal.record("trading_from", {"start_ms": newest}, event_ms=_now_ms())
        self.broker.suppress_before = newest
        self.journal.record("suppress_before", {"before_ms": newest}, event_ms=_now_ms(),
                            defer=True)
        for open_ms in sorted(rows):
            session.on_bars(open_ms, rows[open_ms])

    def _first(self, live_open: int) -> int:
        session, base = self.session, self.session.base_ms
        if session.start_ms is None:
            session.start_ms = live_open
            self.journal.record("trading_from", {"start_ms": live_open}, event_ms=_now_ms())
        if session.resume_after_ms is not None:
            self.broker.suppress_before = live_open
            # journaled ahead of the backfilled bars, so a later restart's replay
            # suppresses the same orders (else it re-derives them as working ones)
            self.journal.record("suppress_before", {"before_ms": live_open},
                                event_ms=_now_ms(), defer=True)
            return session.resume_after_ms + base
        wanted = session.strategy.live.warmup
        if wanted is None:
            wanted = session.graph.warmup("paper")
        return live_open - wanted * base

    async def before(self, symbol: str, live_open: int) -> list[BarEvent]:
        """`symbol`'s bars before its first live bar (opening at `live_open`)."""
        first = self._first(live_open)
        if first >= live_open:
            return []
        try:
            bars = await self.venue.klines(symbol, self.timeframe, first, live_open)
        except Exception as exc:
            self.warnings.append(f"{symbol}: no bars from the venue's history ({exc}); its "
                                 "indicators start from its first live bar")
            return []
        return [b for b in bars if first <= b.open_ms < live_open]

    async def up_to(self, boundary: int) -> list[BarEvent]:
        """Every instrument's bars before `boundary`, in time order (a venue with no
        bar stream: the bar that closed at `boundary` is the first traded one)."""
        out: list[BarEvent] = []
        for symbol in self.session.symbols:
            out.extend(await self.before(symbol, boundary - self.session.base_ms))
            try:
                out.extend(b for b in await self.venue.klines(
                    symbol, self.timeframe, boundary - self.session.base_ms, boundary)
                    if b.open_ms == boundary - self.session.base_ms)
            except Exception as exc:
                self.warnings.append(f"{symbol}: no bar before the stream ({exc})")
        out.sort(key=lambda b: b.open_ms)
        return out


async def _reconcile(venue: Venue, router: Router, session: Session,
                     symbols: Sequence[str], resuming: bool,
                     warnings: list[str]) -> list[str]:
    """Before the first order is sent (module docstring, step 4): what the venue knows
    of our orders and fills is taken in (journaled first), orders the journal holds
    but the venue never got are sent, our-prefixed venue orders the journal does not
    know are adopted as external, and the positions must then agree. Returns the
    adopted client ids."""
    broker = router.broker
    for command in broker.unsent():
        state = await venue.order(command.symbol, command.client_id)
        if state is None:  # intent journaled, then the process died before sending
            broker.outbox.append(command)
        else:
            router.record(state)
    since = broker.last_fill_ms()
    since = session.start_ms if since is None else since
    if resuming and since is not None:  # a fresh run has no fills to miss
        for symbol in symbols:
            for fill in await venue.fills(symbol, since):
                router.record(fill)
    known = broker.tracked_clients()
    adopted = sorted(o.client_id for o in await venue.open_orders(symbols)
                     if o.client_id.startswith(broker.prefix) and o.client_id not in known)
    expected = broker.expected_positions(session.positions())
    reported = {p.symbol: p.quantity for p in await venue.positions(symbols)}
    journal = router.journal
    recorded = next(journal.events("venue_baseline"), None) if journal is not None else None
    if recorded is None:
        # the first start: what the account already holds is its own, not the strategy's
        baseline = {s: reported.get(s, 0.0) - expected.get(s, 0.0) for s in symbols}
        if journal is not None:
            journal.record("venue_baseline", baseline, event_ms=_now_ms())
        for s, q in sorted(baseline.items()):
            if q:
                warnings.append(f"{s}: the account already holds {q:g} on the venue; taken "
                                "as its own (the strategy trades from 0 on top of it)")
    else:
        baseline = {s: float(recorded.payload.get(s, 0.0)) for s in symbols}
    wrong = {s: (reported.get(s, 0.0), baseline[s] + expected.get(s, 0.0)) for s in symbols
             if abs(reported.get(s, 0.0) - baseline[s] - expected.get(s, 0.0))
             > 1e-9 * max(1.0, abs(reported.get(s, 0.0)))}
    if wrong:
        what = ", ".join(f"{s}: venue {v:g}, journal {j:g}" for s, (v, j) in sorted(wrong.items()))
        raise PositionMismatch(
            f"the venue's positions differ from what the journal explains ({what}); "
            "nothing was sent. Close or adjust them on the venue, or start with --fresh "
            "on an account the strategy owns")
    if broker.outbox:
        router.notify()
    return adopted


__all__ = ["LiveOptions", "LiveOutcome", "PositionMismatch", "live_journal_path",
           "merged_specs", "print_live_outcome", "run_live"]
