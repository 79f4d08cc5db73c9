"""`runner data fetch EXCHANGE SYMBOL TF --from --to`: a venue's history into parquet.

Any venue whose plugin serves closed bars (`Capabilities.history`, `Venue.klines`)
can fill the `data:` folder a backtest and a paper warm-up read: the file has the
columns `time open high low close volume`, `time` the bar's open as a UTC datetime
(ms), which is what the `parquet` data source reads with its defaults (`label:
open`). Public market data needs no credentials. The range is read in chunks so a
long download shows progress, and the file is written once, at the end, through a
temporary name: an interrupted fetch leaves no half file behind.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner.bars.resample import timeframe_ms
from runner.errors import ExchangeError, UsageError
from runner.market import BarEvent
from runner.plugins import Registry

CHUNK_BARS = 10_000
"""Bars asked of the venue per call (it pages within a call as it must)."""


def utc_ms(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def fetch_history(registry: Registry, exchange: str, symbol: str, timeframe: str,
                  start: datetime, end: datetime, out: Path, *,
                  params: dict[str, Any] | None = None,
                  progress: Callable[[int, int], None] | None = None) -> int:
    """Write `symbol`'s closed `timeframe` bars opening in [start, end) to `out`;
    return how many. Errors a user can fix are `UsageError`s; the venue failing is
    an `ExchangeError` (exit 3)."""
    definition = registry.exchanges.get(exchange)
    if definition is None:
        known = ", ".join(sorted(registry.exchanges)) or "none"
        raise UsageError(f'no exchange plugin named "{exchange}" (installed: {known})')
    if definition.connect is None or not definition.capabilities.history:
        raise UsageError(f'venue "{exchange}" serves no historical bars')
    try:
        step = timeframe_ms(timeframe)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    first, stop = utc_ms(start), utc_ms(end)
    if stop <= first:
        raise UsageError(f"--to ({end.isoformat()}) must be after --from "
                         f"({start.isoformat()})")
    try:
        model = definition.params.model_validate(params or {})
    except Exception as exc:  # pydantic's ValidationError, in the plugin's own words
        raise UsageError(f"venue params: {exc}") from None
    bars = asyncio.run(_read(definition.connect(model, None), symbol, timeframe, first,
                             stop, step, progress))
    _write(bars, out)
    return len(bars)


async def _read(venue: Any, symbol: str, timeframe: str, first: int, stop: int, step: int,
                progress: Callable[[int, int], None] | None) -> list[BarEvent]:
    out: list[BarEvent] = []
    total = (stop - first + step - 1) // step
    try:
        async with venue:
            at = first
            while at < stop:
                upto = min(stop, at + CHUNK_BARS * step)
                out.extend(b for b in await venue.klines(symbol, timeframe, at, upto)
                           if at <= b.open_ms < upto)
                at = upto
                if progress is not None:
                    progress(min(total, (at - first) // step), total)
    except (UsageError, ExchangeError):
        raise
    except KeyError as exc:
        raise UsageError(f"{symbol}: not a symbol of this venue ({exc})") from None
    except Exception as exc:
        raise ExchangeError(getattr(venue, "name", "") or "venue",
                            f"fetching {symbol} {timeframe}: {type(exc).__name__}: "
                            f"{exc}") from None
    out.sort(key=lambda b: b.open_ms)
    unique: list[BarEvent] = []
    for bar in out:  # a page boundary may repeat a bar
        if not unique or bar.open_ms != unique[-1].open_ms:
            unique.append(bar)
    return unique


def _write(bars: list[BarEvent], out: Path) -> None:
    import polars as pl

    frame = pl.DataFrame({
        "time": pl.Series([b.open_ms for b in bars], dtype=pl.Int64)
        .cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"),
        "open": [b.bar[0] for b in bars], "high": [b.bar[1] for b in bars],
        "low": [b.bar[2] for b in bars], "close": [b.bar[3] for b in bars],
        "volume": pl.Series([b.bar[4] for b in bars], dtype=pl.Float64),
    })
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    frame.write_parquet(partial)
    os.replace(partial, out)


__all__ = ["CHUNK_BARS", "fetch_history"]
