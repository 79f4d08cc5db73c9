"""Put higher-timeframe values and other instruments on a base bar clock.

A bar is an event at its close time (DESIGN §3): a base bar opening at `t` closes at
`T = t + base duration`, and at `T` only higher-timeframe bars with `close_time <= T`
are known. `align` is what `close@1h` / `rsi@1h` read; `common_clock` lines up several
instruments so cross-instrument expressions (`ETHUSDT.close`) see one row per time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import polars as pl

from runner.bars.resample import CLOSE_TIME, TIME, epoch_ms, timeframe_ms

FRESH: Final = "fresh"


def align(
    base: pl.DataFrame,
    higher: pl.DataFrame,
    columns: Sequence[str] | Mapping[str, str],
    *,
    base_tf: str | None = None,
) -> pl.DataFrame:
    """Attach to each base bar the values of the last higher bar closed by its close.

    `base` has `time` (open time); its close time is `time + base_tf`, or its own
    `close_time` column when `base_tf` is None. `higher` has `close_time` (as
    `resample` returns) and the value `columns` — a list keeps their names, a mapping
    renames `{higher_column: output_name}` (e.g. `{"close": "close@1h"}`).

    Returns `base` with the output columns appended, same rows in the same order. For
    a base bar closing at `T` the values come from the last higher bar with
    `close_time <= T` (an as-of join backwards on close times; a higher bar closing
    exactly at `T` counts), and are null before the first such bar. Output names that
    already exist in `base` are a ValueError.
    """
    mapping = dict(columns) if isinstance(columns, Mapping) else {c: c for c in columns}
    missing = [c for c in (CLOSE_TIME, *mapping) if c not in higher.columns]
    if missing:
        raise ValueError(f"higher bars are missing column(s): {', '.join(missing)}")
    clash = [name for name in mapping.values() if name in base.columns]
    if clash:
        raise ValueError(f"output column(s) already in base bars: {', '.join(clash)}")
    if len(set(mapping.values())) != len(mapping):
        raise ValueError("output column names must be distinct")

    if base_tf is not None:
        base_close = epoch_ms(base, TIME) + timeframe_ms(base_tf)
    elif CLOSE_TIME in base.columns:
        base_close = epoch_ms(base, CLOSE_TIME)
    else:
        raise ValueError("give base_tf, or base bars with a close_time column")
    higher_close = epoch_ms(higher, CLOSE_TIME)
    if higher_close.null_count() or (
        higher.height > 1 and bool((higher_close.diff().drop_nulls() <= 0).any())
    ):
        raise ValueError("higher close_time must be strictly increasing with no nulls")

    right = higher.select(
        pl.lit(higher_close).alias("_key"),
        *(pl.col(src).alias(dst) for src, dst in mapping.items()),
    ).set_sorted("_key")
    if base_close.null_count() == 0 and base_close.is_sorted():
        left = pl.DataFrame({"_key": base_close}).set_sorted("_key")
        joined = left.join_asof(right, on="_key", strategy="backward")
    else:  # join_asof needs a sorted left key: sort, join, restore the base order
        left = pl.DataFrame({"_key": base_close, "_row": pl.int_range(base.height, eager=True)})
        joined = (
            left.sort("_key", nulls_last=True)
            .join_asof(right, on="_key", strategy="backward", check_sortedness=False)
            .sort("_row")
        )
    return base.hstack(joined.select(list(mapping.values())))


def common_clock(frames: Mapping[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Align several instruments' bars on the union of their bar times.

    Every returned frame has the same `time` column (the sorted union of all input
    times) and the input's columns, plus a boolean `fresh`:

    - `fresh` is True where the instrument has its own bar at that time.
    - Where it has none, every other column keeps its last values (forward fill) and
      `fresh` is False, so an expression can still read the instrument's last known
      price while order rules can refuse to trade on a stale bar. (Volume is carried
      too — read it together with `fresh`.)
    - Before the instrument's first bar, the row is all null and `fresh` is False.

    Forward fill only ever carries earlier values forward, so it adds no lookahead.
    Inputs must be sorted by `time` without duplicates and share the same timeframe
    and time dtype; a `fresh` column in an input is a ValueError.
    """
    if not frames:
        return {}
    for symbol, frame in frames.items():
        if FRESH in frame.columns:
            raise ValueError(f"{symbol}: bars already have a {FRESH!r} column")
        times = frame.get_column(TIME).to_physical()
        if times.null_count() or (
            frame.height > 1 and bool((times.diff().drop_nulls() <= 0).any())
        ):
            raise ValueError(f"{symbol}: bar times must be strictly increasing with no nulls")
    calendars = [f.get_column(TIME) for f in frames.values()]
    if all(t.equals(calendars[0], check_dtypes=True) for t in calendars[1:]):
        clock = frames[next(iter(frames))].select(TIME)  # one calendar: nothing to merge
    else:
        clock = pl.concat([f.select(TIME) for f in frames.values()], how="vertical"
                          ).unique().sort(TIME)
    clock_time = clock.get_column(TIME)
    out: dict[str, pl.DataFrame] = {}
    for symbol, frame in frames.items():
        values = [c for c in frame.columns if c != TIME]
        if frame.get_column(TIME).equals(clock_time, check_dtypes=True):
            # a bar at every time of the clock: every row is fresh, nothing to fill
            out[symbol] = frame.select(TIME, *values).hstack(
                [pl.repeat(True, frame.height, dtype=pl.Boolean, eager=True).alias(FRESH)])
            continue
        joined = clock.join(
            frame.with_columns(pl.lit(True).alias(FRESH)), on=TIME, how="left"
        )
        out[symbol] = joined.with_columns(
            pl.col(values).forward_fill(),
            pl.col(FRESH).fill_null(False),
        )
    return out
