"""Shared checks for the indicator families: the TA-Lib oracle, the recorded
reference columns and the incremental/batch parity property.

Each family's test module lists its `CASES` (TA-Lib calls), `REFERENCE_COLUMNS`
(columns of ../shared/data/talib_reference) and `PARITY` (hypothesis strategies for
valid params) and parametrizes the checks below over them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.indicators.api import compute, incremental

REL = 1e-9
SHARED = Path(__file__).resolve().parents[4] / "shared" / "data" / "talib_reference"
DATASETS = ("orcl_1995_2014_daily", "ethbtc_2018_5m")


def walk(n: int, *, seed: int, scale: float = 100.0, flat: bool = False,
         zero_volume: bool = False, gaps: bool = False) -> pl.DataFrame:
    """A geometric random walk with OHLCV; optionally flat stretches, no volume, and
    opening gaps (the open jumps away from the previous close, as after a session)."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(0, 0.01, n)
    if flat:
        for start in rng.integers(0, n - 40, 5):
            steps[start:start + 30] = 0.0
    close = scale * np.exp(np.cumsum(steps))
    open_ = np.concatenate([[close[0]], close[:-1]])
    if gaps:
        jumps = rng.random(n) < 0.05
        open_ = np.where(jumps, open_ * np.exp(rng.normal(0, 0.03, n)), open_)
    wick = np.abs(rng.normal(0, 0.004, n))
    if flat:
        wick[steps == 0.0] = 0.0
    high = np.maximum(open_, close) * (1 + wick)
    low = np.minimum(open_, close) * (1 - wick)
    volume = np.zeros(n) if zero_volume else rng.integers(1, 1000, n).astype(float)
    return pl.DataFrame({"open": open_, "high": high, "low": low, "close": close,
                         "volume": volume})


def with_missing_bars(frame: pl.DataFrame, every: int = 97) -> pl.DataFrame:
    """Every `every`-th row nulled: bars the feed never delivered."""
    row = pl.int_range(0, pl.len())
    return frame.select(pl.when(row % every == every - 1).then(None).otherwise(pl.col(c)).alias(c)
                        for c in frame.columns)


FRAMES: dict[str, pl.DataFrame] = {
    "walk": walk(4000, seed=1),
    "flat-zero-volume": walk(4000, seed=2, flat=True, zero_volume=True),
    "huge": walk(4000, seed=3, scale=2.5e6),
    "tiny": walk(4000, seed=4, scale=3e-5),
    "gaps-missing-bars": with_missing_bars(walk(4000, seed=5, gaps=True)),
}

Oracle = Callable[[dict[str, np.ndarray]], np.ndarray]


class Case(NamedTuple):
    """One TA-Lib comparison: our indicator and params, and for each of our outputs
    the TA-Lib call that gives it. `scale` names what "near zero" means for the
    absolute tolerance: "price" (the median close), "oscillator" (100), "unit" (1),
    or "self" (the largest |value| of the reference)."""

    name: str
    params: dict[str, Any]
    outputs: dict[str, Oracle]
    scale: str = "price"


def case_id(case: Case) -> str:
    return "-".join([case.name, *(str(v) for v in case.params.values())])


def as_array(values: Any) -> np.ndarray:
    out: np.ndarray = np.array([np.nan if v is None else v for v in values], dtype=float)
    return out


def arrays(frame: pl.DataFrame) -> dict[str, np.ndarray]:
    return {c: frame[c].cast(pl.Float64).fill_null(np.nan).to_numpy() for c in frame.columns}


def batch_column(name: str, frame: pl.DataFrame, output: str, **params: Any) -> np.ndarray:
    return as_array(compute(name, frame, **params)[output].to_list())


def incremental_column(name: str, frame: pl.DataFrame, output: str,
                       **params: Any) -> np.ndarray:
    ind = incremental(name, **params)
    return as_array(ind.update(row)[output] for row in frame.iter_rows(named=True))


def scale_of(kind: str, frame: pl.DataFrame, ref: np.ndarray | None = None) -> float:
    if kind == "oscillator":
        return 100.0
    if kind == "unit":
        return 1.0
    if kind == "self" and ref is not None and not np.isnan(ref).all():
        return max(float(np.nanmax(np.abs(ref))), 1.0)
    return float(frame["close"].abs().median())  # type: ignore[arg-type]


def assert_close(ours: np.ndarray, ref: np.ndarray, scale: float, what: str) -> None:
    """Same null positions; values within 1e-9 relative, or 1e-9 of the series'
    scale near zero (an oscillator crossing zero has no meaningful relative error)."""
    ref = np.asarray(ref, dtype=float)
    assert ours.shape == ref.shape, f"{what}: {ours.shape[0]} rows, TA-Lib {ref.shape[0]}"
    assert np.array_equal(np.isnan(ours), np.isnan(ref)), (
        f"{what}: null positions differ: ours first value at {np.argmin(np.isnan(ours))}, "
        f"TA-Lib at {np.argmin(np.isnan(ref))}; first differing row "
        f"{int(np.argmax(np.isnan(ours) != np.isnan(ref)))}")
    ok = ~np.isnan(ref)
    tol = np.maximum(REL * np.abs(ref[ok]), REL * scale)
    err = np.abs(ours[ok] - ref[ok])
    worst = int(np.argmax(err - tol)) if err.size else 0
    assert (err <= tol).all(), (
        f"{what}: off by {err[worst]:.3g} at row {int(np.flatnonzero(ok)[worst])} "
        f"(ours {ours[ok][worst]!r}, TA-Lib {ref[ok][worst]!r}, tol {tol[worst]:.3g})")


def talib_on(frame: pl.DataFrame, oracle: Oracle) -> np.ndarray:
    """TA-Lib's output for `frame`. Missing bars (null rows) are skipped: TA-Lib
    runs on the bars that exist and its values are put back in place, nulls where
    bars are missing, which is the rule both our forms follow."""
    present = pl.all_horizontal(pl.col(c).is_not_null() for c in frame.columns)
    mask = frame.select(present).to_series().to_numpy()
    if mask.all():
        return np.asarray(oracle(arrays(frame)), dtype=float)
    out = np.full(frame.height, np.nan)
    out[mask] = np.asarray(oracle(arrays(frame.filter(present))), dtype=float)
    return out


def check_case(case: Case, frame_name: str) -> None:
    """Both forms of `case.name` equal TA-Lib on the named random-walk frame."""
    frame = FRAMES[frame_name]
    for output, oracle in case.outputs.items():
        ref = talib_on(frame, oracle)
        scale = scale_of(case.scale, frame, ref)
        assert_close(batch_column(case.name, frame, output, **case.params), ref, scale,
                     f"{case.name}.{output} batch on {frame_name}")
        assert_close(incremental_column(case.name, frame, output, **case.params), ref, scale,
                     f"{case.name}.{output} incremental on {frame_name}")


class Reference(NamedTuple):
    """One recorded column of ../shared/data/talib_reference and how we compute it."""

    name: str
    params: dict[str, Any]
    output: str
    column: str
    scale: str = "price"


def check_reference(references: list[Reference], dataset: str) -> None:
    path = SHARED / f"{dataset}.talib.parquet"
    if not path.exists():
        pytest.skip(f"../shared/data is absent: {path} not found")
    frame = pl.read_parquet(path)
    for r in references:
        assert r.column in frame.columns, f"{r.column} is not in {path.name}"
        ref = frame[r.column].fill_null(np.nan).to_numpy().astype(float)
        scale = scale_of(r.scale, frame, ref)
        assert_close(batch_column(r.name, frame, r.output, **r.params), ref, scale,
                     f"{r.name}.{r.output} batch on {dataset}")
        assert_close(incremental_column(r.name, frame, r.output, **r.params), ref, scale,
                     f"{r.name}.{r.output} incremental on {dataset}")


def check_parity(name: str, params: dict[str, Any], *, seed: int, flat: bool,
                 scale: float, rows: int = 300) -> None:
    """Feeding bars one at a time through the incremental form gives the batch column."""
    from runner.indicators.api import default_registry

    frame = walk(rows, seed=seed, flat=flat, scale=scale, gaps=True)
    for output in default_registry().indicators[name].outputs:
        batch = batch_column(name, frame, output, **params)
        step = incremental_column(name, frame, output, **params)
        assert np.array_equal(np.isnan(batch), np.isnan(step)), (
            f"{name}.{output} {params}: nulls differ at row "
            f"{int(np.argmax(np.isnan(batch) != np.isnan(step)))}")
        ok = ~np.isnan(batch)
        tol = np.maximum(REL * np.abs(batch[ok]), REL * scale * 100)
        err = np.abs(batch[ok] - step[ok])
        assert (err <= tol).all(), (
            f"{name}.{output} {params}: off by {err.max():.3g} at row "
            f"{int(np.flatnonzero(ok)[int(np.argmax(err - tol))])}")


def case_test(cases: list[Case]) -> Callable[..., None]:
    """The TA-Lib comparison test over `cases` and every frame, for a family module."""
    @pytest.mark.parametrize("frame_name", sorted(FRAMES))
    @pytest.mark.parametrize("case", cases, ids=case_id)
    def test_equal_to_talib_on_random_walks(case: Case, frame_name: str) -> None:
        check_case(case, frame_name)

    return test_equal_to_talib_on_random_walks


def reference_test(references: list[Reference]) -> Callable[..., None]:
    """The comparison with the recorded TA-Lib columns, for a family module."""
    @pytest.mark.parametrize("dataset", DATASETS)
    def test_equal_to_recorded_talib_reference(dataset: str) -> None:
        check_reference(references, dataset)

    return test_equal_to_recorded_talib_reference


def parity_test(parity: dict[str, st.SearchStrategy[dict[str, Any]]],
                max_examples: int = 20) -> Callable[..., None]:
    """The incremental == batch property over random valid params, for a family."""
    @pytest.mark.parametrize("name", sorted(parity))
    @settings(max_examples=max_examples, deadline=None)
    @given(data=st.data(), seed=st.integers(0, 2**16), flat=st.booleans(),
           scale=st.sampled_from([1e-4, 1.0, 100.0, 5e5]))
    def test_incremental_equals_batch(name: str, data: st.DataObject, seed: int, flat: bool,
                                      scale: float) -> None:
        check_parity(name, data.draw(parity[name], label="params"), seed=seed, flat=flat,
                     scale=scale)

    return test_incremental_equals_batch
