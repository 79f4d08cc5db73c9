"""The report's metrics: the calendar a run is annualised with, and the metrics
`summary.json` carries after DESIGN §6's (`EXTENDED_KEYS`).

Everything is computed from the arrays the run files hold (equity per bar, closed
trades, fills), with numpy/polars over whole columns: a 10M-bar run pays no Python
loop per bar. Each metric is a float, an int, or `None` when undefined (never NaN):

**Calendar** (`infer_calendar`). Annualising needs the bars in a year, which depends
on the base timeframe *and* on when the market trades; the strategy language marks
neither, so it is read from the run's own bar times:

- a base timeframe of a week or more: `365 days / timeframe` (`"24/7"`);
- the run covers a whole UTC Saturday and has no bar opening on a Saturday: an
  exchange with sessions (`"sessions"`): `252 x` the median number of bars per UTC
  weekday (Monday to Friday) that has bars — 390 one-minute bars for a US equity
  session, 1 for daily bars, ~1,380 for CME's 23-hour Globex day;
- otherwise (crypto trades on Saturdays, and a run shorter than a weekend cannot
  tell): `"24/7"`, `365 days / timeframe` — the convention of crypto venues' own
  analytics, and what summary.json used before the calendar was inferred.

**Equity** (`E0` the initial cash in front of the per-bar curve, `r` the per-bar
returns, exactly as `runner.engine.metrics`):

- `volatility`: `stdev(r) * sqrt(bars_per_year)`, sample stdev; `None` with fewer
  than two returns or when equity reached 0.
- `calmar`: `cagr / max_drawdown` (over the whole run, not the trailing 36 months of
  Young's original definition); `None` without a drawdown or a finite CAGR.
- `drawdown`: the deepest drawdown as `{depth, start, trough, recovery,
  duration_seconds, bars}`: `start` the time of the peak it fell from (the run's
  start when that is the initial cash), `trough` the time of the lowest point,
  `recovery` the first time equity was back at the peak (`None`: not recovered),
  `duration_seconds` from `start` to `recovery` (to the end of the run when not
  recovered) and `bars` the bars in between; plus `longest_seconds`, the longest time
  spent below a previous peak. With no drawdown only `depth` (0.0) is set.
- `time_under_water`: the fraction of bars that close below the running peak.
- `monthly_returns` / `yearly_returns`: `{"2024-01": r}` / `{"2024": r}`, the equity at
  the last bar closing in the period over the one before (the initial cash for the
  first period) minus 1; a bar closing exactly at midnight belongs to the day before.

**Trades** (`pnl` net of fees, in exit-time order):

- `expectancy`: the mean pnl per trade; `average_win` / `average_loss`: the mean pnl of
  trades with pnl > 0 / < 0 (the loss is negative); `best_trade` / `worst_trade`: the
  largest / smallest pnl; `average_holding_seconds`: mean exit time - entry time.
- `longest_win_streak` / `longest_loss_streak`: the longest run of consecutive
  winners / losers; a break-even trade ends both.
- `trades_per_day`: closed trades over the run's length in days (24 h).
- `turnover`: traded notional (`|price x quantity x multiplier|` over every fill)
  over the mean equity: how many times the account's value changed hands.
- `by_instrument` / `by_exit_reason`: per group, `{trades, wins, win_rate, pnl, fees,
  profit_factor, expectancy, best_trade, worst_trade, average_holding_seconds}`, with
  `win_rate` and `profit_factor` defined as in DESIGN §6's summary.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
import polars as pl

DAY_MS = 86_400_000
YEAR_MS = 365 * DAY_MS
SESSION_DAYS_PER_YEAR = 252

EXTENDED_KEYS: tuple[str, ...] = (
    "calendar", "bars_per_year", "volatility", "calmar", "drawdown", "time_under_water",
    "expectancy", "average_win", "average_loss", "best_trade", "worst_trade",
    "average_holding_seconds", "longest_win_streak", "longest_loss_streak",
    "trades_per_day", "turnover", "by_instrument", "by_exit_reason", "monthly_returns",
    "yearly_returns",
)
"""The keys `extended_metrics` returns, written to summary.json after DESIGN §6's."""

CalendarKind = Literal["24/7", "sessions"]


@dataclass(frozen=True, slots=True)
class Calendar:
    """How a run is annualised: its market calendar and the bars in a year."""

    kind: CalendarKind
    bars_per_year: float


_CHUNK = 1 << 20
"""Rows per step of the per-day scans: their temporaries stay a few MB (fresh memory
costs a page fault per 4 KiB, ~0.2 s per 10M-row array on a cold process)."""


def _day_changes(ms: np.ndarray, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """For the days `(ms - offset) // DAY_MS`: the index of every row whose day differs
    from the previous row's (row 0 included), and that day; scanned in chunks."""
    ms = np.asarray(ms, dtype=np.int64)
    starts: list[np.ndarray] = []
    days: list[np.ndarray] = []
    previous: int | None = None
    for begin in range(0, len(ms), _CHUNK):
        day = (ms[begin:begin + _CHUNK] - offset) // DAY_MS
        changed = np.flatnonzero(np.diff(day, prepend=day[0] - 1 if previous is None
                                         else previous))
        starts.append(changed + begin)
        days.append(day[changed])
        previous = int(day[-1])
    if not starts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(starts), np.concatenate(days)


def infer_calendar(close_ms: np.ndarray, base_ms: int) -> Calendar:
    """The run's calendar from its bar close times (epoch ms), see the module docstring."""
    if base_ms <= 0:
        raise ValueError(f"the base timeframe must be positive, not {base_ms} ms")
    every_day = Calendar("24/7", YEAR_MS / base_ms)
    if base_ms >= 7 * DAY_MS or len(close_ms) == 0:
        return every_day
    close_ms = np.asarray(close_ms, dtype=np.int64)
    # the bars' open days, one entry per run of bars opening on the same day (one run
    # per day when the bars are in time order), and how many bars each run has
    starts, days = _day_changes(close_ms, base_ms)
    counts = np.diff(starts, append=len(close_ms))
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
    first_full = -(-(int(close_ms[0]) - base_ms) // DAY_MS)
    saturday = first_full + (5 - (first_full + 3) % 7) % 7
    if (saturday + 1) * DAY_MS > int(close_ms[-1]) or bool((weekday == 5).any()):
        return every_day
    on_weekdays = weekday < 5
    if not on_weekdays.any():
        return every_day
    _, inverse = np.unique(days[on_weekdays], return_inverse=True)
    per_day = np.bincount(inverse, weights=counts[on_weekdays]).astype(np.int64)
    return Calendar("sessions", SESSION_DAYS_PER_YEAR * float(np.median(per_day)))


def _iso(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _mean(values: np.ndarray) -> float | None:
    return float(values.mean()) if len(values) else None


def _longest_run(mask: np.ndarray) -> int:
    """The longest run of consecutive True values."""
    if not mask.any():
        return 0
    padded = np.concatenate([[0], mask.astype(np.int8), [0]])
    edges = np.diff(padded)
    return int((np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)).max())


def _drawdown(curve: np.ndarray, initial_cash: float, peaks: np.ndarray,
              depth: np.ndarray, start_ms: int, close_ms: np.ndarray,
              end_ms: int) -> dict[str, Any]:
    """The deepest drawdown and the longest time under water. Indices count the values
    `E0, E_1 .. E_n`: the initial cash at the run's start (`start_ms`), then `curve`,
    one per bar closing at `close_ms`, with its running `peaks` (from `E0`) and
    drawdowns `depth` (no array with `E0` in front is made)."""
    def times(index: Any) -> Any:  # the time of value `index`
        index = np.asarray(index)
        return np.where(index == 0, start_ms, close_ms[np.maximum(index - 1, 0)])

    none: dict[str, Any] = {"depth": 0.0, "start": None, "trough": None, "recovery": None,
                            "duration_seconds": None, "bars": None, "longest_seconds": None}
    if not len(depth):
        return none
    bar = int(depth.argmax())
    if not depth[bar] > 0:
        return none
    trough = bar + 1
    peak = peaks[bar]
    hits = curve[bar::-1] == peak
    start = (trough - int(np.argmax(hits)) if hits.any()
             else 0 if initial_cash == peak else trough)
    back = np.flatnonzero(curve[bar:] >= peak)
    recovery = trough + int(back[0]) if len(back) else None
    until = int(times(recovery)) if recovery is not None else end_ms
    edges = np.diff(np.concatenate([[0], (depth > 0).astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1) + 1, np.flatnonzero(edges == -1) + 1
    count = len(curve) + 1
    ends_ms = np.where(ends < count, times(np.minimum(ends, count - 1)), end_ms)
    longest = float((ends_ms - times(starts - 1)).max()) / 1000
    return {
        "depth": float(depth[bar]), "start": _iso(int(times(start))),
        "trough": _iso(int(times(trough))),
        "recovery": _iso(int(times(recovery))) if recovery is not None else None,
        "duration_seconds": (until - int(times(start))) / 1000,
        "bars": (recovery if recovery is not None else count - 1) - start,
        "longest_seconds": longest,
    }


def _day_starts(close_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The index of each day's first bar (a bar closing exactly at midnight belongs to
    the day before) and that day's month since 1970-01 (numpy's calendar arithmetic,
    computed per distinct day only)."""
    first_of_day, days = _day_changes(close_ms, 1)
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return first_of_day, months


def _period_returns(curve: np.ndarray, initial_cash: float, first_of_day: np.ndarray,
                    months: np.ndarray, monthly: bool) -> dict[str, float | None]:
    """Per calendar month (or year): end-of-period equity over the previous one."""
    if len(curve) == 0:
        return {}
    period_of_day = months if monthly else months // 12
    changes = np.flatnonzero(np.diff(period_of_day))
    ends = np.append(first_of_day[changes + 1] - 1, len(curve) - 1)
    period = np.append(period_of_day[changes], period_of_day[-1])
    closing = curve[ends]
    before = np.concatenate([[initial_cash], closing[:-1]])
    out: dict[str, float | None] = {}
    for p, end, prev in zip(period.tolist(), closing.tolist(), before.tolist(), strict=True):
        label = f"{1970 + p // 12:04d}-{p % 12 + 1:02d}" if monthly else f"{1970 + p:04d}"
        out[label] = end / prev - 1.0 if prev > 0 else None
    return out


def _trade_stats(pnl: np.ndarray, fees: np.ndarray, held_ms: np.ndarray) -> dict[str, Any]:
    """The statistics of one group of trades (non-empty)."""
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    gross_profit, gross_loss = float(wins.sum()), float(-losses.sum())
    profit_factor: float | None = None
    if gross_loss > 0:
        profit_factor = gross_profit / gross_loss
    elif gross_profit > 0:
        profit_factor = math.inf
    return {
        "trades": len(pnl), "wins": len(wins), "win_rate": len(wins) / len(pnl),
        "pnl": float(pnl.sum()), "fees": float(fees.sum()),
        "profit_factor": profit_factor, "expectancy": float(pnl.mean()),
        "best_trade": float(pnl.max()), "worst_trade": float(pnl.min()),
        "average_holding_seconds": float(held_ms.mean()) / 1000,
    }


def _epoch_ms(series: pl.Series) -> np.ndarray:
    if series.dtype.is_integer():
        return series.cast(pl.Int64).to_numpy()
    return series.dt.epoch("ms").to_numpy()


def _breakdown(trades: pl.DataFrame, key: str, pnl: np.ndarray, fees: np.ndarray,
               held_ms: np.ndarray) -> dict[str, dict[str, Any]]:
    """`_trade_stats` per value of `key`, in sorted order. Each group's rows keep the
    trades' order (a stable sort by group), so its sums are the ones a boolean mask
    per label would give, without comparing every label with every trade."""
    labels = trades[key].fill_null("").cast(pl.String)
    names = labels.unique().sort().to_list()  # UTF-8 byte order: Python's str order
    group = (labels.rank("dense") - 1).cast(pl.Int64).to_numpy()
    order = np.argsort(group, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(group, minlength=len(names)))])
    out: dict[str, dict[str, Any]] = {}
    for g, label in enumerate(names):
        rows = order[bounds[g]:bounds[g + 1]]
        out[label] = _trade_stats(pnl[rows], fees[rows], held_ms[rows])
    return out


def extended_metrics(equity: np.ndarray, close_ms: np.ndarray, *, start_ms: int,
                     end_ms: int, initial_cash: float, trades: pl.DataFrame,
                     fills: pl.DataFrame, multipliers: Mapping[str, float],
                     calendar: Calendar, cagr: float | None, max_drawdown: float,
                     shared: tuple[np.ndarray, np.ndarray, np.ndarray | None]
                     | None = None) -> dict[str, Any]:
    """The metrics of `EXTENDED_KEYS` (see the module docstring). `equity` and
    `close_ms` have one value per bar; `start_ms` is the first bar's open time and
    `end_ms` the last one's close; `cagr` and `max_drawdown` are the summary's.

    `shared` may hand in what the caller already computed from this curve, to save
    recomputing it: `runner.engine.metrics.curve_stats(equity, initial_cash)` (per bar:
    the running peak from the initial cash, the drawdown and the return)."""
    curve = np.asarray(equity, dtype=np.float64)
    if len(curve) != len(close_ms):
        raise ValueError(f"{len(curve)} equity values for {len(close_ms)} bar times")
    if not (math.isfinite(initial_cash) and initial_cash > 0):
        raise ValueError(f"the initial cash must be a positive number, not {initial_cash!r}")
    n = len(curve)
    if shared is None:
        from runner.engine.metrics import curve_stats

        shared = curve_stats(curve, initial_cash)
    peaks, depth, returns = shared
    close_ms = np.asarray(close_ms, dtype=np.int64)
    volatility: float | None = None
    if returns is not None:
        std = float(returns.std(ddof=1))
        volatility = std * math.sqrt(calendar.bars_per_year) if math.isfinite(std) else None
    calmar = (cagr / max_drawdown if cagr is not None and math.isfinite(cagr)
              and max_drawdown > 0 else None)
    drawdown = _drawdown(curve, initial_cash, peaks, depth, start_ms, close_ms, end_ms)
    under_water = float((curve < peaks).mean()) if n else 0.0

    if trades.height:
        order = trades.with_row_index("__row").sort("exit_time", "__row")
        pnl = order["pnl"].cast(pl.Float64).fill_null(0.0).to_numpy()
        fees = order["fees"].cast(pl.Float64).fill_null(0.0).to_numpy()
        held_ms = _epoch_ms(order["exit_time"]) - _epoch_ms(order["entry_time"])
        stats = _trade_stats(pnl, fees, held_ms)
        by_instrument = _breakdown(order, "instrument", pnl, fees, held_ms)
        by_reason = _breakdown(order, "exit_reason", pnl, fees, held_ms)
        wins, losses = pnl[pnl > 0], pnl[pnl < 0]
        trade_part: dict[str, Any] = {
            "expectancy": stats["expectancy"], "average_win": _mean(wins),
            "average_loss": _mean(losses), "best_trade": stats["best_trade"],
            "worst_trade": stats["worst_trade"],
            "average_holding_seconds": stats["average_holding_seconds"],
            "longest_win_streak": _longest_run(pnl > 0),
            "longest_loss_streak": _longest_run(pnl < 0),
        }
    else:
        by_instrument, by_reason = {}, {}
        trade_part = {"expectancy": None, "average_win": None, "average_loss": None,
                      "best_trade": None, "worst_trade": None,
                      "average_holding_seconds": None, "longest_win_streak": 0,
                      "longest_loss_streak": 0}
    first_of_day, months = (_day_starts(close_ms) if n
                            else (np.empty(0, np.int64), np.empty(0, np.int64)))
    days = (end_ms - start_ms) / DAY_MS
    trades_per_day = trades.height / days if days > 0 else None
    turnover: float | None = 0.0
    if fills.height:
        mult = (fills["symbol"].replace_strict(
            list(multipliers), list(multipliers.values()), default=1.0,
            return_dtype=pl.Float64).to_numpy() if multipliers else 1.0)
        notional = float(np.abs(fills["price"].cast(pl.Float64).to_numpy()
                                * fills["quantity"].cast(pl.Float64).to_numpy() * mult).sum())
        mean_equity = float(curve.mean()) if n else initial_cash
        turnover = notional / mean_equity if mean_equity > 0 else None
    return {
        "calendar": calendar.kind, "bars_per_year": calendar.bars_per_year,
        "volatility": volatility, "calmar": calmar, "drawdown": drawdown,
        "time_under_water": under_water, **trade_part, "trades_per_day": trades_per_day,
        "turnover": turnover, "by_instrument": by_instrument, "by_exit_reason": by_reason,
        "monthly_returns": _period_returns(curve, initial_cash, first_of_day, months, monthly=True),
        "yearly_returns": _period_returns(curve, initial_cash, first_of_day, months, monthly=False),
    }


__all__ = ["EXTENDED_KEYS", "Calendar", "extended_metrics", "infer_calendar"]
