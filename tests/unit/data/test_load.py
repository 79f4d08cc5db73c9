"""runner.data.load: reading stored bars, normalising time, and every data-quality decision."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from runner.data import DataIssue, DataLoadError, LoadedBars, load_bars, scan_bars
from runner.errors import FatalExchangeError, RunnerError

ROOT = Path(__file__).resolve().parents[3]
SHARED_DATA = ROOT.parent / "shared" / "data"
EXAMPLE = ROOT / "examples" / "data" / "BTCUSDT-1m.parquet"

T0 = datetime(2024, 1, 1, tzinfo=UTC)
T0_MS = 1_704_067_200_000
MIN = 60


def bars(n: int = 4, step: int = MIN, **overrides: Sequence[Any]) -> dict[str, Sequence[Any]]:
    """n consistent bars, `step` seconds apart from T0, as plain columns."""
    data: dict[str, Sequence[Any]] = {
        "time": [T0 + timedelta(seconds=i * step) for i in range(n)],
        "open": [100.0 + i for i in range(n)],
        "high": [102.0 + i for i in range(n)],
        "low": [99.0 + i for i in range(n)],
        "close": [101.0 + i for i in range(n)],
        "volume": [10.0 + i for i in range(n)],
    }
    data.update(overrides)
    return data


def write(tmp_path: Path, data: dict[str, Sequence[Any]] | pl.DataFrame, name: str = "X") -> str:
    """Write a parquet file named `<name>-1m.parquet`; return the `{symbol}` template."""
    df = data if isinstance(data, pl.DataFrame) else pl.DataFrame(data)
    df.write_parquet(tmp_path / f"{name}-1m.parquet")
    return str(tmp_path / "{symbol}-1m.parquet")


def write_csv(tmp_path: Path, text: str, name: str = "X") -> str:
    (tmp_path / f"{name}.csv").write_text(text)
    return str(tmp_path / "{symbol}.csv")


def load(template: str, symbol: str = "X", **kw: Any) -> LoadedBars:
    kw.setdefault("timeframe_seconds", MIN)
    return load_bars(template, symbol, **kw)


def times(result: LoadedBars) -> list[datetime]:
    return list(result.frame["time"])


def expected_times(n: int, step: int = MIN) -> list[datetime]:
    return [T0 + timedelta(seconds=i * step) for i in range(n)]


def load_error(template: str, **kw: Any) -> DataLoadError:
    with pytest.raises(DataLoadError) as info:
        load(template, **kw)
    return info.value


def kinds(issues: Sequence[DataIssue]) -> list[str]:
    return [i.kind for i in issues]


# ------------------------------------------------------------------- shape of the result


def test_result_schema_is_open_time_ms_utc_and_float64(tmp_path: Path) -> None:
    df = pl.DataFrame(bars()).with_columns(pl.col("volume").cast(pl.Int64))
    result = load(write(tmp_path, df))
    expected: dict[str, pl.DataType] = {"time": pl.Datetime("ms", "UTC")}
    expected.update({c: pl.Float64() for c in ("open", "high", "low", "close", "volume")})
    assert dict(result.frame.schema) == expected
    assert times(result) == expected_times(4)
    assert result.issues == []
    assert result.symbol == "X"


def test_symbol_is_replaced_in_the_path(tmp_path: Path) -> None:
    write(tmp_path, bars(2), name="BTCUSDT")
    write(tmp_path, bars(3), name="ETHUSDT")
    template = str(tmp_path / "{symbol}-1m.parquet")
    assert load(template, "BTCUSDT").frame.height == 2
    assert load(template, "ETHUSDT").frame.height == 3
    assert load(template, "ETHUSDT").path == tmp_path / "ETHUSDT-1m.parquet"


# ------------------------------------------------------------------- time column values


@pytest.mark.parametrize(("unit", "factor"), [("ms", 1), ("us", 1_000), ("ns", 1_000_000)])
def test_integer_epochs_are_told_apart_by_magnitude(tmp_path: Path, unit: str, factor: int) -> None:
    epochs = [(T0_MS + i * 60_000) * factor for i in range(4)]
    assert times(load(write(tmp_path, bars(time=epochs)))) == expected_times(4)


def test_epoch_seconds_are_refused_not_misread(tmp_path: Path) -> None:
    err = load_error(write(tmp_path, bars(time=[T0_MS // 1000 + i * 60 for i in range(4)])))
    assert "too small" in str(err) and "seconds" in str(err)


def test_mixed_epoch_units_are_refused(tmp_path: Path) -> None:
    err = load_error(write(tmp_path, bars(2, time=[T0_MS, T0_MS * 1000 + 60_000_000])))
    assert "mix epoch units" in str(err)


@pytest.mark.parametrize(
    "stamps",
    [
        ["2024-01-01T00:00:00", "2024-01-01T00:01:00", "2024-01-01T00:02:00"],
        ["2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z", "2024-01-01T00:02:00Z"],
        ["2024-01-01T01:00:00+01:00", "2024-01-01T01:01:00+01:00", "2024-01-01T01:02:00+01:00"],
        ["2024-01-01 00:00:00", "2024-01-01 00:01:00", "2024-01-01 00:02:00"],
        ["2024-01-01T00:00:00.000", "2024-01-01T00:01:00.000", "2024-01-01T00:02:00.000"],
    ],
    ids=["naive", "z", "offset", "space", "millis"],
)
def test_iso_strings_naive_meaning_utc(tmp_path: Path, stamps: list[str]) -> None:
    assert times(load(write(tmp_path, bars(3, time=stamps)))) == expected_times(3)


def test_iso_date_only_strings_for_daily_bars(tmp_path: Path) -> None:
    data = bars(3, time=["2024-01-01", "2024-01-02", "2024-01-03"])
    result = load(write(tmp_path, data), timeframe_seconds=86_400)
    assert times(result) == expected_times(3, 86_400)


def test_unparseable_time_text_is_a_data_error(tmp_path: Path) -> None:
    err = load_error(write(tmp_path, bars(2, time=["2024-01-01T00:00:00", "yesterday"])))
    assert "cannot read" in str(err)


def test_naive_datetimes_are_utc(tmp_path: Path) -> None:
    naive = [t.replace(tzinfo=None) for t in expected_times(3)]
    assert times(load(write(tmp_path, bars(3, time=naive)))) == expected_times(3)


def test_zoned_datetimes_are_converted_to_utc(tmp_path: Path) -> None:
    df = pl.DataFrame(bars(3)).with_columns(
        pl.col("time")
        .dt.convert_time_zone("America/New_York")
        .cast(pl.Datetime("us", "America/New_York"))
    )
    assert times(load(write(tmp_path, df))) == expected_times(3)


def test_date_column(tmp_path: Path) -> None:
    df = pl.DataFrame(bars(3, step=86_400)).with_columns(pl.col("time").dt.date())
    assert times(load(write(tmp_path, df), timeframe_seconds=86_400)) == expected_times(3, 86_400)


def test_unsupported_time_type(tmp_path: Path) -> None:
    err = load_error(write(tmp_path, bars(2, time=[1.5e12, 1.6e12])))
    assert "time column 'time' has type Float64" in str(err)


# ------------------------------------------------------------------- column names


@pytest.mark.parametrize("alias", ["timestamp", "date", "datetime", "open_time", "Date", "TIME"])
def test_time_column_aliases(tmp_path: Path, alias: str) -> None:
    data = bars(3)
    data[alias] = data.pop("time")
    assert times(load(write(tmp_path, data))) == expected_times(3)


def test_price_columns_match_case_insensitively(tmp_path: Path) -> None:
    data = {k.capitalize(): v for k, v in bars(3).items()}
    assert load(write(tmp_path, data)).frame.columns == [
        "time", "open", "high", "low", "close", "volume"
    ]  # fmt: skip


def test_two_time_columns_must_be_chosen_by_mapping(tmp_path: Path) -> None:
    data = bars(3)
    data["timestamp"] = [T0_MS + i * 60_000 for i in range(3)]
    err = load_error(write(tmp_path, data))
    assert "several time columns ['time', 'timestamp']" in str(err)
    chosen = load(write(tmp_path, data), columns={"time": "timestamp"})
    assert times(chosen) == expected_times(3)


def test_columns_mapping(tmp_path: Path) -> None:
    data = bars(3)
    renamed = {"ts": data["time"], "o": data["open"], "h": data["high"], "l": data["low"],
               "last": data["close"], "qty": data["volume"]}  # fmt: skip
    mapping = {"time": "ts", "open": "o", "high": "h", "low": "l", "close": "last", "volume": "qty"}
    result = load(write(tmp_path, renamed), columns=mapping)
    assert result.frame["close"].to_list() == data["close"]


def test_missing_column_lists_the_columns_found(tmp_path: Path) -> None:
    data = bars(3)
    del data["volume"]
    err = load_error(write(tmp_path, data))
    assert "missing column 'volume'" in str(err)
    assert "['time', 'open', 'high', 'low', 'close']" in str(err)


def test_missing_time_column_names_the_aliases(tmp_path: Path) -> None:
    data = bars(3)
    data["when"] = data.pop("time")
    err = load_error(write(tmp_path, data))
    assert "'time' (or one of timestamp, date, datetime, open_time)" in str(err)
    assert "'when'" in str(err)


def test_mapped_column_that_is_missing(tmp_path: Path) -> None:
    err = load_error(write(tmp_path, bars(3)), columns={"close": "last"})
    assert "'close' (mapped to 'last')" in str(err)


def test_non_numeric_price_column(tmp_path: Path) -> None:
    err = load_error(write(tmp_path, bars(2, close=[True, False])))
    assert "column 'close' (close) has type Boolean" in str(err)


# ------------------------------------------------------------------- label / closed


@pytest.mark.parametrize(
    ("label", "closed", "shift"),
    [("open", "left", 0), ("open", "right", 0), ("close", "right", 1), ("close", "left", 1)],
)
def test_label_and_closed_normalise_to_open_time(
    tmp_path: Path, label: str, closed: str, shift: int
) -> None:
    """A close-stamped 1h bar stamped 11:00 opened at 10:00, whichever edge is inclusive."""
    hour = 3600
    stamps = [t + timedelta(seconds=shift * hour) for t in expected_times(3, hour)]
    result = load(
        write(tmp_path, bars(3, time=stamps)), label=label, closed=closed, timeframe_seconds=hour
    )
    assert times(result) == expected_times(3, hour)
    assert result.closed == closed


# ------------------------------------------------------------------- range pushdown


def test_range_is_half_open_on_open_time(tmp_path: Path) -> None:
    template = write(tmp_path, bars(10))
    result = load(template, start=T0 + timedelta(minutes=2), end=T0 + timedelta(minutes=5))
    assert times(result) == expected_times(5)[2:5]


def test_range_with_close_labels_selects_by_open_time(tmp_path: Path) -> None:
    stamps = [t + timedelta(minutes=1) for t in expected_times(10)]
    result = load(
        write(tmp_path, bars(10, time=stamps)),
        label="close",
        start=T0 + timedelta(minutes=2),
        end=T0 + timedelta(minutes=5),
    )
    assert times(result) == expected_times(5)[2:5]


@pytest.mark.parametrize("kind", ["datetime", "ms", "ns", "iso", "naive", "zoned"])
def test_range_for_every_time_representation(tmp_path: Path, kind: str) -> None:
    base = expected_times(10)
    columns: dict[str, Callable[[], Sequence[Any]]] = {
        "datetime": lambda: base,
        "ms": lambda: [T0_MS + i * 60_000 for i in range(10)],
        "ns": lambda: [(T0_MS + i * 60_000) * 1_000_000 for i in range(10)],
        "iso": lambda: [t.strftime("%Y-%m-%dT%H:%M:%S") for t in base],
        "naive": lambda: [t.replace(tzinfo=None) for t in base],
        "zoned": lambda: [t.astimezone(timezone(timedelta(hours=5))) for t in base],
    }
    template = write(tmp_path, bars(10, time=columns[kind]()))
    start = datetime(2024, 1, 1, 5, 3, tzinfo=timezone(timedelta(hours=5)))  # 00:03 UTC
    result = load(template, start=start, end=datetime(2024, 1, 1, 0, 7))  # naive = UTC
    assert times(result) == base[3:7]


@pytest.mark.parametrize("kind", ["datetime", "ms"])
def test_range_is_pushed_into_the_parquet_scan(tmp_path: Path, kind: str) -> None:
    data = (
        bars(10) if kind == "datetime" else bars(10, time=[T0_MS + i * 60_000 for i in range(10)])
    )
    lf, _ = scan_bars(
        write(tmp_path, data), "X", timeframe_seconds=MIN, start=T0, end=T0 + timedelta(minutes=3)
    )
    plan = lf.explain()
    scan_and_below = plan[plan.index("Parquet SCAN") :]
    assert "SELECTION" in scan_and_below
    selection = scan_and_below[scan_and_below.index("SELECTION") :].splitlines()[0]
    assert 'col("time") >=' in selection  # a plain column predicate: statistics can prune
    assert lf.collect().height == 3


def test_empty_range_is_an_error(tmp_path: Path) -> None:
    err = load_error(write(tmp_path, bars(3)), start=datetime(2025, 1, 1))
    assert "no bars for X with open time in [2025-01-01T00:00:00, ...)" in str(err)


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    df = pl.DataFrame(bars(1)).clear()
    assert "no bars for X" in str(load_error(write(tmp_path, df)))


# ------------------------------------------------------------------- csv


def test_csv_with_epoch_ms(tmp_path: Path) -> None:
    text = "timestamp,open,high,low,close,volume\n"
    text += "".join(f"{T0_MS + i * 60_000},1,2,0.5,1.5,3\n" for i in range(3))
    result = load(write_csv(tmp_path, text), source="csv")
    assert times(result) == expected_times(3)
    assert result.frame["volume"].dtype == pl.Float64


def test_csv_options_separator_format_comment(tmp_path: Path) -> None:
    text = "# exported by hand\nDate;Open;High;Low;Close;Volume\n"
    text += "01/01/2024 00:00;1;2;0.5;1.5;3\n01/01/2024 00:01;1;2;0.5;1.5;3\n"
    result = load(
        write_csv(tmp_path, text),
        source="csv",
        options={"separator": ";", "time_format": "%d/%m/%Y %H:%M", "comment_prefix": "#"},
    )
    assert times(result) == expected_times(2)


def test_csv_without_header_needs_a_mapping(tmp_path: Path) -> None:
    text = "2024-01-01T00:00:00Z,1,2,0.5,1.5,3\n2024-01-01T00:01:00Z,1,2,0.5,1.5,3\n"
    template = write_csv(tmp_path, text)
    generated = pl.scan_csv(tmp_path / "X.csv", has_header=False).collect_schema().names()
    mapping = dict(zip(["time", "open", "high", "low", "close", "volume"], generated, strict=True))
    err = load_error(template, source="csv", options={"has_header": False})
    assert f"the file has columns {generated}" in str(err)
    result = load(template, source="csv", options={"has_header": False}, columns=mapping)
    assert times(result) == expected_times(2)


def test_csv_range(tmp_path: Path) -> None:
    text = "time,open,high,low,close,volume\n"
    text += "".join(f"{t.isoformat()},1,2,0.5,1.5,3\n" for t in expected_times(6))
    result = load(write_csv(tmp_path, text), source="csv", start=T0 + timedelta(minutes=4))
    assert times(result) == expected_times(6)[4:]


def test_csv_text_in_a_price_column(tmp_path: Path) -> None:
    text = "time,open,high,low,close,volume\n2024-01-01T00:00:00,1,2,0.5,n/a,3\n"
    assert "cannot read" in str(load_error(write_csv(tmp_path, text), source="csv"))


def test_invalid_csv_options(tmp_path: Path) -> None:
    text = "time,open,high,low,close,volume\n"
    err = load_error(write_csv(tmp_path, text), source="csv", options={"delimiter": ";"})
    assert "invalid csv options" in str(err)


def test_parquet_takes_no_options(tmp_path: Path) -> None:
    err = load_error(write(tmp_path, bars(2)), options={"separator": ";"})
    assert "takes no options" in str(err)


# ------------------------------------------------------------------- files


def test_missing_file_names_the_resolved_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    err = load_error("data/{symbol}-1m.parquet", symbol="BTCUSDT")
    assert f"file not found: {tmp_path.resolve() / 'data' / 'BTCUSDT-1m.parquet'}" in str(err)


def test_corrupt_file_is_a_data_error_not_a_polars_one(tmp_path: Path) -> None:
    (tmp_path / "X-1m.parquet").write_bytes(b"not a parquet file at all")
    with pytest.raises(DataLoadError) as info:
        load(str(tmp_path / "{symbol}-1m.parquet"))
    assert "cannot read the file" in str(info.value)
    assert info.value.__cause__ is None


def test_error_type_and_exit_code(tmp_path: Path) -> None:
    err = load_error(str(tmp_path / "{symbol}.parquet"))
    assert isinstance(err, FatalExchangeError) and isinstance(err, RunnerError)
    assert err.exit_code == 3
    assert err.venue == "parquet"
    assert err.path == tmp_path / "X.parquet"


# ------------------------------------------------------------------- data decisions


def test_unsorted_rows_are_sorted_with_a_warning(tmp_path: Path) -> None:
    data = pl.DataFrame(bars(6))[[0, 3, 1, 2, 5, 4]]
    result = load(write(tmp_path, data))
    assert times(result) == expected_times(6)
    assert result.frame["open"].to_list() == [100.0, 101.0, 102.0, 103.0, 104.0, 105.0]
    issue = result.issue("unsorted")
    assert issue is not None and issue.severity == "warning"
    assert issue.count == 2  # 3 -> 1 and 5 -> 4
    assert "2 steps go backwards" in issue.message


def test_duplicate_timestamps_are_an_error_naming_them(tmp_path: Path) -> None:
    stamps = expected_times(6)
    stamps[2] = stamps[1]
    stamps[5] = stamps[4]
    err = load_error(write(tmp_path, bars(6, time=stamps)))
    assert kinds(err.issues) == ["duplicate_time"]
    assert err.issues[0].count == 2
    assert "2024-01-01T00:01:00Z, 2024-01-01T00:04:00Z" in err.issues[0].message
    assert "(4 rows)" in err.issues[0].message


def test_many_duplicates_name_the_first_three(tmp_path: Path) -> None:
    stamps = [t for t in expected_times(5) for _ in (0, 1)]
    err = load_error(write(tmp_path, bars(10, time=stamps)))
    assert "and 2 more" in err.issues[0].message


def test_gaps_warn_with_count_and_the_largest(tmp_path: Path) -> None:
    stamps = [expected_times(20)[i] for i in (0, 1, 2, 5, 6, 16, 17)]
    result = load(write(tmp_path, bars(7, time=stamps)))
    issue = result.issue("gap")
    assert issue is not None and issue.severity == "warning"
    assert issue.count == 2
    assert "11 missing bars" in issue.message
    assert "the largest is 10m after the bar at 2024-01-01T00:06:00Z" in issue.message
    assert result.frame.height == 7  # nothing filled in


def test_bars_closer_than_the_timeframe_are_an_error(tmp_path: Path) -> None:
    err = load_error(write(tmp_path, bars(4)), timeframe_seconds=300)
    assert kinds(err.issues) == ["short_spacing"]
    assert "is data.timeframe right?" in str(err)


def test_null_and_zero_volume_warn_and_null_stays_null(tmp_path: Path) -> None:
    result = load(write(tmp_path, bars(5, volume=[1.0, None, 0.0, 0.0, None])))
    issue = result.issue("volume")
    assert issue is not None and issue.severity == "warning"
    assert issue.count == 4
    assert "2 bars have no volume (kept as null), 2 have zero volume" in issue.message
    assert result.frame["volume"].to_list() == [1.0, None, 0.0, 0.0, None]


def test_negative_volume_is_an_error(tmp_path: Path) -> None:
    err = load_error(write(tmp_path, bars(3, volume=[1.0, -2.0, 1.0])))
    assert kinds(err.issues) == ["negative_volume"]


@pytest.mark.parametrize(
    ("row", "why"),
    [
        ({"high": 100.5}, "high below close"),
        ({"high": 99.5, "open": 99.6, "close": 99.4, "low": 99.0}, "high below open"),
        ({"low": 101.5}, "low above open"),
        ({"high": 98.0, "low": 99.0, "open": 98.5, "close": 98.5}, "high below low"),
    ],
)
def test_ohlc_violations_are_an_error_with_count_and_first_row(
    tmp_path: Path, row: dict[str, float], why: str
) -> None:
    data = pl.DataFrame(bars(4))
    for i in (1, 3):
        for k, v in row.items():
            data[i, k] = v + i
    err = load_error(write(tmp_path, data))
    assert kinds(err.issues) == ["ohlc"], why
    assert err.issues[0].count == 2
    assert "first: time=2024-01-01T00:01:00Z" in err.issues[0].message


def test_null_or_nan_prices_are_an_error(tmp_path: Path) -> None:
    err = load_error(write(tmp_path, bars(3, close=[1.5, None, float("nan")], high=[2.0] * 3,
                                          low=[1.0] * 3, open=[1.5] * 3)))  # fmt: skip
    assert kinds(err.issues) == ["null_price"]
    assert err.issues[0].count == 2
    assert "close: 2" in err.issues[0].message


def test_null_time_is_an_error(tmp_path: Path) -> None:
    stamps: list[datetime | None] = [*expected_times(3), None]
    err = load_error(write(tmp_path, bars(4, time=stamps)))
    assert "null_time" in kinds(err.issues)


def test_all_errors_are_reported_together(tmp_path: Path) -> None:
    stamps = expected_times(4)
    stamps[3] = stamps[2]
    err = load_error(write(tmp_path, bars(4, time=stamps, high=[0.0] * 4)))
    assert kinds(err.issues) == ["duplicate_time", "ohlc"]
    assert "2 problems in the bars of X" in str(err)


def test_warnings_are_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    load(write(tmp_path, bars(3, volume=[0.0, 1.0, 1.0])))
    assert "zero volume" in caplog.text


def test_warnings_property(tmp_path: Path) -> None:
    result = load(write(tmp_path, bars(3, volume=[0.0, 1.0, 1.0])))
    assert kinds(result.warnings) == ["volume"]


# ------------------------------------------------------------------- registry


def test_built_in_sources_carry_the_reader(tmp_path: Path) -> None:
    from runner.datasources import CSV, PARQUET

    assert PARQUET.reader is not None and CSV.reader is not None
    result = PARQUET.reader(write(tmp_path, bars(2)), "X", timeframe_seconds=MIN)
    assert isinstance(result, LoadedBars) and result.frame.height == 2


# ------------------------------------------------------------------- shipped example data


def test_example_data_loads_clean() -> None:
    result = load_bars(
        str(ROOT / "examples/data/{symbol}-1m.parquet"), "BTCUSDT", timeframe_seconds=60
    )
    assert result.frame.height == 30 * 24 * 60
    assert result.issues == []
    assert result.frame["time"][0] == T0
    assert EXAMPLE.stat().st_size < 2_000_000


def test_example_data_is_what_the_script_generates() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("generate", ROOT / "examples/data/generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    generated = module.generate()
    stored = pl.read_parquet(EXAMPLE)
    assert generated.equals(stored)
    assert np.array_equal(module.generate().to_numpy(), generated.to_numpy())


# ------------------------------------------------------------------- real files (../shared/data)

needs_shared = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason=f"real market data not present at {SHARED_DATA}"
)


@needs_shared
def test_real_freqtrade_eth_btc_5m() -> None:
    result = load_bars(
        str(SHARED_DATA / "ohlcv/freqtrade/{symbol}-5m.normalized.parquet"),
        "ETH_BTC",
        timeframe_seconds=300,
    )
    df = result.frame
    assert df.height == 5760
    assert df["time"][0] == datetime(2018, 1, 10, 4, 55, tzinfo=UTC)
    assert df["time"].is_sorted()
    assert result.issues == []  # regular 5m spacing, no quality problems


@needs_shared
def test_real_freqtrade_range() -> None:
    result = load_bars(
        str(SHARED_DATA / "ohlcv/freqtrade/{symbol}-5m.normalized.parquet"),
        "ETH_BTC",
        timeframe_seconds=300,
        start=datetime(2018, 1, 20),
        end=datetime(2018, 1, 21),
    )
    assert result.frame.height == 288
    assert result.frame["time"][-1] == datetime(2018, 1, 20, 23, 55, tzinfo=UTC)


@needs_shared
def test_real_backtrader_orcl_daily() -> None:
    result = load_bars(
        str(SHARED_DATA / "ohlcv/backtrader/{symbol}-1995-2014.normalized.parquet"),
        "orcl",
        timeframe_seconds=86_400,
    )
    df = result.frame
    assert df.height == 5036
    assert df["time"][0] == datetime(1995, 1, 3, tzinfo=UTC)
    assert kinds(result.issues) == ["gap"]  # weekends and holidays
    gap = result.issue("gap")
    assert gap is not None and "the largest is 7d after the bar at 2001-09-10" in gap.message
