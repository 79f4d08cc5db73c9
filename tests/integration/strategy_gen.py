"""Random strategies and random bars for the backtest acceptance tests.

A generated strategy is a plain description (`StrategySpec`) that renders itself as
YAML (`to_yaml`); the reference simulator in `reference_sim.py` reads the same
description, so the test never has to parse YAML or expressions back.

Every number that reaches the YAML is a short decimal (`n / 1000`, small integers):
`repr` writes it and the runner's parser reads back the very same float, and the
reference computes with that float. Expressions are kept in shapes whose float
arithmetic the reference can redo operation for operation (`close * (1 - 0.01)`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal, TypeVar

from hypothesis import strategies as st

T = TypeVar("T")
SYMBOL = "XUSD"
TF_MS = {"1m": 60_000, "5m": 300_000}

FLATTEN_IN_ORDERS_CSV = True
"""Whether `on_breach: flatten` may be drawn where `orders.csv` is compared by
`placed_at`. Flatten orders once had `placed_at` -1; they now record their bar
(`test_flatten_orders_record_their_bar`), so the no-lookahead test draws them too.
"""

ENTRY_PRICE_BRACKETS = True
"""Whether brackets may be written as `entry_price * (1 - a)` (else only off the
decision bar's `close`). README "Backtests": `entry_price` there is the entry's FILL
price (`test_bracket_entry_price_is_the_fill_price`); the reference prices it so.
"""

Side = Literal["buy", "sell"]
OrderType = Literal["market", "limit", "stop", "stop_limit"]
SizeMode = Literal["quantity", "notional", "equity_pct", "risk_pct"]
MaKind = Literal["sma", "ema"]
MA_KINDS: tuple[MaKind, ...] = ("sma", "ema")
SignalKind = Literal["crosses_above", "crosses_below", "above", "below"]


@dataclass(frozen=True)
class Indicator:
    """`name: {type: kind, period: period}` on `close` (optionally pinned to a timeframe)."""

    name: str
    kind: MaKind
    period: int
    timeframe: str | None = None

    def yaml(self) -> str:
        tf = f", timeframe: {self.timeframe}" if self.timeframe else ""
        return f"  {self.name}: {{type: {self.kind}, period: {self.period}{tf}}}"


@dataclass(frozen=True)
class Signal:
    """`crosses_above(a, b)`, `crosses_below(a, b)`, `a > b * k` or `a < b * k`."""

    name: str
    kind: SignalKind
    a: str
    b: str
    k: float = 1.0

    def expr(self) -> str:
        if self.kind in ("crosses_above", "crosses_below"):
            return f"{self.kind}({self.a}, {self.b})"
        op = ">" if self.kind == "above" else "<"
        return f"{self.a} {op} {self.b} * {self.k!r}"


@dataclass(frozen=True)
class Rule:
    """One order rule. Prices are `close * (1 ± frac)`; `sign` is +1 or -1."""

    when: str
    side: Side | None = None
    action: Literal["close", "cancel_orders"] | None = None
    type: OrderType = "market"
    sign: int = 1
    frac: float = 0.0
    limit_sign: int = 1
    limit_frac: float = 0.0
    """A stop_limit's limit price, `close * (1 ± limit_frac)` (its trigger uses `frac`)."""
    size_mode: SizeMode = "quantity"
    size_value: float = 1.0
    stop_loss: float | None = None
    take_profit: float | None = None
    bracket_base: Literal["entry_price", "close"] = "close"
    trailing_stop: float | None = None
    """A distance of `base * trailing_stop`."""
    expire_after: int | None = None
    time_in_force: Literal["gtc", "ioc", "fok"] = "gtc"
    reduce_only: bool = False
    post_only: bool = False
    cooldown: int = 0
    max_entries: int = 1
    fraction: float | None = None

    def price_expr(self, limit_of_stop_limit: bool = False) -> str:
        sign, frac = ((self.limit_sign, self.limit_frac) if limit_of_stop_limit
                      else (self.sign, self.frac))
        return f"close * (1 {'+' if sign > 0 else '-'} {frac!r})"

    def bracket_exprs(self) -> tuple[str | None, str | None]:
        """(stop_loss, take_profit) texts: below/above the base for a long, mirrored."""
        long = self.side == "buy"
        sl = tp = None
        if self.stop_loss is not None:
            sl = f"{self.bracket_base} * (1 {'-' if long else '+'} {self.stop_loss!r})"
        if self.take_profit is not None:
            tp = f"{self.bracket_base} * (1 {'+' if long else '-'} {self.take_profit!r})"
        return sl, tp

    def yaml(self) -> list[str]:
        out = [f"  - when: {self.when}"]
        if self.action is not None:
            out.append(f"    action: {self.action}")
            if self.fraction is not None:
                out.append(f"    fraction: {self.fraction!r}")
        else:
            out += [f"    side: {self.side}", f"    type: {self.type}",
                    f"    size: {{{self.size_mode}: {self.size_value!r}}}"]
            if self.type == "limit":
                out.append(f"    price: {self.price_expr()}")
            elif self.type == "stop":
                out.append(f"    trigger: {self.price_expr()}")
            elif self.type == "stop_limit":
                out.append(f"    trigger: {self.price_expr()}")
                out.append(f"    price: {self.price_expr(limit_of_stop_limit=True)}")
            sl, tp = self.bracket_exprs()
            if sl is not None:
                out.append(f"    stop_loss: {sl}")
            if tp is not None:
                out.append(f"    take_profit: {tp}")
            if self.trailing_stop is not None:
                out.append(f"    trailing_stop: {self.bracket_base} * {self.trailing_stop!r}")
            if self.expire_after is not None:
                out.append(f"    expire_after: {self.expire_after}")
            if self.time_in_force != "gtc":
                out.append(f"    time_in_force: {self.time_in_force}")
            for flag in ("reduce_only", "post_only"):
                if getattr(self, flag):
                    out.append(f"    {flag}: true")
            if self.max_entries != 1:
                out.append(f"    max_entries: {self.max_entries}")
        if self.cooldown:
            out.append(f"    cooldown: {self.cooldown}")
        return out


@dataclass(frozen=True)
class InstrumentSpec:
    """Exchange metadata overrides of the one instrument (None: unrestricted)."""

    tick_size: float | None = None
    lot_size: float | None = None
    min_notional: float | None = None

    def yaml(self) -> str:
        keys = [f"{k}: {getattr(self, k)!r}" for k in ("tick_size", "lot_size", "min_notional")
                if getattr(self, k) is not None]
        return f"instruments: {{{SYMBOL}: {{{', '.join(keys)}}}}}"


@dataclass(frozen=True)
class RiskSpec:
    max_position: float | None = None
    max_drawdown: float | None = None
    max_daily_loss: float | None = None
    max_daily_trades: int | None = None
    max_open_orders: int | None = None
    max_orders_per_minute: int | None = None
    max_gross_exposure: float | None = None
    trading_hours: tuple[str, str] | None = None
    """(start, end) wall-clock times in UTC; an end before the start is overnight."""
    on_breach: Literal["reject", "halt", "flatten"] = "reject"
    allow_short: bool = False

    def yaml(self) -> list[str]:
        out = ["risk:"]
        for key in ("max_position", "max_drawdown", "max_daily_loss", "max_daily_trades",
                    "max_open_orders", "max_orders_per_minute", "max_gross_exposure"):
            value = getattr(self, key)
            if value is not None:
                out.append(f"  {key}: {value!r}")
        if self.trading_hours is not None:
            start, end = self.trading_hours
            out.append(f'  trading_hours: {{start: "{start}", end: "{end}", tz: UTC}}')
        out += [f"  on_breach: {self.on_breach}",
                f"  allow_short: {'true' if self.allow_short else 'false'}"]
        return out


@dataclass(frozen=True)
class BacktestSpec:
    cash: float = 10_000.0
    maker: float = 0.0
    taker: float = 0.0
    slippage_bps: float = 0.0
    fill: Literal["next_open", "close"] = "next_open"
    intrabar: Literal["stop_first", "target_first"] = "stop_first"
    start_ms: int | None = None
    end_ms: int | None = None
    """`start` / `end` as epoch ms: bars whose open time is in [start, end) are run."""

    def yaml(self) -> list[str]:
        out = ["backtest:", f"  cash: {self.cash!r}",
               f"  fees: {{maker: {self.maker!r}, taker: {self.taker!r}}}",
               f"  slippage_bps: {self.slippage_bps!r}", f"  fill: {self.fill}",
               f"  intrabar: {self.intrabar}"]
        for key, ms in (("start", self.start_ms), ("end", self.end_ms)):
            if ms is not None:
                stamp = datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                out.append(f"  {key}: {stamp}")
        return out


@dataclass(frozen=True)
class StrategySpec:
    indicators: tuple[Indicator, ...]
    signals: tuple[Signal, ...]
    rules: tuple[Rule, ...]
    risk: RiskSpec = field(default_factory=RiskSpec)
    backtest: BacktestSpec = field(default_factory=BacktestSpec)
    timeframes: tuple[str, ...] = ("1m",)
    instrument: InstrumentSpec = field(default_factory=InstrumentSpec)

    def with_timeframe(self, tf: str) -> StrategySpec:
        """The same strategy on another (single) base timeframe."""
        return replace(self, timeframes=(tf,))

    def to_yaml(self, data_path: str, data_timeframe: str | None = None,
                storage: Storage | None = None) -> str:
        """The strategy file; `data_path` is where its one instrument's bars are, stored
        as `storage` says (default: parquet, open-time labels)."""
        st_ = storage or Storage()
        lines = ["version: 1", "name: generated", "venue: {exchange: sim}",
                 self.instrument.yaml(),
                 f"data: {{source: {st_.source}, path: '{data_path}', "
                 f"timeframe: {data_timeframe or self.timeframes[0]}, label: {st_.label}, "
                 f"closed: {'left' if st_.label == 'open' else 'right'}}}",
                 f"timeframes: [{', '.join(self.timeframes)}]", "indicators:"]
        lines += [i.yaml() for i in self.indicators]
        lines.append("signals:")
        lines += [f"  {s.name}: {s.expr()}" for s in self.signals]
        lines.append("orders:")
        for rule in self.rules:
            lines += rule.yaml()
        lines += self.risk.yaml() + self.backtest.yaml()
        return "\n".join(lines) + "\n"


# -- hypothesis strategies ------------------------------------------------------------

def _thousandths(lo: int, hi: int) -> st.SearchStrategy[float]:
    """Short decimals `n / 1000`: `repr` round-trips them through the YAML exactly."""
    return st.integers(lo, hi).map(lambda n: n / 1000)


@st.composite
def indicators(draw: st.DrawFn, multi_tf: bool) -> tuple[Indicator, ...]:
    kinds = st.sampled_from(MA_KINDS)
    out = [Indicator("fast", draw(kinds), draw(st.integers(2, 8)))]
    if draw(st.booleans()):
        out.append(Indicator("slow", draw(kinds), draw(st.integers(5, 25))))
    if multi_tf:
        out.append(Indicator("trend", draw(kinds), draw(st.integers(2, 6)), timeframe="5m"))
    return tuple(out)


@st.composite
def signals(draw: st.DrawFn, series: list[str]) -> tuple[Signal, ...]:
    n = draw(st.integers(1, 3))
    out: list[Signal] = []
    for i in range(n):
        kind: SignalKind = draw(st.sampled_from(
            ["crosses_above", "crosses_below", "above", "below"]))
        a = draw(st.sampled_from(series))
        b = draw(st.sampled_from([s for s in series if s != a]))
        k = draw(_thousandths(980, 1020)) if kind in ("above", "below") else 1.0
        out.append(Signal(f"sig{i}", kind, a, b, k))
    return tuple(out)


@st.composite
def entry_rule(draw: st.DrawFn, when: str, allow_sell: bool, unit: float = 1.0) -> Rule:
    """An entry; `unit` scales base-unit quantities to the bars' price level."""
    side: Side = draw(st.sampled_from(["buy", "sell"])) if allow_sell else "buy"
    otype: OrderType = draw(st.sampled_from(["market", "market", "limit", "stop",
                                             "stop_limit"]))
    has_sl = draw(st.booleans())
    mode: SizeMode = draw(st.sampled_from(
        ["quantity", "notional", "equity_pct"] + (["risk_pct"] if has_sl else [])))
    value = {"quantity": _thousandths(100, 5000).map(lambda q: q * unit),
             "notional": st.integers(100, 5000).map(float),
             "equity_pct": st.integers(1, 100).map(float),
             "risk_pct": _thousandths(100, 3000)}[mode]
    base: Literal["entry_price", "close"] = (
        "entry_price" if ENTRY_PRICE_BRACKETS and draw(st.booleans()) else "close")
    return Rule(
        when=when, side=side, type=otype,
        sign=draw(st.sampled_from([1, -1])), frac=draw(_thousandths(0, 20)),
        limit_sign=draw(st.sampled_from([1, -1])), limit_frac=draw(_thousandths(0, 20)),
        size_mode=mode, size_value=draw(value),
        stop_loss=draw(_thousandths(2, 30)) if has_sl else None,
        take_profit=draw(st.none() | _thousandths(2, 40)),
        trailing_stop=draw(_sometimes(_thousandths(2, 20))),
        bracket_base=base,
        expire_after=draw(st.none() | st.integers(0, 5)),
        time_in_force=draw(st.sampled_from(["gtc", "gtc", "gtc", "ioc", "fok"])),
        reduce_only=draw(st.sampled_from([False, False, False, True])),
        post_only=otype == "limit" and draw(st.booleans()),
        cooldown=draw(st.sampled_from([0, 0, 1, 3])),
        max_entries=draw(st.sampled_from([1, 1, 2, 3])),
    )


@st.composite
def exit_rule(draw: st.DrawFn, when: str) -> Rule:
    """`action: close` (maybe a fraction) or, now and then, `action: cancel_orders`."""
    if draw(st.integers(0, 3)) == 0:
        return Rule(when=when, action="cancel_orders")
    return Rule(when=when, action="close",
                fraction=draw(st.none() | st.sampled_from([0.25, 0.5, 1.0])),
                cooldown=draw(st.sampled_from([0, 0, 2])))


@st.composite
def instrument_specs(draw: st.DrawFn) -> InstrumentSpec:
    """Tick, lot and min notional for prices near 100 (the random bars)."""
    return InstrumentSpec(tick_size=draw(st.sampled_from([None, 0.01, 0.25, 0.5])),
                          lot_size=draw(st.sampled_from([None, 0.001, 0.1, 1.0])),
                          min_notional=draw(st.sampled_from([None, 5.0, 150.0])))


def _sometimes(s: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    """`s` a quarter of the time, else None: several strict limits at once would
    reject nearly every entry and leave little to compare."""
    return st.one_of(st.none(), st.none(), st.none(), s)


@st.composite
def risk_specs(draw: st.DrawFn, unit: float = 1.0, flatten: bool = True) -> RiskSpec:
    """Limits; `unit` scales `max_position` (base units) to the bars' price level;
    `flatten: False` leaves out `on_breach: flatten`."""
    breach = ["reject", "halt", "flatten"] if flatten else ["reject", "halt"]
    return RiskSpec(
        max_position=draw(_sometimes(st.sampled_from([1.0, 5.0, 50.0, 500.0]).map(
            lambda q: q * unit))),
        max_drawdown=draw(_sometimes(_thousandths(2, 60))),
        max_daily_loss=draw(_sometimes(st.sampled_from([5.0, 20.0, 100.0, 500.0]))),
        max_daily_trades=draw(_sometimes(st.integers(1, 6))),
        max_open_orders=draw(_sometimes(st.integers(1, 4))),
        max_orders_per_minute=draw(_sometimes(st.integers(1, 3))),
        max_gross_exposure=draw(_sometimes(st.sampled_from([300.0, 5_000.0, 50_000.0]))),
        trading_hours=draw(_sometimes(st.sampled_from(
            [("20:30", "22:00"), ("23:00", "01:30"), ("21:10", "21:11"), ("00:00", "23:00")]))),
        on_breach=draw(st.sampled_from(breach)),
        allow_short=draw(st.sampled_from([False, True, True])),
    )


@st.composite
def backtest_specs(draw: st.DrawFn) -> BacktestSpec:
    return BacktestSpec(
        cash=draw(st.sampled_from([1_000.0, 10_000.0, 250_000.0])),
        maker=draw(st.sampled_from([0.0, -0.0001, 0.0002])),
        taker=draw(st.sampled_from([0.0, 0.0004, 0.001])),
        slippage_bps=draw(st.sampled_from([0.0, 1.0, 2.5])),
        fill=draw(st.sampled_from(["next_open", "close"])),
        intrabar=draw(st.sampled_from(["stop_first", "target_first"])),
    )


@st.composite
def strategy_specs(draw: st.DrawFn, multi_tf: bool = False,
                   instrument: bool = True, unit: float = 1.0,
                   flatten: bool = True) -> StrategySpec:
    """A valid one-instrument strategy; `multi_tf` adds a 5m timeframe read by a signal;
    `instrument` draws tick/lot/min-notional sized for the random bars' prices; `unit`
    (100 / the bars' price level) scales base-unit quantities for real bars; `flatten`
    allows `on_breach: flatten`."""
    inds = draw(indicators(multi_tf))
    series = ["close", *(i.name for i in inds)]
    sigs = list(draw(signals(series)))
    if multi_tf:
        sigs.append(Signal(f"sig{len(sigs)}", draw(st.sampled_from(["above", "below"])),
                           "close", draw(st.sampled_from(["close@5m", "trend"])),
                           draw(_thousandths(990, 1010))))
    names = [s.name for s in sigs]
    risk = draw(risk_specs(unit, flatten))
    rules: list[Rule] = []
    for n in range(draw(st.integers(1, 3))):
        # a multi-timeframe strategy always trades on its 5m signal: that is what the
        # no-lookahead test must see move
        when = names[-1] if multi_tf and n == 0 else draw(st.sampled_from(names))
        if rules and draw(st.integers(0, 3)) == 0:
            rules.append(draw(exit_rule(when)))
        else:
            rules.append(draw(entry_rule(when, allow_sell=True, unit=unit)))
    return StrategySpec(tuple(inds), tuple(sigs), tuple(rules), risk, draw(backtest_specs()),
                        ("1m", "5m") if multi_tf else ("1m",),
                        draw(instrument_specs()) if instrument else InstrumentSpec())


# -- bars -----------------------------------------------------------------------------

Bar = tuple[int, float, float, float, float, float]
"""(open time in epoch ms, open, high, low, close, volume)."""

START_MS = int(datetime(2024, 1, 1, 20, 0, tzinfo=UTC).timestamp() * 1000)
"""20:00 UTC: a few hundred 5m bars cross midnight, so daily limits roll over."""
TICK = 0.5
"""Prices are whole multiples of a binary-exact tick: bars touch limits exactly often."""


@st.composite
def bar_moves(draw: st.DrawFn, min_size: int = 30, max_size: int = 160,
              ) -> list[tuple[int, int, int, int]]:
    """Per bar: (gap, body, upper wick, lower wick) in ticks."""
    move = st.tuples(st.sampled_from([0, 0, 0, -1, 1, -4, 4]), st.integers(-8, 8),
                     st.integers(0, 5), st.integers(0, 5))
    return draw(st.lists(move, min_size=min_size, max_size=max_size))


def build_bars(moves: list[tuple[int, int, int, int]], tf_ms: int,
               start_ticks: int = 200) -> list[Bar]:
    """Valid OHLC bars (low <= open, close <= high; all prices >= one tick)."""
    out: list[Bar] = []
    close = start_ticks
    for i, (gap, body, up, down) in enumerate(moves):
        o = max(2, close + gap)
        c = max(2, o + body)
        h = max(o, c) + up
        lo = max(1, min(o, c) - down)
        out.append((START_MS + i * tf_ms, o * TICK, h * TICK, lo * TICK, c * TICK, 1.0))
        close = c
    return out


@dataclass(frozen=True)
class Storage:
    """How bars are stored: the same bars must give the same run however stamped.
    `label: close` is written with `closed: right` (a bar stamped T covers (T - tf, T])."""

    source: Literal["parquet", "csv"] = "parquet"
    label: Literal["open", "close"] = "open"


storages = st.builds(Storage, st.sampled_from(["parquet", "csv"]),
                     st.sampled_from(["open", "close"]))


def write_bars(bars: list[Bar], path: str, tf_ms: int = 0,
               storage: Storage | None = None) -> None:
    """Bars as parquet (a UTC datetime `time` column) or CSV (ISO 8601 `...Z` times),
    stamped with open times or, for `label: close`, close times (`tf_ms` later)."""
    import polars as pl

    st_ = storage or Storage()
    shift = tf_ms if st_.label == "close" else 0
    frame = pl.DataFrame([(b[0] + shift, *b[1:]) for b in bars],
                         schema=["time", "open", "high", "low", "close", "volume"],
                         orient="row")
    frame = frame.with_columns(pl.from_epoch("time", time_unit="ms").dt.replace_time_zone("UTC"))
    if st_.source == "csv":
        frame.with_columns(pl.col("time").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")).write_csv(path)
    else:
        frame.write_parquet(path)
