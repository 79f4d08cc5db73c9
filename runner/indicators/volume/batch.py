"""Batch forms of the volume family: whole polars columns, for backtests.

TA-Lib is the reference for everything it defines here (its newer functions
included: WAD, CMF, EFI, MARKETFI, NVI, PVI, PVT, RVOL, VWMA, VWAP), down to its
zero tests, which are exact (`!= 0`, `> 0`) in these functions rather than
`TA_IS_ZERO`. Most are sequential (running sums, products, EMAs) and run as numba
kernels (see `kernels`) written as the same loop as the incremental form, so both
forms round alike; a polars expression chain was 3-25x slower than TA-Lib here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from runner.indicators.volume.incremental import anchor_ms, session_offset_minutes

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Inputs = Mapping[str, pl.Expr]
Outputs = dict[str, pl.Expr]


def _kernel(exprs: list[pl.Expr], run: Callable[..., np.ndarray]) -> pl.Expr:
    """`run(*arrays)` over the input columns as float64 numpy arrays; NaN -> null."""
    def call(columns: Sequence[pl.Series]) -> pl.Series:
        arrays = [c.cast(pl.Float64).to_numpy() for c in columns]
        return pl.Series("value", run(*arrays), dtype=pl.Float64, nan_to_null=True)

    return pl.map_batches(exprs, call, return_dtype=pl.Float64)


def adosc(inputs: Inputs, p: Any) -> Outputs:
    """TA-Lib ADOSC: both EMAs of the A/D line start at its first value (not an SMA
    seed) and run from the first bar; output once the slow one has `slow` bars."""
    def run(high: np.ndarray, low: np.ndarray, close: np.ndarray,
            volume: np.ndarray) -> np.ndarray:
        from runner.indicators.volume.kernels import adosc as kernel

        return kernel(high, low, close, volume, p.fast, p.slow)

    return {"value": _kernel([inputs[k] for k in ("high", "low", "close", "volume")], run)}


def wad(inputs: Inputs, p: Any) -> Outputs:
    """Williams' A/D without volume (Achelis' form, which TA-Lib ships): a rise is
    measured from min(low, previous close), a fall from max(high, previous close),
    an unchanged close adds nothing; the first bar adds nothing."""
    def run(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
        from runner.indicators.volume.kernels import wad as kernel

        return kernel(high, low, close)

    return {"value": _kernel([inputs[k] for k in ("high", "low", "close")], run)}


def cmf(inputs: Inputs, p: Any) -> Outputs:
    """Chaikin money flow: windowed A/D flow over windowed volume; a window without
    volume gives 0 (TA-Lib's `sum > 0` test)."""
    def run(high: np.ndarray, low: np.ndarray, close: np.ndarray,
            volume: np.ndarray) -> np.ndarray:
        from runner.indicators.volume.kernels import cmf as kernel

        return kernel(high, low, close, volume, p.period)

    return {"value": _kernel([inputs[k] for k in ("high", "low", "close", "volume")], run)}


def efi(inputs: Inputs, p: Any) -> Outputs:
    """Elder's force index: EMA of (close - previous close) x volume, seeded with the
    mean of the first `period` forces (which start at the second bar)."""
    def run(close: np.ndarray, volume: np.ndarray) -> np.ndarray:
        from runner.indicators.volume.kernels import efi as kernel

        return kernel(close, volume, p.period)

    return {"value": _kernel([inputs["close"], inputs["volume"]], run)}


def marketfi(inputs: Inputs, p: Any) -> Outputs:
    """Bill Williams' market facilitation index, (high - low) / volume; 0 without volume."""
    volume = inputs["volume"]
    return {"value": pl.when(volume != 0.0).then((inputs["high"] - inputs["low"]) / volume)
            .otherwise(0.0)}


def _volume_index(inputs: Inputs, falling: bool) -> pl.Expr:
    def run(close: np.ndarray, volume: np.ndarray) -> np.ndarray:
        from runner.indicators.volume.kernels import volume_index

        return volume_index(close, volume, falling)

    return _kernel([inputs["close"], inputs["volume"]], run)


def nvi(inputs: Inputs, p: Any) -> Outputs:
    """Negative volume index from 1000; a zero previous close or an overflow leaves
    the index unchanged (TA-Lib's guards)."""
    return {"value": _volume_index(inputs, True)}


def pvi(inputs: Inputs, p: Any) -> Outputs:
    """Positive volume index from 1000, with NVI's guards."""
    return {"value": _volume_index(inputs, False)}


def pvt(inputs: Inputs, p: Any) -> Outputs:
    """Price-volume trend: cumulative (close - prev) / prev x volume from 0; a zero
    previous close adds nothing."""
    def run(close: np.ndarray, volume: np.ndarray) -> np.ndarray:
        from runner.indicators.volume.kernels import pvt as kernel

        return kernel(close, volume)

    return {"value": _kernel([inputs["close"], inputs["volume"]], run)}


def rvol(inputs: Inputs, p: Any) -> Outputs:
    """Relative volume: today's volume over the mean of the `period` bars before it.
    TA-Lib divides unguarded: a zero baseline gives +inf (kept) or 0/0, which is
    NaN in TA-Lib and null here."""
    def run(volume: np.ndarray) -> np.ndarray:
        from runner.indicators.volume.kernels import rvol as kernel

        return kernel(volume, p.period)

    return {"value": _kernel([inputs["volume"]], run)}


def vwma(inputs: Inputs, p: Any) -> Outputs:
    """Volume-weighted moving average, SMA(close x volume) / SMA(volume); period 1
    is the close itself. A window without volume is 0/0: NaN in TA-Lib, null here."""
    def run(close: np.ndarray, volume: np.ndarray) -> np.ndarray:
        from runner.indicators.volume.kernels import vwma as kernel

        return kernel(close, volume, p.period)

    return {"value": _kernel([inputs["close"], inputs["volume"]], run)}


def anchored_vwap(inputs: Inputs, p: Any) -> Outputs:
    """Cumulative VWAP of the typical price (high + low + close) / 3 from the first
    bar whose time is at or after `anchor` (the first bar when `anchor` is null),
    null before it:

        value = sum(typical x volume) / sum(volume), both summed from the anchor bar.

    Zero volume follows TA-Lib's VWAP exactly: while the cumulative volume is not
    > 0 (no volume has traded since the anchor) the value is 0.0; afterwards a bar
    without volume repeats the last value. With a null anchor this is TA-Lib VWAP.
    """
    start = anchor_ms(p.anchor)
    anchor = -math.inf if start is None else start

    def run(high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
            time: np.ndarray) -> np.ndarray:
        from runner.indicators.volume.kernels import anchored_vwap as kernel

        return kernel(high, low, close, volume, time, anchor)

    return {"value": _kernel([inputs[k] for k in (*_HLCV, "time")], run)}


_HLCV = ("high", "low", "close", "volume")
_DAY_MS = 86_400_000


def _offset_ms(ms: int, zone: ZoneInfo) -> int:
    offset = (_EPOCH + timedelta(milliseconds=ms)).astimezone(zone).utcoffset()
    return 0 if offset is None else offset // timedelta(milliseconds=1)


def offset_table(lo: float, hi: float, tz: str) -> tuple[np.ndarray, np.ndarray]:
    """The zone's UTC offset over [lo, hi] (epoch ms) as a step function: `starts`
    (ms, ascending) and the offset in force from each. Sampled once a day, each
    change located to the millisecond by bisection (assumes at most one change
    per day, as every zone's history has)."""
    zone = ZoneInfo(tz)
    first = (math.floor(lo) // _DAY_MS) * _DAY_MS
    starts = [first]
    offsets = [_offset_ms(first, zone)]
    at = first
    while at <= hi:
        nxt = at + _DAY_MS
        offset = _offset_ms(nxt, zone)
        if offset != offsets[-1]:
            before, after = at, nxt  # offset(before) is the old one, offset(after) new
            while after - before > 1:
                mid = (before + after) // 2
                if _offset_ms(mid, zone) == offset:
                    after = mid
                else:
                    before = mid
            starts.append(after)
            offsets.append(offset)
        at = nxt
    return np.array(starts, dtype=np.float64), np.array(offsets, dtype=np.float64)


def vwap(inputs: Inputs, p: Any) -> Outputs:
    """Session or rolling VWAP of the typical price (high + low + close) / 3.

    Definition: value = sum(typical x volume) / sum(volume) over the bars of the
    current session (`period` null) or over the last `period` bars (rolling; the
    first `period - 1` bars are null, and `day_start`/`tz` are not used).

    Session boundary: a session starts at the wall-clock time `day_start` in the
    IANA zone `tz` every calendar day; a bar (stamped with its open time) belongs to
    the session that started at the latest such instant at or before it, i.e. its
    session is the date of (its wall-clock time in `tz`) - day_start. Working on
    the zone's wall clock is what makes the boundary DST-correct: 17:00
    America/Chicago is 22:00 UTC under CDT and 23:00 UTC under CST. A day_start
    inside a spring-forward gap starts that session at the first bar after the gap.
    Sessions are told apart by their date, so bars must come in time order.

    Zero volume: while the session (or window) has no volume yet, there is no
    average price and the value is null (TA-Lib's cumulative VWAP writes 0.0 there,
    which `anchored_vwap` reproduces; a 0.0 price would fire every price-vs-VWAP
    rule). Later zero-volume bars leave the sums, and so the value, unchanged. A
    rolling window holding only zero-volume bars has its sums reset to an exact
    zero, so it is null too rather than a ratio of rounding residues.
    """
    hlcv = [inputs[k] for k in _HLCV]
    if p.period is not None:
        period = p.period

        def rolling(high: np.ndarray, low: np.ndarray, close: np.ndarray,
                    volume: np.ndarray) -> np.ndarray:
            from runner.indicators.volume.kernels import rolling_vwap

            return rolling_vwap(high, low, close, volume, period)

        return {"value": _kernel(hlcv, rolling)}
    day_start = 60_000.0 * session_offset_minutes(p.day_start)

    def session(high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
                time: np.ndarray) -> np.ndarray:
        from runner.indicators.volume.kernels import session_keys, session_vwap

        if time.shape[0] == 0:
            return np.empty(0)
        starts, offsets = offset_table(float(time.min()), float(time.max()), p.tz)
        keys = session_keys(time, starts, offsets, day_start)
        return session_vwap(high, low, close, volume, keys)

    return {"value": _kernel([*hlcv, inputs["time"]], session)}
