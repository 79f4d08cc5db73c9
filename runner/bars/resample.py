"""Resample base OHLCV bars into a higher timeframe.

Conventions (the backtest engine's bar frames):

- `time` is the bar's OPEN time, `Datetime("ms", "UTC")` (a naive datetime is read as
  UTC; other units are accepted and converted). Bars cover `[time, time + tf)`, i.e.
  `label: open, closed: left` in DESIGN §3; a bar is an event at its close time.
- Frames are sorted by `time` with no duplicates; gaps (missing bars) are allowed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import polars as pl

from runner.expr.scope import timeframe_seconds

TIME: Final = "time"
CLOSE_TIME: Final = "close_time"
OHLCV: Final[tuple[str, ...]] = ("open", "high", "low", "close", "volume")

_WEEK_MS: Final = 7 * 86_400_000
# 1970-01-01 (the epoch) was a Thursday; the first Monday is 1970-01-05.
_MONDAY_OFFSET_MS: Final = 4 * 86_400_000
_MS_DTYPE: Final = pl.Datetime("ms", "UTC")


def timeframe_ms(tf: str) -> int:
    """Length of timeframe `tf` (`1m`, `4h`, `1w`, ...) in milliseconds; ValueError if invalid."""
    seconds = timeframe_seconds(tf)
    if seconds is None:
        raise ValueError(f"not a timeframe: {tf!r} (expected e.g. 1m, 5m, 1h, 4h, 1d, 1w)")
    return seconds * 1000


def window_anchor_ms(tf: str) -> int:
    """Epoch-ms offset that windows of `tf` are aligned to.

    Windows are aligned to the UTC epoch (`1d` starts at 00:00 UTC, `4h` at 00:00,
    04:00, ... UTC), except that a timeframe that is a whole number of weeks starts on
    Monday 00:00 UTC (ISO weeks), not on the epoch's Thursday.
    """
    return _MONDAY_OFFSET_MS if timeframe_ms(tf) % _WEEK_MS == 0 else 0


def epoch_ms(bars: pl.DataFrame, column: str = TIME) -> pl.Series:
    """The `column` of `bars` as Int64 epoch milliseconds (naive datetimes are UTC)."""
    series = bars.get_column(column)
    if not isinstance(series.dtype, pl.Datetime):
        raise TypeError(f"column {column!r} must be a Datetime, got {series.dtype}")
    return series.dt.epoch("ms").alias(column)


def _from_ms(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")


def check_bars(bars: pl.DataFrame, tf: str, *, columns: tuple[str, ...] = OHLCV) -> pl.Series:
    """Validate a bar frame of timeframe `tf`; return its open times as epoch ms.

    Raises ValueError when a column is missing, when times are unsorted or duplicated,
    or when a bar does not open on the `tf` grid (see `window_anchor_ms`) — such a bar
    would straddle two higher-timeframe windows.
    """
    missing = [c for c in (TIME, *columns) if c not in bars.columns]
    if missing:
        raise ValueError(f"bars are missing column(s): {', '.join(missing)}")
    ms = epoch_ms(bars)
    if ms.null_count():
        raise ValueError("bars have null times")
    if bars.height > 1 and bool((ms.diff().drop_nulls() <= 0).any()):
        raise ValueError("bar times must be strictly increasing (sorted, no duplicates)")
    step = timeframe_ms(tf)
    off_grid = ((ms - window_anchor_ms(tf)) % step) != 0
    if bool(off_grid.any()):
        first = bars.get_column(TIME).filter(off_grid)[0]
        raise ValueError(f"bar at {first} does not open on the {tf} grid")
    return ms


def resample(
    bars: pl.DataFrame,
    base_tf: str,
    target_tf: str,
    *,
    end: datetime | None = None,
) -> pl.DataFrame:
    """Aggregate `base_tf` OHLCV bars into `target_tf` bars.

    Returns columns `time, open, high, low, close, volume, close_time` (times
    `Datetime("ms", "UTC")`): `time` is the window's open time and `close_time =
    time + target duration`, the moment the bar becomes known. Aggregation is
    first open, max high, min low, last close, summed volume.

    Decisions:

    - Windows are aligned to the UTC epoch: `1h` at whole hours, `1d` at 00:00 UTC,
      `4h` at 00:00/04:00/... UTC; whole-week timeframes (`1w`) start on Monday
      00:00 UTC. (`risk.day_starts` is a risk setting for daily loss limits, not a
      bar boundary.)
    - A window with no base bars is not emitted (no synthetic bars). A window with
      some base bars missing (a gap) is emitted from the bars it has.
    - An incomplete window — one whose `close_time` is after `end` — is DROPPED, so a
      still-forming higher bar can never be seen. `end` is the time up to which the
      data is known; by default the close time of the last base bar. When chaining
      resamples (1m → 5m → 1h) pass the same `end` to every step: the intermediate
      frame no longer knows how far the base data reached.
    - `target_tf` must be a whole multiple of `base_tf`, and every base bar must open
      on the `base_tf` grid; otherwise ValueError.
    """
    base_ms = timeframe_ms(base_tf)
    target_ms = timeframe_ms(target_tf)
    if target_ms % base_ms:
        raise ValueError(f"{target_tf} is not a whole multiple of {base_tf}")
    anchor = window_anchor_ms(target_tf)
    if (anchor - window_anchor_ms(base_tf)) % base_ms:
        raise ValueError(f"{target_tf} windows do not start on the {base_tf} grid")
    ms = check_bars(bars, base_tf)

    if end is None:
        end_ms = int(ms[-1]) + base_ms if bars.height else 0
    else:
        aware = end if end.tzinfo is not None else end.replace(tzinfo=UTC)
        end_ms = int(aware.timestamp() * 1000)

    start = pl.col("_ms") - (pl.col("_ms") - anchor) % target_ms
    out = (
        bars.lazy()
        .select(pl.lit(ms).alias("_ms"), *OHLCV)
        .with_columns(start.alias("_start"))
        .group_by("_start", maintain_order=True)
        .agg(
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
            pl.col("volume").sum(),
        )
        .filter(pl.col("_start") + target_ms <= end_ms)
        .select(
            _from_ms(pl.col("_start")).alias(TIME),
            *OHLCV,
            _from_ms(pl.col("_start") + target_ms).alias(CLOSE_TIME),
        )
        .collect()
    )
    return out
