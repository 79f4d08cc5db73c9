"""A deliberately plain reference backtester for the differential test.

One instrument, one loop over bars, no code shared with `runner` (nothing from
`runner.sim`, `runner.engine` or `runner.indicators`). It implements DESIGN §3 and the
decisions written in the docstrings of `runner/sim/matching.py`, `runner/sim/orders.py`,
`runner/engine/{portfolio,sizing,risk,backtest}.py` — for exactly the subset of the
language `strategy_gen.py` produces — so that `trades.csv`, `fills.csv` and
`equity.csv` of the engine can be compared with its output float for float, and
`orders.csv` row for row (id, placed_at, status). The README "Backtests" decisions
(warm-up before `backtest.start`, brackets priced at the entry's fill, `max_entries`
while entries are in flight) are followed as written there.

Where a docstring states a formula (slippage `price * (1 + bps/1e4)`, fee
`price * quantity * multiplier * rate`, sizing `equity * pct / 100 / (...)`) it is
used in the written operation order. Where the docs give no arithmetic form the form
was read from the engine's code; those places say `(form from the code)`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from tests.integration.strategy_gen import (
    SYMBOL,
    TF_MS,
    Bar,
    InstrumentSpec,
    Rule,
    Signal,
    StrategySpec,
)

_EPS = 1e-9
Series = list[float | None]
Exits = tuple[float | None, float | None, float | None]


# -- indicators and signals ---------------------------------------------------------

def sma(xs: Sequence[float], n: int) -> Series:
    """Running window sum: add the new value, read, drop the oldest (form from the code;
    the kernels' docstring names TA-Lib's order but `sum / n` is the code's)."""
    out: Series = [None] * len(xs)
    total = 0.0
    for i in range(min(n - 1, len(xs))):
        total += xs[i]
    for i in range(n - 1, len(xs)):
        total += xs[i]
        out[i] = total / n
        total -= xs[i - n + 1]
    return out


def ema(xs: Sequence[float], n: int) -> Series:
    """Seeded with the mean of the first n values, then `v += k * (x - v)` with
    `k = 2 / (n + 1)` (the seed rule is documented; the step form is the code's)."""
    out: Series = [None] * len(xs)
    if n > len(xs):
        return out
    seed = 0.0
    for i in range(n):
        seed += xs[i]
    v = seed / n
    out[n - 1] = v
    k = 2.0 / (n + 1)
    for i in range(n, len(xs)):
        v += k * (xs[i] - v)
        out[i] = v
    return out


def _gt(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and a > b


def signal_values(sig: Signal, series: dict[str, Series]) -> list[bool]:
    """A signal per bar; a comparison with null is false (DESIGN §3)."""
    a, b = series[sig.a], series[sig.b]
    out: list[bool] = []
    for i in range(len(a)):
        if sig.kind in ("crosses_above", "crosses_below"):
            x, y = (a, b) if sig.kind == "crosses_above" else (b, a)
            now = _gt(x[i], y[i])
            before = i > 0 and x[i - 1] is not None and y[i - 1] is not None \
                and x[i - 1] <= y[i - 1]  # type: ignore[operator]
            out.append(now and before)
        else:
            bi = b[i]
            scaled = None if bi is None else bi * sig.k
            out.append(_gt(a[i], scaled) if sig.kind == "above" else _gt(scaled, a[i]))
    return out


def higher_bars(bars: Sequence[Bar], tf_ms: int, higher_ms: int) -> list[tuple[int, float]]:
    """(close time, close) of each higher-timeframe window (aligned to the epoch) whose
    end the data reaches: a still-forming window is never seen (DESIGN §3)."""
    end = bars[-1][0] + tf_ms if bars else 0
    windows: dict[int, float] = {}
    for b in bars:
        windows[b[0] - b[0] % higher_ms] = b[4]  # last close of the window
    return [(start + higher_ms, close) for start, close in windows.items()
            if start + higher_ms <= end]


def aligned(bars: Sequence[Bar], tf_ms: int, closes_at: Sequence[int],
            values: Series) -> Series:
    """Per base bar closing at T: the value of the last higher bar closed at or before T."""
    out: Series = []
    j = -1
    for b in bars:
        while j + 1 < len(closes_at) and closes_at[j + 1] <= b[0] + tf_ms:
            j += 1
        out.append(values[j] if j >= 0 else None)
    return out


def all_series(spec: StrategySpec, bars: Sequence[Bar], tf_ms: int) -> dict[str, Series]:
    """Every named series a signal may read, per base bar (`x@5m` and 5m indicators
    aligned without lookahead)."""
    closes = [b[4] for b in bars]
    series: dict[str, Series] = {"close": list(closes)}
    higher: dict[str, list[tuple[int, float]]] = {
        tf: higher_bars(bars, tf_ms, TF_MS[tf]) for tf in spec.timeframes[1:]}
    for tf, hb in higher.items():
        series[f"close@{tf}"] = aligned(bars, tf_ms, [t for t, _ in hb], [c for _, c in hb])
    for ind in spec.indicators:
        fn = sma if ind.kind == "sma" else ema
        if ind.timeframe is None or ind.timeframe == spec.timeframes[0]:
            series[ind.name] = fn(closes, ind.period)
        else:
            hb = higher[ind.timeframe]
            series[ind.name] = aligned(bars, tf_ms, [t for t, _ in hb],
                                       fn([c for _, c in hb], ind.period))
    return series


# -- orders and the matching book -----------------------------------------------------

@dataclass
class Order:
    id: str
    side: str
    quantity: float
    type: str = "market"
    limit: float | None = None
    trigger: float | None = None
    reduce_only: bool = False
    brackets: Callable[[float], Exits] | None = None
    """Given the entry's fill price: the stop_loss, take_profit and trailing distance."""
    parent: str | None = None
    oco: str | None = None
    active_from: int = 0
    last_bar: int | None = None
    tif: str = "gtc"
    post_only: bool = False
    trail: float | None = None
    best: float | None = None
    triggered: bool = False


@dataclass
class Fill:
    order_id: str
    side: str
    time: int
    price: float
    quantity: float
    fee: float
    liquidity: str
    bar_index: int


@dataclass
class Trade:
    side: str
    quantity: float
    entry_time: int
    entry_price: float
    exit_time: int
    exit_price: float
    pnl: float
    fees: float
    exit_reason: str


@dataclass
class Book:
    """The matching engine for one symbol (matching.py's docstring)."""

    slippage_bps: float
    maker: float
    taker: float
    stop_first: bool
    orders: dict[str, Order] = field(default_factory=dict)
    position: float = 0.0
    log: dict[str, list[str | int]] = field(default_factory=dict)
    """orders.csv as (id, placed_at, status) rows, in decision order: every order
    submitted, every bracket child, every order dropped or refused by the risk gate."""

    def record(self, oid: str, k: int, status: str = "open") -> None:
        assert oid not in self.log, oid
        self.log[oid] = [oid, k, status]

    def remove(self, oid: str, status: str) -> None:
        """Take `oid` off the book with its final status."""
        del self.orders[oid]
        self.log[oid][2] = status

    def clear(self) -> None:
        for oid in list(self.orders):
            self.remove(oid, "cancelled")

    def slipped(self, price: float, side: str) -> float:
        if self.slippage_bps == 0.0:
            return price
        k = self.slippage_bps / 10_000.0
        return price * (1.0 + k) if side == "buy" else price * (1.0 - k)

    def place(self, o: Order, k: int) -> None:
        """Rest `o` from bar k + 1; `expire_after: 0` expires it at once."""
        o.active_from = k + 1
        self.orders[o.id] = o
        self.record(o.id, k)
        if o.last_bar is not None and o.last_bar < o.active_from:
            self.remove(o.id, "expired")

    def hit(self, o: Order, bar: Bar) -> tuple[float, str, bool, bool] | None:
        """(price, liquidity, at the open, stop-like) if `o` fills in `bar`."""
        _, op, hi, lo, _, _ = bar
        buy = o.side == "buy"
        if o.type == "market":
            return self.slipped(op, o.side), "taker", True, False
        if o.type == "limit" or o.triggered:
            lim = o.limit
            assert lim is not None
            if buy and lo <= lim:
                return min(op, lim), "maker", op <= lim, False
            if not buy and hi >= lim:
                return max(op, lim), "maker", op >= lim, False
            return None
        trig = o.trigger
        assert trig is not None
        if buy and hi >= trig:
            base, at_open = max(op, trig), op >= trig
        elif not buy and lo <= trig:
            base, at_open = min(op, trig), op <= trig
        else:
            return None
        price = self.slipped(base, o.side)
        if o.type == "stop":
            return price, "taker", at_open, True
        # stop_limit: triggered now; fills at once (a taker, slippage capped at the
        # limit) when the limit is marketable at the trigger fill price, else rests
        lim = o.limit
        assert lim is not None
        o.triggered = True
        if (lim >= base) if buy else (lim <= base):
            return (min(price, lim) if buy else max(price, lim)), "taker", at_open, True
        return None

    def on_bar(self, k: int, bar: Bar, close_ms: int) -> list[Fill]:
        fills: list[Fill] = []
        done: set[str] = set()
        while True:  # children of an entry filled at the open join a second round
            work = [o for o in self.orders.values() if o.active_from <= k and o.id not in done]
            if not work:
                break
            done.update(o.id for o in work)
            fills += self._round(k, bar, close_ms, work)
        for o in list(self.orders.values()):
            if o.active_from > k:
                continue
            if o.trail is not None:  # moves after the bar: no intrabar lookahead
                assert o.best is not None and o.trigger is not None
                if o.side == "sell":
                    o.best = max(o.best, bar[2])
                    o.trigger = max(o.trigger, o.best - o.trail)
                else:
                    o.best = min(o.best, bar[3])
                    o.trigger = min(o.trigger, o.best + o.trail)
            if o.last_bar is not None and k >= o.last_bar:
                self.remove(o.id, "expired")
        return fills

    def _round(self, k: int, bar: Bar, close_ms: int, work: list[Order]) -> list[Fill]:
        """One winner per OCO group (the open's hits first, then the intrabar rule, then
        submission order); fills at the open first, each in submission order."""
        hits = [(o, h) for o in work if (h := self.hit(o, bar)) is not None]
        keyed = []
        winners: dict[str, tuple[int, int, int]] = {}
        for seq, (o, h) in enumerate(hits):
            key = (0 if h[2] else 1, 0 if h[3] == self.stop_first else 1, seq)
            keyed.append((key, o, h))
            if o.oco is not None and (o.oco not in winners or key < winners[o.oco]):
                winners[o.oco] = key
        keyed = [t for t in keyed if t[1].oco is None or winners[t[1].oco] == t[0]]
        keyed.sort(key=lambda t: (t[0][0], t[0][2]))
        fills: list[Fill] = []
        for _, o, (price, liq, at_open, _) in keyed:
            if o.id not in self.orders:
                continue
            fill = self.execute(o, price, liq, bar[0] if at_open else close_ms, k,
                                k if at_open else k + 1)
            if fill is not None:
                fills.append(fill)
        return fills

    def execute(self, o: Order, price: float, liq: str, time: int, k: int,
                children_from: int) -> Fill | None:
        """Fill `o` (reduce-only clipped at fill time, or cancelled), then OCO
        cancels, "position closed" cancels and the entry's brackets."""
        qty = o.quantity
        pos = self.position
        if o.reduce_only:
            reducible = max(0.0, -pos) if o.side == "buy" else max(0.0, pos)
            if reducible <= 0 or (qty > reducible and o.tif == "fok"):
                self.orders.pop(o.id, None)
                self.log[o.id][2] = "cancelled"
                return None
            qty = min(qty, reducible)
        rate = self.maker if liq == "maker" else self.taker
        fee = price * qty * 1.0 * rate
        new = pos + qty if o.side == "buy" else pos - qty
        if abs(new) < 1e-12 * max(1.0, abs(pos)):  # (form from the code)
            new = 0.0
        self.position = new
        self.orders.pop(o.id, None)
        self.log[o.id][2] = "filled"
        if o.oco is not None:
            for s in [s for s in self.orders.values() if s.oco == o.oco]:
                self.remove(s.id, "cancelled")
        if new == 0.0:
            for s in [s for s in self.orders.values() if s.parent is not None]:
                self.remove(s.id, "cancelled")
        if o.brackets is not None:
            self._attach(o, price, qty, k, children_from)
        return Fill(o.id, o.side, time, price, qty, fee, liq, k)

    def _attach(self, o: Order, price: float, qty: float, k: int, active_from: int) -> None:
        """The children, placed at the fill's bar `k`, working from `active_from`."""
        assert o.brackets is not None
        sl, tp, trail = o.brackets(price)
        side = "sell" if o.side == "buy" else "buy"
        group = f"{o.id}:exits"
        if sl is not None:
            self.orders[f"{o.id}:sl"] = Order(f"{o.id}:sl", side, qty, "stop", trigger=sl,
                                              reduce_only=True, parent=o.id, oco=group,
                                              active_from=active_from)
        if tp is not None:
            self.orders[f"{o.id}:tp"] = Order(f"{o.id}:tp", side, qty, "limit", limit=tp,
                                              reduce_only=True, parent=o.id, oco=group,
                                              active_from=active_from)
        if trail is not None:
            # starts at the fill price -/+ the distance; `best` is derived back from
            # the trigger, not set to the fill price (form from the code)
            start = price - trail if side == "sell" else price + trail
            best = start + trail if side == "sell" else start - trail
            self.orders[f"{o.id}:trail"] = Order(
                f"{o.id}:trail", side, qty, "stop", trigger=start, reduce_only=True,
                parent=o.id, oco=group, active_from=active_from, trail=trail, best=best)
        for suffix in ("sl", "tp", "trail"):
            if f"{o.id}:{suffix}" in self.orders:
                self.record(f"{o.id}:{suffix}", k)


# -- portfolio ------------------------------------------------------------------------

@dataclass
class Portfolio:
    """Margin-style cash, one net position, round trips (portfolio.py's docstring)."""

    cash: float
    quantity: float = 0.0
    avg: float = 0.0
    mark: float = 0.0
    trip: dict[str, float | int | str] | None = None
    trades: list[Trade] = field(default_factory=list)

    def equity(self) -> float:
        upnl = 0.0 if self.quantity == 0.0 else self.quantity * (self.mark - self.avg) * 1.0
        return self.cash + upnl

    def apply(self, f: Fill, reason: str) -> None:
        sign = 1.0 if f.side == "buy" else -1.0
        qty = f.quantity
        self.cash -= f.fee
        close_qty = 0.0
        if self.quantity != 0.0 and (self.quantity > 0) != (sign > 0):
            held = abs(self.quantity)
            close_qty = held if qty >= held * (1 - _EPS) else qty
        open_qty = max(0.0, qty - close_qty)
        if open_qty <= _EPS * qty:
            open_qty = 0.0
        close_fee = f.fee * close_qty / qty if qty > 0 else 0.0  # (form from the code)
        open_fee = f.fee - close_fee
        if close_qty > 0.0:
            self._close(f, close_qty, close_fee, reason)
        if open_qty > 0.0:
            self._open(f, open_qty, open_fee, sign)

    def _close(self, f: Fill, qty: float, fee: float, reason: str) -> None:
        direction = 1.0 if self.quantity > 0 else -1.0
        pnl = qty * (f.price - self.avg) * direction * 1.0
        self.cash += pnl
        t = self.trip
        assert t is not None
        t["exit_qty"] = float(t["exit_qty"]) + qty
        t["exit_value"] = float(t["exit_value"]) + qty * f.price
        # one exit price: exactly that price, else the quantity-weighted mean
        t["exit_price"] = f.price if t.get("exit_price", f.price) == f.price else math.nan
        t["gross"] = float(t["gross"]) + pnl
        t["fees"] = float(t["fees"]) + fee
        remaining = self.quantity - direction * qty
        if abs(remaining) <= _EPS * max(qty, abs(self.quantity)):
            self.trades.append(Trade(
                str(t["side"]), float(t["entry_qty"]), int(t["entry_time"]), self.avg, f.time,
                float(t["exit_value"]) / float(t["exit_qty"])
                if math.isnan(float(t["exit_price"])) else float(t["exit_price"]),
                float(t["gross"]) - float(t["fees"]), float(t["fees"]), reason))
            self.quantity, self.avg, self.trip = 0.0, 0.0, None
        else:
            self.quantity = remaining

    def _open(self, f: Fill, qty: float, fee: float, sign: float) -> None:
        if self.trip is None:
            self.trip = {"side": "long" if sign > 0 else "short", "entry_time": f.time,
                         "entry_qty": 0.0, "exit_qty": 0.0, "exit_value": 0.0, "gross": 0.0,
                         "fees": 0.0}
        held = abs(self.quantity)
        # opened by one fill: exactly its price; adding: the quantity-weighted mean
        self.avg = f.price if held == 0.0 else (held * self.avg + qty * f.price) / (held + qty)
        self.quantity += sign * qty
        self.trip["entry_qty"] = float(self.trip["entry_qty"]) + qty
        self.trip["fees"] = float(self.trip["fees"]) + fee


def in_hours(hours: tuple[str, str], now: int) -> bool:
    """`now` in `[start, end)` of the UTC wall clock; overnight when end <= start.
    (Bars close on whole minutes, so minutes are fine grained enough.)"""
    start, end = (int(h) * 60 + int(m) for h, m in (x.split(":") for x in hours))
    d = datetime.fromtimestamp(now / 1000, UTC)
    t = d.hour * 60 + d.minute
    return start <= t < end if start < end else (t >= start or t < end)


# -- risk gate ------------------------------------------------------------------------

@dataclass
class Gate:
    """risk.py's docstring, for the limits the generator sets (one instrument)."""

    spec: StrategySpec
    halted: bool = False
    peak: float | None = None
    day: object = None
    day_start_equity: float = 0.0
    daily_entries: int = 0
    recent: list[int] = field(default_factory=list)

    def roll(self, now: int, equity: float) -> None:
        self.peak = equity if self.peak is None else max(self.peak, equity)
        day = datetime.fromtimestamp(now / 1000, UTC).date()
        if day != self.day:
            self.day, self.day_start_equity, self.daily_entries = day, equity, 0

    def breach(self) -> str:
        if self.spec.risk.on_breach != "reject":
            self.halted = True
        return self.spec.risk.on_breach

    def standing(self, equity: float) -> bool:
        r = self.spec.risk
        if r.max_daily_loss is not None and \
                self.day_start_equity - equity >= r.max_daily_loss * (1 - _EPS):
            return True
        if r.max_drawdown is not None and self.peak:
            return 1.0 - equity / self.peak >= r.max_drawdown * (1 - _EPS)
        return False

    def update(self, now: int, equity: float) -> str | None:
        self.roll(now, equity)
        if self.halted or self.spec.risk.on_breach == "reject":
            return None
        return self.breach() if self.standing(equity) else None

    def check(self, o: Order, now: int, price: float, p: Portfolio, open_orders: int) -> str:
        """`accept`, or the action of the failed check (`price`: the order's limit,
        trigger, or the decision close)."""
        self.roll(now, p.equity())
        pos = p.quantity
        signed = o.quantity if o.side == "buy" else -o.quantity
        if o.reduce_only or (pos * signed < 0 and abs(signed) <= abs(pos) * (1 + _EPS)):
            self.recent.append(now)
            return "accept"
        verdict = self._entry(o, now, price, p, open_orders, pos + signed, abs(signed))
        if verdict == "accept":
            self.recent.append(now)
            self.daily_entries += 1
        return verdict

    def _entry(self, o: Order, now: int, price: float, p: Portfolio, open_orders: int,
               after: float, size: float) -> str:
        r = self.spec.risk
        if self.halted:
            return "reject"
        if not r.allow_short and after < -_EPS * max(1.0, size):
            return "reject"
        if r.trading_hours is not None and not in_hours(r.trading_hours, now):
            return "reject"
        if r.max_position is not None and abs(after) > r.max_position * (1 + _EPS):
            return self.breach()
        if r.max_gross_exposure is not None:
            held = abs(p.quantity * p.mark * 1.0)
            # own + whole portfolio - this instrument (form from the code: with one
            # instrument it is not always exactly `own`)
            exposure = abs(after) * price * 1.0 + held - held
            if exposure > r.max_gross_exposure * (1 + _EPS):
                return self.breach()
        if r.max_open_orders is not None and open_orders >= r.max_open_orders:
            return self.breach()
        self.recent = [t for t in self.recent if t > now - 60_000]
        if r.max_orders_per_minute is not None and len(self.recent) >= r.max_orders_per_minute:
            return self.breach()
        if r.max_daily_trades is not None and self.daily_entries >= r.max_daily_trades:
            return self.breach()
        return self.breach() if self.standing(p.equity()) else "accept"


# -- tick / lot rounding (orders.py: `conform`) ---------------------------------------

def _decimals(step: float) -> int:
    exponent = Decimal(repr(step)).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def to_step(value: float, step: float | None, mode: str) -> float:
    """`value` on the grid of `step`: nearest (halves up), down or up, with a relative
    1e-9 slack against float noise, then rounded to the step's decimals (form from the
    code: the docstrings give the directions and the slack, not the arithmetic)."""
    if step is None:
        return value
    n = value / step
    k = (math.floor(n + 0.5) if mode == "nearest" else math.floor(n + _EPS) if mode == "down"
         else math.ceil(n - _EPS))
    return round(k * step, _decimals(step))


def too_small(price: float, qty: float, inst: InstrumentSpec) -> bool:
    """Zero lots, or a notional under min_notional (with the same 1e-9 slack)."""
    if qty <= 0:
        return True
    return inst.min_notional is not None and \
        abs(price) * qty * 1.0 < inst.min_notional * (1 - _EPS)


# -- the run --------------------------------------------------------------------------

def _price(rule: Rule, close: float) -> float:
    """The limit price of a limit, the trigger of a stop or stop_limit."""
    return close * (1 + rule.frac) if rule.sign > 0 else close * (1 - rule.frac)


def _stop_limit_price(rule: Rule, close: float) -> float:
    return close * (1 + rule.limit_frac) if rule.limit_sign > 0 \
        else close * (1 - rule.limit_frac)


def _exits(rule: Rule, close: float, base: float) -> Exits:
    """Unrounded exits off `base` (`entry_price`) or the decision bar's close."""
    b = base if rule.bracket_base == "entry_price" else close
    long = rule.side == "buy"
    sl = tp = trail = None
    if rule.stop_loss is not None:
        sl = b * (1 - rule.stop_loss) if long else b * (1 + rule.stop_loss)
    if rule.take_profit is not None:
        tp = b * (1 + rule.take_profit) if long else b * (1 - rule.take_profit)
    if rule.trailing_stop is not None:
        trail = b * rule.trailing_stop
    return sl, tp, trail


def _rounded_exits(rule: Rule, close: float, base: float, tick: float | None) -> Exits:
    """Exits rounded as the exit orders they become (a long's stop down, target up)."""
    sl, tp, trail = _exits(rule, close, base)
    long = rule.side == "buy"
    return (None if sl is None else to_step(sl, tick, "down" if long else "up"),
            None if tp is None else to_step(tp, tick, "up" if long else "down"), trail)


def _size(rule: Rule, equity: float, price: float, stop: float | None) -> float | None:
    """sizing.py's formulas (multiplier 1), unrounded; None when the order is dropped."""
    v = rule.size_value
    if rule.size_mode == "quantity":
        return v
    if rule.size_mode == "notional":
        return v / (price * 1.0)
    if equity <= 0:
        return None
    budget = equity * v / 100.0
    if rule.size_mode == "equity_pct":
        return budget / (price * 1.0)
    if stop is None or abs(price - stop) == 0:
        return None
    return budget / (abs(price - stop) * 1.0)


def _last_bar(rule: Rule, i: int) -> int | None:
    """Last bar an order placed at `i` may fill on: expire_after, then ioc/fok."""
    last = None if rule.expire_after is None else i + rule.expire_after
    if rule.time_in_force != "gtc" and (last is None or i + 1 < last):
        last = i + 1
    return last


@dataclass
class Result:
    fills: list[Fill]
    trades: list[Trade]
    equity: list[tuple[int, float, float]] = field(default_factory=list)
    """(close time, equity, cash) after each traded bar."""
    orders: list[tuple[str, int, str]] = field(default_factory=list)
    """(id, placed_at, final status) of every order, as orders.csv lists them."""


def warmup(spec: StrategySpec, tf_ms: int) -> int:
    """Warm-up in base bars, as README "Backtests" and `runner graph` define it (worked
    out here from the spec, not read from the graph): a `tf` bar closes with every
    `r = tf / base`-th base bar, so `tf` bars need `r - 1` base bars, and an SMA/EMA of
    period n on them (first value on its n-th bar) `n * r - 1`."""
    def ratio(tf: str | None) -> int:
        return 1 if tf is None else TF_MS[tf] // tf_ms
    return max([ratio(tf) - 1 for tf in spec.timeframes]
               + [ind.period * ratio(ind.timeframe) - 1 for ind in spec.indicators])


def loaded(spec: StrategySpec, stored: Sequence[Bar], tf_ms: int) -> tuple[list[Bar], int]:
    """The bars a run loads (`backtest.start`/`end`: those opening in
    [start - warm-up, end)) and the index of the first one at or after the start."""
    bt = spec.backtest
    lo = None if bt.start_ms is None else bt.start_ms - warmup(spec, tf_ms) * tf_ms
    bars = [b for b in stored if (lo is None or b[0] >= lo)
            and (bt.end_ms is None or b[0] < bt.end_ms)]
    first = 0 if bt.start_ms is None else \
        next((j for j, b in enumerate(bars) if b[0] >= bt.start_ms), len(bars))
    return bars, first


def simulate(spec: StrategySpec, stored: Sequence[Bar], tf_ms: int) -> Result:
    """Run `spec` over the stored bars (one instrument, base timeframe = the bars'),
    windowed and warmed up as `loaded` says."""
    bars, first = loaded(spec, stored, tf_ms)
    return _Run(spec, bars, tf_ms, first).run()


class _Run:
    """The per-bar loop of backtest.py's docstring (step 5), for one instrument."""

    def __init__(self, spec: StrategySpec, bars: Sequence[Bar], tf_ms: int,
                 first: int = 0) -> None:
        """Indicators and signals over all `bars`; bars before `first` (warm-up) are
        never traded, and bar indices count from 0 at `first`."""
        self.spec, self.tf_ms, self.first = spec, tf_ms, first
        series = all_series(spec, bars, tf_ms)
        self.sig = {s.name: signal_values(s, series)[first:] for s in spec.signals}
        self.bars = bars[first:]
        self.closes = [b[4] for b in self.bars]
        bt = spec.backtest
        self.book = Book(bt.slippage_bps, bt.maker, bt.taker, bt.intrabar == "stop_first")
        self.port = Portfolio(bt.cash)
        self.gate = Gate(spec)
        self.fills: list[Fill] = []
        self.equity: list[tuple[int, float, float]] = []
        self.reasons: dict[str, str] = {}
        self.last_order: dict[int, int] = {}
        self.entries: dict[int, int] = {}
        self.working: dict[int, list[str]] = {}
        """Per rule: its entry orders that were resting after submission."""

    def run(self) -> Result:
        for i, bar in enumerate(self.bars):
            now = bar[0] + self.tf_ms
            self.apply(self.book.on_bar(i, bar, now))
            self.port.mark = bar[4]
            if self.gate.update(now, self.port.equity()) == "flatten":
                self.flatten(i, now)
            for r, rule in enumerate(self.spec.rules):
                if self.sig[rule.when][i]:
                    self.rule(r, rule, i, now)
            self.equity.append((now, self.port.equity(), self.port.cash))
        orders = [(str(oid), int(k), str(status)) for oid, k, status in self.book.log.values()]
        return Result(self.fills, self.port.trades, self.equity, orders)

    def apply(self, fs: list[Fill]) -> None:
        for f in fs:
            reason = ("stop_loss" if f.order_id.endswith(":sl") else "take_profit"
                      if f.order_id.endswith(":tp") else "trailing_stop"
                      if f.order_id.endswith(":trail") else self.reasons.get(f.order_id, ""))
            self.port.apply(f, reason)
            self.fills.append(f)

    def submit(self, o: Order, i: int, now: int) -> bool:
        """The matching engine's `submit`; False when it rejects the order."""
        if o.post_only and o.limit is not None and (
                o.limit >= self.closes[i] if o.side == "buy" else o.limit <= self.closes[i]):
            self.book.record(o.id, i, "rejected")
            return False
        if o.type == "market" and self.spec.backtest.fill == "close":
            self.book.record(o.id, i)
            price = self.book.slipped(self.closes[i], o.side)
            f = self.book.execute(o, price, "taker", now, i, i + 1)
            self.apply([f] if f is not None else [])
        else:
            self.book.place(o, i)
        return True

    def flatten(self, i: int, now: int) -> None:
        self.book.clear()
        if self.port.quantity != 0.0:
            o = Order(f"flatten-{i}-{SYMBOL}", "sell" if self.port.quantity > 0 else "buy",
                      abs(self.port.quantity), reduce_only=True)
            self.reasons[o.id] = "risk_flatten"
            self.submit(o, i, now)

    def rule(self, r: int, rule: Rule, i: int, now: int) -> None:
        if rule.action == "cancel_orders":
            self.book.clear()
            return
        if i - self.last_order.get(r, -10**9) <= rule.cooldown:
            return
        order = self.close_order(r, rule, i) if rule.action == "close" \
            else self.entry_order(r, rule, i)
        if order is None:
            return
        close = self.closes[i]
        ref = close if rule.action == "close" or rule.type == "market" else _price(rule, close)
        verdict = self.gate.check(order, now, ref, self.port, len(self.book.orders))
        if verdict != "accept":
            self.book.record(order.id, i, f"risk_{verdict}")
            if verdict == "flatten":
                self.flatten(i, now)
            return
        self.reasons[order.id] = f"orders[{r}]"
        if not self.submit(order, i, now):
            return
        self.last_order[r] = i
        if rule.action is None:
            self.entries[r] = self.entries.get(r, 0) + 1
            if order.id in self.book.orders:
                self.working.setdefault(r, []).append(order.id)

    def dropped(self, r: int, i: int) -> None:
        """An order given up before it reached the book (sizing, lot, min notional)."""
        self.book.record(f"{SYMBOL}-{r}-{i}", i, "dropped")

    def close_order(self, r: int, rule: Rule, i: int) -> Order | None:
        pos = self.port.quantity
        qty = abs(pos) * (rule.fraction or 1.0)
        if qty <= _EPS:
            return None
        qty = to_step(qty, self.spec.instrument.lot_size, "down")
        if too_small(self.closes[i], qty, self.spec.instrument):
            return self.dropped(r, i)
        return Order(f"{SYMBOL}-{r}-{i}", "sell" if pos > 0 else "buy", qty, reduce_only=True)

    def entry_order(self, r: int, rule: Rule, i: int) -> Order | None:
        inst = self.spec.instrument
        sign = 1.0 if rule.side == "buy" else -1.0
        # the count restarts only with no same-side position and none of the rule's
        # entry orders still working (a resting order is an entry in flight)
        live = [oid for oid in self.working.get(r, []) if oid in self.book.orders]
        self.working[r] = live
        if self.port.quantity * sign <= _EPS and not live:
            self.entries[r] = 0
        if self.entries.get(r, 0) >= rule.max_entries:
            return None
        close = self.closes[i]
        ref = _price(rule, close) if rule.type != "market" else close
        qty = _size(rule, self.port.equity(), ref, _exits(rule, close, ref)[0])
        if qty is None or qty <= 0:
            return self.dropped(r, i)
        qty = to_step(qty, inst.lot_size, "down")
        if too_small(ref, qty, inst):
            return self.dropped(r, i)
        buy = rule.side == "buy"
        limit = trigger = None
        if rule.type == "limit":
            limit = to_step(ref, inst.tick_size, "down" if buy else "up")
        elif rule.type == "stop":
            trigger = to_step(ref, inst.tick_size, "up" if buy else "down")
        elif rule.type == "stop_limit":
            limit = to_step(_stop_limit_price(rule, close), inst.tick_size,
                            "down" if buy else "up")
            trigger = to_step(ref, inst.tick_size, "up" if buy else "down")
        qty = to_step(qty, inst.lot_size, "down")
        price = limit if limit is not None else trigger if trigger is not None else close
        if too_small(price, qty, inst):
            return self.dropped(r, i)
        has_exits = rule.stop_loss is not None or rule.take_profit is not None \
            or rule.trailing_stop is not None

        def exits(fill_price: float) -> Exits:
            return _rounded_exits(rule, close, fill_price, inst.tick_size)

        return Order(f"{SYMBOL}-{r}-{i}", str(rule.side), qty, rule.type, limit=limit,
                     trigger=trigger, reduce_only=rule.reduce_only,
                     brackets=exits if has_exits else None, last_bar=_last_bar(rule, i),
                     tif=rule.time_in_force, post_only=rule.post_only)


def iso(ms: int) -> str:
    """The runner's CSV time format: ISO 8601 UTC, milliseconds, `Z`."""
    d = datetime.fromtimestamp(ms // 1000, UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"
