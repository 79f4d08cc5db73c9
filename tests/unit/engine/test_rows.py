"""`RowBuilder` (one base bar at a time) against `bar_frame` (the whole history at once):
for the same bars every row is equal bit for bit — floats by their bits, NaN to NaN,
null to None, the same UTC datetimes, the same booleans.

Volumes in these tests are whole numbers: polars' grouped sum (the batch `volume@tf`)
adds in an order that depends on its engine and thread count, so only sums that are
exact in any order are comparable bit for bit (see `runner.engine.rows`).
`linearreg_angle` is left out: its incremental form is not bit-identical to its batch
form.
"""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.compile import compile as compile_graph
from runner.config.validate import validate_text
from runner.engine.frames import bar_frame
from runner.engine.rows import Bar, RowBuilder
from runner.plugins import Registry, load_registry

START_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC, a Monday
MINUTE = 60_000
Bars = dict[str, list[tuple[int, Bar]]]

_REGISTRY: Registry | None = None


def registry() -> Registry:
    """Built-ins only, loaded once: the property below runs many examples."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = load_registry(autoload=False)
    return _REGISTRY


def random_bars(rng: random.Random, count: int, *, gap: float = 0.0, offset: int = 0,
                step: int = MINUTE) -> list[tuple[int, Bar]]:
    """`count` slots of `step` ms from START_MS (+ `offset` slots), each missing with
    probability `gap`; a random walk with whole-number volumes."""
    out: list[tuple[int, Bar]] = []
    close = 100.0
    for i in range(count):
        o = close + rng.uniform(-1, 1)
        c = o + rng.uniform(-2, 2)
        h, lo = max(o, c) + rng.random(), min(o, c) - rng.random()
        close = c
        if rng.random() >= gap:
            out.append((START_MS + (offset + i) * step,
                        (o, h, lo, c, float(rng.randint(1, 1000)))))
    return out


def write(path: Path, bars: Sequence[tuple[int, Bar]]) -> None:
    frame = pl.DataFrame([(t, *bar) for t, bar in bars],
                         schema=["time", "open", "high", "low", "close", "volume"],
                         orient="row")
    frame.with_columns(pl.from_epoch("time", time_unit="ms").dt.replace_time_zone("UTC")
                       ).write_parquet(path)


def strategy(tmp_path: Path, symbols: Sequence[str], body: str,
             timeframes: str = "[1m]") -> str:
    base = timeframes.strip("[]").split(",")[0].strip()
    return "\n".join([
        "version: 1", "name: rows", "venue: {exchange: sim}",
        f"instruments: [{', '.join(symbols)}]",
        f"data: {{source: parquet, path: '{tmp_path}/{{symbol}}.parquet', "
        f"timeframe: {base}}}",
        f"timeframes: {timeframes}", body]) + "\n"


def both(tmp_path: Path, body: str, bars: Bars,
         timeframes: str = "[1m]") -> tuple[pl.DataFrame, RowBuilder, list[dict[str, Any]]]:
    """The batch frame, the builder, and the builder's rows for the same bars."""
    for symbol, series in bars.items():
        write(tmp_path / f"{symbol}.parquet", series)
    text = strategy(tmp_path, list(bars), body, timeframes)
    validated = validate_text(text, str(tmp_path / "s.yaml"), registry())
    assert validated.ok, [str(d) for d in validated.errors]
    graph = compile_graph(validated, registry())
    wide = bar_frame(validated, registry(), graph, start=None, end=None, data_path=None).wide
    builder = RowBuilder(validated, registry(), graph)
    by_time: dict[int, dict[str, Bar]] = {}
    for symbol, series in bars.items():
        for t, bar in series:
            by_time.setdefault(t, {})[symbol] = bar
    rows = [builder.push(t, by_time[t]) for t in sorted(by_time)]
    return wide, builder, rows


def same(a: Any, b: Any) -> bool:
    """Equal bit for bit: same type, floats by their bits (any NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, datetime):
        return a == b and a.utcoffset() == b.utcoffset() and str(a.tzinfo) == str(b.tzinfo)
    return bool(a == b)


def assert_same_rows(wide: pl.DataFrame, builder: RowBuilder,
                     rows: Sequence[Mapping[str, Any]]) -> None:
    assert builder.columns == tuple(wide.columns)
    assert len(rows) == wide.height
    for i, row in enumerate(rows):
        assert tuple(row) == builder.columns
        expected = wide.row(i, named=True)
        diff = {k: (expected[k], row[k]) for k in expected if not same(expected[k], row[k])}
        assert not diff, f"row {i}: (batch, rows) {diff}"


def check(tmp_path: Path, body: str, bars: Bars, timeframes: str = "[1m]") -> pl.DataFrame:
    wide, builder, rows = both(tmp_path, body, bars, timeframes)
    assert_same_rows(wide, builder, rows)
    return wide


def test_single_instrument_sma_and_ema(tmp_path: Path) -> None:
    wide = check(tmp_path, """\
indicators:
  fast: {type: sma, period: 5}
  slow: {type: ema, period: 12}
signals:
  up: fast > slow
""", {"XUSD": random_bars(random.Random(1), 80)})
    assert wide["XUSD.fast"].null_count() == 4  # the warm-up is compared too


def test_multi_output_indicators(tmp_path: Path) -> None:
    wide = check(tmp_path, """\
indicators:
  m: {type: macd, fast: 5, slow: 13, signal: 4}
  bb: {type: bbands, period: 10}
signals:
  up: m.macd > m.signal and close > bb.upper
""", {"XUSD": random_bars(random.Random(2), 90)})
    assert {"XUSD.m.hist", "XUSD.bb.lower"} <= set(wide.columns)


def test_an_indicator_reading_another(tmp_path: Path) -> None:
    check(tmp_path, """\
indicators:
  fast: {type: sma, period: 4}
  smooth: {type: ema, period: 3, input: fast}
  m: {type: macd, fast: 3, slow: 6, signal: 3}
  sig: {type: sma, period: 2, input: m.signal}
  range: {type: atr, period: 5}
signals:
  up: smooth > fast and sig > 0 and range > 0
""", {"XUSD": random_bars(random.Random(3), 60)})


def test_higher_timeframes(tmp_path: Path) -> None:
    """`close@5m`, an indicator pinned to 5m, a base indicator read `@1h`, with gaps
    (a window missing its last bar completes when a later window's bar arrives)."""
    wide = check(tmp_path, """\
indicators:
  fast: {type: sma, period: 3}
  trend: {type: ema, period: 3, timeframe: 5m}
  x: {type: sma, period: 2}
  band: {type: bbands, period: 3, timeframe: 5m}
signals:
  up: close@5m > trend and x@1h > 0 and band.upper > fast
""", {"XUSD": random_bars(random.Random(4), 300, gap=0.2, offset=2)}, "[1m, 5m, 1h]")
    assert "XUSD.trend@5m" in wide.columns and "XUSD.x@1h" in wide.columns
    assert wide["XUSD.trend@5m"].drop_nulls().len() > 0
    assert wide["XUSD.x@1h"].drop_nulls().len() > 0


def test_two_instruments_with_missing_bars(tmp_path: Path) -> None:
    rng = random.Random(5)
    aaa = random_bars(rng, 40)
    bbb = [b for i, b in enumerate(random_bars(rng, 40, offset=3)) if i not in (4, 5, 6, 20)]
    wide = check(tmp_path, """\
indicators:
  fast: {type: sma, period: 3}
  m: {type: macd, fast: 3, slow: 5, signal: 2}
signals:
  up: fast > BBB.fast and close@5m > 0
""", {"AAA": aaa, "BBB": bbb}, "[1m, 5m]")
    assert wide["BBB.fresh"].to_list()[:4] == [False] * 3 + [True]  # BBB starts later
    assert wide["AAA.fresh"].to_list()[-3:] == [False] * 3  # ... and ends later


def test_random_data_with_gaps(tmp_path: Path) -> None:
    rng = random.Random(6)
    bars = {s: random_bars(rng, 400, gap=0.15, offset=rng.randint(0, 30))
            for s in ("AAA", "BBB", "CCC")}
    check(tmp_path, """\
indicators:
  fast: {type: ema, period: 7}
  slow: {type: sma, period: 20}
  r: {type: rsi, period: 6}
  bb: {type: bbands, period: 8}
  trend: {type: sma, period: 3, timeframe: 15m}
  vw: {type: vwma, period: 5}
signals:
  up: fast > slow and close@1h > trend and r@5m > 50 and BBB.bb.middle@15m > 0
""", bars, "[1m, 5m, 15m, 1h]")


def test_null_inputs_are_skipped_and_filled_like_the_common_clock(tmp_path: Path) -> None:
    """A null volume (the loader keeps it) makes a volume indicator skip that bar and
    output null; on the common clock polars' forward fill then shows the last value,
    and a higher bar sums the volumes it has."""
    rng = random.Random(8)
    aaa = random_bars(rng, 60)
    bbb = [(t, (*bar[:4], None if i % 7 == 3 else bar[4]))
           for i, (t, bar) in enumerate(random_bars(rng, 60, gap=0.1, offset=1))]
    wide = check(tmp_path, """\
indicators:
  vw: {type: vwma, period: 3}
  ov: {type: obv}
signals:
  up: vw > 0 and ov > 0 and volume@5m > 0 and vw@5m > 0
""", {"AAA": aaa, "BBB": bbb}, "[1m, 5m]")
    assert any(bar[4] is None for _, bar in bbb)
    assert wide.filter(pl.col("BBB.fresh"))["BBB.volume"].null_count() == 0  # filled


def test_daily_and_weekly_windows_on_hourly_bars(tmp_path: Path) -> None:
    """Weeks start on Monday 00:00 UTC, not on the epoch's Thursday."""
    rng = random.Random(9)
    wide = check(tmp_path, """\
indicators:
  trend: {type: sma, period: 2, timeframe: 1w}
  day: {type: ema, period: 3, timeframe: 1d}
signals:
  up: close@1w > trend and day > 0
""", {"XUSD": random_bars(rng, 24 * 7 * 4, gap=0.05, offset=30, step=3_600_000)},
        "[1h, 1d, 1w]")
    assert wide["XUSD.trend@1w"].drop_nulls().len() > 0


@st.composite
def cases(draw: st.DrawFn) -> tuple[int, int, int, int, int, float, int]:
    return (draw(st.integers(2, 12)), draw(st.integers(2, 12)), draw(st.integers(2, 5)),
            draw(st.integers(1, 200)), draw(st.integers(0, 200)),
            draw(st.sampled_from([0.0, 0.1, 0.5])), draw(st.integers(0, 2**16)))


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(cases())
def test_rows_equal_the_frame_for_random_periods_and_bars(
        tmp_path: Path, case: tuple[int, int, int, int, int, float, int]) -> None:
    fast, slow, trend, count_a, count_b, gap, seed = case
    rng = random.Random(seed)
    bars = {"AAA": random_bars(rng, count_a, gap=gap, offset=rng.randint(0, 9))}
    if count_b:
        bars["BBB"] = random_bars(rng, count_b, gap=gap, offset=rng.randint(0, 9))
    bars = {s: b for s, b in bars.items() if b}
    if not bars:
        return
    check(tmp_path, f"""\
indicators:
  fast: {{type: ema, period: {fast}}}
  slow: {{type: sma, period: {slow}}}
  trend: {{type: ema, period: {trend}, timeframe: 5m}}
  m: {{type: macd, fast: {fast}, slow: {fast + slow}, signal: {trend}}}
signals:
  up: fast > slow and close@5m > trend and m.hist@15m > 0
""", bars, "[1m, 5m, 15m]")


def test_push_refuses_what_the_frame_cannot_have(tmp_path: Path) -> None:
    _, builder, _ = both(tmp_path, "indicators:\n  fast: {type: sma, period: 3}\n",
                         {"XUSD": random_bars(random.Random(7), 3)})
    bar = (1.0, 1.0, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="not after"):
        builder.push(START_MS, {"XUSD": bar})
    with pytest.raises(ValueError, match="grid"):
        builder.push(START_MS + 10 * MINUTE + 1, {"XUSD": bar})
    with pytest.raises(ValueError, match="no bars"):
        builder.push(START_MS + 10 * MINUTE, {})
    with pytest.raises(ValueError, match="unknown"):
        builder.push(START_MS + 10 * MINUTE, {"YUSD": bar})
