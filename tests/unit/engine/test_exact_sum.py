"""`exact_sum` / `fsum` return the bits `math.fsum` returns, for every input."""

from __future__ import annotations

import math
import struct
import sys

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from runner.engine.exact_sum_kernel import (
    exact_sum,
    exact_sum_sq_dev,
    exact_sum_sq_neg,
    fsum,
)

TINY = 5e-324  # the smallest subnormal
HUGE = sys.float_info.max


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def fsum_or_error(values: list[float]) -> float | type[BaseException]:
    try:
        return math.fsum(values)
    except (OverflowError, ValueError) as exc:
        return type(exc)


def handed_back(values: list[float]) -> bool:
    """Whether the kernel leaves `values` to `math.fsum`: a value not finite, or so
    large that the magnitudes could sum to 2**1023."""
    bound = 2.0 ** (1023 - len(values).bit_length())
    return any(not abs(v) < bound for v in values)


def check(values: list[float]) -> None:
    expected = fsum_or_error(values)
    array = np.array(values, dtype=np.float64)
    kernel = exact_sum(array)
    if handed_back(values):
        assert math.isnan(kernel)
    else:
        assert isinstance(expected, float) and math.isfinite(expected)
        assert bits(kernel) == bits(expected)
    if isinstance(expected, float):
        assert bits(fsum(array)) == bits(expected) or (
            math.isnan(expected) and math.isnan(fsum(array)))
    else:
        with pytest.raises(expected):
            fsum(array)


# floats spread over the whole exponent range, with the interesting ones often
SPECIAL = st.sampled_from([0.0, -0.0, 1.0, -1.0, TINY, -TINY, 2.2250738585072014e-308,
                           -2.2250738585072014e-308, HUGE, -HUGE, 1e16, 1e-16, 0.1,
                           2.0**53, 2.0**-53, 1.0 + 2.0**-52])
SCALED = st.builds(math.ldexp, st.floats(-1.0, 1.0, exclude_min=True, exclude_max=True),
                   st.integers(-1080, 1024))
FINITE = st.one_of(st.floats(allow_nan=False, allow_infinity=False), SCALED, SPECIAL,
                   st.floats(-1e-300, 1e-300), st.floats(-1e6, 1e6))


@settings(max_examples=3000, deadline=None)
@given(st.lists(FINITE, max_size=60))
@example([])
@example([-0.0])
@example([-0.0, -0.0])
@example([1e-16, 1.0, 1e16])  # needs the half-even correction
@example([1e308, 1e308, -1e308])  # intermediate overflow
@example([HUGE, -HUGE, TINY])
@example([2.0**1021, 2.0**1021, -(2.0**1021)])  # just below the bound: no overflow
@example([2.0**-1022, -(2.0**-1074), 2.0**-1074 * 3, 1.0])  # subnormal buckets
@example([TINY] * 7 + [-TINY * 3])
@example([0.1] * 10)
@example([1.0, 2.0**-53, 2.0**-105])
def test_finite_values_sum_like_math_fsum(values: list[float]) -> None:
    check(values)


@settings(max_examples=500, deadline=None)
@given(st.lists(FINITE, min_size=1, max_size=40))
def test_cancellation_sums_like_math_fsum(values: list[float]) -> None:
    # the values and their negations in another order: the exact sum is 0 or tiny
    check(values + [-v for v in reversed(values)] + values[:1])
    check(values + [-v * (1 + 2.0**-52) for v in values])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(FINITE, st.sampled_from([math.inf, -math.inf, math.nan])),
                max_size=20))
@example([math.inf, -math.inf])
@example([math.inf, 1.0, math.inf])
@example([math.nan, 1.0])
def test_non_finite_values_are_handed_to_math_fsum(values: list[float]) -> None:
    check(values)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 200_000),
       st.sampled_from(["normal", "returns", "wide", "sparse"]))
def test_many_values_sum_like_math_fsum(seed: int, size: int, kind: str) -> None:
    rng = np.random.default_rng(seed)
    if kind == "normal":
        values = rng.normal(0.0, 1.0, size)
    elif kind == "returns":  # per-bar returns: tiny, mostly cancelling, many zeros
        values = rng.normal(0.0, 1e-5, size) * (rng.random(size) < 0.5)
    elif kind == "wide":
        values = np.ldexp(rng.uniform(-1, 1, size), rng.integers(-1070, 1000, size))
    else:
        values = np.zeros(size)
        values[rng.integers(0, size, 5)] = rng.normal(0.0, 1e10, 5)
    check(values.tolist())


def test_readonly_and_strided_input() -> None:
    values = np.arange(1_000, dtype=np.float64) * 0.1
    values.flags.writeable = False
    assert bits(exact_sum(values)) == bits(math.fsum(values.tolist()))
    assert bits(fsum(values[::3])) == bits(math.fsum(values[::3].tolist()))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(FINITE, st.just(0.0)), max_size=60), FINITE)
def test_squared_terms_sum_like_math_fsum(values: list[float], mean: float) -> None:
    array = np.array(values, dtype=np.float64)
    with np.errstate(all="ignore"):
        deviation = array - mean
        squares = (deviation * deviation).tolist()
        losses = np.minimum(array, 0.0)
        loss_squares = (losses * losses).tolist()
    for kernel, terms in ((exact_sum_sq_dev(array, mean), squares),
                          (exact_sum_sq_neg(array), loss_squares)):
        if math.isnan(kernel):  # handed back: a term too large (or not finite)
            assert handed_back(terms)
        else:
            assert bits(kernel) == bits(math.fsum(terms))


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 300_000))
def test_squared_terms_of_many_returns(seed: int, size: int) -> None:
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.0, 1e-5, size) * (rng.random(size) < 0.5)
    mean = math.fsum(returns.tolist()) / size
    deviation = returns - mean
    losses = np.minimum(returns, 0.0)
    assert bits(exact_sum_sq_dev(returns, mean)) == bits(
        math.fsum((deviation * deviation).tolist()))
    assert bits(exact_sum_sq_neg(returns)) == bits(math.fsum((losses * losses).tolist()))
