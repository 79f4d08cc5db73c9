"""The volume family equals the `ta-lib` wheel (same nulls, values to 1e-9) on random
walks and on the recorded reference columns, its incremental forms equal its batch
forms for any valid params, and the VWAPs TA-Lib lacks (anchored, session, rolling)
match hand-checked vectors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.errors import ConfigError
from runner.indicators.api import compute, incremental
from tests.unit.indicators.oracle import (
    FRAMES,
    REL,
    SHARED,
    Case,
    Reference,
    assert_close,
    batch_column,
    case_test,
    incremental_column,
    parity_test,
    reference_test,
    scale_of,
    talib_on,
    walk,
)

HOUR = 3_600_000.0
JAN_2024 = datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000.0
TIMED = ("anchored_vwap", "vwap")  # read the bar time, which the shared frames lack


def hlcv(d: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    return d["high"], d["low"], d["close"], d["volume"]


CASES: list[Case] = [
    Case("adosc", {"fast": 3, "slow": 10},
         {"value": lambda d: talib.ADOSC(*hlcv(d), 3, 10)}, "self"),
    Case("adosc", {"fast": 5, "slow": 21},
         {"value": lambda d: talib.ADOSC(*hlcv(d), 5, 21)}, "self"),
    Case("wad", {}, {"value": lambda d: talib.WAD(d["high"], d["low"], d["close"])}, "price"),
    Case("cmf", {"period": 20}, {"value": lambda d: talib.CMF(*hlcv(d), 20)}, "unit"),
    Case("cmf", {"period": 2}, {"value": lambda d: talib.CMF(*hlcv(d), 2)}, "unit"),
    Case("efi", {"period": 13}, {"value": lambda d: talib.EFI(d["close"], d["volume"], 13)},
         "self"),
    Case("efi", {"period": 1}, {"value": lambda d: talib.EFI(d["close"], d["volume"], 1)},
         "self"),
    Case("marketfi", {}, {"value": lambda d: talib.MARKETFI(d["high"], d["low"], d["volume"])},
         "self"),
    Case("nvi", {}, {"value": lambda d: talib.NVI(d["close"], d["volume"])}, "self"),
    Case("pvi", {}, {"value": lambda d: talib.PVI(d["close"], d["volume"])}, "self"),
    Case("pvt", {}, {"value": lambda d: talib.PVT(d["close"], d["volume"])}, "self"),
    Case("rvol", {"period": 20}, {"value": lambda d: talib.RVOL(d["volume"], 20)}, "unit"),
    Case("rvol", {"period": 1}, {"value": lambda d: talib.RVOL(d["volume"], 1)}, "unit"),
    Case("vwma", {"period": 30}, {"value": lambda d: talib.VWMA(d["close"], d["volume"], 30)},
         "price"),
    Case("vwma", {"period": 1}, {"value": lambda d: talib.VWMA(d["close"], d["volume"], 1)},
         "price"),
    Case("vwma", {"period": 5}, {"value": lambda d: talib.VWMA(d["close"], d["volume"], 5)},
         "price"),
    Case("anchored_vwap", {}, {"value": lambda d: talib.VWAP(*hlcv(d))}, "price"),
    Case("anchored_vwap", {"anchor": None}, {"value": lambda d: talib.VWAP(*hlcv(d))}, "price"),
]
REFERENCES: list[Reference] = [
    Reference("adosc", {"fast": 3, "slow": 10}, "value", "adosc_3_10", "self"),
]
TIMED_REFERENCES: list[Reference] = [
    Reference("anchored_vwap", {}, "value", "vwap_cumulative"),
]

test_equal_to_talib_on_random_walks = case_test([c for c in CASES if c.name not in TIMED])
test_equal_to_recorded_talib_reference = reference_test(REFERENCES)


def with_time(frame: pl.DataFrame, start: float = JAN_2024, step: float = HOUR) -> pl.DataFrame:
    """`frame` with a `time` column (float epoch ms) of evenly spaced bars."""
    return frame.with_columns(time=start + step * pl.int_range(0, pl.len()).cast(pl.Float64))


@pytest.mark.parametrize("frame_name", sorted(FRAMES))
@pytest.mark.parametrize("case", [c for c in CASES if c.name in TIMED],
                         ids=lambda c: f"{c.name}-{c.params}")
def test_timed_indicators_equal_talib_on_random_walks(case: Case, frame_name: str) -> None:
    frame = with_time(FRAMES[frame_name])
    for output, oracle in case.outputs.items():
        ref = talib_on(FRAMES[frame_name], oracle)
        scale = scale_of(case.scale, frame, ref)
        assert_close(batch_column(case.name, frame, output, **case.params), ref, scale,
                     f"{case.name}.{output} batch on {frame_name}")
        assert_close(incremental_column(case.name, frame, output, **case.params), ref, scale,
                     f"{case.name}.{output} incremental on {frame_name}")


@pytest.mark.parametrize("dataset", ("orcl_1995_2014_daily", "ethbtc_2018_5m"))
def test_timed_indicators_equal_recorded_talib_reference(dataset: str) -> None:
    path = SHARED / f"{dataset}.talib.parquet"
    if not path.exists():
        pytest.skip(f"../shared/data is absent: {path} not found")
    frame = pl.read_parquet(path).rename({"timestamp": "time"})
    for r in TIMED_REFERENCES:
        ref = frame[r.column].fill_null(np.nan).to_numpy().astype(float)
        scale = scale_of(r.scale, frame, ref)
        assert_close(batch_column(r.name, frame, r.output, **r.params), ref, scale,
                     f"{r.name} batch on {dataset}")
        assert_close(incremental_column(r.name, frame, r.output, **r.params), ref, scale,
                     f"{r.name} incremental on {dataset}")


PERIOD = st.integers(2, 60)
ANY_PERIOD = st.integers(1, 60)
PARITY: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "adosc": st.tuples(st.integers(2, 20), st.integers(1, 30)).map(
        lambda t: {"fast": t[0], "slow": t[0] + t[1]}),
    **dict.fromkeys(("wad", "marketfi", "nvi", "pvi", "pvt"), st.just({})),
    "cmf": st.fixed_dictionaries({"period": PERIOD}),
    "efi": st.fixed_dictionaries({"period": ANY_PERIOD}),
    "rvol": st.fixed_dictionaries({"period": ANY_PERIOD}),
    "vwma": st.fixed_dictionaries({"period": ANY_PERIOD}),
}
test_incremental_equals_batch = parity_test({k: v for k, v in PARITY.items() if k not in TIMED})


def test_zero_volume_windows_follow_talib() -> None:
    """RVOL divides unguarded (x/0 = inf; 0/0 = NaN, null here); VWMA's 0/0 is null;
    CMF gives 0 and MARKETFI 0 without volume."""
    volume = np.array([0.0, 0.0, 0.0, 0.0, 300.0, 0.0, 0.0, 0.0, 70.0, 90.0])
    close = np.linspace(10.0, 12.0, volume.size)
    frame = pl.DataFrame({"high": close + 0.5, "low": close - 0.5, "close": close,
                          "volume": volume})
    for name, params, ref in [
        ("rvol", {"period": 3}, talib.RVOL(volume, 3)),
        ("vwma", {"period": 3}, talib.VWMA(close, volume, 3)),
        ("cmf", {"period": 3}, talib.CMF(close + 0.5, close - 0.5, close, volume, 3)),
        ("marketfi", {}, talib.MARKETFI(close + 0.5, close - 0.5, volume)),
    ]:
        for ours in (batch_column(name, frame, "value", **params),
                     incremental_column(name, frame, "value", **params)):
            assert np.array_equal(ours, ref, equal_nan=True), (name, ours, ref)
    assert compute("rvol", frame, period=3)["value"][3] is None  # 0/0 is null, not NaN


# --- the VWAPs: hand-checked vectors -------------------------------------------------

def ms(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp() * 1000.0


def bars(times: list[str], typical: list[float], volume: list[float]) -> pl.DataFrame:
    """Bars whose typical price (h + l + c) / 3 is exactly `typical`: h = t + 1,
    l = t - 1, c = t."""
    tp = np.array(typical)
    return pl.DataFrame({"high": tp + 1.0, "low": tp - 1.0, "close": tp,
                         "volume": np.array(volume, dtype=float),
                         "time": [ms(t) for t in times]})


def both_forms(name: str, frame: pl.DataFrame, **params: Any) -> list[np.ndarray]:
    return [batch_column(name, frame, "value", **params),
            incremental_column(name, frame, "value", **params)]


def assert_vector(name: str, frame: pl.DataFrame, expected: list[float | None],
                  **params: Any) -> None:
    want = np.array([np.nan if e is None else e for e in expected])
    for ours in both_forms(name, frame, **params):
        assert np.allclose(ours, want, rtol=1e-12, atol=0.0, equal_nan=True), (ours, want)


def test_anchored_vwap_starts_at_the_first_bar_at_or_after_the_anchor() -> None:
    frame = bars([f"2024-01-01T0{h}:00:00+00:00" for h in range(5)],
                 [10.0, 20.0, 30.0, 40.0, 50.0], [5.0, 5.0, 0.0, 2.0, 2.0])
    # bars 0-1 precede the anchor: null. Bar 2 starts the sums with no volume, which
    # TA-Lib's VWAP reports as 0.0. Bar 3: 40*2 / 2 = 40. Bar 4: (80 + 50*2) / 4 = 45.
    expected = [None, None, 0.0, 40.0, 45.0]
    for anchor in ("2024-01-01T02:00:00Z", "2024-01-01T02:00:00",  # naive = UTC
                   "2024-01-01T03:00:00+01:00", "2024-01-01T01:30Z"):  # between bars
        assert_vector("anchored_vwap", frame, expected, anchor=anchor)
    # with a datetime time column too
    dated = frame.with_columns(pl.from_epoch(pl.col("time").cast(pl.Int64), time_unit="ms")
                               .dt.replace_time_zone("UTC"))
    assert_vector("anchored_vwap", dated, expected, anchor="2024-01-01T02:00:00Z")
    # no anchor: TA-Lib VWAP, (50 + 100) / 10 = 15, 15, (150 + 0) / 10 = 15, ...
    assert_vector("anchored_vwap", frame, [10.0, 15.0, 15.0, 230.0 / 12, 330.0 / 14])
    # an anchor after the last bar: nothing yet
    assert_vector("anchored_vwap", frame, [None] * 5, anchor="2030-01-01")


def test_session_vwap_resets_at_midnight_utc() -> None:
    frame = bars(["2024-01-01T22:00:00+00:00", "2024-01-01T23:00:00+00:00",
                  "2024-01-02T00:00:00+00:00", "2024-01-02T01:00:00+00:00",
                  "2024-01-03T00:30:00+00:00", "2024-01-03T01:00:00+00:00"],
                 [10.0, 20.0, 30.0, 40.0, 50.0, 60.0], [1.0, 3.0, 2.0, 2.0, 0.0, 1.0])
    # Jan 1: 10*1/1 = 10; (10 + 60) / 4 = 17.5. Jan 2 restarts: 30; (60 + 80) / 4 = 35.
    # Jan 3 opens without volume: null (no average price yet), then 60.
    assert_vector("vwap", frame, [10.0, 17.5, 30.0, 35.0, None, 60.0])
    assert_vector("vwap", frame, [10.0, 17.5, 30.0, 35.0, None, 60.0],
                  period=None, day_start="00:00", tz="UTC")


def test_session_vwap_starts_at_17_chicago_across_dst_changes() -> None:
    # 17:00 America/Chicago is 23:00 UTC under CST (UTC-6) and 22:00 UTC under CDT
    # (UTC-5). CDT began on Sunday 2024-03-10 at 02:00 local.
    spring = bars(["2024-03-09T22:00:00+00:00",   # Sat 16:00 CST: session of Fri 8th
                   "2024-03-09T23:00:00+00:00",   # Sat 17:00 CST: session of Sat 9th
                   "2024-03-10T21:00:00+00:00",   # Sun 16:00 CDT: still Sat 9th's
                   "2024-03-10T22:00:00+00:00",   # Sun 17:00 CDT: session of Sun 10th
                   "2024-03-10T23:00:00+00:00"],  # Sun 18:00 CDT
                  [10.0, 20.0, 30.0, 40.0, 50.0], [1.0, 1.0, 1.0, 1.0, 3.0])
    # 10; new session 20; (20 + 30) / 2 = 25; new session 40; (40 + 150) / 4 = 47.5.
    # A fixed 23:00 UTC boundary would have put bar 3 in Saturday's session.
    assert_vector("vwap", spring, [10.0, 20.0, 25.0, 40.0, 47.5],
                  day_start="17:00", tz="America/Chicago")
    # CST came back on Sunday 2024-11-03 at 02:00 local.
    autumn = bars(["2024-11-02T21:00:00+00:00",   # Sat 16:00 CDT: session of Fri 1st
                   "2024-11-02T22:00:00+00:00",   # Sat 17:00 CDT: session of Sat 2nd
                   "2024-11-03T22:00:00+00:00",   # Sun 16:00 CST: still Sat 2nd's
                   "2024-11-03T23:00:00+00:00"],  # Sun 17:00 CST: session of Sun 3rd
                  [10.0, 20.0, 30.0, 40.0], [1.0, 1.0, 3.0, 2.0])
    # 10; new session 20; (20 + 90) / 4 = 27.5; new session 40.
    assert_vector("vwap", autumn, [10.0, 20.0, 27.5, 40.0],
                  day_start="17:00", tz="America/Chicago")


def test_rolling_vwap_over_the_last_n_bars() -> None:
    frame = bars([f"2024-01-01T0{h}:00:00+00:00" for h in range(6)],
                 [10.0, 20.0, 30.0, 40.0, 50.0, 60.0], [1.0, 2.0, 3.0, 0.0, 0.0, 0.0])
    # period 3: two nulls of warm-up; (10 + 40 + 90) / 6 = 70/3; (40 + 90 + 0) / 5 = 26;
    # (90 + 0 + 0) / 3 = 30; three zero-volume bars: no average price, null.
    assert_vector("vwap", frame, [None, None, 70.0 / 3, 26.0, 30.0, None], period=3)
    # period 1 is the bar's own typical price while it has volume
    assert_vector("vwap", frame, [10.0, 20.0, 30.0, None, None, None], period=1)


def test_vwap_params_are_validated_with_clear_messages() -> None:
    frame = bars(["2024-01-01T00:00:00+00:00"], [10.0], [1.0])
    for params, message in [
        ({"tz": "Mars/Olympus_Mons"}, 'tz must be an IANA time zone such as "America/Chicago"'),
        ({"day_start": "24:00"}, 'day_start must be "HH:MM" on a 24-hour clock'),
        ({"day_start": "5pm"}, 'day_start must be "HH:MM" on a 24-hour clock'),
        ({"period": 0}, "must be >= 1, got 0"),
    ]:
        with pytest.raises(ConfigError) as info:
            compute("vwap", frame, **params)
        assert message in str(info.value), str(info.value)
    with pytest.raises(ConfigError) as info:
        incremental("anchored_vwap", anchor="last tuesday")
    assert 'anchor must be an ISO 8601 date-time such as "2024-03-01T14:30:00Z"' in str(
        info.value)
    with pytest.raises(ConfigError) as info:
        incremental("adosc", fast=10, slow=3)
    assert "slow (3) must be longer than fast (10)" in str(info.value)
    # YAML reads an unquoted timestamp as a datetime: accepted as that instant
    when = datetime(2024, 1, 1, tzinfo=UTC)
    assert incremental("anchored_vwap", anchor=when).update(
        {"high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0, "time": when})["value"] == 1.0


# --- the VWAPs: incremental == batch on frames with a time column ---------------------

ANCHOR = st.datetimes(datetime(2024, 3, 1), datetime(2024, 3, 31)).flatmap(
    lambda d: st.sampled_from([d.isoformat(), d.isoformat() + "Z", d.isoformat() + "-05:00"]))
PARITY["anchored_vwap"] = st.one_of(st.just({}), st.builds(lambda a: {"anchor": a}, ANCHOR))
PARITY["vwap"] = st.fixed_dictionaries({
    "period": st.one_of(st.none(), ANY_PERIOD),
    "day_start": st.tuples(st.integers(0, 23), st.integers(0, 59)).map(
        lambda t: f"{t[0]:02d}:{t[1]:02d}"),
    "tz": st.sampled_from(["UTC", "America/Chicago", "Europe/London", "Asia/Kolkata",
                           "America/St_Johns", "Australia/Lord_Howe"]),
})
STARTS = [ms(s) for s in ("2024-03-01T00:00:00+00:00", "2024-03-08T12:00:00+00:00",
                          "2024-10-25T00:00:00+00:00", "2024-03-30T06:00:00+00:00")]


@pytest.mark.parametrize("name", TIMED)
@settings(max_examples=15, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**16), flat=st.booleans(),
       zero_volume=st.booleans(), start=st.sampled_from(STARTS),
       step=st.sampled_from([15 * 60_000.0, HOUR, 4 * HOUR]),
       scale=st.sampled_from([1e-4, 1.0, 100.0, 5e5]))
def test_timed_incremental_equals_batch(name: str, data: st.DataObject, seed: int, flat: bool,
                                        zero_volume: bool, start: float, step: float,
                                        scale: float) -> None:
    params = data.draw(PARITY[name], label="params")
    frame = with_time(walk(400, seed=seed, flat=flat, scale=scale, gaps=True), start, step)
    if zero_volume:  # stretches without volume, at session starts among others
        frame = frame.with_columns(volume=pl.when(pl.int_range(0, pl.len()) % 50 < 12)
                                   .then(0.0).otherwise(pl.col("volume")))
    batch, step_by_step = both_forms(name, frame, **params)
    assert np.array_equal(np.isnan(batch), np.isnan(step_by_step)), (
        f"{name} {params}: nulls differ at row "
        f"{int(np.argmax(np.isnan(batch) != np.isnan(step_by_step)))}")
    ok = ~np.isnan(batch)
    assert np.allclose(step_by_step[ok], batch[ok], rtol=REL, atol=REL * scale), params
