"""Historical klines: paginated reads for `Venue.klines`, and the `data fetch` export.

`fetch_klines_to_parquet(params, "BTCUSDT", "1m", start, end, out)` writes the closed
bars opening in [start, end) to a parquet file with the columns the built-in `parquet`
data source reads: `time` (bar open, `Datetime(ms, UTC)`), `open high low close volume`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.market import BarEvent
from runner_binance.payloads import parse_klines

if TYPE_CHECKING:
    from runner_binance.plugin import BinanceParams

INTERVALS_MS: dict[str, int] = {
    "1s": 1_000, "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000,
    "30m": 1_800_000, "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000,
    "6h": 21_600_000, "8h": 28_800_000, "12h": 43_200_000, "1d": 86_400_000,
    "3d": 259_200_000, "1w": 604_800_000,
}
"""Binance kline intervals of fixed length (`1M` — a calendar month — is not here)."""

PAGE_LIMIT = {"spot": 1000, "futures": 1500}

Getter = Callable[[str, Mapping[str, Any]], Awaitable[Any]]


def interval_ms(timeframe: str) -> int:
    try:
        return INTERVALS_MS[timeframe]
    except KeyError:
        raise ValueError(f"Binance has no kline interval {timeframe!r}; use one of "
                         + ", ".join(INTERVALS_MS)) from None


async def read_klines(get: Getter, path: str, symbol: str, timeframe: str, start_ms: int,
                      end_ms: int, *, now_ms: int, limit: int = 1000) -> list[BarEvent]:
    """Closed bars opening in [start_ms, end_ms), oldest first, every page read. A bar is
    closed when its window ended by `now_ms` (the server clock)."""
    step = interval_ms(timeframe)
    bars: list[BarEvent] = []
    cursor = start_ms
    while cursor < end_ms:
        rows = await get(path, {"symbol": symbol, "interval": timeframe,
                                "startTime": cursor, "endTime": end_ms - 1, "limit": limit})
        page = [b for b in parse_klines(symbol, rows)
                if cursor <= b.open_ms < end_ms and b.open_ms + step <= now_ms]
        bars.extend(page)
        if len(rows) < limit or not rows:
            break
        cursor = int(rows[-1][0]) + step
    return bars


def to_ms(value: datetime | int) -> int:
    if isinstance(value, int):
        return value
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return int(aware.timestamp() * 1000)


def write_bars_parquet(bars: list[BarEvent], out: Path) -> Path:
    """`time open high low close volume` (time: bar open, Datetime(ms, UTC))."""
    import polars as pl

    frame = pl.DataFrame(
        {
            "time": [b.open_ms for b in bars],
            "open": [b.bar[0] for b in bars],
            "high": [b.bar[1] for b in bars],
            "low": [b.bar[2] for b in bars],
            "close": [b.bar[3] for b in bars],
            "volume": [b.bar[4] for b in bars],
        },
        schema={"time": pl.Int64, "open": pl.Float64, "high": pl.Float64,
                "low": pl.Float64, "close": pl.Float64, "volume": pl.Float64},
    ).with_columns(pl.from_epoch("time", time_unit="ms").dt.replace_time_zone("UTC"))
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(out)
    return out


async def fetch_klines_to_parquet(params: BinanceParams | Mapping[str, Any], symbol: str,
                                  timeframe: str, start: datetime | int, end: datetime | int,
                                  out: Path | str | None = None) -> Path:
    """`runner data fetch binance SYMBOL TF --from --to [--out]`: public klines (no
    credentials) of [start, end) written to `out` (default `data/SYMBOL-TF.parquet`)."""
    from runner_binance.plugin import BinanceParams
    from runner_binance.venue import BinanceVenue

    model = params if isinstance(params, BinanceParams) else BinanceParams.model_validate(
        dict(params))
    path = Path(out) if out is not None else Path("data") / f"{symbol}-{timeframe}.parquet"
    async with BinanceVenue(model, None) as venue:
        bars = await venue.klines(symbol, timeframe, to_ms(start), to_ms(end))
    return write_bars_parquet(bars, path)


__all__ = ["INTERVALS_MS", "fetch_klines_to_parquet", "interval_ms", "read_klines",
           "to_ms", "write_bars_parquet"]
