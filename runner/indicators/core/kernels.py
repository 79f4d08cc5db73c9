"""Sequential kernels (numba, cached) for what polars cannot express exactly.

Bollinger bands: TA-Lib computes the variance from running sums of x and x² in a
fixed order (add the new value, read, subtract the trailing one). On flat stretches
that leaves rounding noise of ~1e-12 in the variance, which the square root turns
into a band width of ~1e-6; polars' rolling kernels round differently, so matching
TA-Lib to 1e-9 means running the same loop.
"""

from __future__ import annotations

import numpy as np
from numba import njit

TA_EPSILON = 1e-14


Bands = tuple[np.ndarray, np.ndarray, np.ndarray]


@njit(cache=True)
def bbands_talib(x: np.ndarray, period: int, k: float) -> Bands:
    n = x.shape[0]
    upper = np.full(n, np.nan)
    middle = np.full(n, np.nan)
    lower = np.full(n, np.nan)
    if n < period:
        return upper, middle, lower
    total = 0.0
    total2 = 0.0
    for i in range(period - 1):
        total += x[i]
        total2 += x[i] * x[i]
    for i in range(period - 1, n):
        total += x[i]
        total2 += x[i] * x[i]
        mean = total / period
        var = total2 / period - mean * mean
        trailing = x[i - period + 1]
        total -= trailing
        total2 -= trailing * trailing
        sd = 0.0 if var < TA_EPSILON else np.sqrt(var)
        middle[i] = mean
        upper[i] = mean + k * sd
        lower[i] = mean - k * sd
    return upper, middle, lower
