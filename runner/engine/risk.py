"""Pre-trade risk checks (DESIGN §1 `risk:`): `RiskGate.check` before every order.

Decisions:

- **Entries and exits.** An order is an *exit* when it can only reduce the position:
  `reduce_only`, or opposite to the position with quantity ≤ |position|. Exits pass
  every check, also while halted (blocking an exit would add risk); they still count
  toward `max_orders_per_minute`. Everything else (opening, adding, a flip) is an
  *entry* and is checked.
- **Projection.** Position limits use the position after the order fills completely
  (`current + signed quantity`) at the order's `price`; other instruments are valued at
  their last mark. Working orders that have not filled are not projected.
- **Scope of a plain number.** `max_position` is per instrument (base units cannot be
  summed across instruments); `max_gross_exposure`, `max_open_orders`,
  `max_orders_per_minute`, `max_daily_loss` and `max_daily_trades` with a number apply
  to the whole portfolio; a mapping `{SYMBOL: n}` applies to each named instrument and
  leaves the others unlimited.
- **Breach thresholds.** Amounts breach when the projection *exceeds* the limit
  (`max_position`, `max_gross_exposure`); counts when the existing count has *reached*
  it (so the order would exceed it: `max_open_orders`, `max_orders_per_minute`,
  `max_daily_trades`, `max_positions`); losses when they have reached the limit
  (`max_daily_loss`: loss ≥ limit; `max_drawdown`: `1 - equity/peak` ≥ limit).
- **Daily loss** is measured on equity (realized, unrealized and fees): portfolio equity
  at the day's start minus equity now; per instrument, the instrument's net PnL
  (`Portfolio.instrument_pnl`) at the day's start minus now. The day-start value is the
  one seen at the first `update`/`check` at or after the boundary — call `update` on
  every bar so that is the boundary bar. Likewise the peak equity of `max_drawdown`
  is the highest equity the gate has seen in `update`/`check`.
- **Daily trades** counts *entries* accepted since the day started.
- **Days** start at `day_starts.time` on the wall clock of `day_starts.tz` (zoneinfo,
  so 17:00 America/Chicago is 23:00 UTC in winter and 22:00 UTC in summer). A time
  before the day-start wall-clock time belongs to the previous day's trading day.
  Times must be timezone-aware datetimes (naive ones are taken as UTC).
- **Rules versus limits.** `allow_short: false` (an entry that leaves a net short) and
  `trading_hours` (entries outside `[start, end)` on the listed `days`, in `tz`; an
  `end` before `start` is an overnight window) only ever reject the order. Every other
  field is a limit, and its breach follows `on_breach`:
  - `reject`: this order is rejected; the next one is checked afresh (so a daily-loss
    breach rejects entries until the next trading day);
  - `halt`: this order is rejected and the gate halts: every later entry is rejected
    (exits pass) until `resume()`; the halt does not lift at the day start;
  - `flatten`: as `halt`, and the decision tells the caller to cancel working orders
    and close every position (`closing_orders` builds the orders).
- **Standing breaches.** `max_daily_loss` and `max_drawdown` can be breached with no
  order in sight: `update` (per bar) returns a `halt`/`flatten` decision as soon as
  one is, when `on_breach` is `halt` or `flatten`; under `reject` it returns None and
  the next entry is rejected by `check`.
- The first failing check wins, in this order: halted, allow_short, trading_hours,
  max_position, max_gross_exposure, max_positions, max_open_orders,
  max_orders_per_minute, max_daily_trades, max_daily_loss, max_drawdown.
- An accepted order is recorded (per-minute window, daily entries) by `check` itself.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from runner.config.models import DayStart, Risk, TradingHours
from runner.engine.portfolio import Portfolio
from runner.sim.orders import Order, opposite

Action = Literal["accept", "reject", "halt", "flatten"]
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class RiskDecision:
    """The gate's answer. `action` is `accept`, or what the caller must do: `reject`
    (drop this order), `halt` (drop it; the gate is now halted) or `flatten` (drop it,
    cancel working orders and close all positions; the gate is now halted). `limit`
    names the field that failed (`halted` when the gate was already halted)."""

    action: Action
    reason: str = ""
    limit: str = ""

    @property
    def accepted(self) -> bool:
        return self.action == "accept"


ACCEPT = RiskDecision("accept")


def _clock(value: str) -> time:
    h, m = value.split(":")
    return time(int(h), int(m))


def _aware(now: datetime) -> datetime:
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now


class TradingDay:
    """Which trading day a time belongs to, for `day_starts` (DST-correct)."""

    def __init__(self, day_starts: DayStart) -> None:
        self.zone = ZoneInfo(day_starts.tz)
        self.start = _clock(day_starts.time)

    def of(self, now: datetime) -> date:
        """The trading day of `now`, named by the calendar date it started on."""
        local = _aware(now).astimezone(self.zone)
        d = local.date()
        return d - timedelta(days=1) if local.time() < self.start else d

    def starts_at(self, day: date) -> datetime:
        """The UTC instant trading day `day` begins."""
        return datetime.combine(day, self.start, tzinfo=self.zone).astimezone(UTC)


def in_trading_hours(hours: TradingHours, now: datetime) -> bool:
    """Whether `now` lies in `[start, end)` on an allowed weekday, in `hours.tz`. An
    overnight window (end ≤ start) belongs to the weekday it starts on."""
    local = _aware(now).astimezone(ZoneInfo(hours.tz))
    start, end, t = _clock(hours.start), _clock(hours.end), local.time()
    weekday = local.weekday()
    if start < end:
        inside = start <= t < end
    else:
        inside = t >= start or t < end
        if t < end:
            weekday = (weekday - 1) % 7
    return inside and (hours.days is None or _WEEKDAYS[weekday] in hours.days)


def _limit_for(value: float | int | Mapping[str, float] | Mapping[str, int] | None,
               symbol: str) -> float | None:
    """The per-instrument limit of `symbol`: a plain number applies to all."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        v = value.get(symbol)
        return None if v is None else float(v)
    return float(value)


class RiskGate:
    """Checks orders against one `risk:` block; holds the halt state and the counters
    of the current trading day."""

    def __init__(self, risk: Risk) -> None:
        self.risk = risk
        self.days = TradingDay(risk.day_starts)
        self.halted = False
        self.halt_reason = ""
        self.day: date | None = None
        self.day_start_equity = 0.0
        self.day_start_pnl: dict[str, float] = {}
        self.daily_entries: dict[str, int] = {}
        self.peak_equity: float | None = None
        self._recent: deque[tuple[datetime, str]] = deque()
        self._day_from: datetime | None = None
        self._day_until = datetime.max.replace(tzinfo=UTC)

    # -- state -----------------------------------------------------------------------

    def resume(self) -> None:
        """Lift a halt (an operator's decision)."""
        self.halted = False
        self.halt_reason = ""

    def _roll(self, now: datetime, portfolio: Portfolio) -> None:
        if self.risk.max_drawdown is not None or self.peak_equity is None:
            equity = portfolio.equity()
            self.peak_equity = (equity if self.peak_equity is None
                                else max(self.peak_equity, equity))
        if self._day_from is not None and self._day_from <= now < self._day_until:
            return  # same trading day: no time-zone arithmetic on every call
        day = self.days.of(now)
        self._day_from = self.days.starts_at(day)
        self._day_until = self.days.starts_at(day + timedelta(days=1))
        if day != self.day:
            self.day = day
            self.day_start_equity = portfolio.equity()
            self.day_start_pnl = {s: portfolio.instrument_pnl(s) for s in portfolio.positions}
            self.daily_entries = {}

    def _breach(self, limit: str, reason: str) -> RiskDecision:
        action = self.risk.on_breach
        if action != "reject":
            self.halted = True
            self.halt_reason = f"{limit}: {reason}"
        return RiskDecision(action, reason, limit)

    def _standing(self, portfolio: Portfolio, symbol: str | None) -> tuple[str, str] | None:
        """A breached daily-loss or drawdown limit (for `symbol`'s own limit too)."""
        risk = self.risk
        equity = portfolio.equity()
        if risk.max_daily_loss is not None:
            if isinstance(risk.max_daily_loss, Mapping):
                names = [symbol] if symbol is not None else list(risk.max_daily_loss)
                for s in names:
                    lim = _limit_for(risk.max_daily_loss, s)
                    if lim is None:
                        continue
                    loss = self.day_start_pnl.get(s, 0.0) - portfolio.instrument_pnl(s)
                    if loss >= lim * (1 - _EPS):
                        return "max_daily_loss", f"{s} daily loss {loss:g} reached {lim:g}"
            else:
                loss = self.day_start_equity - equity
                lim = float(risk.max_daily_loss)
                if loss >= lim * (1 - _EPS):
                    return "max_daily_loss", f"daily loss {loss:g} reached {lim:g}"
        if risk.max_drawdown is not None and self.peak_equity and self.peak_equity > 0:
            dd = 1.0 - equity / self.peak_equity
            if dd >= risk.max_drawdown * (1 - _EPS):
                return "max_drawdown", f"drawdown {dd:.6g} reached {risk.max_drawdown:g}"
        return None

    def update(self, now: datetime, portfolio: Portfolio) -> RiskDecision | None:
        """Per bar, after marking: roll the trading day, track peak equity, and with
        `on_breach: halt|flatten` halt (returning the decision) on a standing breach."""
        now = _aware(now)
        self._roll(now, portfolio)
        if self.halted or self.risk.on_breach == "reject":
            return None
        breach = self._standing(portfolio, None)
        return None if breach is None else self._breach(*breach)

    # -- checks ----------------------------------------------------------------------

    @staticmethod
    def is_exit(order: Order, position: float) -> bool:
        if order.reduce_only:
            return True
        signed = order.quantity if order.side == "buy" else -order.quantity
        return position * signed < 0 and abs(signed) <= abs(position) * (1 + _EPS)

    def check(self, order: Order, now: datetime, price: float, portfolio: Portfolio,
              open_orders: Mapping[str, int] | None = None) -> RiskDecision:
        """Whether `order` (at `price`: its limit, trigger or the current price) may be
        sent at `now`. `open_orders` counts working orders per symbol."""
        now = _aware(now)
        self._roll(now, portfolio)
        position = portfolio.quantity(order.symbol)
        if self.is_exit(order, position):
            self._recent.append((now, order.symbol))
            return ACCEPT
        decision = self._check_entry(order, now, price, portfolio, open_orders or {}, position)
        if decision.accepted:
            self._recent.append((now, order.symbol))
            self.daily_entries[order.symbol] = self.daily_entries.get(order.symbol, 0) + 1
        return decision

    def _check_entry(self, order: Order, now: datetime, price: float, portfolio: Portfolio,
                     open_orders: Mapping[str, int], position: float) -> RiskDecision:
        risk, sym = self.risk, order.symbol
        if self.halted:
            return RiskDecision("reject", f"trading halted ({self.halt_reason})", "halted")
        signed = order.quantity if order.side == "buy" else -order.quantity
        after = position + signed
        if not risk.allow_short and after < -_EPS * max(1.0, abs(signed)):
            return RiskDecision("reject", f"{order.side} {order.quantity:g} {sym} would leave "
                                f"a short position of {after:g} (allow_short is false)",
                                "allow_short")
        if risk.trading_hours is not None and not in_trading_hours(risk.trading_hours, now):
            th = risk.trading_hours
            return RiskDecision("reject", f"outside trading hours {th.start}-{th.end} {th.tz}",
                                "trading_hours")
        m = portfolio.multiplier(sym)
        lim = _limit_for(risk.max_position, sym)
        if lim is not None and abs(after) > lim * (1 + _EPS):
            return self._breach("max_position",
                                f"{sym} position would be {abs(after):g}, over {lim:g}")
        if risk.max_gross_exposure is not None:
            own = abs(after) * price * m
            if isinstance(risk.max_gross_exposure, Mapping):
                lim, exposure = _limit_for(risk.max_gross_exposure, sym), own
            else:
                lim = float(risk.max_gross_exposure)
                exposure = own + portfolio.exposure() - portfolio.exposure(sym)
            if lim is not None and exposure > lim * (1 + _EPS):
                return self._breach("max_gross_exposure",
                                    f"gross exposure would be {exposure:g}, over {lim:g}")
        if risk.max_positions is not None and position == 0.0:
            n = len(portfolio.open_positions())
            if n >= risk.max_positions:
                return self._breach("max_positions", f"{n} positions open, "
                                    f"max_positions is {risk.max_positions}")
        found = self._count_breach("max_open_orders", risk.max_open_orders, sym,
                                   lambda s: open_orders.get(s, 0),
                                   sum(open_orders.values()))
        if found is not None:
            return found
        cutoff = now - timedelta(minutes=1)
        while self._recent and self._recent[0][0] <= cutoff:
            self._recent.popleft()
        found = self._count_breach("max_orders_per_minute", risk.max_orders_per_minute, sym,
                                   lambda s: sum(1 for _, r in self._recent if r == s),
                                   len(self._recent))
        if found is not None:
            return found
        found = self._count_breach("max_daily_trades", risk.max_daily_trades, sym,
                                   lambda s: self.daily_entries.get(s, 0),
                                   sum(self.daily_entries.values()))
        if found is not None:
            return found
        standing = self._standing(portfolio, sym)
        return ACCEPT if standing is None else self._breach(*standing)

    def _count_breach(self, name: str, value: int | Mapping[str, int] | None, sym: str,
                      per_symbol: Callable[[str], int], total: int) -> RiskDecision | None:
        if value is None:
            return None
        if isinstance(value, Mapping):
            if sym not in value:
                return None
            lim, count, what = value[sym], per_symbol(sym), f"{sym} "
        else:
            lim, count, what = value, total, ""
        if count >= lim:
            return self._breach(name, f"{what}count {count} reached {name} {lim}")
        return None


def closing_orders(portfolio: Portfolio, id_prefix: str = "flatten") -> list[Order]:
    """Reduce-only market orders that close every open position (for `flatten`)."""
    return [Order(id=f"{id_prefix}-{p.symbol}", symbol=p.symbol,
                  side=opposite("buy" if p.quantity > 0 else "sell"),
                  quantity=abs(p.quantity), reduce_only=True)
            for p in portfolio.open_positions()]
