"""An exactly rounded sum of a float64 array: `math.fsum`, compiled.

`exact_sum` returns the bits `math.fsum` returns. `math.fsum` (CPython's `math_fsum`)
keeps Shewchuk's non-overlapping partials and rounds their exact sum correctly (its
final correction makes round-half-even work across several partials), so its result
is the correctly rounded exact sum, a function of the values' exact sum alone (its
tests hold it to an exact rational reference). Any exact method followed by the same
rounding therefore gives the same bits; here:

1. every value is added *exactly* into integer buckets, one per binary exponent:
   its 53-bit significand, signed, into the int64 of its exponent, an overflowing
   bucket carrying its high bits 32 exponents up (no rounding, no data-dependent
   loop: a few ns per value, where Shewchuk's loop over the partials costs tens);
2. the buckets, each split into two exactly representable floats, go through
   CPython's partials loop (`_add`) and its final rounding (`_round`), ported line by
   line.

Zeros (either sign) add nothing; `math.fsum` never returns -0.0 (its empty sum is
+0.0), nor does this. What `math.fsum` does not return a finite sum for — an inf or
nan value, or a sum whose partials overflow (`OverflowError`) — is not reproduced:
any value so large that the sum of the magnitudes could reach 2**1023 makes the
kernel return nan, a value no finite sum has, and `fsum` (what the engine calls) then
hands the array to `math.fsum` itself for its inf / nan result or its exception.
Below that bound no partial sum of either algorithm can overflow, so nothing else is
left out.

This module imports numba: import it lazily, where a sum is needed, so the CLI's
import path stays lean.
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True, inline="always")
def _add(partials: np.ndarray, n: int, x: float) -> tuple[np.ndarray, int]:  # pragma: no cover
    """Add the finite non-zero `x` to the `n` partials (CPython's inner loop); the
    partials (grown when full) and their new count, -1 on an overflow."""
    i = 0
    for j in range(n):
        y = partials[j]
        if abs(x) < abs(y):
            x, y = y, x
        hi = x + y
        yr = hi - x
        lo = y - yr
        if lo != 0.0:
            partials[i] = lo
            i += 1
        x = hi
    n = i
    if x != 0.0:
        if not math.isfinite(x):
            return partials, -1  # intermediate overflow: math.fsum raises
        if n == partials.shape[0]:
            grown = np.empty(2 * n, dtype=np.float64)
            grown[:n] = partials[:n]
            partials = grown
        partials[n] = x
        n += 1
    return partials, n


@numba.njit(cache=True, inline="always")
def _round(partials: np.ndarray, n: int) -> float:  # pragma: no cover - compiled
    """The partials' exact sum, correctly rounded (CPython's final loop and its
    half-even correction)."""
    hi = 0.0
    if n > 0:
        n -= 1
        hi = partials[n]
        lo = 0.0
        # sum the partials from the top, stopping when the sum becomes inexact
        while n > 0:
            x = hi
            n -= 1
            y = partials[n]
            hi = x + y
            yr = hi - x
            lo = y - yr
            if lo != 0.0:
                break
        # half-even rounding across several partials
        if n > 0 and ((lo < 0.0 and partials[n - 1] < 0.0)
                      or (lo > 0.0 and partials[n - 1] > 0.0)):
            y = lo * 2.0
            x = hi + y
            yr = x - hi
            if y == yr:
                hi = x
    return hi


_SIGNIFICAND = (1 << 52) - 1
_CARRY_AT = 1 << 62
_LOW_BITS = (1 << 32) - 1
_BUCKETS = 2048 + 64  # every biased exponent, and room for carries 32 above


@numba.njit(cache=True, inline="always")
def _exponent_limit(count: int) -> int:  # pragma: no cover - compiled
    """The largest biased exponent a value may have so that `count` of them sum to
    less than 2**1023 in magnitude: no partial sum can overflow."""
    bits = 0
    while count:
        bits += 1
        count >>= 1
    return 2045 - bits


@numba.njit(cache=True, inline="always")
def _bucket_add(buckets: np.ndarray, bits: int) -> None:  # pragma: no cover
    """Add the finite float whose IEEE bits are `bits` to the buckets, exactly."""
    exponent = (bits >> 52) & 0x7FF
    significand = bits & _SIGNIFICAND
    if exponent:
        significand |= 1 << 52
    else:  # subnormal (or zero): the scale of exponent 1, no implicit bit
        exponent = 1
    if bits < 0:
        significand = -significand
    total = buckets[exponent] + significand
    if total >= _CARRY_AT or total <= -_CARRY_AT:
        carry = total >> 32
        buckets[exponent + 32] += carry
        total -= carry << 32
    buckets[exponent] = total


@numba.njit(cache=True, inline="always")
def _bucket_sum(buckets: np.ndarray) -> float:  # pragma: no cover - compiled
    """The buckets' exact sum, correctly rounded: each bucket as two exact floats
    (its low 32 bits, and the rest: at most 31 significant bits) through CPython's
    partials; nan if they overflow (`exact_sum`'s bound keeps them from it)."""
    partials = np.empty(64, dtype=np.float64)
    n = 0
    for exponent in range(buckets.shape[0]):
        total = buckets[exponent]
        if total == 0:
            continue
        low = total & _LOW_BITS
        for part in (low, total - low):
            if part != 0:
                partials, n = _add(partials, n, math.ldexp(float(part), exponent - 1075))
                if n < 0:
                    return math.nan
    return _round(partials, n)


@numba.njit(cache=True)
def exact_sum(values: np.ndarray) -> float:  # pragma: no cover - compiled
    """`math.fsum(values)` of a contiguous float64 array; nan when a value is not
    finite or too large to rule out an overflow (see the module docstring)."""
    limit = _exponent_limit(values.shape[0])
    buckets = np.zeros(_BUCKETS, dtype=np.int64)
    for k in range(values.shape[0]):
        bits = values[k:k + 1].view(np.int64)[0]
        if (bits >> 52) & 0x7FF > limit:
            return math.nan
        _bucket_add(buckets, bits)
    return _bucket_sum(buckets)


_SPLIT_MASK = np.int64((1 << 24) - 1)


@numba.njit(cache=True)
def exact_sum_sq_dev(values: np.ndarray, mean: float) -> float:  # pragma: no cover
    """`math.fsum((values - mean) ** 2)`, each term computed as numpy does
    (`d = v - mean; d * d`), without making the array of terms; nan as `exact_sum`.

    Every zero value contributes the same term `c = (0 - mean) ** 2`; `z` of them add
    exactly `z * c`, added as exact products: `c` split (by masking its low 24
    significand bits) into `c_hi` with at most 29 significant bits and `c_lo = c -
    c_hi` with at most 24, each multiplied by a count below 2**24."""
    limit = _exponent_limit(values.shape[0])
    buckets = np.zeros(_BUCKETS, dtype=np.int64)
    term = np.empty(1, dtype=np.float64)
    term_bits = term.view(np.int64)
    zeros = 0
    for k in range(values.shape[0]):
        v = values[k]
        if v == 0.0:
            zeros += 1
            continue
        d = v - mean
        term[0] = d * d
        bits = term_bits[0]
        if (bits >> 52) & 0x7FF > limit:
            return math.nan
        _bucket_add(buckets, bits)
    if zeros:
        d = 0.0 - mean
        term[0] = d * d
        if (term_bits[0] >> 52) & 0x7FF > limit:
            return math.nan
        c = term[0]
        term_bits[0] &= ~_SPLIT_MASK
        c_hi = term[0]
        c_lo = c - c_hi
        while zeros:
            count = min(zeros, 1 << 24)
            zeros -= count
            for x in (count * c_hi, count * c_lo):
                term[0] = x
                _bucket_add(buckets, term_bits[0])
    return _bucket_sum(buckets)


@numba.njit(cache=True)
def exact_sum_sq_neg(values: np.ndarray) -> float:  # pragma: no cover - compiled
    """`math.fsum(np.minimum(values, 0.0) ** 2)` (the terms as numpy computes them)
    without making the array of terms; nan as `exact_sum`."""
    limit = _exponent_limit(values.shape[0])
    buckets = np.zeros(_BUCKETS, dtype=np.int64)
    term = np.empty(1, dtype=np.float64)
    term_bits = term.view(np.int64)
    for k in range(values.shape[0]):
        v = values[k]
        if not v < 0.0:
            if v != v:
                return math.nan
            continue
        term[0] = v * v
        bits = term_bits[0]
        if (bits >> 52) & 0x7FF > limit:
            return math.nan
        _bucket_add(buckets, bits)
    return _bucket_sum(buckets)


def fsum(values: np.ndarray) -> float:
    """`math.fsum(values)` of a float64 array: the compiled `exact_sum`, or
    `math.fsum` itself for what the kernel hands back (a value not finite or too
    large: see the module docstring)."""
    array = np.ascontiguousarray(values, dtype=np.float64)
    total = float(exact_sum(array))
    if math.isnan(total):
        return math.fsum(array.tolist())
    return total


__all__ = ["exact_sum", "exact_sum_sq_dev", "exact_sum_sq_neg", "fsum"]
