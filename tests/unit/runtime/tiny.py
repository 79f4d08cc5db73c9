"""A tiny strategy and its bars for the streaming-runtime tests.

An sma(2)/sma(3) cross on 1m bars, long 1 on the cross up, closed on the cross down:
it trades several times on a zigzag of a few dozen bars, so orders and fills exist
for the journal to hold, and the whole run takes milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from runner.config.validate import Validated, validate_text
from runner.engine.rows import Bar
from runner.plugins import Registry

START_MS = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)
MINUTE = 60_000

RISK_HALT = "risk:\n  max_drawdown: 0.0001\n  on_breach: halt\n"
"""A drawdown limit the first losing mark breaches."""


def strategy_text(symbols: Sequence[str], data_path: str | None, *, name: str = "tiny",
                  extra: str = "", venue: str = "{exchange: sim}",
                  timeframe: str = "1m", slow: int = 3) -> str:
    return (
        "version: 1\n"
        f"name: {name}\n"
        f"venue: {venue}\n"
        f"instruments: [{', '.join(symbols)}]\n"
        + (f'data: {{source: parquet, path: "{data_path}", timeframe: {timeframe}}}\n'
           if data_path is not None else "")
        + f"timeframes: [{timeframe}]\n"
        "indicators:\n"
        "  fast: {type: sma, period: 2}\n"
        f"  slow: {{type: sma, period: {slow}}}\n"
        "signals:\n"
        "  enter_long: crosses_above(fast, slow)\n"
        "  exit_long: crosses_below(fast, slow)\n"
        "orders:\n"
        "  - when: enter_long\n"
        "    side: buy\n"
        "    type: market\n"
        "    size: {quantity: 1}\n"
        "  - when: exit_long\n"
        "    action: close\n"
        "backtest: {cash: 10000, fees: {taker: 0.0004}}\n"
        + extra)


def zigzag(n: int, *, base: float = 100.0, amplitude: float = 5.0,
           period: int = 8) -> list[Bar]:
    """`n` bars whose closes rise and fall in a triangle wave of `period` bars, so the
    fast and slow averages cross every half period."""
    bars: list[Bar] = []
    prev = base
    for i in range(n):
        phase = i % period
        up = phase < period // 2
        level = phase if up else period - phase
        close = base + amplitude * level / (period // 2) + 0.01 * i
        o = prev
        bars.append((o, max(o, close) + 0.5, min(o, close) - 0.5, close, 1.0))
        prev = close
    return bars


def write_parquet(path: Path, bars: Sequence[Bar], *, start_ms: int = START_MS,
                  step_ms: int = MINUTE) -> None:
    pl.DataFrame({
        "time": pl.Series([start_ms + i * step_ms for i in range(len(bars))])
        .cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"),
        "open": [b[0] for b in bars], "high": [b[1] for b in bars],
        "low": [b[2] for b in bars], "close": [b[3] for b in bars],
        "volume": [b[4] for b in bars],
    }).write_parquet(path)


def validated(registry: Registry, tmp_path: Path, symbols: Sequence[str] = ("AAA",),
              *, file: str = "tiny.yaml", **kw: Any) -> Validated:
    """The tiny strategy, validated, written to `tmp_path / file` (the fingerprint
    hashes that file, so two strategies need two names), its data in `tmp_path`."""
    text = strategy_text(symbols, str(tmp_path / "{symbol}.parquet"), **kw)
    path = tmp_path / file
    path.write_text(text, encoding="utf-8")
    result = validate_text(text, str(path), registry)
    assert not result.errors, [d.message for d in result.errors]
    return result
