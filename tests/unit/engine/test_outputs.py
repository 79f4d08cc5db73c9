"""Output files (DESIGN §6): golden files of a tiny run, round trips through polars,
UTC `Z` times, atomic writes, and the config fingerprint."""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.engine import outputs
from runner.engine.metrics import metrics
from runner.engine.outputs import (
    EQUITY_COLUMNS,
    FILL_COLUMNS,
    ORDER_COLUMNS,
    SUMMARY_KEYS,
    TRADE_COLUMNS,
    atomic_write,
    canonical_overrides,
    config_fingerprint,
    fills_frame,
    orders_frame,
    write_run,
)
from runner.engine.simulate import OrderRow
from runner.sim.orders import Fill, Order

S = "BTCUSDT"
CSVS = ("trades.csv", "orders.csv", "fills.csv", "equity.csv")


def t(day: int, hour: int = 0) -> datetime:
    return datetime(2024, 1, day, hour, tzinfo=UTC)


def tiny_run() -> dict[str, Any]:
    equity = pl.DataFrame(
        {"time": [t(1), t(2), t(3)], "equity": [1000.0, 1010.5, 1008.4],
         "cash": [1000.0, 999.9, 1008.4], "in_position": [False, True, False]},
    ).with_columns(pl.col("time").cast(pl.Datetime("ms", "UTC")))
    trades = pl.DataFrame({
        "instrument": [S], "side": ["long"], "quantity": [0.1], "entry_time": [t(2)],
        "entry_price": [42000.5], "exit_time": [t(3)], "exit_price": [42085.0],
        "pnl": [8.4], "fees": [0.1], "exit_reason": ["take_profit"],
    })
    orders = [
        OrderRow(t(1), Order("o1", S, "buy", 0.1, take_profit=42085.0, placed_at=0),
                 "filled", ""),
        OrderRow(t(2), Order("o2", S, "sell", 0.1, type="limit", limit_price=42085.0,
                             reduce_only=True, parent_id="o1", oco_group="o1",
                             placed_at=1), "filled", ""),
        OrderRow(t(2), Order("o3", S, "buy", 0.1, type="limit", limit_price=41000.0),
                 "risk_reject", "max_position: over 0.1"),
    ]
    fills = [
        Fill("o1", S, "buy", t(2), 42000.5, 0.1, 0.05, "taker", 1),
        Fill("o2", S, "sell", 1704240000000, 42085.0, 0.1, 0.05, "maker", 2),  # epoch ms
    ]
    summary = {"name": "tiny", "mode": "backtest", "start": t(1), "end": t(3), "bars": 3,
               "trades": 1, "initial_cash": 1000.0, "final_equity": 1008.4,
               **metrics(equity, trades, 365),
               "fingerprint": config_fingerprint(b"name: tiny\n", [])}
    return {"summary": summary, "trades": trades, "orders": orders, "fills": fills,
            "equity": equity}


GOLDEN = {
    "summary.json": """{
  "name": "tiny",
  "mode": "backtest",
  "start": "2024-01-01T00:00:00.000Z",
  "end": "2024-01-03T00:00:00.000Z",
  "bars": 3,
  "trades": 1,
  "initial_cash": 1000.0,
  "final_equity": 1008.4,
  "total_return": 0.008399999999999963,
  "cagr": 3.6024889374302766,
  "sharpe": 9.045230944063709,
  "sortino": 54.74626028894529,
  "max_drawdown": 0.0020781791192479196,
  "win_rate": 1.0,
  "profit_factor": "inf",
  "exposure": 0.3333333333333333,
  "fees": 0.1,
  "fingerprint": "2e2fbf4a3a63982116079ea274da8aa3c9670dcc76bb5b5b495062b2fe0dd049"
}
""",
    "trades.csv": """\
instrument,side,quantity,entry_time,entry_price,exit_time,exit_price,pnl,fees,exit_reason
BTCUSDT,long,0.1,2024-01-02T00:00:00.000Z,42000.5,2024-01-03T00:00:00.000Z,42085.0,8.4,0.1,take_profit
""",
    "orders.csv": """\
time,id,symbol,side,quantity,type,limit_price,trigger_price,time_in_force,expire_after,reduce_only,post_only,stop_loss,take_profit,trailing_stop,trail,parent_id,oco_group,placed_at,status,reason
2024-01-01T00:00:00.000Z,o1,BTCUSDT,buy,0.1,market,,,gtc,,false,false,,42085.0,,,,,0,filled,
2024-01-02T00:00:00.000Z,o2,BTCUSDT,sell,0.1,limit,42085.0,,gtc,,true,false,,,,,o1,o1,1,filled,
2024-01-02T00:00:00.000Z,o3,BTCUSDT,buy,0.1,limit,41000.0,,gtc,,false,false,,,,,,,-1,risk_reject,max_position: over 0.1
""",  # noqa: E501
    "fills.csv": """\
order_id,symbol,side,time,price,quantity,fee,liquidity,bar_index
o1,BTCUSDT,buy,2024-01-02T00:00:00.000Z,42000.5,0.1,0.05,taker,1
o2,BTCUSDT,sell,2024-01-03T00:00:00.000Z,42085.0,0.1,0.05,maker,2
""",
    "equity.csv": """\
time,equity,cash,drawdown
2024-01-01T00:00:00.000Z,1000.0,1000.0,0.0
2024-01-02T00:00:00.000Z,1010.5,999.9,0.0
2024-01-03T00:00:00.000Z,1008.4,1008.4,0.0020781791192479196
""",
}


def test_golden_tiny_run(tmp_path: Path) -> None:
    write_run(tmp_path / "run", **tiny_run())
    names = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert names == sorted(GOLDEN)  # and no temporary files left behind
    for name, text in GOLDEN.items():
        assert (tmp_path / "run" / name).read_text() == text, name


def test_golden_numbers_are_hand_checkable() -> None:
    m = tiny_run()["summary"]
    assert m["total_return"] == pytest.approx(1008.4 / 1000 - 1)
    assert m["max_drawdown"] == pytest.approx((1010.5 - 1008.4) / 1010.5)
    assert m["cagr"] == pytest.approx(1.0084 ** (365 / 2) - 1)
    assert m["exposure"] == pytest.approx(1 / 3)


def test_summary_keys_and_order(tmp_path: Path) -> None:
    run = tiny_run()
    run["summary"] = dict(reversed(list(run["summary"].items())))
    write_run(tmp_path, **run)
    data = json.loads((tmp_path / "summary.json").read_text())
    assert tuple(data) == SUMMARY_KEYS
    assert SUMMARY_KEYS[:-1] == (
        "name", "mode", "start", "end", "bars", "trades", "initial_cash", "final_equity",
        "total_return", "cagr", "sharpe", "sortino", "max_drawdown", "win_rate",
        "profit_factor", "exposure", "fees")
    assert SUMMARY_KEYS[-1] == "fingerprint"
    assert float(data["profit_factor"]) == math.inf


@pytest.mark.parametrize("change", ["missing", "extra"])
def test_wrong_summary_keys_write_nothing(tmp_path: Path, change: str) -> None:
    run = tiny_run()
    if change == "missing":
        del run["summary"]["sharpe"]
    else:
        run["summary"]["colour"] = "blue"
    with pytest.raises(ValueError, match="summary keys"):
        write_run(tmp_path / "run", **run)
    assert not (tmp_path / "run").exists()


def test_missing_column_writes_nothing(tmp_path: Path) -> None:
    run = tiny_run()
    run["trades"] = run["trades"].drop("exit_reason")
    with pytest.raises(ValueError, match="exit_reason"):
        write_run(tmp_path, **run)
    assert list(tmp_path.iterdir()) == []


def test_column_sets() -> None:
    assert TRADE_COLUMNS == ("instrument", "side", "quantity", "entry_time", "entry_price",
                             "exit_time", "exit_price", "pnl", "fees", "exit_reason")
    assert EQUITY_COLUMNS == ("time", "equity", "cash", "drawdown")
    fields = tuple(f for f in Order.__dataclass_fields__ if f != "exits")
    assert ("time", *fields, "status", "reason") == ORDER_COLUMNS
    assert tuple(Fill.__dataclass_fields__) == FILL_COLUMNS


def test_record_frames_accept_empty_lists() -> None:
    assert orders_frame([]).columns == list(ORDER_COLUMNS)
    assert fills_frame([]).columns == list(FILL_COLUMNS)


def test_empty_run_round_trips(tmp_path: Path) -> None:
    run = tiny_run()
    run["trades"] = run["trades"].clear()
    run["orders"], run["fills"] = [], []
    write_run(tmp_path, **run)
    assert (tmp_path / "trades.csv").read_text() == ",".join(TRADE_COLUMNS) + "\n"
    assert (tmp_path / "fills.csv").read_text() == ",".join(FILL_COLUMNS) + "\n"


def test_round_trip_with_polars(tmp_path: Path) -> None:
    run = tiny_run()
    write_run(tmp_path, **run)
    trades = pl.read_csv(tmp_path / "trades.csv", try_parse_dates=True)
    assert trades.columns == list(TRADE_COLUMNS)
    assert trades["entry_time"].dtype == pl.Datetime("us", "UTC")
    assert trades["entry_time"].to_list() == [t(2)]
    for col in ("quantity", "entry_price", "exit_price", "pnl", "fees"):
        assert trades[col].to_list() == run["trades"][col].to_list()
    equity = pl.read_csv(tmp_path / "equity.csv", try_parse_dates=True)
    assert equity.columns == list(EQUITY_COLUMNS)
    assert equity["time"].to_list() == [t(1), t(2), t(3)]
    assert equity["equity"].to_list() == [1000.0, 1010.5, 1008.4]
    orders = pl.read_csv(tmp_path / "orders.csv", schema=outputs.ORDER_SCHEMA)
    assert orders.equals(orders_frame(run["orders"]))
    fills = pl.read_csv(tmp_path / "fills.csv", try_parse_dates=True)
    assert fills.cast(outputs.FILL_SCHEMA).equals(fills_frame(run["fills"]))  # type: ignore[arg-type]


def _bits(x: float) -> int:
    return int(struct.unpack("<q", struct.pack("<d", x))[0])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=20))
def test_floats_round_trip_exactly(tmp_path_factory: pytest.TempPathFactory,
                                   values: list[float]) -> None:
    out = tmp_path_factory.mktemp("floats")
    n = len(values)
    equity = pl.DataFrame({"time": [t(1) + timedelta(minutes=i) for i in range(n)],
                           "equity": values, "cash": values, "drawdown": values})
    run = tiny_run()
    write_run(out, run["summary"], run["trades"], [], [], equity)
    back = pl.read_csv(out / "equity.csv",
                       schema_overrides={c: pl.Float64 for c in ("equity", "cash", "drawdown")})
    for got, want in zip(back["equity"].to_list(), values, strict=True):
        assert (math.isnan(got) and math.isnan(want)) or _bits(got) == _bits(want)


def test_summary_floats_round_trip(tmp_path: Path) -> None:
    run = tiny_run()
    run["summary"]["sharpe"] = 0.1 + 0.2
    run["summary"]["sortino"] = -math.inf
    run["summary"]["cagr"] = None
    write_run(tmp_path, **run)
    data = json.loads((tmp_path / "summary.json").read_text())
    assert data["sharpe"] == 0.1 + 0.2
    assert data["sortino"] == "-inf" and float(data["sortino"]) == -math.inf
    assert data["cagr"] is None


def test_times_are_utc_with_z(tmp_path: Path) -> None:
    run = tiny_run()
    paris = timezone(timedelta(hours=1))
    # a naive datetime is UTC; an aware one is converted; an integer is epoch ms
    run["trades"] = run["trades"].with_columns(
        pl.Series("entry_time", [datetime(2024, 1, 2, 1, 0)]),
        pl.Series("exit_time", [datetime(2024, 1, 3, 1, 0, tzinfo=paris)]).dt.convert_time_zone(
            "Europe/Paris"))
    run["equity"] = run["equity"].with_columns(
        pl.Series("time", [1704067200000, 1704153600000, 1704240000123]))
    run["summary"]["end"] = datetime(2024, 1, 3, 1, tzinfo=paris)
    write_run(tmp_path, **run)
    for name, cols in [("trades.csv", ["entry_time", "exit_time"]), ("fills.csv", ["time"]),
                       ("equity.csv", ["time"])]:
        frame = pl.read_csv(tmp_path / name, infer_schema=False)
        for col in cols:
            assert all(v.endswith("Z") for v in frame[col].to_list()), (name, col)
    trades = pl.read_csv(tmp_path / "trades.csv", infer_schema=False)
    assert trades["entry_time"].to_list() == ["2024-01-02T01:00:00.000Z"]
    assert trades["exit_time"].to_list() == ["2024-01-03T00:00:00.000Z"]
    equity = pl.read_csv(tmp_path / "equity.csv", infer_schema=False)
    assert equity["time"].to_list() == ["2024-01-01T00:00:00.000Z", "2024-01-02T00:00:00.000Z",
                                        "2024-01-03T00:00:00.123Z"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["start"] == "2024-01-01T00:00:00.000Z"
    assert summary["end"] == "2024-01-03T00:00:00.000Z"


def test_sub_millisecond_times_keep_their_digits(tmp_path: Path) -> None:
    run = tiny_run()
    run["fills"] = [Fill("o1", S, "buy", datetime(2024, 1, 2, 0, 0, 0, 1, tzinfo=UTC),
                         1.0, 1.0, 0.0, "taker", 1)]
    write_run(tmp_path, **run)
    fills = pl.read_csv(tmp_path / "fills.csv", infer_schema=False)
    assert fills["time"].to_list() == ["2024-01-02T00:00:00.000001Z"]


def test_bad_time_column(tmp_path: Path) -> None:
    run = tiny_run()
    run["equity"] = run["equity"].with_columns(pl.lit("yesterday").alias("time"))
    with pytest.raises(ValueError, match="time column 'time'"):
        write_run(tmp_path, **run)


# -- atomicity ---------------------------------------------------------------------------

def test_failing_writer_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "trades.csv"

    def half(fh: IO[bytes]) -> None:
        fh.write(b"instrument,side\nBTC")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        atomic_write(target, half)
    assert list(tmp_path.iterdir()) == []


def test_failing_writer_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "summary.json"
    target.write_text("old")

    def half(fh: IO[bytes]) -> None:
        fh.write(b"{\"na")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, half)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_crash_inside_write_run_keeps_every_old_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A CSV that fails half-way (a full disk): no file is renamed, every temporary
    file is removed, and the folder holds the previous run, byte for byte."""
    run = tiny_run()
    write_run(tmp_path, **run)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    real = pl.DataFrame.write_csv
    calls = []

    def flaky(self: pl.DataFrame, fh: Any, **kw: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:  # the others may be written already; none is renamed yet
            fh.write(b"order_id,sym")
            raise OSError("no space left on device")
        return real(self, fh, **kw)

    monkeypatch.setattr(pl.DataFrame, "write_csv", flaky)
    run["trades"] = run["trades"].with_columns(pl.col("pnl") * 2)
    run["equity"] = run["equity"].with_columns(pl.col("equity") * 2)
    with pytest.raises(OSError, match="no space"):
        write_run(tmp_path, **run)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


# -- fingerprint -------------------------------------------------------------------------

def test_fingerprint_encoding() -> None:
    def part(b: bytes) -> bytes:
        return len(b).to_bytes(8, "big") + b

    expected = hashlib.sha256(part(b"runner-config-fingerprint-v1") + part(b"name: x\n")
                              + part(b"a=1") + part(b"b.c= 2")).hexdigest()
    assert config_fingerprint(b"name: x\n", [" b.c = 2", "a=1"]) == expected
    assert config_fingerprint(b"name: tiny\n", []) == GOLDEN["summary.json"].split(
        '"fingerprint": "')[1][:64]


def test_fingerprint_sensitivity() -> None:
    base = config_fingerprint(b"name: x\n", ["a=1", "b=2"])
    assert config_fingerprint(b"name: x\n", ["b=2", "a=1"]) == base
    assert config_fingerprint(b"name: x\n", ["a=0", "b=2", "a=1"]) == base  # last wins
    assert config_fingerprint(b"name: y\n", ["a=1", "b=2"]) != base
    assert config_fingerprint(b"name: x\n", ["a=1", "b=3"]) != base
    assert config_fingerprint(b"name: x\n", ["a=1"]) != base
    # no ambiguity between the file and the overrides
    assert config_fingerprint(b"a=1", []) != config_fingerprint(b"", ["a=1"])


def test_canonical_order() -> None:
    assert canonical_overrides(["c=3", "a=1", "b = 2 "]) == ["a=1", "b= 2 ", "c=3"]
    assert canonical_overrides(["x=1", "x=2"]) == ["x=2"]
    # overlapping keys keep their order: applied the other way they give another config
    assert canonical_overrides(["z=0", "risk.max=5", "risk={}"]) == [
        "risk.max=5", "risk={}", "z=0"]
    assert canonical_overrides(["risk={}", "risk.max=5"]) == ["risk={}", "risk.max=5"]
    # `risky` is not inside `risk`
    assert canonical_overrides(["risky=1", "risk=2"]) == ["risk=2", "risky=1"]
    assert canonical_overrides(["v=a=b"]) == ["v=a=b"]


@pytest.mark.parametrize("bad", ["novalue", "=1", " =1"])
def test_bad_override(bad: str) -> None:
    with pytest.raises(ValueError, match="key=value"):
        config_fingerprint(b"", [bad])


@settings(max_examples=100)
@given(st.lists(st.sampled_from(["a", "a.b", "a.c", "b", "b.x.y", "c"]).flatmap(
    lambda k: st.integers(0, 3).map(lambda v: f"{k}={v}")), max_size=8), st.randoms())
def test_fingerprint_ignores_order_of_independent_overrides(
        overrides: list[str], rnd: Any) -> None:
    keys = [o.split("=")[0] for o in overrides]
    # shuffle only among overrides whose keys are top-level-distinct and unique
    independent = len({k.split(".")[0] for k in keys}) == len(keys)
    shuffled = list(overrides)
    rnd.shuffle(shuffled)
    if independent:
        assert config_fingerprint(b"f", shuffled) == config_fingerprint(b"f", overrides)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(-10**13, 10**13)), max_size=50),
       st.integers(1, 5))
def test_iso_text_assembled_from_distinct_parts_equals_strftime(
        times: list[int | None], repeat: int) -> None:
    series = pl.Series("t", times * repeat, dtype=pl.Int64).cast(pl.Datetime("ms", "UTC"))
    expected = series.dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
    assert outputs.iso_ms_text(series).to_list() == expected.to_list()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-10**8, 10**8), min_size=1, max_size=40),
       st.sampled_from([60_000, 1_000, 7]), st.integers(-3 * 10**12, 3 * 10**12),
       st.booleans())
def test_iso_text_of_regular_times_equals_strftime(
        steps: list[int], unit: int, origin: int, ordered: bool) -> None:
    # bar-like times: whole minutes / seconds (the fast way) or not (the general one)
    values = [origin // unit * unit + s * unit for s in steps]
    if ordered:
        values.sort()
    series = pl.Series("t", values, dtype=pl.Int64).cast(pl.Datetime("ms", "UTC"))
    expected = series.dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
    assert outputs.iso_ms_text(series).to_list() == expected.to_list()
    micro = series.cast(pl.Datetime("us", "UTC"))
    assert outputs.iso_ms_text(micro).to_list() == expected.to_list()


def test_every_file_is_fsynced_before_it_is_renamed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = outputs.os.fsync, outputs.os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", Path(os.readlink(f"/proc/self/fd/{fd}")).name))
        real_fsync(fd)

    def replace(src: Any, dst: Any) -> None:
        events.append(("replace", Path(src).name))
        real_replace(src, dst)

    monkeypatch.setattr(outputs.os, "fsync", fsync)
    monkeypatch.setattr(outputs.os, "replace", replace)
    write_run(tmp_path, **tiny_run())
    renamed = [name for kind, name in events if kind == "replace"]
    assert len(renamed) == 5 and renamed[-1].startswith(".summary.json.")
    for name in renamed:
        assert events.index(("fsync", name)) < events.index(("replace", name))
    assert events[-1] == ("fsync", tmp_path.name)  # the folder, after the renames
