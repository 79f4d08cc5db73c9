"""Batch forms: whole polars columns, for backtests.

Each function takes the indicator's input expressions by role and its validated
params, and returns one polars expression per output, so the compiler can put every
indicator of a strategy into a single `with_columns` pass.

TA-Lib is the reference, including its seeding rules (an EMA starts from the SMA of
its first `period` values; Wilder averages from the mean of the first `period`
values) and its zero tests (`TA_IS_ZERO`: |v| < 1e-14), which is why some formulas
below look more particular than a textbook's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

Inputs = Mapping[str, pl.Expr]
Outputs = dict[str, pl.Expr]
TA_EPSILON = 1e-14


def _index() -> pl.Expr:
    return pl.int_range(0, pl.len(), dtype=pl.Int64)


def seeded_ewm(x: pl.Expr, period: int, alpha: float, offset: int = 0) -> pl.Expr:
    """An EWM whose first value, at row `offset + period - 1`, is the mean of the
    `period` values ending there (TA-Lib's seed), and recursive afterwards."""
    idx = _index()
    first = offset + period - 1
    seeded = (pl.when(idx == first).then(x.rolling_mean(period))
              .when(idx > first).then(x)
              .otherwise(None))
    return seeded.ewm_mean(alpha=alpha, adjust=False, ignore_nulls=True)


def sma(inputs: Inputs, p: Any) -> Outputs:
    return {"value": inputs["close"].rolling_mean(p.period)}


def ema(inputs: Inputs, p: Any) -> Outputs:
    return {"value": seeded_ewm(inputs["close"], p.period, 2.0 / (p.period + 1))}


def wma(inputs: Inputs, p: Any) -> Outputs:
    n = p.period
    weights = [float(i) for i in range(1, n + 1)]
    return {"value": inputs["close"].rolling_sum(n, weights=weights) / (n * (n + 1) / 2)}


def trange(inputs: Inputs) -> pl.Expr:
    high, low, close = inputs["high"], inputs["low"], inputs["close"]
    prev = close.shift(1)
    # the first bar has no previous close: TA-Lib's TRANGE starts at the second
    return pl.when(_index() > 0).then(pl.max_horizontal(high, prev)
                                      - pl.min_horizontal(low, prev))


def atr(inputs: Inputs, p: Any) -> Outputs:
    tr = trange(inputs)
    if p.period == 1:
        return {"value": tr}
    return {"value": seeded_ewm(tr, p.period, 1.0 / p.period, offset=1)}


def rsi(inputs: Inputs, p: Any) -> Outputs:
    n = p.period
    diff = inputs["close"].diff()
    gain = seeded_ewm(diff.clip(lower_bound=0.0), n, 1.0 / n, offset=1)
    loss = seeded_ewm((-diff).clip(lower_bound=0.0), n, 1.0 / n, offset=1)
    total = gain + loss
    return {"value": pl.when(total.abs() < TA_EPSILON).then(0.0)
            .otherwise(100.0 * gain / total)}


def macd(inputs: Inputs, p: Any) -> Outputs:
    """TA-Lib MACD: both EMAs start at the slow EMA's first row; the fast one is
    seeded with the mean of the `fast` values ending there, not at its own start."""
    close = inputs["close"]
    start = p.slow - 1
    fast = seeded_ewm(close, p.fast, 2.0 / (p.fast + 1), offset=start - p.fast + 1)
    slow = seeded_ewm(close, p.slow, 2.0 / (p.slow + 1))
    line = fast - slow
    signal = seeded_ewm(line, p.signal, 2.0 / (p.signal + 1), offset=start)
    ready = _index() >= start + p.signal - 1
    line = pl.when(ready).then(line)
    return {"macd": line, "signal": signal, "hist": line - signal}


def bbands(inputs: Inputs, p: Any) -> Outputs:
    """Middle is the SMA; the deviation is TA-Lib's population one from running sums
    (see `kernels.bbands_talib` for why this one is a sequential kernel)."""
    def run(close: pl.Series) -> pl.Series:
        from runner.indicators.core.kernels import bbands_talib

        x = close.cast(pl.Float64).to_numpy()
        upper, middle, lower = bbands_talib(x, p.period, float(p.stddev))
        return pl.DataFrame({"upper": upper, "middle": middle, "lower": lower},
                            nan_to_null=True).to_struct("bands")

    bands = inputs["close"].map_batches(run, return_dtype=pl.Struct(
        {"upper": pl.Float64, "middle": pl.Float64, "lower": pl.Float64}))
    return {o: bands.struct.field(o) for o in ("upper", "middle", "lower")}


def stoch(inputs: Inputs, p: Any) -> Outputs:
    high, low, close = inputs["high"], inputs["low"], inputs["close"]
    hh = high.rolling_max(p.k_period)
    ll = low.rolling_min(p.k_period)
    span = hh - ll
    fast_k = pl.when(span.abs() < TA_EPSILON).then(0.0).otherwise(100.0 * (close - ll) / span)
    slow_k = fast_k.rolling_mean(p.k_smooth)
    slow_d = slow_k.rolling_mean(p.d_period)
    ready = _index() >= p.k_period - 1 + p.k_smooth - 1 + p.d_period - 1
    return {"k": pl.when(ready).then(slow_k), "d": slow_d}


def _guarded_ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    """num / den, or 0 where TA-Lib's `den != 0` test fails."""
    return pl.when(den != 0.0).then(num / den).otherwise(0.0)


def mom(inputs: Inputs, p: Any) -> Outputs:
    close = inputs["close"]
    return {"value": close - close.shift(p.period)}


def roc(inputs: Inputs, p: Any) -> Outputs:
    close = inputs["close"]
    prev = close.shift(p.period)
    return {"value": pl.when(prev.is_null()).then(None)
            .when(prev != 0.0).then((close / prev - 1.0) * 100.0).otherwise(0.0)}


def rocp(inputs: Inputs, p: Any) -> Outputs:
    close = inputs["close"]
    prev = close.shift(p.period)
    return {"value": pl.when(prev.is_null()).then(None)
            .otherwise(_guarded_ratio(close - prev, prev))}


def rocr(inputs: Inputs, p: Any) -> Outputs:
    close = inputs["close"]
    prev = close.shift(p.period)
    return {"value": pl.when(prev.is_null()).then(None).otherwise(_guarded_ratio(close, prev))}


def rocr100(inputs: Inputs, p: Any) -> Outputs:
    return {"value": rocr(inputs, p)["value"] * 100.0}


def willr(inputs: Inputs, p: Any) -> Outputs:
    hh = inputs["high"].rolling_max(p.period)
    ll = inputs["low"].rolling_min(p.period)
    span = hh - ll
    scaled = span / -100.0
    return {"value": pl.when(scaled == 0.0).then(0.0).otherwise((hh - inputs["close"]) / scaled)}


def midpoint(inputs: Inputs, p: Any) -> Outputs:
    close = inputs["close"]
    return {"value": (close.rolling_max(p.period) + close.rolling_min(p.period)) / 2.0}


def midprice(inputs: Inputs, p: Any) -> Outputs:
    return {"value": (inputs["high"].rolling_max(p.period)
                      + inputs["low"].rolling_min(p.period)) / 2.0}


def medprice(inputs: Inputs, p: Any) -> Outputs:
    return {"value": (inputs["high"] + inputs["low"]) / 2.0}


def typprice(inputs: Inputs, p: Any) -> Outputs:
    return {"value": (inputs["high"] + inputs["low"] + inputs["close"]) / 3.0}


def avgprice(inputs: Inputs, p: Any) -> Outputs:
    return {"value": (inputs["open"] + inputs["high"] + inputs["low"] + inputs["close"]) / 4.0}


def wclprice(inputs: Inputs, p: Any) -> Outputs:
    return {"value": (inputs["high"] + inputs["low"] + inputs["close"] * 2.0) / 4.0}


def trange_indicator(inputs: Inputs, p: Any) -> Outputs:
    return {"value": trange(inputs)}


def natr(inputs: Inputs, p: Any) -> Outputs:
    value = atr(inputs, p)["value"]
    return {"value": _guarded_ratio(value, inputs["close"]) * 100.0}


def rolling_sum(inputs: Inputs, p: Any) -> Outputs:
    return {"value": inputs["close"].rolling_sum(p.period)}


def rolling_max(inputs: Inputs, p: Any) -> Outputs:
    return {"value": inputs["close"].rolling_max(p.period)}


def rolling_min(inputs: Inputs, p: Any) -> Outputs:
    return {"value": inputs["close"].rolling_min(p.period)}


def obv(inputs: Inputs, p: Any) -> Outputs:
    """TA-Lib starts at the first bar's volume and adds or subtracts each later one."""
    close, volume = inputs["close"], inputs["volume"]
    step = close.diff()
    signed = (pl.when(_index() == 0).then(volume)
              .when(step > 0).then(volume)
              .when(step < 0).then(-volume)
              .otherwise(0.0))
    return {"value": signed.cum_sum()}


def ad(inputs: Inputs, p: Any) -> Outputs:
    high, low, close, volume = (inputs[k] for k in ("high", "low", "close", "volume"))
    span = high - low
    flow = pl.when(span > 0.0).then(((close - low) - (high - close)) / span * volume)
    return {"value": flow.otherwise(0.0).cum_sum()}
