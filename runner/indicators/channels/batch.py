"""Batch forms of the channel family: whole polars columns, for backtests.

Every form here is a numba loop in `kernels`, called through `map_batches`: the
recursions (TA-Lib seeds placed at a composite's first output bar, the Heikin-Ashi
open, RVI's re-anchored variance) need one to be exact, and the rolling windows
(Donchian, acceleration bands, ADR, Ichimoku) were 3-6x slower than TA-Lib as
polars `rolling_*` chains and are at par as TA-Lib-ordered running sums and
cached-extremum scans. The running sums also round exactly like TA-Lib's SMA.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import polars as pl

Inputs = Mapping[str, pl.Expr]
Outputs = dict[str, pl.Expr]
BANDS = ("upper", "middle", "lower")


def _run_kernel(inputs: Inputs, roles: tuple[str, ...], outputs: tuple[str, ...],
                kernel: Callable[..., Any], *, nulls: bool = True) -> Outputs | pl.Expr:
    """Call `kernel(*role_arrays, *output_arrays)` (outputs NaN-filled by numpy and
    written in place: numpy's allocation is cheaper than numba's page faults) and
    expose the result: `{output: expr}` for one output, else one struct expression
    with a field per output, so the kernel runs once (see `runner.indicators.columns`).
    NaN becomes null unless `nulls` is false (an indicator with no warm-up)."""
    single = len(outputs) == 1

    def run(columns: pl.Series) -> pl.Series:
        arrays = [columns.struct.field(r).cast(pl.Float64).to_numpy() for r in roles]
        result = [np.full(columns.len(), np.nan) for _ in outputs]
        kernel(*arrays, *result)
        if single:
            return pl.Series(outputs[0], result[0], nan_to_null=nulls)
        frame = pl.DataFrame(dict(zip(outputs, result, strict=True)), nan_to_null=nulls)
        return frame.to_struct("out")

    dtype = pl.Float64 if single else pl.Struct({o: pl.Float64 for o in outputs})
    packed = pl.struct([inputs[r].alias(r) for r in roles]).map_batches(run, return_dtype=dtype)
    return {outputs[0]: packed} if single else packed


def keltner(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    """TA-Lib KC: middle = EMA(typical price, period), bands = middle +/- multiplier
    x ATR(atr_period). Both averages are seeded at the first output bar
    max(period - 1, atr_period), not at their own earliest bars, as TA-Lib does."""
    from runner.indicators.channels.kernels import keltner as kernel

    return _run_kernel(inputs, ("high", "low", "close"), BANDS,
                       lambda h, lo, c, *out: kernel(h, lo, c, p.period, p.atr_period,
                                                     float(p.multiplier), *out))


def donchian(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    """Highest high, lowest low and their midpoint over `period` bars ending at the
    current one (TA-Lib DONCHIAN: the window includes the current bar)."""
    from runner.indicators.channels.kernels import donchian as kernel

    return _run_kernel(inputs, ("high", "low"), BANDS,
                       lambda h, lo, *out: kernel(h, lo, p.period, *out))


def accbands(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    """Headley's acceleration bands: SMAs of high x (1 + 4 (h - l) / (h + l)) and
    low x (1 - 4 (h - l) / (h + l)), around the SMA of the close. TA-Lib skips the
    widening (uses the raw high and low) where |h + l| < 1e-14."""
    from runner.indicators.channels.kernels import accbands as kernel

    return _run_kernel(inputs, ("high", "low", "close"), BANDS,
                       lambda h, lo, c, *out: kernel(h, lo, c, p.period, *out))


def heikin_ashi(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    """TA-Lib HA: close = (o + h + l + c) / 4; open = midpoint of the previous
    Heikin-Ashi open and close, seeded on the first bar with (o + c) / 2; high and
    low stretch the bar's own extremes to include the new open and close."""
    from runner.indicators.channels.kernels import heikin_ashi as kernel

    return _run_kernel(inputs, ("open", "high", "low", "close"),
                       ("open", "high", "low", "close"), kernel, nulls=False)


def adr(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    """TA-Lib ADR: the simple mean of high - low over `period` bars."""
    from runner.indicators.channels.kernels import adr as kernel

    return _run_kernel(inputs, ("high", "low"), ("value",),
                       lambda h, lo, out: kernel(h, lo, p.period, out))


def cvi(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    """Chaikin volatility: 100 x the `roc_period`-bar rate of change of an EMA
    (seeded with the SMA) of high - low; 0 where the lagged EMA is exactly 0."""
    from runner.indicators.channels.kernels import cvi as kernel

    return _run_kernel(inputs, ("high", "low"), ("value",),
                       lambda h, lo, out: kernel(h, lo, p.period, p.roc_period, out))


def massi(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    """Dorsey's mass index: the sum over `slow` bars of EMA(h - l) / EMA(EMA(h - l)),
    both EMAs of `fast` bars; a zero double-EMA counts as a ratio of 1."""
    from runner.indicators.channels.kernels import massi as kernel

    return _run_kernel(inputs, ("high", "low"), ("value",),
                       lambda h, lo, out: kernel(h, lo, p.fast, p.slow, out))


def rvi(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    """Dorsey's relative volatility index (TA-Lib RVI): the population standard
    deviation of the last `stddev_period` closes is assigned to an "up" leg on a
    rising close and a "down" leg on a falling one (neither on a tie); each leg is
    Wilder-smoothed over `period` bars (seeded with the plain mean of its first
    `period` values) and the output is 100 x up / (up + down), 50 when both are 0."""
    from runner.indicators.channels.kernels import rvi as kernel

    return _run_kernel(inputs, ("close",), ("value",),
                       lambda c, out: kernel(c, p.period, p.stddev_period, out))


def ichimoku(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    """Ichimoku Kinko Hyo, with every output causal (bar t uses bars <= t only).

    With mid_n[t] = (highest high + lowest low) / 2 over the `n` bars ending at t:

    - conversion[t] (tenkan-sen) = mid_conversion[t]; null for t < conversion - 1.
    - base[t] (kijun-sen) = mid_base[t]; null for t < base - 1.
    - span_a[t] = (mid_conversion[t - d] + mid_base[t - d]) / 2 and
      span_b[t] = mid_span_b[t - d], with d = `displacement`: a chart plots both
      spans d bars ahead of the bar they are computed on, so the cloud drawn above
      bar t is the one computed at t - d, and that is what we return at t (never a
      span computed on later bars). Null until t - d has its midpoints.
    - lagging[t] = close[t - d]. A chart's lagging line (chikou span) plots
      today's close d bars back, which needs no future data, but its value "at bar
      t" would be close[t + d], which does. What a trader reads off it is today's
      close against the price d bars ago, so we return that reference price:
      "chikou above price" is `close > lagging`. Null for t < d.

    The indicator's lookback is the longest warm-up of its outputs,
    max(conversion, base, span_b) - 1 + displacement; the shorter lines start earlier.
    """
    from runner.indicators.channels.kernels import ichimoku as kernel

    return _run_kernel(inputs, ("high", "low", "close"),
                       ("conversion", "base", "span_a", "span_b", "lagging"),
                       lambda h, lo, c, *out: kernel(h, lo, c, p.conversion, p.base, p.span_b,
                                                     p.displacement, *out))


PIVOT_OUTPUTS = ("pp", "r1", "r2", "r3", "s1", "s2", "s3")
PIVOT_KIND_CODES = {"classic": 0, "fibonacci": 1, "camarilla": 2}


def session_label(time_ms: pl.Expr, day_start: str, tz: str) -> pl.Expr:
    """The session a bar belongs to: the calendar date of its wall-clock time in
    `tz` minus `day_start`. Working on the local wall clock is what makes the
    sessions follow DST (a 17:00 New York start is 21:00 or 22:00 UTC)."""
    hours, minutes = (int(v) for v in day_start.split(":"))
    local = (pl.from_epoch(time_ms.cast(pl.Int64), time_unit="ms")
             .dt.replace_time_zone("UTC").dt.convert_time_zone(tz).dt.replace_time_zone(None))
    return (local - pl.duration(hours=hours, minutes=minutes)).dt.date().cast(pl.Int64)


def pivots(inputs: Inputs, p: Any) -> Outputs | pl.Expr:
    """Floor pivots of the previous session, constant over the current one.

    Sessions: a bar's session is the date of (its local time in `tz`) - `day_start`
    (see `session_label`); the time is the bar's timestamp in epoch milliseconds.
    H, L, C are the previous session's highest high, lowest low and last close
    (the last session that had bars: Friday's for a Monday). Every output is null
    until the first session has completed, i.e. on the bars of the first session
    seen; if the data starts mid-session, that first session's levels come from
    the bars present.

    With PP = (H + L + C) / 3 and R = H - L:

    - classic:   R1 = 2 PP - L,  R2 = PP + R,  R3 = H + 2 (PP - L),
                 S1 = 2 PP - H,  S2 = PP - R,  S3 = L - 2 (H - PP).
    - fibonacci: R1, R2, R3 = PP + 0.382 R, PP + 0.618 R, PP + R;
                 S1, S2, S3 = PP - 0.382 R, PP - 0.618 R, PP - R.
    - camarilla: R1, R2, R3 = C + 1.1 R / 12, C + 1.1 R / 6, C + 1.1 R / 4;
                 S1, S2, S3 = C - 1.1 R / 12, C - 1.1 R / 6, C - 1.1 R / 4;
                 PP is the same (H + L + C) / 3.

    No R4/S4: classic (R4 = H + 3 (PP - L)) and camarilla (R4 = C + 1.1 R / 2)
    have standard fourth levels but Fibonacci pivots stop at 100% of the range,
    and an output that exists for some kinds only would be null by surprise.
    """
    from runner.indicators.channels.kernels import pivots as kernel

    kind = PIVOT_KIND_CODES[p.kind]

    def run(time: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
            *out: np.ndarray) -> None:
        # labelled inside the kernel call, so the seven outputs share one labelling
        if p.tz == "UTC":  # no DST: whole days since the epoch, shifted by day_start
            hours, minutes = (int(v) for v in p.day_start.split(":"))
            shift = (hours * 60 + minutes) * 60_000.0
            session = np.floor((np.floor(time) - shift) / 86_400_000.0)
        else:
            session = pl.DataFrame({"t": time}).select(
                session_label(pl.col("t"), p.day_start, p.tz)).to_series().to_numpy()
        kernel(session, high, low, close, kind, *out)

    return _run_kernel(inputs, ("time", "high", "low", "close"), PIVOT_OUTPUTS, run)
