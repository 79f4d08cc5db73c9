"""Write examples/data/BTCUSDT-1m.parquet: 30 days of SYNTHETIC 1-minute BTCUSDT-like bars.

    python examples/data/generate.py            # rewrites the file next to this script

Deterministic (numpy seed 20240101): the same bytes of data every run. Prices follow a
geometric random walk whose drift and volatility switch between regimes (trending up,
trending down, ranging) every few hours to days, so a moving-average cross has
trends to catch and chop to lose in. Each minute is simulated as 12 sub-steps, so
open/high/low/close are consistent by construction; open is the previous close.
Volume is log-normal, higher in busy UTC hours and on large moves.

Columns: time (Datetime ms UTC, the bar's OPEN time), open, high, low, close, volume.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

SEED = 20240101
START = datetime(2024, 1, 1, tzinfo=UTC)
DAYS = 30
SUBSTEPS = 12
START_PRICE = 42_000.0
OUT = Path(__file__).with_name("BTCUSDT-1m.parquet")

# (annual drift, annual volatility) of each regime
REGIMES = np.array(
    [
        [1.5, 0.45],  # trending up
        [-1.2, 0.55],  # trending down
        [0.0, 0.30],  # ranging, calm
        [0.0, 0.75],  # ranging, wild
    ]
)
MINUTES_PER_YEAR = 365 * 24 * 60


def regime_path(rng: np.random.Generator, n: int) -> np.ndarray:
    """The regime index of each minute: spells of 3 h .. 3 days."""
    out = np.empty(n, dtype=np.int64)
    i, current = 0, 2
    while i < n:
        length = int(rng.integers(3 * 60, 3 * 24 * 60))
        current = int(rng.choice([r for r in range(len(REGIMES)) if r != current]))
        out[i : i + length] = current
        i += length
    return out


def generate(seed: int = SEED) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    n = DAYS * 24 * 60
    regime = regime_path(rng, n)
    drift = REGIMES[regime, 0] / MINUTES_PER_YEAR / SUBSTEPS
    sigma = REGIMES[regime, 1] / np.sqrt(MINUTES_PER_YEAR * SUBSTEPS)

    shocks = rng.standard_normal((n, SUBSTEPS)) * sigma[:, None]
    steps = shocks + (drift - sigma**2 / 2)[:, None]
    log_path = np.log(START_PRICE) + np.cumsum(steps.ravel()).reshape(n, SUBSTEPS)
    closes_log = log_path[:, -1]
    opens_log = np.concatenate([[np.log(START_PRICE)], closes_log[:-1]])
    full = np.exp(np.column_stack([opens_log, log_path]))  # open, then the sub-steps
    full = np.round(full, 2)  # monotone rounding keeps high >= open/close >= low

    open_ = full[:, 0]
    close = full[:, -1]
    high = full.max(axis=1)
    low = full.min(axis=1)

    minute = np.arange(n)
    hour = (minute // 60) % 24
    busy = 1.0 + 0.6 * np.exp(-(((hour - 14.5) / 3.0) ** 2))  # EU/US overlap
    move = np.abs(np.log(close / open_)) / sigma / np.sqrt(SUBSTEPS)
    volume = 18.0 * busy * (1.0 + 0.5 * move) * rng.lognormal(0.0, 0.6, n)
    volume = np.round(volume, 5)

    epoch = np.datetime64(START.replace(tzinfo=None), "ms")
    times = pl.Series("time", epoch + minute * np.timedelta64(60_000, "ms"))
    times = times.dt.replace_time_zone("UTC")

    return pl.DataFrame(
        {
            "time": times,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
        }
    ).with_columns(pl.col("time").cast(pl.Datetime("ms", "UTC")))


def main() -> None:
    df = generate()
    df.write_parquet(OUT, compression="zstd", compression_level=19, statistics=True)
    print(f"wrote {OUT} ({df.height} bars, {OUT.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
