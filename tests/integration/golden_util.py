"""Helpers for the end-to-end golden backtests (`test_backtest_golden.py`).

A golden case is a handful of hand-written bars and a tiny strategy; the helpers write
the bars as a CSV that the strategy's own `data:` block reads, run the whole pipeline
(`validate_text` → `run_backtest`), and read the five output files back, so every
expectation in the tests is about what a user finds on disk.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runner.config.validate import validate_text
from runner.engine.backtest import run_backtest
from runner.plugins import Registry

OHLC = tuple[float, float, float, float]
"""One bar: open, high, low, close."""

START = datetime(2024, 1, 1, tzinfo=UTC)
"""Bar 0 of every case opens here unless the case says otherwise."""


def flat(n: int, price: float = 100.0) -> list[OHLC]:
    """`n` bars with open = high = low = close = `price`: nothing can trigger on them."""
    return [(price, price, price, price)] * n


def iso(moment: datetime) -> str:
    """A time as the output files write it: ISO 8601 UTC, milliseconds, `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def minute(i: int, start: datetime = START) -> str:
    """The ISO time `i` minutes after `start`: bar i's open time, bar i-1's close time."""
    return iso(start + timedelta(minutes=i))


def write_bars(path: Path, bars: Sequence[OHLC], *, start: datetime = START,
               step: timedelta = timedelta(minutes=1)) -> None:
    """Bars as a CSV of `time open high low close volume`, stamped with open times."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["time", "open", "high", "low", "close", "volume"])
        for i, (o, h, lo, c) in enumerate(bars):
            assert lo <= min(o, c) and h >= max(o, c), f"bar {i} is not a bar: {o, h, lo, c}"
            writer.writerow([iso(start + i * step), o, h, lo, c, 1])


@dataclass
class Run:
    """The files of one run, as lists of CSV rows (strings, as written)."""

    summary: dict[str, Any]
    orders: list[dict[str, str]]
    fills: list[dict[str, str]]
    trades: list[dict[str, str]]
    equity: list[dict[str, str]]
    log: dict[str, Any] = field(default_factory=dict)
    """What `run_backtest` logged: counts (`dropped`, `risk_reject`, `risk_halt`,
    `risk_flatten`, `rejected`, `cancelled`, `expired`, `visited`) and `halted` (a
    string: the halt's reason and time) when the risk gate halted."""


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def strategy_text(body: str, symbols: Sequence[str], data_glob: str,
                  timeframe: str = "1m") -> str:
    """A whole strategy file: the common header (sim venue, csv data at `data_glob`,
    one base timeframe) followed by `body` (instruments, signals, orders, risk,
    backtest — whatever the case needs). `instruments:` defaults to `symbols`."""
    header = [
        "version: 1",
        "name: golden",
        "venue: {exchange: sim}",
        f'data: {{source: csv, path: "{data_glob}", timeframe: {timeframe}}}',
        f"timeframes: [{timeframe}]",
    ]
    if "instruments:" not in body:
        header.append(f"instruments: [{', '.join(symbols)}]")
    return "\n".join(header) + "\n" + body


def prepare(tmp_path: Path, body: str, bars: Mapping[str, Sequence[OHLC]], *,
            start: datetime = START, timeframe: str = "1m") -> Path:
    """Write every symbol's bars and the strategy file; return the file's path."""
    step = {"1m": timedelta(minutes=1), "30m": timedelta(minutes=30),
            "1h": timedelta(hours=1)}[timeframe]
    for symbol, series in bars.items():
        write_bars(tmp_path / f"{symbol}.csv", series, start=start, step=step)
    path = tmp_path / "golden.yaml"
    path.write_text(strategy_text(body, list(bars), str(tmp_path / "{symbol}.csv"),
                                  timeframe), encoding="utf-8")
    return path


def run_case(tmp_path: Path, registry: Registry, body: str,
             bars: Mapping[str, Sequence[OHLC]] | Sequence[OHLC], *,
             start: datetime = START, timeframe: str = "1m") -> Run:
    """Validate and run one golden case (a bare bar list is symbol `BTC`)."""
    by_symbol = dict(bars) if isinstance(bars, Mapping) else {"BTC": bars}
    path = prepare(tmp_path, body, by_symbol, start=start, timeframe=timeframe)
    validated = validate_text(path.read_text(encoding="utf-8"), str(path), registry)
    assert not validated.errors, [d.message for d in validated.errors]
    out = tmp_path / "out"
    log: dict[str, Any] = {}
    run_backtest(validated, registry, out_dir=out, log=log)
    return Run(summary=json.loads((out / "summary.json").read_text(encoding="utf-8")),
               orders=_rows(out / "orders.csv"), fills=_rows(out / "fills.csv"),
               trades=_rows(out / "trades.csv"), equity=_rows(out / "equity.csv"), log=log)


def _same(actual: str, expected: object) -> bool:
    if isinstance(expected, bool):
        return actual == ("true" if expected else "false")
    if expected is None:
        return actual == ""
    if isinstance(expected, int | float):
        try:
            value = float(actual)
        except ValueError:
            return False
        return math.isclose(value, float(expected), rel_tol=1e-12, abs_tol=1e-12)
    return actual == str(expected)


def check_rows(actual: Sequence[Mapping[str, str]], expected: Sequence[Mapping[str, object]],
               what: str) -> None:
    """Every expected row, in order, matches the actual row on the columns it names
    (numbers to 1e-12 relative, `None` is an empty cell, booleans `true`/`false`)."""
    if len(actual) != len(expected):
        pytest.fail(f"{what}: {len(actual)} rows, expected {len(expected)}:\n"
                    + "\n".join(str(dict(r)) for r in actual))
    for n, (got, want) in enumerate(zip(actual, expected, strict=True)):
        wrong = {k: (got.get(k), v) for k, v in want.items()
                 if k not in got or not _same(got[k], v)}
        if wrong:
            pytest.fail(f"{what} row {n}: (actual, expected) {wrong}\nrow: {dict(got)}")
